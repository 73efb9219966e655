//! The mail Baton sent: every email it hands over for delivery (a topic's email subscription,
//! a task's reminder) is also written, as the person will read it, to a built-in queue kept as
//! a log ([`QUEUE`], never received), the newest [`KEEP`] of them. The console lists them with
//! working links, so an approval flow can be tried without a mail server; without `[smtp]`
//! this is the only place the mail goes. In the store, so a restart keeps them and nodes
//! sharing a database see the same list. Knows nothing of HTTP or of how mail is sent.

use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::clock::now_ms;
use crate::queues::{OutgoingMessage, QueueError, Queues};

/// The built-in queue the log is kept in (not listed by ListQueues, as no `__baton` queue is).
pub const QUEUE: &str = "__baton_sent_mail";

/// How many messages are kept: the newest.
pub const KEEP: usize = 200;

/// How many more than [`KEEP`] may gather before the oldest are deleted.
const SLACK: usize = 20;

/// One email as it was handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// When it was handed over, in milliseconds since the epoch.
    pub at: i64,
    /// The topic it was published to; none for a reminder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether it also goes out through `[smtp]` (delivered in the background, retried while
    /// the failure may pass); false when there is no `[smtp]` and it is kept here only.
    pub through_smtp: bool,
}

/// The log of sent mail. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SentMail {
    queues: Queues,
}

impl SentMail {
    pub fn new(queues: Queues) -> Self {
        Self { queues }
    }

    /// Create the log's queue (kept as it is when it exists).
    pub async fn start(&self) -> Result<(), QueueError> {
        self.queues.create(QUEUE, Map::new()).await.map(|_| ())
    }

    /// Add one email. A failure is logged, never passed on: the log must not stop the mail.
    pub async fn record(&self, to: &str, subject: &str, text: &str, topic: Option<&str>, through_smtp: bool) {
        let mail = Mail {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text: text.to_owned(),
            at: now_ms(),
            topic: topic.filter(|t| !t.is_empty()).map(str::to_owned),
            through_smtp,
        };
        let body = serde_json::to_string(&mail).unwrap_or_default();
        let message = OutgoingMessage { body, attributes: Map::new(), delay_seconds: 0 };
        if let Err(e) = self.queues.send(QUEUE, message).await {
            tracing::warn!(to, subject, error = %e, "an email could not be added to the sent mail");
            return;
        }
        if let Err(e) = self.queues.keep_newest(QUEUE, KEEP, SLACK).await {
            tracing::warn!(error = %e, "trimming the sent mail to the newest {KEEP}");
        }
    }

    /// The newest `limit` emails (at most [`KEEP`]), newest first.
    pub async fn newest(&self, limit: usize) -> Result<Vec<Mail>, QueueError> {
        let rows = self.queues.peek(QUEUE, limit.min(KEEP)).await?;
        Ok(rows.iter().filter_map(|m| serde_json::from_str(&m.body).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn keeps_the_newest_and_lists_them_newest_first() {
        let dir = std::env::temp_dir().join(format!("baton-sent-mail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(store::sqlite::SqliteStore::open(&dir.join("b.db")).unwrap());
        let log = SentMail::new(Queues::new(store));
        log.start().await.unwrap();
        for i in 0..KEEP + SLACK + 1 {
            log.record("ana@example.com", &format!("s{i}"), "body", Some("t"), false).await;
        }
        let all = log.newest(usize::MAX).await.unwrap();
        assert_eq!(all.len(), KEEP, "trimmed to the newest once past the slack");
        assert_eq!(all[0].subject, format!("s{}", KEEP + SLACK));
        assert_eq!(all[KEEP - 1].subject, format!("s{}", SLACK + 1));
        assert_eq!((all[0].topic.as_deref(), all[0].through_smtp), (Some("t"), false));
        assert_eq!(log.newest(3).await.unwrap().len(), 3);
        let _ = std::fs::remove_dir_all(dir);
    }
}
