//! An execution's state: plain data that serialises for the store. The execution (its
//! status, counters, what it waits on) and its arena of frames, each with the phase its
//! current state is in; and `Failure`, a failure on its way through Retry and Catch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fanout::Fanout;
use super::map_run::{ItemCounts, MapRun};
use super::task::TaskWait;
use super::variables::Assigned;
use super::{FrameId, TaskId, TimerId};
use crate::context::ExecutionInfo;
use crate::definition::{GraphId, StateId};
use crate::error::names;
use crate::timestamp::Millis;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Status {
    Running,
    Succeeded { output: Value },
    Failed { error: Option<String>, cause: Option<String> },
    TimedOut { error: Option<String>, cause: Option<String> },
    Aborted { error: Option<String>, cause: Option<String> },
}

impl Status {
    /// As DescribeExecution spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded { .. } => "SUCCEEDED",
            Status::Failed { .. } => "FAILED",
            Status::TimedOut { .. } => "TIMED_OUT",
            Status::Aborted { .. } => "ABORTED",
        }
    }

    pub fn is_terminal(&self) -> bool {
        !matches!(self, Status::Running)
    }
}

/// A failure on its way through Retry and Catch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The failure is a task's result (its own error, or a result too large): a
    /// `States.DataLimitExceeded` of a task result is caught by `States.ALL`, as AWS records.
    #[serde(default)]
    pub from_task_result: bool,
    /// The failure is a missed heartbeat. AWS records it as `States.Timeout`; a retrier or
    /// catcher naming `States.HeartbeatTimeout` still sees it.
    #[serde(default)]
    pub heartbeat: bool,
}

impl Failure {
    pub(super) fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// `States.Runtime` and `States.DataLimitExceeded` end the execution: no retrier or
    /// catcher sees them.
    pub(super) fn is_terminal(&self) -> bool {
        matches!(self.error_name(), names::RUNTIME | names::DATA_LIMIT_EXCEEDED)
    }

    /// What a catcher hands on: `Error` and `Cause`, as AWS records them: each null when the
    /// failure has none (a SendTaskFailure without either gives `{"Error": null, "Cause":
    /// null}`), except that a timeout's missing cause is the empty string.
    pub(super) fn error_output(&self) -> Value {
        let mut m = Map::new();
        m.insert("Error".into(), self.error.clone().map_or(Value::Null, Value::String));
        let cause = match (&self.cause, self.error_name()) {
            (Some(c), _) => Value::String(c.clone()),
            (None, names::TIMEOUT | names::HEARTBEAT_TIMEOUT) => Value::String(String::new()),
            (None, _) => Value::Null,
        };
        m.insert("Cause".into(), cause);
        Value::Object(m)
    }
}

/// The whole state of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub info: ExecutionInfo,
    pub input: Value,
    pub status: Status,
    pub(super) frames: Vec<Option<Frame>>,
    pub(super) free_frames: Vec<FrameId>,
    pub(super) next_event_id: u64,
    pub(super) next_task: TaskId,
    pub(super) next_timer: TimerId,
    pub(super) tasks: BTreeMap<TaskId, FrameId>,
    pub(super) timers: BTreeMap<TimerId, TimerPurpose>,
    /// Where a redrive resumes: the top-level state the execution ended in, and its input.
    #[serde(default)]
    pub(super) redrive_from: Option<(StateId, Value)>,
    /// Size (compact JSON bytes) of every variable alive, against the execution-wide limit.
    #[serde(default)]
    pub(super) variable_bytes: usize,
    /// The Map Runs of the execution's distributed Maps (DescribeMapRun, ListMapRuns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) map_runs: Vec<MapRun>,
}

impl Execution {
    /// Number of history events written so far.
    pub fn event_count(&self) -> u64 {
        self.next_event_id - 1
    }

    /// The execution's Map Runs, oldest first, with their item counts as they stand.
    pub fn map_runs(&self) -> Vec<MapRun> {
        self.map_runs
            .iter()
            .map(|run| {
                let mut run = run.clone();
                if run.status == "RUNNING" {
                    let live = run.frame.and_then(|f| self.frames.get(f)).and_then(Option::as_ref);
                    match live.map(|fr| &fr.phase) {
                        Some(Phase::Fanout(fan)) => {
                            let counts = fan.run_counts();
                            run.counts = ItemCounts::of(counts.items);
                            run.execution_counts = Some(ItemCounts::of(counts.executions));
                        }
                        Some(Phase::MapRead(_)) => {}
                        // The Map state was aborted (the execution stopped, or a sibling failed).
                        _ => {
                            run.status = "ABORTED".into();
                            run.stop = run.stop.or(Some(run.start));
                        }
                    }
                }
                run.frame = None;
                run
            })
            .collect()
    }

    /// Tasks the execution is waiting on, with the state that waits.
    pub fn open_tasks(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.tasks.keys().copied()
    }

    /// Whether `task` is open and waits for its initial call's submission (`.waitForTaskToken`,
    /// `.sync`) that has not been applied yet: its result must come after that submission.
    pub fn awaits_submission(&self, task: TaskId) -> bool {
        let Some(f) = self.tasks.get(&task) else { return false };
        match self.frames.get(*f).and_then(Option::as_ref).map(|frame| &frame.phase) {
            Some(Phase::Task(w)) => w.task == task && w.waits_for_submission && !w.submitted,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum TimerPurpose {
    ExecutionTimeout,
    Wait(FrameId),
    RetryBackoff(FrameId),
    TaskTimeout(FrameId),
    TaskHeartbeat(FrameId),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Parent {
    pub(super) frame: FrameId,
    pub(super) slot: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Frame {
    pub(super) graph: GraphId,
    pub(super) parent: Option<Parent>,
    pub(super) state: StateId,
    /// The current state's raw input.
    pub(super) input: Value,
    pub(super) entered_event: u64,
    pub(super) entered_time: Millis,
    /// The last event of this frame, for `previousEventId`.
    pub(super) last_event: u64,
    pub(super) retry_counts: Vec<u64>,
    pub(super) retry_total: u32,
    pub(super) phase: Phase,
    /// Runs as a child execution of a distributed Map: its events are not in this history.
    #[serde(default)]
    pub(super) silent: bool,
    /// The variables this frame's scope assigned (the top level's, or one Parallel branch's
    /// or Map iteration's). Outer scopes are read through `parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) vars: Option<Box<Map<String, Value>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Phase {
    /// About to enter `state` (writes the `*StateEntered` event).
    Entering,
    /// Entered; (re)run the state's work. Retries come back here without a new entry event.
    Running,
    Task(Box<TaskWait>),
    WaitTimer {
        timer: TimerId,
        /// The state's output when the timer fires (its effective input in JSONPath, to
        /// which OutputPath still applies).
        effective: Value,
        /// What the state assigns when it leaves, computed on entry.
        #[serde(default)]
        assigned: Assigned,
    },
    RetryTimer {
        timer: TimerId,
    },
    Fanout(Box<Fanout>),
    /// A distributed Map waiting for the items its ItemReader reads.
    MapRead(Box<super::map_run::MapRead>),
    /// Finished (its parent is notified); the slot is about to be freed.
    Done,
}
