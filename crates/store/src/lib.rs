//! Durable storage for Baton, behind one trait ([`Store`]) with an embedded SQLite
//! implementation ([`sqlite::SqliteStore`]).
//!
//! The store knows nothing of ASL: execution state, history events and queued events are
//! opaque text it keeps and returns. It owns durability and atomicity: a [`Commit`] (an
//! execution's new state, its new history events, timers, tasks and the queued events it
//! consumed) lands entirely or not at all, and only if nobody else advanced the execution
//! since it was read (`expected_version`), so several engines can share one store.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to create exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The execution moved on since it was read; read it again and retry.
    #[error("execution {0} was changed concurrently")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// When a write is answered, relative to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A write is answered once it is on disk (fsync), so it survives power loss. The
    /// embedded store syncs once for every write made while the previous sync ran (group
    /// commit).
    #[default]
    Full,
    /// A write is answered once it is in the operating system's hands: it survives the
    /// process crashing, but power loss may take the last moments of writes.
    Relaxed,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(Durability::Full),
            "relaxed" => Ok(Durability::Relaxed),
            other => Err(format!("unknown durability {other:?}: use full or relaxed")),
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Durability::Full => "full",
            Durability::Relaxed => "relaxed",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRow {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub created: Millis,
    pub updated: Millis,
    pub revision_id: String,
    pub description: Option<String>,
    /// Opaque JSON: loggingConfiguration, tracingConfiguration, encryptionConfiguration.
    pub config: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub arn: String,
    pub state_machine_arn: String,
    pub version: i64,
    pub definition: String,
    pub role_arn: String,
    pub revision_id: String,
    pub description: Option<String>,
    pub created: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AliasRow {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub description: Option<String>,
    /// Opaque JSON: the routing configuration.
    pub routing: String,
    pub created: Millis,
    pub updated: Millis,
}

/// A distributed Map's Map Run, kept for DescribeMapRun and ListMapRuns beyond the end of
/// its execution (whose resumable state is then gone).
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunRow {
    pub arn: String,
    pub execution_arn: String,
    pub start: Millis,
    /// Opaque JSON: the Map Run as the interpreter last recorded it.
    pub record: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub arn: String,
    pub name: String,
    pub created: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start: Millis,
    pub stop: Option<Millis>,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    /// The definition the execution runs (of the machine, a version, or the alias's target).
    pub definition: String,
    pub redrive_count: i64,
    pub redrive_date: Option<Millis>,
    /// Set for an execution a Task started (`states:startExecution`): opaque JSON naming the
    /// parent execution and task, so its end can be reported there.
    pub parent: Option<String>,
    /// Bumped by every commit; commits are conditional on it.
    pub version: i64,
    /// Who started it, when the server knows: a console user, or the user an API access key
    /// belongs to (else the access key id). For separation of duties and the console.
    pub started_by: Option<String>,
    /// The mock test case it runs with (`stateMachineArn#TestCase`), if any: the Tasks its
    /// test case names get their mocked responses, also after a restart.
    pub mock_test_case: Option<String>,
}

/// What a queued task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// An activity: handed to one `GetActivityTask` poller.
    Activity,
    /// Work the engine performs itself (a function, a queue message, ...), then possibly
    /// waits for a callback token.
    Invoke,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Activity => "activity",
            TaskKind::Invoke => "invoke",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "activity" {
            TaskKind::Activity
        } else {
            TaskKind::Invoke
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for a worker or dispatcher to pick it up.
    Queued,
    /// Picked up (by `worker`); for invocations, held under a lease.
    Running,
    /// The initial call succeeded; waiting for the token to come back.
    Submitted,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Submitted => "submitted",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => TaskStatus::Running,
            "submitted" => TaskStatus::Submitted,
            _ => TaskStatus::Queued,
        }
    }
}

/// An open task of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub execution_arn: String,
    pub task_id: i64,
    pub kind: TaskKind,
    pub resource: String,
    pub state_name: String,
    /// Opaque JSON: what the engine needs to carry the task out.
    pub request: String,
    /// SHA-256 of the task token, when the task has one. The token itself is never stored.
    pub token_hash: Option<Vec<u8>>,
    pub status: TaskStatus,
    pub worker: Option<String>,
    pub created: Millis,
    pub lease_until: Option<Millis>,
    /// What a person answering the task is shown, kept with the task from its scheduling
    /// until its end, so its restrictions (assignees, exclusions, approvals, form) never
    /// depend on the history: the message it was sent (JSON text, the task token left out).
    /// Tasks with a token only.
    pub message: Option<String>,
    /// When the task times out (`TimeoutSeconds` after it was scheduled), if it does.
    pub deadline: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimerRow {
    pub execution_arn: String,
    pub timer_id: i64,
    pub fire_at: Millis,
}

/// Everything one step of an execution changes, applied atomically.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub execution_arn: String,
    /// The execution's `version` when it was read; the commit fails with
    /// [`StoreError::Conflict`] otherwise.
    pub expected_version: i64,
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stop: Option<Millis>,
    /// The serialized execution state; `None` once it has ended (nothing more to resume).
    pub state: Option<String>,
    /// New history events: (id, AWS JSON).
    pub events: Vec<(i64, String)>,
    pub timers_added: Vec<(i64, Millis)>,
    pub timers_removed: Vec<i64>,
    pub tasks_added: Vec<TaskRow>,
    pub tasks_removed: Vec<i64>,
    /// Queued events ([`Store::push_event`]) this step consumed.
    pub consumed_events: Vec<i64>,
    /// The owner whose claim ([`Store::claim_pending`]) this commit ends, in the same
    /// transaction; `None` leaves any claim as it is.
    pub release: Option<String>,
    /// Queue messages sent with the commit (e.g. a task's first reminder), so they exist if
    /// and only if the step that asked for them is committed. Their queues must exist.
    pub messages: Vec<MessageRow>,
}

/// What [`Store::claim_pending`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Another owner holds the execution, or it does not exist.
    Busy,
    /// Nothing is queued for it; no claim is left behind.
    Idle,
    /// Claimed until the lease's end: the execution, its resumable state (`None` once it has
    /// ended) and its queued events, oldest first.
    Claimed { row: Box<ExecutionRow>, state: Option<String>, events: Vec<(i64, String)> },
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    pub executions_by_status: Vec<(String, i64)>,
    pub open_tasks: i64,
    pub queued_activity_tasks: i64,
    pub pending_timers: i64,
}

/// A built-in queue (served over the SQS protocol).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub name: String,
    /// Opaque JSON: the queue's attributes as CreateQueue gave them (VisibilityTimeout, ...).
    pub attributes: String,
    pub created: Millis,
}

/// One message of a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub queue: String,
    /// The MessageId, unique across queues.
    pub id: String,
    pub body: String,
    /// Opaque JSON: the message's attributes as sent (MessageAttributes).
    pub attributes: String,
    pub sent: Millis,
    /// Receivable from this time on: the send time (or later with a delay), then the end of
    /// each visibility timeout.
    pub visible_at: Millis,
    /// How many times the message was received; bumped by every receive.
    pub receive_count: i64,
    pub first_received: Option<Millis>,
}

/// Builds the event that answers a task (see [`Store::answer_task`]).
pub type AnswerFn = Box<dyn FnOnce(&TaskRow) -> String + Send>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- state machines, versions, aliases -------------------------------------------------
    async fn insert_state_machine(&self, row: &StateMachineRow) -> Result<()>;
    async fn update_state_machine(&self, row: &StateMachineRow) -> Result<()>;
    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRow>>;
    async fn delete_state_machine(&self, arn: &str) -> Result<bool>;
    /// Ordered by ARN, starting after `after`.
    async fn list_state_machines(&self, after: Option<&str>, limit: usize) -> Result<Vec<StateMachineRow>>;

    async fn insert_version(&self, row: &VersionRow) -> Result<()>;
    async fn get_version(&self, arn: &str) -> Result<Option<VersionRow>>;
    async fn delete_version(&self, arn: &str) -> Result<bool>;
    /// Newest first.
    async fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRow>>;

    async fn insert_alias(&self, row: &AliasRow) -> Result<()>;
    async fn update_alias(&self, row: &AliasRow) -> Result<()>;
    async fn get_alias(&self, arn: &str) -> Result<Option<AliasRow>>;
    async fn delete_alias(&self, arn: &str) -> Result<bool>;
    async fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRow>>;

    // --- activities and tags ---------------------------------------------------------------
    async fn insert_activity(&self, row: &ActivityRow) -> Result<()>;
    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRow>>;
    async fn delete_activity(&self, arn: &str) -> Result<bool>;
    async fn list_activities(&self, after: Option<&str>, limit: usize) -> Result<Vec<ActivityRow>>;

    // --- map runs ----------------------------------------------------------------------------
    /// Insert or replace Map Runs (by ARN).
    async fn put_map_runs(&self, rows: &[MapRunRow]) -> Result<()>;
    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRow>>;
    /// An execution's Map Runs, oldest first.
    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRow>>;

    async fn tag(&self, resource_arn: &str, tags: &[(String, String)]) -> Result<()>;
    async fn untag(&self, resource_arn: &str, keys: &[String]) -> Result<()>;
    async fn tags(&self, resource_arn: &str) -> Result<Vec<(String, String)>>;

    // --- executions ------------------------------------------------------------------------
    /// Create an execution with its first step ([`StoreError::AlreadyExists`] when the ARN
    /// is taken).
    async fn insert_execution(&self, row: &ExecutionRow, first: &Commit) -> Result<()>;
    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRow>>;
    /// Newest first (by start time), optionally one status, starting after the cursor
    /// (an ARN from the previous page).
    async fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>>;
    /// Executions whose ARN starts with `prefix` (a machine's execution ARN prefix plus the
    /// start of a name: a search by name), in ARN order after the cursor `after`, optionally
    /// one status. A range of the primary key, so as fast with 100,000 executions as with ten.
    async fn executions_by_prefix(
        &self,
        prefix: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>>;
    /// The execution and its resumable state (`None` state once it has ended).
    async fn load_execution(&self, arn: &str) -> Result<Option<(ExecutionRow, Option<String>)>>;
    async fn commit(&self, commit: &Commit) -> Result<()>;
    /// Reopen an ended execution for redrive: new status, state and redrive count.
    async fn reopen_execution(&self, commit: &Commit, redrive_count: i64, redrive_date: Millis) -> Result<()>;
    /// History events with `id > after` (ascending) or `id < before` (descending).
    async fn history(&self, arn: &str, after: Option<i64>, limit: usize, reverse: bool) -> Result<Vec<(i64, String)>>;

    // --- events waiting to be applied ------------------------------------------------------
    /// Queue an event for an execution (a callback, a stop request, a fired timer).
    async fn push_event(&self, execution_arn: &str, payload: &str) -> Result<i64>;
    /// Queued events of one execution, oldest first.
    async fn pending_events(&self, execution_arn: &str) -> Result<Vec<(i64, String)>>;
    /// Executions with queued events (for a sweep after a restart).
    async fn executions_with_events(&self, limit: usize) -> Result<Vec<String>>;
    /// Claim an execution for processing until `until`; false when another owner holds it.
    async fn claim_execution(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<bool>;
    async fn release_execution(&self, arn: &str, owner: &str) -> Result<()>;
    /// Claim an execution and read what applying its queued events needs, in one
    /// transaction: the claim, the execution and its queued events. With nothing queued, the
    /// claim is not kept. A commit with [`Commit::release`] ends the claim.
    async fn claim_pending(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<Claim>;

    // --- timers ----------------------------------------------------------------------------
    async fn due_timers(&self, now: Millis, limit: usize) -> Result<Vec<TimerRow>>;
    /// Turn fired timers into queued events (`payload` for each), atomically.
    async fn fire_timers(&self, fired: &[(TimerRow, String)]) -> Result<()>;
    async fn next_timer(&self) -> Result<Option<Millis>>;

    // --- tasks -----------------------------------------------------------------------------
    async fn task_by_token(&self, token_hash: &[u8]) -> Result<Option<TaskRow>>;
    async fn get_task(&self, execution_arn: &str, task_id: i64) -> Result<Option<TaskRow>>;
    /// Tasks a person or a worker can answer (they hold a token): activities not yet done and
    /// invocations waiting for their callback. Oldest first, of one execution or of all.
    async fn open_tasks(&self, execution_arn: Option<&str>, limit: usize) -> Result<Vec<TaskRow>>;
    /// Hand the oldest queued task of an activity to `worker` and queue the event `started`
    /// builds from it, in one transaction. Answered without waiting for the disk: should the
    /// hand-out be lost with power, the task is queued again, with the same token.
    async fn claim_activity_task(&self, activity_arn: &str, worker: &str, started: AnswerFn)
        -> Result<Option<TaskRow>>;
    /// Claim invocations for `owner` to carry out: queued ones, and running ones whose lease
    /// expired (their node died).
    async fn claim_invocations(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<TaskRow>>;
    /// Called once when a node starts, before it claims anything: put back in the queue the
    /// invocations an earlier run of node `owner` was carrying out when it died, so they are
    /// made again at once instead of when their lease runs out. Where several nodes share the
    /// store only `owner`'s are taken back (the others' run out as usual); the embedded store
    /// has a single node, so whatever is leased there was leased by a run that is gone.
    /// Returns how many were taken back.
    async fn reclaim_invocations(&self, owner: &str) -> Result<u64>;
    /// Move a task to `status`. Once it is `Submitted` its request (which may carry the task
    /// token) is dropped: from then on only the token's hash is kept.
    async fn set_task_status(&self, execution_arn: &str, task_id: i64, status: TaskStatus) -> Result<()>;
    /// Answer the task holding this token, once: remove it and queue the event `payload`
    /// builds from it, in one transaction. `None` when no open task has the token. An
    /// invocation whose initial call is still in flight (queued or running) loses only its
    /// token: its row stays, so a restart makes the call again and the submission the
    /// answer waits for still comes; the commit that applies the answer removes it.
    async fn answer_task(&self, token_hash: &[u8], payload: AnswerFn) -> Result<Option<TaskRow>>;

    // --- queues ----------------------------------------------------------------------------
    /// Create a queue; an existing queue of that name is returned as it is.
    async fn create_queue(&self, row: &QueueRow) -> Result<QueueRow>;
    async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>>;
    /// Ordered by name; only names starting with `prefix` when given.
    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<QueueRow>>;
    /// Delete a queue with its messages; false when there was none.
    async fn delete_queue(&self, name: &str) -> Result<bool>;
    /// Append a message ([`StoreError::NotFound`] when its queue does not exist).
    async fn send_message(&self, row: &MessageRow) -> Result<()>;
    /// Receive up to `limit` messages visible at `now`, oldest first: each becomes
    /// invisible until `visible_until` and its receive count goes up, atomically, so two
    /// receivers never get the same message within its visibility timeout.
    async fn receive_messages(
        &self,
        queue: &str,
        now: Millis,
        visible_until: Millis,
        limit: usize,
    ) -> Result<Vec<MessageRow>>;
    /// The newest `limit` messages of a queue, newest first, leaving them as they are (not
    /// received): for queues kept as logs, such as the mail Baton sent.
    async fn peek_messages(&self, queue: &str, limit: usize) -> Result<Vec<MessageRow>>;
    /// Delete a message; false when it was not there (already deleted).
    async fn delete_message(&self, queue: &str, id: &str) -> Result<bool>;
    /// Make a message visible again at `visible_at`; false when it is not there.
    async fn set_message_visibility(&self, queue: &str, id: &str, visible_at: Millis) -> Result<bool>;
    /// Delete every message of a queue; the number deleted.
    async fn purge_queue(&self, queue: &str) -> Result<u64>;
    /// (visible, in flight) message counts at `now`.
    async fn queue_counts(&self, queue: &str, now: Millis) -> Result<(i64, i64)>;
    // --- observability ---------------------------------------------------------------------
    async fn gauges(&self) -> Result<Gauges>;

    // --- waking other nodes ----------------------------------------------------------------
    /// Tell every engine sharing this store that there is work (a no-op where only one
    /// engine can use the store).
    async fn publish(&self, _wake: Wake) -> Result<()> {
        Ok(())
    }

    /// Wake-ups published by any engine sharing this store, when the store can carry them.
    fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Wake>> {
        None
    }
}

/// Work another engine should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// Events were queued for this execution.
    Execution(String),
    /// Activity tasks were queued.
    Activity,
    /// Invocations were queued.
    Dispatch,
    /// Timers were armed.
    Timers,
    /// A message was sent to this queue.
    Queue(String),
}

impl Wake {
    pub fn encode(&self) -> String {
        match self {
            Wake::Execution(arn) => format!("e:{arn}"),
            Wake::Activity => "a".into(),
            Wake::Dispatch => "d".into(),
            Wake::Timers => "t".into(),
            Wake::Queue(name) => format!("q:{name}"),
        }
    }

    pub fn decode(s: &str) -> Option<Wake> {
        match s {
            "a" => Some(Wake::Activity),
            "d" => Some(Wake::Dispatch),
            "t" => Some(Wake::Timers),
            _ => match s.strip_prefix("q:") {
                Some(name) => Some(Wake::Queue(name.to_owned())),
                None => s.strip_prefix("e:").map(|arn| Wake::Execution(arn.to_owned())),
            },
        }
    }
}

/// The end of the range of strings that start with `prefix` (exclusive): nothing with the
/// prefix sorts above it, U+10FFFF being the largest character.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}
