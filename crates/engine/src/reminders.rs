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

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use store::{MessageRow, TaskRow};

use asl::interpreter::TaskRequest;

use crate::clock::now_ms;
use crate::links::{LinkAction, LinkClaim, DEFAULT_LINK_LIFETIME_MS};
use crate::people::{find_member, names};
use crate::queues::Queues;
use crate::random::OsRandomness;
use crate::service::Engine;
use crate::topics::Topics;

/// The built-in queue holding each waiting task's next reminder.
pub const QUEUE: &str = "__baton_reminders";
/// Reminders sent for one task at most (an hourly reminder without a deadline stops after
/// about four days).
pub const MAX_REMINDERS: usize = 100;
/// How long a reminder being sent stays invisible to other nodes.
const SENDING_SECONDS: u64 = 120;

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
    fn list(&self) -> Vec<String> {
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
fn deadline(request: &TaskRequest, created: i64) -> Option<i64> {
    request.timeout_seconds.map(|s| created + s as i64 * 1000)
}

fn message(execution_arn: &str, task_id: i64, step: usize, at: i64, now: i64) -> MessageRow {
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

/// Sends the reminders as they come due.
#[derive(Clone)]
pub struct Reminders {
    engine: Engine,
    queues: Queues,
    topics: Topics,
}

impl Reminders {
    /// Create the queue and start sending (on every node; each reminder goes out once).
    pub async fn start(engine: Engine, queues: Queues, topics: Topics) -> Result<(), crate::queues::QueueError> {
        queues.create(QUEUE, serde_json::Map::new()).await?;
        let me = Reminders { engine, queues, topics };
        tokio::spawn(async move { me.run().await });
        Ok(())
    }

    async fn run(self) {
        loop {
            let wait = Some(Duration::from_secs(crate::queues::MAX_WAIT_SECONDS));
            match self.queues.receive(QUEUE, 10, Some(SENDING_SECONDS), wait).await {
                Ok(batch) => {
                    for m in batch {
                        self.handle(m).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the reminders queue; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn handle(&self, m: crate::queues::ReceivedMessage) {
        let body: Value = serde_json::from_str(&m.row.body).unwrap_or_default();
        let (Some(execution), Some(task_id), Some(step)) =
            (body["execution"].as_str(), body["task"].as_i64(), body["step"].as_u64())
        else {
            self.delete(&m).await;
            return;
        };
        let store = self.engine.store();
        let task = match store.get_task(execution, task_id).await {
            Ok(Some(t)) if t.token_hash.is_some() => t,
            Ok(_) => {
                tracing::debug!(execution, task_id, "the task no longer waits: its reminders end");
                self.delete(&m).await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading a task for its reminder; it comes back later");
                return;
            }
        };
        let Ok(request) = serde_json::from_str::<TaskRequest>(&task.request) else {
            self.delete(&m).await;
            return;
        };
        let Some(Ok(spec)) = spec_of(&request.input) else {
            self.delete(&m).await;
            return;
        };
        let deadline = deadline(&request, task.created);
        let plan = schedule(&spec, task.created, deadline);
        let step = step as usize;
        let Some(&(at, kind)) = plan.get(step) else {
            self.delete(&m).await;
            return;
        };
        let now = now_ms();
        if at > now + 1000 {
            // Early (a visibility timeout ran out first): back to sleep until it is due.
            let wait = ((at - now) / 1000).clamp(1, crate::queues::MAX_VISIBILITY_SECONDS as i64) as u64;
            let _ = self.queues.change_visibility(QUEUE, &m.receipt_handle, wait).await;
            return;
        }
        let to = match kind {
            Kind::Remind => {
                spec.to.as_ref().map(People::list).unwrap_or_else(|| names(&request.input, "BatonAssignee"))
            }
            Kind::Escalate => spec.escalate_to.as_ref().map(People::list).unwrap_or_default(),
        };
        let to: Vec<String> = to.into_iter().filter(|p| p.contains('@')).collect();
        if to.is_empty() {
            tracing::warn!(execution, state = task.state_name, kind = kind.as_str(), "a reminder has nobody to go to");
        }
        for person in &to {
            let (subject, text) = self.compose(&spec, &task, kind, deadline, person);
            if let Err(e) = self.topics.email(person, &subject, &text).await {
                tracing::warn!(execution, error = %e, "a reminder could not be queued; it comes back later");
                return;
            }
        }
        let counter = match kind {
            Kind::Remind => &self.engine.metrics().reminders_sent,
            Kind::Escalate => &self.engine.metrics().escalations_sent,
        };
        counter.fetch_add(to.len() as u64, Ordering::Relaxed);
        tracing::info!(execution, state = task.state_name, kind = kind.as_str(), to = to.join(", "), step, "reminded");
        // The next one first, then this one away: a crash in between repeats, never loses.
        if let Some(&(next, _)) = plan.get(step + 1) {
            if let Err(e) = store.send_message(&message(execution, task_id, step + 1, next, now)).await {
                tracing::warn!(execution, error = %e, "queueing the next reminder; this one comes back later");
                return;
            }
        }
        self.delete(&m).await;
    }

    fn compose(
        &self,
        spec: &ReminderSpec,
        task: &TaskRow,
        kind: Kind,
        deadline: Option<i64>,
        person: &str,
    ) -> (String, String) {
        let execution = task.execution_arn.rsplit(':').next().unwrap_or(&task.execution_arn);
        let waited = (now_ms() - task.created) / 60_000;
        let subject = spec.subject.clone().unwrap_or_else(|| match kind {
            Kind::Remind => format!("Reminder: {} is waiting for your answer", task.state_name),
            Kind::Escalate => format!("Escalation: {} has had no answer for {waited} min", task.state_name),
        });
        let due = deadline
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| format!("It must be answered by {} (UTC).", d.format("%Y-%m-%d %H:%M")))
            .unwrap_or_else(|| "It has no deadline.".into());
        let link = self.engine.config().links.as_ref().map(|signer| {
            let claim = LinkClaim {
                execution_arn: task.execution_arn.clone(),
                task_id: task.task_id,
                action: LinkAction::Answer,
                expires: deadline.unwrap_or(task.created.saturating_add(DEFAULT_LINK_LIFETIME_MS)),
                who: Some(person.to_owned()),
            };
            (signer.url(&claim), signer.base_url().to_owned())
        });
        let mut text = match kind {
            Kind::Remind => format!(
                "The task {} of execution {execution} has waited {waited} min for an answer. {due}\n",
                task.state_name
            ),
            Kind::Escalate => format!(
                "Nobody has answered the task {} of execution {execution} in {waited} min. {due}\n",
                task.state_name
            ),
        };
        if let Some((url, base)) = link {
            text.push_str(&format!("\nAnswer it: {url}\nAll waiting tasks: {base}/inbox\n"));
        }
        (subject, text)
    }

    async fn delete(&self, m: &crate::queues::ReceivedMessage) {
        if let Err(e) = self.queues.delete_message(QUEUE, &m.receipt_handle).await {
            tracing::warn!(error = %e, "removing a reminder from its queue");
        }
    }
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
