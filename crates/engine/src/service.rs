//! The durable engine behind `baton serve`.
//!
//! Everything that happens to an execution arrives as an event queued in the store (a
//! callback, a fired timer, a stop request, a task result). A worker claims the execution
//! (a lease in the store, so several engines can share one store), feeds the queued events to
//! the interpreter, and commits the new state, history, timers and tasks in one transaction
//! that is conditional on the execution's version. Only then does it act on the commands:
//! wake a dispatcher for invocations, wake activity pollers, re-arm the timer loop.
//!
//! Nothing lives only in memory: after a crash, queued events, due timers, queued activity
//! tasks and invocations whose lease ran out are all picked up again from the store. Memory
//! does not grow with the number of waiting executions; an execution's state is read from the
//! store when an event for it arrives.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::context::ExecutionInfo;
use asl::eval::Randomness;
use asl::interpreter::{self, Command, Env, Event, Execution, Status, StepOutput, TaskRequest};
use asl::Definition;
use serde_json::{Map, Value};

mod map_run_driver;
mod map_runs;

pub use map_run_driver::MAP_RUN_RESOURCE;

use crate::links::{LinkSigner, DEFAULT_LINK_LIFETIME_MS};
use store::{
    Claim, Commit, ExecutionRow, ExecutionStatus, Store, StoreError, TaskKind, TaskRow, TaskStatus, TimerRow, Wake,
};
use tokio::sync::{mpsc, Notify};

use crate::arn::ExecutionArn;
use crate::clock::now_ms;
use crate::config::Config;
use crate::error::EngineError;
use crate::integrations::Integrations;
use crate::mocks::TestCaseRef;
use crate::random::OsRandomness;
use crate::task::{Outcome, TaskCall};
use crate::token::TaskToken;

pub type Millis = i64;

/// How long an engine holds an execution or an invocation before another may take it over.
const LEASE_MS: Millis = 30_000;
/// The longest a GetActivityTask call waits for work.
pub const ACTIVITY_POLL_MS: u64 = 60_000;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account: String,
    /// Identifies this engine in leases; stable across restarts of the same node.
    pub node_id: String,
    /// Functions for Express executions, which run in memory.
    pub functions: Config,
    /// What Task resources reach.
    pub integrations: Integrations,
    /// Signs the links a task asks for (`baton:link:*` markers); `None` leaves markers as they are.
    pub links: Option<LinkSigner>,
    /// Queue each new task's first reminder (`BatonReminders`) with the commit that creates
    /// it; someone must run [`crate::reminder_sender::Reminders`].
    pub reminders: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            node_id: "local".into(),
            functions: Config::default(),
            integrations: Integrations::with_functions(Config::default()),
            links: None,
            reminders: false,
        }
    }
}

/// The largest output SendTaskSuccess takes (AWS's limit).
const MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// The most history events an execution has (AWS's limit).
const MAX_HISTORY_EVENTS: usize = 25_000;

/// The name of the state machine `arn` (`arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`;
/// a Map Run's children run `NAME/LABEL`, which is the machine `NAME`'s).
fn machine_name(arn: &str) -> &str {
    let name = arn.rsplit_once(":stateMachine:").map_or(arn, |(_, name)| name);
    name.split_once('/').map_or(name, |(machine, _)| machine)
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub executions_started: AtomicU64,
    pub executions_finished: Mutex<BTreeMap<String, u64>>,
    pub transitions: AtomicU64,
    pub callbacks_answered: AtomicU64,
    /// Reminder and escalation emails queued for waiting tasks (`BatonReminders`).
    pub reminders_sent: AtomicU64,
    pub escalations_sent: AtomicU64,
}

/// Where an execution started by a Task reports its end (stored with the execution).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ParentLink {
    pub execution_arn: String,
    pub task_id: u64,
    /// `sync`, `sync2`, `waitForTaskToken` or `requestResponse`; `mapRun` for a child of a
    /// distributed Map's Map Run.
    pub pattern: String,
    /// A Map Run's child: the run, and the child's index in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// A person's answer to a waiting task.
#[derive(Debug, Clone)]
pub enum TaskAnswer {
    Success(Value),
    Failure { error: Option<String>, cause: Option<String> },
}

/// How long StopExecution waits for its stop to be applied to an execution busy in a long
/// step before it answers anyway (the stop stays queued).
const STOP_WAIT: Duration = Duration::from_secs(10);

/// What became of a person's vote ([`Engine::vote_on_task`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// Counted (and it may have decided the task).
    Counted,
    /// Queued behind a long step of the execution; it is counted when applied, unless it is
    /// a second vote or comes too late.
    Queued,
    /// This person had voted on the task already: nothing changed.
    AlreadyVoted,
    /// The task was decided (or ended) before the vote was applied: nothing changed.
    NotWaiting,
}

/// How long an activity's start (`ActivityStarted`) may wait for the worker's answer, so both
/// are applied in one commit.
const ACTIVITY_START_DELAY: Duration = Duration::from_millis(20);

/// How the inbox keeps an event that answers a task from outside (SendTaskSuccess/Failure, the
/// console, a signed link, a `.sync` child's end): marked, so the engine applies it only after
/// the submission of the call that handed the task out (see [`Engine::apply_claimed`]). Other
/// events are kept as the plain [`Event`].
#[derive(serde::Serialize, serde::Deserialize)]
enum Queued {
    Callback(Event),
}

/// The inbox's text for a callback.
fn callback_payload(event: Event) -> String {
    serde_json::to_string(&Queued::Callback(event)).unwrap_or_default()
}

/// An inbox entry read back: the event, and whether it is a callback.
fn parse_queued(payload: &str) -> Option<(Event, bool)> {
    if let Ok(Queued::Callback(event)) = serde_json::from_str::<Queued>(payload) {
        return Some((event, true));
    }
    serde_json::from_str::<Event>(payload).ok().map(|event| (event, false))
}

/// Whether `event`, applied now, would answer a task (end it, or vote on it) before its
/// submission is recorded.
fn answers_too_early(exec: &Execution, event: &Event, callback: bool) -> bool {
    callback && event.answered_task().is_some_and(|task| exec.awaits_submission(task))
}

/// What GetActivityTask hands a worker.
pub struct ActivityTask {
    pub token: TaskToken,
    pub input: String,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: EngineConfig,
    definitions: Mutex<HashMap<u64, Arc<Definition>>>,
    work_tx: mpsc::UnboundedSender<String>,
    inflight: Mutex<HashMap<String, bool>>,
    activity_ready: Notify,
    dispatch_ready: Notify,
    timers_changed: Notify,
    /// Interpreter steps running at once, off the async workers (see [`Engine::interpret`]).
    interpreters: Arc<tokio::sync::Semaphore>,
    metrics: Metrics,
    /// The Map Runs this node drives, by ARN: where their children's ends are told.
    drivers: Mutex<HashMap<String, mpsc::UnboundedSender<map_run_driver::DriverMsg>>>,
}

/// How many interpreter steps may run at once: each runs on a blocking thread of its own, so
/// a step that takes long (a JSONata expression may run up to its time limit, a Catch loop
/// may repeat it) holds one of these and delays only its own execution.
fn interpreter_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4)
}

/// The hash the store keeps of a token the interpreter issued.
fn token_hash(token: &str) -> Option<Vec<u8>> {
    TaskToken::parse(token).ok().map(|t| t.hash())
}

/// What a person answering a task is shown: the message it was sent, as JSON text, with its
/// task token left out (the store keeps tokens only as hashes).
fn shown_message(input: &Value, token: &str) -> String {
    let text = serde_json::to_string(input).unwrap_or_else(|_| "{}".into());
    // A token is base64url text, so it appears in JSON text exactly as it is.
    if token.is_empty() {
        text
    } else {
        text.replace(token, "(task token)")
    }
}

impl Engine {
    /// Start the engine's background loops (workers, timers, dispatcher) on the current
    /// tokio runtime, and pick up whatever the store says is pending.
    pub fn start(store: Arc<dyn Store>, config: EngineConfig) -> Engine {
        let (work_tx, work_rx) = mpsc::unbounded_channel();
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                config,
                definitions: Mutex::new(HashMap::new()),
                work_tx,
                inflight: Mutex::new(HashMap::new()),
                activity_ready: Notify::new(),
                dispatch_ready: Notify::new(),
                timers_changed: Notify::new(),
                interpreters: Arc::new(tokio::sync::Semaphore::new(interpreter_threads())),
                metrics: Metrics::default(),
                drivers: Mutex::new(HashMap::new()),
            }),
        };
        tokio::spawn(engine.clone().work_loop(work_rx));
        tokio::spawn(engine.clone().timer_loop());
        tokio::spawn(engine.clone().dispatch_loop());
        tokio::spawn(engine.clone().sweep_loop());
        if let Some(rx) = engine.inner.store.subscribe() {
            tokio::spawn(engine.clone().wake_loop(rx));
        }
        engine
    }

    /// Act on wake-ups other engines sharing the store publish.
    async fn wake_loop(self, mut rx: tokio::sync::broadcast::Receiver<Wake>) {
        loop {
            match rx.recv().await {
                Ok(Wake::Execution(arn)) => {
                    if !self.wake_driver(&arn) {
                        let _ = self.inner.work_tx.send(arn);
                    }
                }
                Ok(Wake::Activity) => self.inner.activity_ready.notify_waiters(),
                Ok(Wake::Dispatch) => self.inner.dispatch_ready.notify_one(),
                Ok(Wake::Timers) => self.inner.timers_changed.notify_one(),
                // Queues listen for their own wake-ups.
                Ok(Wake::Queue(_)) => {}
                // Missed some: the periodic sweeps catch up.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Tell other engines sharing the store (no-op for a store only one engine uses).
    fn publish(&self, wake: Wake) {
        if self.inner.store.subscribe().is_none() {
            return;
        }
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.publish(wake).await {
                tracing::debug!(error = %e, "publishing a wake-up");
            }
        });
    }

    /// The store, for the engine's own operations only: everything outside the engine
    /// reaches state through one of its operations, or reads it through the console's
    /// read-only view.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Parse a definition, or take it from the cache (keyed by its text).
    pub fn definition(&self, text: &str) -> Result<Arc<Definition>, EngineError> {
        let mut h = DefaultHasher::new();
        text.hash(&mut h);
        let key = h.finish();
        if let Some(d) = self.inner.definitions.lock().expect("definition cache lock").get(&key) {
            return Ok(d.clone());
        }
        let def = Arc::new(Definition::parse(text).map_err(|e| EngineError::InvalidDefinition(e.to_string()))?);
        let mut cache = self.inner.definitions.lock().expect("definition cache lock");
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(key, def.clone());
        Ok(def)
    }

    /// The activities a definition's Tasks name that do not exist (deleted, or never
    /// created): the interpreter fails a Task on one as AWS does.
    async fn missing_activities(&self, definition: &str) -> Result<Vec<String>, EngineError> {
        if !definition.contains(":activity:") {
            return Ok(Vec::new());
        }
        fn collect(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("Resource") {
                        if r.starts_with("arn:") && r.contains(":activity:") && !out.contains(r) {
                            out.push(r.clone());
                        }
                    }
                    m.values().for_each(|c| collect(c, out));
                }
                Value::Array(a) => a.iter().for_each(|c| collect(c, out)),
                _ => {}
            }
        }
        let mut named = Vec::new();
        collect(&serde_json::from_str(definition).unwrap_or(Value::Null), &mut named);
        let mut missing = Vec::new();
        for arn in named {
            if self.inner.store.get_activity(&arn).await?.is_none() {
                missing.push(arn);
            }
        }
        Ok(missing)
    }

    /// Run interpreter work off the async workers: on a blocking thread, at most
    /// [`interpreter_threads`] at once, with randomness of its own (seeded from the operating
    /// system's, so task tokens stay unguessable), so one slow step never holds the server's
    /// other work, nor a lock any other execution needs.
    async fn interpret<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Randomness) -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        let _permit = self
            .inner
            .interpreters
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("the engine is shutting down".into()))?;
        tokio::task::spawn_blocking(move || f(&mut OsRandomness::new()))
            .await
            .map_err(|e| EngineError::Store(StoreError::Backend(format!("an interpreter step failed: {e}"))))
    }

    /// A fresh execution name (a UUID, as AWS generates).
    pub fn new_name(&self) -> String {
        OsRandomness::new().uuid_v4()
    }

    // ----- starting ------------------------------------------------------------------------

    /// Create an execution and run it until it first waits. `row` carries the execution's
    /// identity, the definition it runs and its input as text (`input` is the same, parsed);
    /// status and the rest come from the interpreter.
    pub(crate) async fn run_new_execution(
        &self,
        row: ExecutionRow,
        input: Value,
        state_machine_name: &str,
        role_arn: &str,
    ) -> Result<(), EngineError> {
        self.run_new_execution_as(row, input, state_machine_name, role_arn, false).await
    }

    /// [`Self::run_new_execution`], as an Express execution when `express` (a Map Run's
    /// EXPRESS child, kept like any other so its history can be read).
    pub(super) async fn run_new_execution_as(
        &self,
        row: ExecutionRow,
        input: Value,
        state_machine_name: &str,
        role_arn: &str,
        express: bool,
    ) -> Result<(), EngineError> {
        let def = self.definition(&row.definition)?;
        let info = ExecutionInfo {
            execution_arn: row.arn.clone(),
            execution_name: row.name.clone(),
            state_machine_arn: row.state_machine_arn.clone(),
            state_machine_name: state_machine_name.to_owned(),
            role_arn: role_arn.to_owned(),
            start_time: row.start,
            redrive_count: 0,
            state_machine_version_arn: row.version_arn.clone(),
            state_machine_alias_arn: row.alias_arn.clone(),
            context: None,
            express,
            child_executions: true,
        };
        let missing = self.missing_activities(&row.definition).await?;
        let now = row.start;
        let (exec, out) = self
            .interpret(move |random| {
                let mut env = Env { now, random, missing_activities: &missing };
                interpreter::start(&def, info, input, &mut env)
            })
            .await?;
        let map_runs = map_runs::touches_map_runs(std::slice::from_ref(&out), &[]);
        let commit = self.build_commit(&row.arn, 0, &exec, vec![out], Vec::new(), Vec::new());
        match self.inner.store.insert_execution(&row, &commit).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => return Err(EngineError::ExecutionAlreadyExists(row.arn)),
            Err(e) => return Err(e.into()),
        }
        if map_runs {
            self.save_map_runs(&row.arn, &exec).await;
        }
        self.inner.metrics.executions_started.fetch_add(1, Ordering::Relaxed);
        self.after_commit(&commit);
        self.report_to_parent(&row, &commit).await;
        Ok(())
    }

    /// Redrive a failed, timed-out or aborted execution from where it ended.
    pub(crate) async fn redrive(&self, arn: &str) -> Result<Millis, EngineError> {
        loop {
            let Some((row, state)) = self.inner.store.load_execution(arn).await? else {
                return Err(EngineError::ExecutionDoesNotExist(arn.to_owned()));
            };
            let not_redrivable = || {
                EngineError::ExecutionNotRedrivable(format!(
                    "Execution {arn} cannot be redriven: its status is {} and it kept no state to resume from",
                    row.status
                ))
            };
            if !row.status.ended_badly() {
                return Err(not_redrivable());
            }
            let Some(state) = state else { return Err(not_redrivable()) };
            let mut exec: Execution = serde_json::from_str(&state).map_err(|e| StoreError::Backend(e.to_string()))?;
            let def = self.definition(&row.definition)?;
            let now = now_ms();
            let missing = self.missing_activities(&row.definition).await?;
            let (redriven, out) = self
                .interpret(move |random| {
                    let mut env = Env { now, random, missing_activities: &missing };
                    let out = interpreter::redrive(&def, &mut exec, &mut env);
                    (exec, out)
                })
                .await?;
            exec = redriven;
            let Some(out) = out else { return Err(not_redrivable()) };
            let commit = self.build_commit(arn, row.version, &exec, vec![out], Vec::new(), Vec::new());
            match self.inner.store.reopen_execution(&commit, exec.info.redrive_count as i64, now).await {
                Ok(()) => {
                    self.after_commit(&commit);
                    return Ok(now);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    // ----- events from the API -------------------------------------------------------------

    async fn push(&self, arn: &str, event: &Event) -> Result<(), EngineError> {
        let payload = serde_json::to_string(event).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.inner.store.push_event(arn, &payload).await?;
        self.wake(arn);
        Ok(())
    }

    /// Apply an event queued a moment ago that may wait: the execution is woken after
    /// `delay`, or sooner by the next event, which then carries it along in the same commit.
    fn wake_unhurried(&self, arn: &str, delay: Duration) {
        let (engine, arn) = (self.clone(), arn.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            engine.wake(&arn);
        });
    }

    /// Stop an execution: answers once the stop is applied, as on AWS (or, behind a long
    /// step, once it is queued).
    pub(crate) async fn request_stop(
        &self,
        arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<Millis, EngineError> {
        let Some(row) = self.inner.store.get_execution(arn).await? else {
            return Err(EngineError::ExecutionDoesNotExist(arn.to_owned()));
        };
        if row.status != ExecutionStatus::Running {
            return Ok(now_ms());
        }
        self.push(arn, &Event::Stop { error, cause }).await?;
        // As on AWS, the execution is stopped when StopExecution answers: wait for the commit
        // that applies the stop (made by this engine or another sharing the store).
        let mut nap = Duration::from_millis(1);
        let give_up = tokio::time::Instant::now() + STOP_WAIT;
        loop {
            match self.inner.store.get_execution(arn).await? {
                Some(row) if row.status == ExecutionStatus::Running => {}
                Some(row) => return Ok(row.stop.unwrap_or_else(now_ms)),
                None => return Err(EngineError::ExecutionDoesNotExist(arn.to_owned())),
            }
            if tokio::time::Instant::now() >= give_up {
                // Still busy in a long step: the stop is queued and applied after it.
                return Ok(now_ms());
            }
            tokio::time::sleep(nap).await;
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }

    async fn answer(
        &self,
        token: &TaskToken,
        event: impl Fn(i64) -> Event + Send + 'static,
    ) -> Result<(), EngineError> {
        self.answer_hash(token.hash(), event).await
    }

    async fn answer_hash(
        &self,
        hash: Vec<u8>,
        event: impl Fn(i64) -> Event + Send + 'static,
    ) -> Result<(), EngineError> {
        let answered = self
            .inner
            .store
            .answer_task(&hash, Box::new(move |task: &TaskRow| callback_payload(event(task.task_id))))
            .await?;
        match answered {
            Some(task) => {
                self.inner.metrics.callbacks_answered.fetch_add(1, Ordering::Relaxed);
                self.wake(&task.execution_arn);
                Ok(())
            }
            None => Err(EngineError::TaskTimedOut),
        }
    }

    /// SendTaskSuccess: `output` is JSON text of at most 256 KiB (AWS's limit).
    pub async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<(), EngineError> {
        if output.len() > MAX_OUTPUT_BYTES {
            return Err(EngineError::InvalidOutput(format!(
                "Invalid Output: 'The output exceeds the maximum size of {MAX_OUTPUT_BYTES} bytes'"
            )));
        }
        let output: Value = serde_json::from_str(output)
            .map_err(|e| EngineError::InvalidOutput(format!("Invalid output: the output is not valid JSON: {e}")))?;
        self.answer(token, move |task| Event::TaskSucceeded { task: task as u64, output: output.clone() }).await
    }

    pub async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<(), EngineError> {
        self.answer(token, move |task| Event::TaskFailed {
            task: task as u64,
            error: error.clone(),
            cause: cause.clone(),
        })
        .await
    }

    /// Answer an open task named by its execution and id rather than its token (the console's
    /// inbox, signed links): the same path as SendTaskSuccess/SendTaskFailure, so a task is
    /// answered at most once whichever way the answer comes. `audit` (who, from where, what
    /// they saw and answered) goes into the history with the answer, as `TaskAnswerRecorded`.
    pub async fn answer_open_task(
        &self,
        execution: &ExecutionArn,
        task_id: i64,
        answer: TaskAnswer,
        audit: Map<String, Value>,
    ) -> Result<(), EngineError> {
        let task = self.inner.store.get_task(execution.as_str(), task_id).await?;
        let Some(hash) = task.and_then(|t| t.token_hash) else {
            return Err(EngineError::TaskTimedOut);
        };
        self.answer_hash(hash, move |task| {
            let answer = match &answer {
                TaskAnswer::Success(output) => Event::TaskSucceeded { task: task as u64, output: output.clone() },
                TaskAnswer::Failure { error, cause } => {
                    Event::TaskFailed { task: task as u64, error: error.clone(), cause: cause.clone() }
                }
            };
            Event::TaskAnswered { audit: audit.clone(), answer: Box::new(answer) }
        })
        .await
    }

    /// One person's vote on an open task that needs `needed` approvals: queued for the
    /// interpreter, which counts the votes in order and ends the task when they decide it (see
    /// [`Event::TaskVote`]). The task's token stays valid until then, so SendTaskSuccess can
    /// still decide for everyone. Answers once the vote is applied, with what became of it: a
    /// second vote of the same person, or one arriving after the task was decided, counts
    /// for nothing and says so.
    pub async fn vote_on_task(
        &self,
        execution: &ExecutionArn,
        task_id: i64,
        by: &str,
        approve: bool,
        needed: u32,
        audit: Map<String, Value>,
    ) -> Result<Vote, EngineError> {
        let store = &self.inner.store;
        let execution_arn = execution.as_str();
        match store.get_task(execution_arn, task_id).await? {
            Some(t) if t.token_hash.is_some() => {}
            _ => return Err(EngineError::TaskTimedOut),
        }
        let before = store.history(execution_arn, Some(i64::MAX), 1, true).await?.first().map_or(0, |(id, _)| *id);
        let event = Event::TaskVote { task: task_id as u64, by: by.to_owned(), approve, needed, audit };
        // A callback: held, like SendTaskSuccess, until the call that handed the task out has
        // reported its submission.
        let seq = store.push_event(execution_arn, &callback_payload(event)).await?;
        self.wake(execution_arn);
        let mut nap = Duration::from_millis(1);
        let give_up = tokio::time::Instant::now() + STOP_WAIT;
        while store.pending_events(execution_arn).await?.iter().any(|(s, _)| *s == seq) {
            if tokio::time::Instant::now() >= give_up {
                // The execution is busy in a long step: the vote is applied after it.
                return Ok(Vote::Queued);
            }
            tokio::time::sleep(nap).await;
            nap = (nap * 2).min(Duration::from_millis(50));
        }
        // Applied: counted if the history has it since the vote was queued.
        let recorded = store.history(execution_arn, Some(before), 1000, false).await?.iter().any(|(_, text)| {
            serde_json::from_str::<Value>(text).is_ok_and(|e| {
                let d = &e["taskAnswerRecordedEventDetails"];
                e["type"] == "TaskAnswerRecorded" && d["taskId"].as_i64() == Some(task_id) && d["answeredBy"] == by
            })
        });
        if recorded {
            return Ok(Vote::Counted);
        }
        Ok(match store.get_task(execution_arn, task_id).await? {
            Some(t) if t.token_hash.is_some() => Vote::AlreadyVoted,
            _ => Vote::NotWaiting,
        })
    }

    pub async fn send_task_heartbeat(&self, token: &TaskToken) -> Result<(), EngineError> {
        let Some(task) = self.inner.store.task_by_token(&token.hash()).await? else {
            return Err(EngineError::TaskTimedOut);
        };
        self.push(&task.execution_arn, &Event::TaskHeartbeat { task: task.task_id as u64 }).await
    }

    /// Long-poll for an activity task: hand the oldest queued one to this worker, or `None`
    /// after `wait`.
    pub(crate) async fn poll_activity_task(
        &self,
        activity_arn: &str,
        worker: Option<&str>,
        wait: Duration,
    ) -> Result<Option<ActivityTask>, EngineError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.inner.activity_ready.notified();
            // The start is queued with the hand-out, in one write that waits for no sync: a
            // worker's round trip costs one sync, its answer's.
            let worker_name = worker.map(str::to_owned);
            let started: store::AnswerFn = Box::new(move |task: &TaskRow| {
                serde_json::to_string(&Event::TaskStarted { task: task.task_id as u64, worker_name })
                    .unwrap_or_default()
            });
            if let Some(task) =
                self.inner.store.claim_activity_task(activity_arn, worker.unwrap_or(""), started).await?
            {
                let request: TaskRequest =
                    serde_json::from_str(&task.request).map_err(|e| StoreError::Backend(e.to_string()))?;
                // A worker often answers within a millisecond or two. Applying its start at
                // once would make that answer wait for the start's own claim and commit; a
                // start applied a moment later, or with the answer in one commit, saves both.
                self.wake_unhurried(&task.execution_arn, ACTIVITY_START_DELAY);
                let input = self.with_links(&request, &task.execution_arn);
                return Ok(Some(ActivityTask {
                    token: TaskToken::issued(request.token.unwrap_or_default()),
                    input: serde_json::to_string(&input).unwrap_or_else(|_| "{}".into()),
                }));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            // Another node may queue work without waking us: look again at least every second.
            let nap = (deadline - now).min(Duration::from_secs(1));
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    // ----- processing ----------------------------------------------------------------------

    /// Ask a worker (here, or on any engine sharing the store) to apply the queued events of
    /// `arn`.
    pub fn wake(&self, arn: &str) {
        let _ = self.inner.work_tx.send(arn.to_owned());
        self.publish(Wake::Execution(arn.to_owned()));
    }

    async fn work_loop(self, mut rx: mpsc::UnboundedReceiver<String>) {
        while let Some(arn) = rx.recv().await {
            {
                let mut inflight = self.inner.inflight.lock().expect("inflight lock");
                if let Some(dirty) = inflight.get_mut(&arn) {
                    *dirty = true;
                    continue;
                }
                inflight.insert(arn.clone(), false);
            }
            let engine = self.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = engine.process(&arn).await {
                        tracing::warn!(execution = %arn, error = %e, "processing an execution failed; it will be retried");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let mut inflight = engine.inner.inflight.lock().expect("inflight lock");
                        inflight.remove(&arn);
                        drop(inflight);
                        engine.wake(&arn);
                        return;
                    }
                    let mut inflight = engine.inner.inflight.lock().expect("inflight lock");
                    match inflight.get_mut(&arn) {
                        Some(dirty) if *dirty => *dirty = false,
                        _ => {
                            inflight.remove(&arn);
                            return;
                        }
                    }
                }
            });
        }
    }

    /// Apply every queued event of one execution in one commit. A resume is two store writes:
    /// the claim with its reads, and the commit that also ends the claim.
    async fn process(&self, arn: &str) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let owner = &self.inner.config.node_id;
        loop {
            let now = now_ms();
            let (row, state, events) = match store.claim_pending(arn, owner, now, now + LEASE_MS).await? {
                // Another engine holds it and will see the queued events; or none are queued.
                Claim::Busy | Claim::Idle => return Ok(()),
                Claim::Claimed { row, state, events } => (*row, state, events),
            };
            match self.apply_claimed(arn, row, state, events).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    store.release_execution(arn, owner).await?;
                    if !matches!(e, EngineError::Store(StoreError::Conflict(_))) {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Feed the queued events to the interpreter and commit the result, ending the claim.
    /// Returns `Ok` only once that commit is made; on `Err` the claim is still held.
    ///
    /// Events are applied in the order they were queued, except a callback ([`Queued`]) for a
    /// task whose initial call has not reported its submission yet: a worker can answer a
    /// token while the call that handed it out is still returning, and AWS always records the
    /// submission first. Such a callback stays in the inbox (durable, answered already) and is
    /// applied right after the submission, or anything else that ends the task's wait (a
    /// failed call, a timeout, a stop); until then claims leave it queued. The submission
    /// always comes: the answered invocation keeps its row (`Tasks::answer_task`), so a node
    /// that dies with the call in flight makes it again.
    async fn apply_claimed(
        &self,
        arn: &str,
        row: ExecutionRow,
        state: Option<String>,
        events: Vec<(i64, String)>,
    ) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let release = Some(self.inner.config.node_id.clone());
        let Some(state) = state else {
            let consumed: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
            // Ended: late callbacks and timers change nothing, but must not pile up.
            let commit = Commit {
                execution_arn: arn.to_owned(),
                expected_version: row.version,
                status: row.status,
                output: row.output.clone(),
                error: row.error.clone(),
                cause: row.cause.clone(),
                stop: row.stop,
                state: None,
                consumed_events: consumed,
                release,
                ..Commit::default()
            };
            store.commit(&commit).await?;
            return Ok(());
        };
        let mut exec: Execution = serde_json::from_str(&state).map_err(|e| StoreError::Backend(e.to_string()))?;
        let def = self.definition(&row.definition)?;
        let missing = self.missing_activities(&row.definition).await?;
        let execution = arn.to_owned();
        let (exec, outs, finished_tasks, map_runs, consumed) = self
            .interpret(move |random| {
                let mut outs = Vec::with_capacity(events.len());
                let mut finished_tasks = Vec::new();
                let mut updates = Vec::new();
                let mut consumed = Vec::with_capacity(events.len());
                // Callbacks that came while the call handing out their task's token was still
                // in flight, in arrival order: each is applied right after the submission (or
                // whatever else ends the task's wait), else left queued for a later claim.
                let mut held: Vec<(i64, Event)> = Vec::new();
                let mut queued = events.into_iter();
                loop {
                    let (seq, event) = if let Some(i) =
                        held.iter().position(|(_, event)| !answers_too_early(&exec, event, true))
                    {
                        held.remove(i)
                    } else if let Some((seq, payload)) = queued.next() {
                        let Some((event, callback)) = parse_queued(&payload) else {
                            tracing::warn!(execution = %execution, payload, "dropping an event that does not parse");
                            consumed.push(seq);
                            continue;
                        };
                        if answers_too_early(&exec, &event, callback) {
                            held.push((seq, event));
                            continue;
                        }
                        (seq, event)
                    } else {
                        break;
                    };
                    consumed.push(seq);
                    if let Some(task) = event.ending_task() {
                        finished_tasks.push(task as i64);
                    }
                    let voted = match &event {
                        Event::TaskVote { task, .. } => Some(*task),
                        _ => None,
                    };
                    if matches!(event, Event::MapRunUpdated { .. }) {
                        updates.push(event.clone());
                    }
                    let mut env = Env { now: now_ms(), random: &mut *random, missing_activities: &missing };
                    let out = interpreter::step(&def, &mut exec, event, &mut env);
                    // A vote that decided its task ends it: its token is no longer valid.
                    if let Some(task) = voted.filter(|t| !exec.open_tasks().any(|open| open == *t)) {
                        finished_tasks.push(task as i64);
                    }
                    outs.push(out);
                }
                let map_runs = map_runs::touches_map_runs(&outs, &updates);
                (exec, outs, finished_tasks, map_runs, consumed)
            })
            .await?;
        if consumed.is_empty() {
            // Only callbacks waiting for their submission: nothing changes until it comes.
            store.release_execution(arn, &self.inner.config.node_id).await?;
            return Ok(());
        }
        let mut commit = self.build_commit(arn, row.version, &exec, outs, consumed, finished_tasks);
        commit.release = release;
        store.commit(&commit).await?;
        if map_runs {
            self.save_map_runs(arn, &exec).await;
        }
        self.after_commit(&commit);
        self.report_to_parent(&row, &commit).await;
        Ok(())
    }

    /// An execution started by a `.sync` Task has ended: tell the parent's task, in the shape
    /// AWS gives (DescribeExecution's fields; `.sync` carries Input/Output as JSON text,
    /// `.sync:2` as JSON).
    async fn report_to_parent(&self, row: &ExecutionRow, commit: &Commit) {
        let Some(link) = row.parent.as_deref().and_then(|p| serde_json::from_str::<ParentLink>(p).ok()) else {
            return;
        };
        if link.pattern == "mapRun" {
            if commit.status != ExecutionStatus::Running {
                self.map_run_child_ended(&link, commit.status, commit.error.as_deref(), commit.cause.as_deref());
            }
            return;
        }
        if commit.status == ExecutionStatus::Running || !matches!(link.pattern.as_str(), "sync" | "sync2") {
            return;
        }
        let as_json = link.pattern == "sync2";
        let data = |text: &str| -> Value {
            if as_json {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            } else {
                Value::String(text.to_owned())
            }
        };
        let mut d = serde_json::Map::new();
        d.insert("ExecutionArn".into(), Value::String(row.arn.clone()));
        d.insert("Input".into(), data(&row.input));
        d.insert("InputDetails".into(), serde_json::json!({"Included": true}));
        d.insert("Name".into(), Value::String(row.name.clone()));
        let succeeded = commit.status == ExecutionStatus::Succeeded;
        if let (true, Some(out)) = (succeeded, &commit.output) {
            d.insert("Output".into(), data(out));
            d.insert("OutputDetails".into(), serde_json::json!({"Included": true}));
            d.insert("RedriveCount".into(), Value::from(0));
            d.insert("RedriveStatus".into(), Value::from("NOT_REDRIVABLE"));
            d.insert("RedriveStatusReason".into(), Value::from("Execution is SUCCEEDED and cannot be redriven"));
        }
        d.insert("StartDate".into(), Value::from(row.start));
        d.insert("StateMachineArn".into(), Value::String(row.state_machine_arn.clone()));
        d.insert("Status".into(), Value::String(commit.status.as_str().to_owned()));
        d.insert("StopDate".into(), Value::from(commit.stop.unwrap_or_else(now_ms)));
        let event = if succeeded {
            Event::TaskSucceeded { task: link.task_id, output: Value::Object(d) }
        } else {
            if let Some(e) = &commit.error {
                d.insert("Error".into(), Value::String(e.clone()));
            }
            if let Some(c) = &commit.cause {
                d.insert("Cause".into(), Value::String(c.clone()));
            }
            Event::TaskFailed {
                task: link.task_id,
                error: Some("States.TaskFailed".into()),
                cause: Some(Value::Object(d).to_string()),
            }
        };
        // A callback: a child can end while the call that started it is still returning, and
        // the parent applies the end only after that call's submission.
        let pushed = self.inner.store.push_event(&link.execution_arn, &callback_payload(event)).await;
        match pushed {
            Ok(_) => self.wake(&link.execution_arn),
            Err(e) => {
                tracing::warn!(parent = %link.execution_arn, child = %row.arn, error = %e, "reporting to the parent execution")
            }
        }
    }

    /// Turn interpreter output into one store commit.
    fn build_commit(
        &self,
        arn: &str,
        version: i64,
        exec: &Execution,
        outs: Vec<StepOutput>,
        consumed: Vec<i64>,
        finished_tasks: Vec<i64>,
    ) -> Commit {
        let mut events = Vec::new();
        // Net effect per task and timer: one batch may add and cancel the same one.
        let mut tasks: BTreeMap<i64, Option<TaskRow>> = finished_tasks.into_iter().map(|t| (t, None)).collect();
        let mut timers: BTreeMap<i64, Option<Millis>> = BTreeMap::new();
        let mut messages = Vec::new();
        let now = now_ms();
        for out in outs {
            for e in &out.events {
                if e.event_type.as_str().ends_with("StateEntered") {
                    self.inner.metrics.transitions.fetch_add(1, Ordering::Relaxed);
                }
                events.push((e.id as i64, e.to_aws_json(true).to_string()));
            }
            for cmd in out.commands {
                match cmd {
                    Command::InvokeTask(req) => {
                        let kind =
                            if req.resource.contains(":activity:") { TaskKind::Activity } else { TaskKind::Invoke };
                        let token_hash = req.token.as_deref().and_then(token_hash);
                        let (message, deadline) = match (&token_hash, &req.token) {
                            (Some(_), Some(token)) => (
                                Some(shown_message(&req.input, token)),
                                req.timeout_seconds.map(|s| now.saturating_add(s.saturating_mul(1000) as i64)),
                            ),
                            _ => (None, None),
                        };
                        let row = TaskRow {
                            execution_arn: arn.to_owned(),
                            task_id: req.task as i64,
                            kind,
                            resource: req.resource.clone(),
                            state_name: req.state_name.clone(),
                            request: serde_json::to_string(&req).unwrap_or_else(|_| "{}".into()),
                            token_hash,
                            status: TaskStatus::Queued,
                            worker: None,
                            created: now,
                            lease_until: None,
                            message,
                            deadline,
                        };
                        if self.inner.config.reminders {
                            messages.extend(crate::reminders::first_message(&row, &req));
                        }
                        tasks.insert(req.task as i64, Some(row));
                    }
                    Command::CancelTask { task } => {
                        tasks.insert(task as i64, None);
                    }
                    Command::StartTimer { timer, fire_at } => {
                        timers.insert(timer as i64, Some(fire_at));
                    }
                    Command::CancelTimer { timer } => {
                        timers.insert(timer as i64, None);
                    }
                }
            }
        }
        let (status, output, error, cause) = match &exec.status {
            Status::Running => (ExecutionStatus::Running, None, None, None),
            Status::Succeeded { output } => (ExecutionStatus::Succeeded, Some(output.to_string()), None, None),
            Status::Failed { error, cause } => (ExecutionStatus::Failed, None, error.clone(), cause.clone()),
            Status::TimedOut { error, cause } => (ExecutionStatus::TimedOut, None, error.clone(), cause.clone()),
            Status::Aborted { error, cause } => (ExecutionStatus::Aborted, None, error.clone(), cause.clone()),
        };
        let terminal = exec.status.is_terminal();
        if terminal {
            let mut finished = self.inner.metrics.executions_finished.lock().expect("metrics lock");
            *finished.entry(status.as_str().to_owned()).or_default() += 1;
        }
        Commit {
            execution_arn: arn.to_owned(),
            expected_version: version,
            status,
            output,
            error,
            cause,
            stop: terminal.then(|| events.last().map_or(now, |_| now)),
            // A succeeded execution is never resumed; others keep their state for redrive.
            state: if matches!(exec.status, Status::Succeeded { .. }) {
                None
            } else {
                Some(serde_json::to_string(exec).unwrap_or_default())
            },
            events,
            timers_added: timers.iter().filter_map(|(id, at)| at.map(|at| (*id, at))).collect(),
            timers_removed: timers.iter().filter(|(_, at)| at.is_none()).map(|(id, _)| *id).collect(),
            tasks_added: tasks.values().flatten().cloned().collect(),
            tasks_removed: tasks.iter().filter(|(_, t)| t.is_none()).map(|(id, _)| *id).collect(),
            consumed_events: consumed,
            release: None,
            messages,
        }
    }

    fn after_commit(&self, commit: &Commit) {
        if commit.tasks_added.iter().any(|t| t.kind == TaskKind::Activity) {
            self.inner.activity_ready.notify_waiters();
            self.publish(Wake::Activity);
            self.fail_tasks_of_missing_activities(commit);
        }
        if commit.tasks_added.iter().any(|t| t.kind == TaskKind::Invoke) {
            self.inner.dispatch_ready.notify_one();
        }
        if !commit.timers_added.is_empty() {
            self.inner.timers_changed.notify_one();
            self.publish(Wake::Timers);
        }
        if commit.status != ExecutionStatus::Running {
            self.inner.config.integrations.execution_ended(&commit.execution_arn);
        }
    }

    /// Before this process makes the first call of a mocked state of an execution, count the
    /// calls of it that ended before (an execution resumed after a restart), so the next call
    /// takes the next numbered response rather than the first again.
    async fn resume_mock_counts(&self, arn: &str, case: &TestCaseRef, state: &str) {
        let Some(mocks) = self.inner.config.integrations.mocks() else { return };
        if !mocks.mocks_state(case, state) || mocks.counting(arn, state) {
            return;
        }
        let history = match self.inner.store.history(arn, None, MAX_HISTORY_EVENTS, false).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(execution = %arn, error = %e, "reading the history to count mocked calls");
                return;
            }
        };
        let events: Vec<Value> = history.iter().filter_map(|(_, text)| serde_json::from_str(text).ok()).collect();
        mocks.resume(arn, state, crate::mocks::ended_calls(&events, state));
    }

    /// The mock test case an execution runs with, when a MockConfigFile is loaded (without
    /// one no execution can have started with a test case, so nothing is read).
    async fn mock_test_case(&self, arn: &str) -> Option<TestCaseRef> {
        self.inner.config.integrations.mocks()?;
        let row = match self.inner.store.get_execution(arn).await {
            Ok(row) => row?,
            Err(e) => {
                tracing::warn!(execution = %arn, error = %e, "reading an execution's mock test case");
                return None;
            }
        };
        Some(TestCaseRef {
            state_machine: machine_name(&row.state_machine_arn).to_owned(),
            test_case: row.mock_test_case?,
        })
    }

    /// A task scheduled on an activity that does not exist (never created, or deleted) would
    /// wait for a worker forever: fail it with `States.Runtime`, as AWS does.
    fn fail_tasks_of_missing_activities(&self, commit: &Commit) {
        let tasks: Vec<(i64, String)> = commit
            .tasks_added
            .iter()
            .filter(|t| t.kind == TaskKind::Activity)
            .map(|t| (t.task_id, t.resource.clone()))
            .collect();
        let engine = self.clone();
        let arn = commit.execution_arn.clone();
        tokio::spawn(async move {
            for (task, activity) in tasks {
                match engine.inner.store.get_activity(&activity).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::warn!(execution = %arn, activity, "a task names an activity that does not exist");
                        let event = Event::TaskFailed {
                            task: task as _,
                            error: Some("States.Runtime".into()),
                            cause: Some(format!("The activity {activity} does not exist.")),
                        };
                        if let Err(e) = engine.push(&arn, &event).await {
                            tracing::warn!(execution = %arn, error = %e, "failing a task of a missing activity");
                        }
                    }
                    Err(e) => tracing::warn!(execution = %arn, error = %e, "looking an activity up"),
                }
            }
        });
    }

    // ----- timers --------------------------------------------------------------------------

    async fn timer_loop(self) {
        loop {
            let changed = self.inner.timers_changed.notified();
            let wait = match self.fire_due_timers().await {
                Ok(Some(next)) => (next - now_ms()).clamp(0, 1_000) as u64,
                Ok(None) => 1_000,
                Err(e) => {
                    tracing::warn!(error = %e, "timer loop");
                    1_000
                }
            };
            if wait > 0 {
                let _ = tokio::time::timeout(Duration::from_millis(wait), changed).await;
            }
        }
    }

    /// Fire due timers; returns when the next one is due.
    async fn fire_due_timers(&self) -> Result<Option<Millis>, EngineError> {
        let store = &self.inner.store;
        loop {
            let due = store.due_timers(now_ms(), 256).await?;
            if due.is_empty() {
                return Ok(store.next_timer().await?);
            }
            let fired: Vec<(TimerRow, String)> = due
                .into_iter()
                .map(|t| {
                    let payload =
                        serde_json::to_string(&Event::TimerFired { timer: t.timer_id as u64 }).unwrap_or_default();
                    (t, payload)
                })
                .collect();
            store.fire_timers(&fired).await?;
            let mut seen = std::collections::HashSet::new();
            for (t, _) in &fired {
                if seen.insert(t.execution_arn.clone()) {
                    self.wake(&t.execution_arn);
                }
            }
        }
    }

    // ----- invocations ---------------------------------------------------------------------

    async fn dispatch_loop(self) {
        // Calls an earlier run of this node had in flight when it died: make them again now
        // rather than when their lease runs out.
        match self.inner.store.reclaim_invocations(&self.inner.config.node_id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(invocations = n, "taking back the calls a previous run left in flight"),
            Err(e) => tracing::warn!(error = %e, "taking back calls left in flight; their leases will run out"),
        }
        loop {
            let ready = self.inner.dispatch_ready.notified();
            let now = now_ms();
            // Held until the slowest call could have ended, so no node calls a function twice.
            let longest = self.inner.config.integrations.longest_call().as_millis() as Millis;
            let lease = LEASE_MS.max(longest + LEASE_MS);
            match self.inner.store.claim_invocations(&self.inner.config.node_id, now, now + lease, 64).await {
                Ok(tasks) if !tasks.is_empty() => {
                    for task in tasks {
                        tokio::spawn(self.clone().invoke(task));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "claiming invocations"),
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), ready).await;
        }
    }

    /// A task's input as it is handed out: with signed links in place of `baton:link:*`
    /// markers when the task waits for a token (only then can a link answer it).
    fn with_links(&self, request: &TaskRequest, execution_arn: &str) -> Value {
        let mut input = request.input.clone();
        if let (Some(signer), Some(_)) = (&self.inner.config.links, &request.token) {
            let lifetime = request.timeout_seconds.map_or(DEFAULT_LINK_LIFETIME_MS, |s| s as i64 * 1000);
            signer.fill(&mut input, execution_arn, request.task as i64, now_ms().saturating_add(lifetime));
        }
        input
    }

    /// Carry out one task: call what the resource names, then report back as events.
    async fn invoke(self, task: TaskRow) {
        let arn = task.execution_arn.clone();
        let request: TaskRequest = match serde_json::from_str(&task.request) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(execution = %arn, task = task.task_id, error = %e, "unreadable task request");
                return;
            }
        };
        let id = request.task;
        if request.resource == MAP_RUN_RESOURCE {
            self.drive_map_run(&task, &request).await;
            return;
        }
        let _ = self.push(&arn, &Event::TaskStarted { task: id, worker_name: None }).await;
        let mock = self.mock_test_case(&arn).await;
        if let Some(case) = &mock {
            self.resume_mock_counts(&arn, case, &request.state_name).await;
        }
        let call = TaskCall::of(&request, &arn, self.with_links(&request, &arn)).with_mock(mock);
        let event = match self.inner.config.integrations.call(call).await {
            Outcome::Submitted(output) => {
                // Queue the submission, then mark it (the mark drops the request, which holds
                // the token). A callback that came first is held until this is applied.
                if let Err(e) = self.push(&arn, &Event::TaskSubmitted { task: id, output }).await {
                    tracing::warn!(execution = %arn, error = %e, "reporting a task submission");
                }
                if let Err(e) = self.inner.store.set_task_status(&arn, task.task_id, TaskStatus::Submitted).await {
                    tracing::warn!(execution = %arn, error = %e, "marking a task submitted");
                }
                return;
            }
            Outcome::Succeeded(output) => Event::TaskSucceeded { task: id, output },
            Outcome::SubmittedAndEnded { submitted, end } => {
                // Queued in order: the submission is applied before the end.
                if let Err(e) = self.push(&arn, &Event::TaskSubmitted { task: id, output: submitted }).await {
                    tracing::warn!(execution = %arn, error = %e, "reporting a task submission");
                }
                match end {
                    Ok(output) => Event::TaskSucceeded { task: id, output },
                    Err((error, cause)) => Event::TaskFailed { task: id, error: Some(error), cause: Some(cause) },
                }
            }
            Outcome::Failed { error, cause } => Event::TaskFailed { task: id, error: Some(error), cause: Some(cause) },
        };
        if let Err(e) = self.push(&arn, &event).await {
            tracing::warn!(execution = %arn, error = %e, "reporting a task result");
        }
    }

    // ----- recovery ------------------------------------------------------------------------

    /// Apply events queued before a restart, and any a wake-up missed (another node's).
    async fn sweep_loop(self) {
        loop {
            match self.inner.store.executions_with_events(1024).await {
                Ok(arns) => {
                    for arn in arns {
                        self.wake(&arn);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sweeping queued events"),
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asl::context::ExecutionInfo;
    use asl::eval::SplitMix64;

    /// An execution whose `.waitForTaskToken` Task was handed out and whose call has not
    /// reported yet, with the task's id.
    fn awaiting_submission() -> (Execution, u64) {
        let def = Definition::parse(
            r#"{"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
                "End": true}}}"#,
        )
        .expect("the definition parses");
        let mut random = SplitMix64(7);
        let mut env = Env { now: 0, random: &mut random, missing_activities: &[] };
        let (exec, out) = interpreter::start(&def, ExecutionInfo::local("m", "e", 0), Value::Null, &mut env);
        let task = out
            .commands
            .iter()
            .find_map(|c| match c {
                Command::InvokeTask(request) => Some(request.task),
                _ => None,
            })
            .expect("the Task is handed out");
        assert!(exec.awaits_submission(task), "the call has not reported its submission");
        (exec, task)
    }

    #[test]
    fn votes_and_answers_from_outside_wait_for_the_submission() {
        let (exec, task) = awaiting_submission();
        let vote = Event::TaskVote { task, by: "ana".into(), approve: true, needed: 2, audit: Map::new() };
        let success = Event::TaskSucceeded { task, output: Value::Null };
        for event in [&vote, &success] {
            assert!(answers_too_early(&exec, event, true), "{event:?} from outside is held");
            assert!(!answers_too_early(&exec, event, false), "{event:?} from the call itself is not");
        }
        // Queued as a callback, a vote reads back as one.
        let (read, callback) = parse_queued(&callback_payload(vote.clone())).expect("the payload parses");
        assert!(callback && read == vote);
    }
}
