//! The rows the store keeps and returns, with typed values where the store's callers decide
//! on them (an execution's status, a state machine's type, a task's kind and status). Text
//! appears only in SQL and on the wire: each enum has `as_str()` (its stored and AWS name)
//! and `FromStr`. Execution state, history events and queued events stay opaque text.

use std::fmt;
use std::str::FromStr;

use crate::Millis;

/// A name an enum of the store does not know (text read from the database or the wire).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

/// Declares a stored enum: its variants with their names (as AWS spells them, and as the
/// database keeps them), `as_str`, `FromStr`, `Display`, `Serialize` (the name) and `ALL`.
/// `From<&str>` is for names written in code (tests, constants): it panics on any other text,
/// which goes through `FromStr`.
macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownName { what: $what, name: other.to_owned() }),
                }
            }
        }

        impl From<&str> for $name {
            /// For names written in code; text from outside goes through `FromStr`.
            fn from(s: &str) -> Self {
                match s.parse() {
                    Ok(value) => value,
                    Err(e) => panic!("{e}: a name written in code must be one of the enum's"),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

stored_enum! {
    /// Where an execution stands (DescribeExecution's `status`). A [`Commit`] says `Running`
    /// unless told otherwise.
    #[derive(Default)]
    ExecutionStatus, "execution status", {
        #[default]
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        TimedOut => "TIMED_OUT",
        Aborted => "ABORTED",
        /// Redriven, not yet running again (AWS's; Baton reopens an execution as `Running`).
        PendingRedrive => "PENDING_REDRIVE",
    }
}

impl ExecutionStatus {
    /// Ended without succeeding: the executions RedriveExecution accepts.
    pub fn ended_badly(self) -> bool {
        matches!(self, ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted)
    }
}

stored_enum! {
    /// A state machine's type (CreateStateMachine's `type`).
    StateMachineType, "state machine type", {
        Standard => "STANDARD",
        Express => "EXPRESS",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRow {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    pub kind: StateMachineType,
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
    pub status: ExecutionStatus,
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

    pub(crate) fn parse(s: &str) -> Self {
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

    pub(crate) fn parse(s: &str) -> Self {
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
    pub status: ExecutionStatus,
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
    /// Queued events ([`crate::Executions::push_event`]) this step consumed.
    pub consumed_events: Vec<i64>,
    /// The owner whose claim ([`crate::Executions::claim_pending`]) this commit ends, in the same
    /// transaction; `None` leaves any claim as it is.
    pub release: Option<String>,
    /// Queue messages sent with the commit (e.g. a task's first reminder), so they exist if
    /// and only if the step that asked for them is committed. Their queues must exist.
    pub messages: Vec<MessageRow>,
}

/// What [`crate::Executions::claim_pending`] found.
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
    pub executions_by_status: Vec<(ExecutionStatus, i64)>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for s in ExecutionStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecutionStatus>(), Ok(*s));
        }
        for t in StateMachineType::ALL {
            assert_eq!(t.as_str().parse::<StateMachineType>(), Ok(*t));
        }
        assert_eq!(ExecutionStatus::from("TIMED_OUT"), ExecutionStatus::TimedOut);
        assert_eq!(serde_json::to_value(StateMachineType::Express).ok(), Some(serde_json::json!("EXPRESS")));
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = "running".parse::<ExecutionStatus>().expect_err("names are AWS's, in capitals");
        assert_eq!(e.to_string(), r#"unknown execution status "running""#);
        assert!("express".parse::<StateMachineType>().is_err());
    }
}
