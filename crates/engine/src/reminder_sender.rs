//! Sends the reminders [`crate::reminders`] schedules as they come due, through the topics'
//! outbox.

use std::sync::atomic::Ordering;
use std::time::Duration;

use asl::interpreter::TaskRequest;
use serde_json::Value;
use store::TaskRow;

use crate::clock::now_ms;
use crate::links::{LinkAction, LinkClaim, DEFAULT_LINK_LIFETIME_MS};
use crate::people::names;
use crate::queues::Queues;
use crate::reminders::*;
use crate::service::Engine;
use crate::topics::Topics;

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
