//! What crosses the interpreter's boundary: the [`Event`]s the shell feeds in, and the
//! [`Command`]s and history events that come out of each call.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{TaskId, TimerId};
use crate::history::HistoryEvent;
use crate::timestamp::Millis;

/// Something that happened outside the interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A worker or integration picked the task up (`TaskStarted`, `ActivityStarted`).
    TaskStarted {
        task: TaskId,
        worker_name: Option<String>,
    },
    /// The call that hands out a task token succeeded; the task now waits for the callback.
    TaskSubmitted {
        task: TaskId,
        output: Value,
    },
    /// `SendTaskHeartbeat`: the heartbeat clock starts again.
    TaskHeartbeat {
        task: TaskId,
    },
    TaskSucceeded {
        task: TaskId,
        output: Value,
    },
    TaskFailed {
        task: TaskId,
        error: Option<String>,
        cause: Option<String>,
    },
    TimerFired {
        timer: TimerId,
    },
    /// `StopExecution`.
    Stop {
        error: Option<String>,
        cause: Option<String>,
    },
    /// A person's answer (`TaskSucceeded` or `TaskFailed`) with its audit record: the
    /// record goes into the history as `TaskAnswerRecorded` just before the answer's own
    /// event, or nowhere if the task no longer waits.
    TaskAnswered {
        audit: Map<String, Value>,
        answer: Box<Event>,
    },
    /// One person's vote on a task that needs several approvals. Votes are recorded in the
    /// history (`TaskAnswerRecorded`, with the count so far); a second vote by the same person
    /// counts once. The task succeeds with `{"approved": false, "approvals": [...],
    /// "rejectedBy": by}` at the first rejection, or with `{"approved": true, "approvals":
    /// [...]}` once `needed` different people approved. Votes come one at a time (the
    /// execution's events are applied in order), so exactly one vote decides.
    TaskVote {
        task: TaskId,
        by: String,
        approve: bool,
        needed: u32,
        audit: Map<String, Value>,
    },
    /// `UpdateMapRun`: new limits for a running Map Run's children still to come.
    MapRunUpdated {
        map_run_arn: String,
        max_concurrency: Option<u64>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
    },
}

impl Event {
    /// The task this event ends when it is applied, if any.
    pub fn ending_task(&self) -> Option<TaskId> {
        match self {
            Event::TaskSucceeded { task, .. } | Event::TaskFailed { task, .. } => Some(*task),
            Event::TaskAnswered { answer, .. } => answer.ending_task(),
            _ => None,
        }
    }

    /// The task this event answers, if any: one it ends, or one it votes on (a vote may
    /// decide the task, so it must not come before the task's submission either).
    pub fn answered_task(&self) -> Option<TaskId> {
        match self {
            Event::TaskVote { task, .. } => Some(*task),
            _ => self.ending_task(),
        }
    }
}

/// Work the shell must carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    InvokeTask(Box<TaskRequest>),
    /// The task is no longer awaited (timed out, or its branch or execution ended).
    CancelTask {
        task: TaskId,
    },
    StartTimer {
        timer: TimerId,
        fire_at: Millis,
    },
    CancelTimer {
        timer: TimerId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    pub task: TaskId,
    pub state_name: String,
    pub resource: String,
    /// The effective input (after InputPath and Parameters).
    pub input: Value,
    /// Set for `.waitForTaskToken` resources and activities.
    pub token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    pub credentials: Option<Value>,
}

/// The result of one call to [`super::start`] or [`super::step`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StepOutput {
    pub events: Vec<HistoryEvent>,
    pub commands: Vec<Command>,
}
