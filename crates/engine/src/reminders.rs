//! Reminders and escalation for tasks that wait for people. A task asks for them in what it
//! sends (its Parameters, a Lambda Payload, an activity's input), beside `BatonAssignee`:
//!
//! ```json
//! "BatonReminders": {
//!   "Every": 86400,                    // remind every day while it waits
//!   "BeforeDeadline": 3600,            // and once an hour before TimeoutSeconds ends
//!   "To": ["ana@example.com"],         // default: BatonAssignee's email addresses
//!   "EscalateAfter": 172800,           // unanswered after two days:
//!   "EscalateTo": "head@example.com",  // tell someone else, once
//!   "Subject": "Exam re-sit waiting"   // optional
//! }
//! ```
//!
//! Times are seconds from when the task started waiting. Reminders stop when the task is
//! answered, times out or its execution ends, and never come after the deadline. Each email
//! carries a signed answer link made for its recipient (see [`crate::links`]) and goes out
//! through the topics' outbox ([`crate::topics::Topics::email`]), so it is retried while SMTP
//! fails transiently; without `[smtp]` it is kept on the console's Mail page only.
//!
//! Durability: a task's next reminder is a message in a built-in queue ([`QUEUE`]), delayed
//! until it is due. The first is written in the same store commit as the task itself, so a
//! task that exists has its reminders; each later one is queued before the one just sent is
//! deleted. A crash between sending and deleting sends that reminder again (at least once,
//! never lost). Any node may send it: a receive hands each message to one of them. At most
//! [`MAX_REMINDERS`] per task.

use serde::Deserialize;
use serde_json::{json, Value};
use store::{MessageRow, TaskRow};

use asl::interpreter::TaskRequest;

use crate::people::find_member;
use crate::random::OsRandomness;

/// The built-in queue holding each waiting task's next reminder.
pub const QUEUE: &str = "__baton_reminders";
/// Reminders sent for one task at most (an hourly reminder without a deadline stops after
/// about four days).
pub const MAX_REMINDERS: usize = 100;
/// How long a reminder being sent stays invisible to other nodes.
pub(crate) const SENDING_SECONDS: u64 = 120;

/// `BatonReminders`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ReminderSpec {
    pub every: Option<u64>,
    pub before_deadline: Option<u64>,
    pub to: Option<People>,
    pub escalate_after: Option<u64>,
    pub escalate_to: Option<People>,
    pub subject: Option<String>,
}

/// One address or several.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum People {
    One(String),
    Many(Vec<String>),
}

impl People {
    pub(crate) fn list(&self) -> Vec<String> {
        match self {
            People::One(p) => vec![p.clone()],
            People::Many(p) => p.clone(),
        }
    }
}

/// What a reminder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// To the people who should answer.
    Remind,
    /// To someone else, because nobody answered in time.
    Escalate,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Remind => "remind",
            Kind::Escalate => "escalate",
        }
    }
}

/// The task's `BatonReminders`, if it asks for any; `Err` says what is wrong with them.
pub fn spec_of(input: &Value) -> Option<Result<ReminderSpec, String>> {
    let raw = find_member(input, "BatonReminders")?;
    Some(serde_json::from_value::<ReminderSpec>(raw.clone()).map_err(|e| format!("BatonReminders: {e}")).and_then(
        |s| {
            let zero = [s.every, s.before_deadline, s.escalate_after].contains(&Some(0));
            if zero {
                Err("BatonReminders: Every, BeforeDeadline and EscalateAfter must be at least 1 second".into())
            } else if s.escalate_after.is_some() != s.escalate_to.is_some() {
                Err("BatonReminders: EscalateAfter and EscalateTo go together".into())
            } else {
                Ok(s)
            }
        },
    ))
}

/// When each reminder of a task that started waiting at `created` is due, in order: every
/// `Every` seconds, once `BeforeDeadline` seconds before the deadline, and the escalation;
/// none at or after the deadline; at most [`MAX_REMINDERS`].
pub fn schedule(spec: &ReminderSpec, created: i64, deadline: Option<i64>) -> Vec<(i64, Kind)> {
    let mut out = Vec::new();
    let before_end = |at: i64| deadline.is_none_or(|d| at < d);
    if let Some(every) = spec.every {
        let step = every as i64 * 1000;
        let mut at = created + step;
        while before_end(at) && out.len() < MAX_REMINDERS {
            out.push((at, Kind::Remind));
            at += step;
        }
    }
    if let (Some(before), Some(d)) = (spec.before_deadline, deadline) {
        let at = d - before as i64 * 1000;
        if at > created {
            out.push((at, Kind::Remind));
        }
    }
    if let Some(after) = spec.escalate_after {
        let at = created + after as i64 * 1000;
        if before_end(at) {
            out.push((at, Kind::Escalate));
        }
    }
    out.sort_by_key(|(at, kind)| (*at, *kind == Kind::Escalate));
    out.dedup_by_key(|(at, kind)| (*at, *kind));
    out.truncate(MAX_REMINDERS);
    out
}

/// The deadline of a task: when its `TimeoutSeconds` ends.
pub(crate) fn deadline(request: &TaskRequest, created: i64) -> Option<i64> {
    request.timeout_seconds.map(|s| created + s as i64 * 1000)
}

pub(crate) fn message(execution_arn: &str, task_id: i64, step: usize, at: i64, now: i64) -> MessageRow {
    MessageRow {
        queue: QUEUE.to_owned(),
        id: OsRandomness::new_execution_name(),
        body: json!({"execution": execution_arn, "task": task_id, "step": step}).to_string(),
        attributes: "{}".into(),
        sent: now,
        visible_at: at,
        receive_count: 0,
        first_received: None,
    }
}

/// The message that brings a new task's first reminder, to send in the commit that creates
/// the task; `None` when it asks for none (or asks wrongly: that is logged).
pub fn first_message(task: &TaskRow, request: &TaskRequest) -> Option<MessageRow> {
    request.token.as_ref()?;
    let spec = match spec_of(&request.input)? {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(execution = task.execution_arn, state = task.state_name, error = e, "no reminders");
            return None;
        }
    };
    let (at, _) = *schedule(&spec, task.created, deadline(request, task.created)).first()?;
    Some(message(&task.execution_arn, task.task_id, 0, at, task.created))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> ReminderSpec {
        spec_of(&json!({"Payload": {"BatonReminders": v}})).expect("present").expect("valid")
    }

    #[test]
    fn reminders_come_every_period_before_the_deadline_then_escalate() {
        let s = spec(json!({"Every": 10, "BeforeDeadline": 5, "EscalateAfter": 25, "EscalateTo": "boss@x"}));
        let plan = schedule(&s, 0, Some(40_000));
        assert_eq!(
            plan,
            [
                (10_000, Kind::Remind),
                (20_000, Kind::Remind),
                (25_000, Kind::Escalate),
                (30_000, Kind::Remind),
                (35_000, Kind::Remind)
            ]
        );
        // Nothing at or after the deadline; the escalation is dropped when it would be late.
        let late = spec(json!({"EscalateAfter": 50, "EscalateTo": ["boss@x"]}));
        assert!(schedule(&late, 0, Some(40_000)).is_empty());
        // Without a deadline an every-reminder stops at the cap.
        assert_eq!(schedule(&spec(json!({"Every": 1})), 0, None).len(), MAX_REMINDERS);
        // A reminder at the same time as another is sent once.
        let twice = spec(json!({"Every": 10, "BeforeDeadline": 10}));
        assert_eq!(schedule(&twice, 0, Some(20_000)), [(10_000, Kind::Remind)]);
    }

    #[test]
    fn bad_reminders_say_what_is_wrong() {
        let err = |v: Value| spec_of(&json!({"BatonReminders": v})).expect("present").expect_err("invalid");
        assert!(err(json!({"Evry": 10})).contains("unknown field `Evry`"));
        assert!(err(json!({"Every": 0})).contains("at least 1 second"));
        assert!(err(json!({"EscalateAfter": 10})).contains("go together"));
        assert!(spec_of(&json!({"Comment": "none"})).is_none());
    }
}
