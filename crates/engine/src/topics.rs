//! Built-in topics: what `arn:aws:states:::sns:publish[.waitForTaskToken]` reaches. Topics
//! and their subscriptions are declared in `baton.toml`:
//!
//! ```toml
//! [topics.payments]                    # arn:aws:sns:REGION:ACCOUNT:payments
//! subscriptions = [
//!   { protocol = "sqs", endpoint = "payment-notifications" },   # a built-in queue
//!   { protocol = "email", endpoint = "ops@example.com" },       # through [smtp]
//!   { protocol = "https", endpoint = "https://hooks.example.com/payments" },
//! ]
//! ```
//!
//! Publishing never waits for a delivery: a queue subscription gets SNS's notification
//! envelope in the queue at once (it is a store write); emails and webhook calls go into a
//! built-in outbox queue ([`OUTBOX`], durable like any queue) and a worker sends them,
//! retrying with exponential backoff while their failure is transient, each attempt logged
//! and counted in [`DeliveryMetrics`]. Every email is also kept in the sent mail
//! ([`crate::sent_mail`]), the console's Mail page; without `[smtp]` it is kept there only. A
//! topic is named by its ARN's last segment, whatever the region and account before it. Knows
//! nothing of executions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::config::{Protocol, TopicConfig};
use crate::mail::Mailer;
use crate::queues::{name_from_url, OutgoingMessage, Queues};
use crate::random::OsRandomness;
use crate::sent_mail::SentMail;
use crate::task::{aws_cause, sdk_metadata, Integration, Outcome, Pattern, TaskCall};

/// The Task resource for publishing.
pub const PUBLISH: &str = "arn:aws:states:::sns:publish";

/// The built-in queue holding emails and webhook calls until they are delivered.
pub const OUTBOX: &str = "__baton_outbox";

/// SNS's limit on one message (256 KiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// How many deliveries went out, were retried, or were given up, by kind.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    pub email_sent: AtomicU64,
    pub email_retried: AtomicU64,
    pub email_failed: AtomicU64,
    pub webhook_sent: AtomicU64,
    pub webhook_retried: AtomicU64,
    pub webhook_failed: AtomicU64,
    pub queue_sent: AtomicU64,
    pub queue_failed: AtomicU64,
}

impl DeliveryMetrics {
    /// `(kind, outcome, count)` for each counter, for `/metrics`.
    pub fn counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("email", "sent", get(&self.email_sent)),
            ("email", "retried", get(&self.email_retried)),
            ("email", "failed", get(&self.email_failed)),
            ("webhook", "sent", get(&self.webhook_sent)),
            ("webhook", "retried", get(&self.webhook_retried)),
            ("webhook", "failed", get(&self.webhook_failed)),
            ("queue", "sent", get(&self.queue_sent)),
            ("queue", "failed", get(&self.queue_failed)),
        ]
    }
}

/// How background deliveries are retried: `attempts` in all, waiting `first_backoff`, then
/// twice as long each time, at most `max_backoff`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 10, first_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(300) }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff.saturating_mul(1 << attempt.min(20)).min(self.max_backoff)
    }
}

/// Why a publish was refused, as SNS says it.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic does not exist")]
    NotFound(String),
    #[error("Invalid parameter: {0}")]
    InvalidParameter(String),
}

/// What Publish answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub message_id: String,
    /// For FIFO topics.
    pub sequence_number: Option<String>,
}

/// The topics of one server.
#[derive(Clone)]
pub struct Topics {
    topics: Arc<BTreeMap<String, TopicConfig>>,
    queues: Queues,
    mailer: Option<Mailer>,
    sent: SentMail,
    region: String,
    account: String,
    retry: RetryPolicy,
    sequence: Arc<AtomicU64>,
    pub metrics: Arc<DeliveryMetrics>,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.topics.keys()).finish()
    }
}

/// A message to publish.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    pub message: String,
    pub subject: Option<String>,
    /// MessageAttributes: `{name: {DataType, StringValue | BinaryValue}}`.
    pub attributes: Map<String, Value>,
    pub message_group_id: Option<String>,
}

impl Topics {
    pub fn new(
        topics: BTreeMap<String, TopicConfig>,
        queues: Queues,
        mailer: Option<Mailer>,
        region: &str,
        account: &str,
    ) -> Self {
        Self {
            topics: Arc::new(topics),
            sent: SentMail::new(queues.clone()),
            queues,
            mailer,
            region: region.to_owned(),
            account: account.to_owned(),
            retry: RetryPolicy::default(),
            sequence: Arc::default(),
            metrics: Arc::default(),
        }
    }

    /// Use another retry policy for emails and webhooks.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The topics' configuration problems, found before the server starts: a webhook that
    /// is not a URL.
    pub fn check(&self) -> Result<(), String> {
        for (name, topic) in self.topics.iter() {
            for s in &topic.subscriptions {
                match s.protocol {
                    Protocol::Http | Protocol::Https
                        if !(s.endpoint.starts_with("http://") || s.endpoint.starts_with("https://")) =>
                    {
                        return Err(format!("[topics.{name}]: the webhook endpoint {:?} is not a URL", s.endpoint))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:sns:{}:{}:{name}", self.region, self.account)
    }

    /// Publish: deliver to queues now, start email and webhook deliveries, return the
    /// MessageId.
    pub async fn publish(&self, topic: &str, p: Publication) -> Result<Published, TopicError> {
        let config = self.topics.get(topic).ok_or_else(|| TopicError::NotFound(topic.to_owned()))?;
        if topic.ends_with(".fifo") && p.message_group_id.is_none() {
            return Err(TopicError::InvalidParameter(
                "The MessageGroupId parameter is required for FIFO topics".into(),
            ));
        }
        if p.message.is_empty() {
            return Err(TopicError::InvalidParameter("Empty message".into()));
        }
        if p.message.len() > MAX_MESSAGE_BYTES {
            return Err(TopicError::InvalidParameter("Message too long".into()));
        }
        let message_id = OsRandomness::new_execution_name();
        let topic_arn = self.arn(topic);
        let envelope = envelope(&message_id, &topic_arn, &p);
        for s in &config.subscriptions {
            let body = if s.raw_message_delivery { p.message.clone() } else { envelope.clone() };
            match s.protocol {
                Protocol::Sqs => self.deliver_to_queue(topic, &s.endpoint, body, &p).await,
                Protocol::Email => self.enqueue_email(topic, &s.endpoint, &p).await,
                Protocol::Http | Protocol::Https => {
                    self.enqueue_webhook(topic, &s.endpoint, body, &topic_arn, &message_id).await
                }
            }
        }
        tracing::info!(topic, message_id, subscriptions = config.subscriptions.len(), "published");
        // FIFO topics number their messages, as SNS does (20 digits, increasing).
        let sequence_number = topic.ends_with(".fifo").then(|| {
            let n = self.sequence.fetch_add(1, Ordering::Relaxed) + crate::clock::utc_now().timestamp_micros() as u64;
            format!("{n:020}")
        });
        Ok(Published { message_id, sequence_number })
    }

    async fn deliver_to_queue(&self, topic: &str, endpoint: &str, body: String, p: &Publication) {
        let queue = endpoint.rsplit(':').next().and_then(name_from_url).unwrap_or(endpoint);
        // Raw delivery keeps the message attributes as queue message attributes, as SNS does.
        let attributes = if body == p.message { p.attributes.clone() } else { Map::new() };
        match self.queues.send(queue, OutgoingMessage { body, attributes, delay_seconds: 0 }).await {
            Ok(_) => {
                self.metrics.queue_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.metrics.queue_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(topic, queue, error = %e, "a topic's queue subscription could not be delivered");
            }
        }
    }

    /// Keep an email in the sent mail and, with `[smtp]`, queue it for the outbox worker.
    async fn enqueue_email(&self, topic: &str, to: &str, p: &Publication) {
        let subject = p.subject.clone().unwrap_or_else(|| "AWS Notification Message".to_owned());
        let text =
            format!("{}\n\n--\nThis message was published to the topic {} on Baton.\n", p.message, self.arn(topic));
        self.sent.record(to, &subject, &text, Some(topic), self.mailer.is_some()).await;
        if self.mailer.is_some() {
            let job = json!({"kind": "email", "topic": topic, "to": to, "subject": subject, "text": text});
            self.enqueue(topic, job, &self.metrics.email_failed).await;
        }
    }

    /// An email that belongs to no topic (a task's reminder): kept in the sent mail and, with
    /// `[smtp]`, queued for the outbox worker, sent and retried like a topic's.
    pub async fn email(&self, to: &str, subject: &str, text: &str) -> Result<(), crate::queues::QueueError> {
        self.sent.record(to, subject, text, None, self.mailer.is_some()).await;
        if self.mailer.is_none() {
            return Ok(());
        }
        let job = json!({"kind": "email", "topic": "", "to": to, "subject": subject, "text": text});
        let message = OutgoingMessage { body: job.to_string(), attributes: Map::new(), delay_seconds: 0 };
        self.queues.send(OUTBOX, message).await.map(|_| ())
    }

    /// The mail Baton sent (and, without `[smtp]`, kept instead of sending).
    pub fn sent_mail(&self) -> &SentMail {
        &self.sent
    }

    /// Queue a webhook call for the outbox worker.
    async fn enqueue_webhook(&self, topic: &str, url: &str, body: String, topic_arn: &str, message_id: &str) {
        let job = json!({"kind": "webhook", "topic": topic, "url": url, "body": body,
                         "topic_arn": topic_arn, "message_id": message_id});
        self.enqueue(topic, job, &self.metrics.webhook_failed).await;
    }

    async fn enqueue(&self, topic: &str, job: Value, failed: &AtomicU64) {
        let message = OutgoingMessage { body: job.to_string(), attributes: Map::new(), delay_seconds: 0 };
        if let Err(e) = self.queues.send(OUTBOX, message).await {
            failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(topic, error = %e, kind = %job["kind"], "a delivery could not be queued");
        }
    }

    /// Create the outbox and start delivering what it holds: emails and webhook calls, kept
    /// in the store until they succeed, fail for good or run out of attempts, so a restart
    /// loses none. A failed attempt makes the delivery invisible for its backoff; the
    /// message's receive count is the attempt number. Every node may run this: a receive
    /// hands each delivery to one of them.
    pub async fn start(&self) -> Result<(), crate::queues::QueueError> {
        self.queues.create(OUTBOX, Map::new()).await?;
        self.sent.start().await?;
        let emails = self.topics.values().flat_map(|t| &t.subscriptions).any(|s| s.protocol == Protocol::Email);
        if emails && self.mailer.is_none() {
            tracing::warn!("baton.toml has email subscriptions but no [smtp]: their mail is kept on the console's Mail page (/mail), not sent");
        }
        // Without email or webhook subscriptions there is nothing to deliver, unless an
        // earlier configuration left deliveries behind: then do not poll the store for it.
        let subscribed = self
            .topics
            .values()
            .flat_map(|t| &t.subscriptions)
            .any(|s| matches!(s.protocol, Protocol::Email | Protocol::Http | Protocol::Https));
        let counts = self.queues.attributes(OUTBOX, OUTBOX).await?;
        let waiting = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            .iter()
            .any(|k| counts.get(*k).and_then(Value::as_str).is_some_and(|n| n != "0"));
        // With [smtp], tasks' reminders may need the outbox too.
        if subscribed || waiting || self.mailer.is_some() {
            let me = self.clone();
            tokio::spawn(async move { me.outbox_loop().await });
        }
        Ok(())
    }

    async fn outbox_loop(self) {
        // Long enough for one attempt (SMTP and webhook calls time out before it ends).
        const ATTEMPT_SECONDS: u64 = 120;
        loop {
            let batch = match self
                .queues
                .receive(OUTBOX, 10, Some(ATTEMPT_SECONDS), Some(Duration::from_secs(crate::queues::MAX_WAIT_SECONDS)))
                .await
            {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the delivery outbox; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for delivery in batch {
                let me = self.clone();
                tokio::spawn(async move { me.deliver(delivery).await });
            }
        }
    }

    async fn deliver(&self, delivery: crate::queues::ReceivedMessage) {
        let job: Value = serde_json::from_str(&delivery.row.body).unwrap_or_default();
        let attempt = delivery.row.receive_count.max(1) as u32;
        let text = |key: &str| job.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (topic, kind) = (text("topic"), text("kind"));
        let (sent, retried, failed, target) = if kind == "email" {
            (&self.metrics.email_sent, &self.metrics.email_retried, &self.metrics.email_failed, text("to"))
        } else {
            (&self.metrics.webhook_sent, &self.metrics.webhook_retried, &self.metrics.webhook_failed, text("url"))
        };
        let result: Result<(), (bool, String)> = match kind.as_str() {
            "email" => match &self.mailer {
                Some(mailer) => mailer
                    .send(&target, &text("subject"), &text("text"), None)
                    .await
                    .map_err(|e| (e.is_transient(), e.to_string())),
                None => Err((false, "no [smtp] in baton.toml".to_owned())),
            },
            "webhook" => post_webhook(target.clone(), text("body"), text("topic_arn"), text("message_id")).await,
            other => Err((false, format!("unknown delivery kind {other:?}"))),
        };
        let finished = match result {
            Ok(()) => {
                sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(topic, kind, target, attempt, "delivered");
                true
            }
            Err((true, e)) if attempt < self.retry.attempts => {
                retried.fetch_add(1, Ordering::Relaxed);
                let wait = self.retry.backoff(attempt - 1);
                tracing::warn!(topic, kind, target, attempt, error = %e, retry_in_ms = wait.as_millis() as u64,
                               "{kind} not sent; will retry");
                let again =
                    self.queues.change_visibility(OUTBOX, &delivery.receipt_handle, wait.as_secs().max(1)).await;
                if let Err(e) = again {
                    tracing::warn!(error = %e, "scheduling a delivery's retry; it comes back after its attempt time");
                }
                false
            }
            Err((_, e)) => {
                failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(topic, kind, target, attempt, error = %e, "{kind} given up");
                true
            }
        };
        if finished {
            if let Err(e) = self.queues.delete_message(OUTBOX, &delivery.receipt_handle).await {
                tracing::warn!(error = %e, "removing a finished delivery from the outbox");
            }
        }
    }
}

/// POST a notification to a webhook: `Err((transient, message))` when it fails.
async fn post_webhook(url: String, body: String, topic_arn: String, message_id: String) -> Result<(), (bool, String)> {
    tokio::task::spawn_blocking(move || {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build()
            .post(&url)
            .set("content-type", "text/plain; charset=UTF-8")
            .set("x-amz-sns-message-type", "Notification")
            .set("x-amz-sns-message-id", &message_id)
            .set("x-amz-sns-topic-arn", &topic_arn)
            .send_string(&body)
            .map(|_| ())
            .map_err(|e| match e {
                ureq::Error::Status(code, _) => (code >= 500 || code == 429, format!("HTTP {code}")),
                ureq::Error::Transport(t) => (true, t.to_string()),
            })
    })
    .await
    .unwrap_or_else(|e| Err((false, e.to_string())))
}

/// SNS's notification envelope, as a queue or a webhook receives it. It is not signed:
/// there is no AWS certificate to sign it with.
fn envelope(message_id: &str, topic_arn: &str, p: &Publication) -> String {
    let mut e = Map::new();
    e.insert("Type".into(), json!("Notification"));
    e.insert("MessageId".into(), json!(message_id));
    e.insert("TopicArn".into(), json!(topic_arn));
    if let Some(subject) = &p.subject {
        e.insert("Subject".into(), json!(subject));
    }
    e.insert("Message".into(), json!(p.message));
    e.insert("Timestamp".into(), json!(crate::clock::iso8601_millis()));
    if !p.attributes.is_empty() {
        let attributes: Map<String, Value> = p
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = v.get("StringValue").or_else(|| v.get("BinaryValue")).cloned().unwrap_or(Value::Null);
                (k.clone(), json!({"Type": v.get("DataType").cloned().unwrap_or(Value::Null), "Value": value}))
            })
            .collect();
        e.insert("MessageAttributes".into(), Value::Object(attributes));
    }
    serde_json::to_string_pretty(&Value::Object(e)).unwrap_or_default()
}

/// The publish Task.
pub struct PublishTask(pub Topics);

#[async_trait]
impl Integration for PublishTask {
    async fn call(&self, call: TaskCall) -> Outcome {
        match self.publish(&call.input).await {
            Ok(response) if call.pattern == Pattern::WaitForTaskToken => Outcome::Submitted(response),
            Ok(response) => Outcome::Succeeded(response),
            Err(e) => {
                let (error, status, code) = match &e {
                    TopicError::NotFound(_) => ("SNS.NotFoundException", 404, "NotFound"),
                    TopicError::InvalidParameter(_) => ("SNS.InvalidParameterException", 400, "InvalidParameter"),
                };
                Outcome::Failed { error: error.into(), cause: aws_cause("AmazonSNS", &e.to_string(), status, code) }
            }
        }
    }
}

impl PublishTask {
    async fn publish(&self, input: &Value) -> Result<Value, TopicError> {
        let arn =
            input.get("TopicArn").or_else(|| input.get("TargetArn")).and_then(Value::as_str).ok_or_else(|| {
                TopicError::InvalidParameter("TopicArn or TargetArn Reason: no value for required parameter".into())
            })?;
        let topic = arn.rsplit(':').next().unwrap_or(arn);
        let message = match input.get("Message") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        let publication = Publication {
            message,
            subject: input.get("Subject").and_then(Value::as_str).map(str::to_owned),
            attributes: input.get("MessageAttributes").and_then(Value::as_object).cloned().unwrap_or_default(),
            message_group_id: input.get("MessageGroupId").and_then(Value::as_str).map(str::to_owned),
        };
        let Published { message_id, sequence_number } = self.0.publish(topic, publication).await?;
        let sequence_xml =
            sequence_number.as_ref().map(|n| format!("\n    <SequenceNumber>{n}</SequenceNumber>")).unwrap_or_default();
        let xml = format!(
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n  <PublishResult>\n    \
             <MessageId>{message_id}</MessageId>{sequence_xml}\n  </PublishResult>\n  <ResponseMetadata>\n    \
             <RequestId>{message_id}</RequestId>\n  </ResponseMetadata>\n</PublishResponse>\n"
        );
        let (http, response) = sdk_metadata("text/xml", xml.len());
        let mut out = json!({"MessageId": message_id});
        if let Some(n) = sequence_number {
            out["SequenceNumber"] = json!(n);
        }
        out["SdkHttpMetadata"] = http;
        out["SdkResponseMetadata"] = response;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_read_from_toml() {
        let t: BTreeMap<String, TopicConfig> = toml::from_str(
            r#"
            [alerts]
            subscriptions = [
              { protocol = "sqs", endpoint = "q", raw_message_delivery = true },
              { protocol = "email", endpoint = "a@example.com" },
              { protocol = "https", endpoint = "https://example.com/hook" },
            ]
            "#,
        )
        .unwrap();
        let s = &t["alerts"].subscriptions;
        assert_eq!(s.iter().map(|s| s.protocol).collect::<Vec<_>>(), [Protocol::Sqs, Protocol::Email, Protocol::Https]);
        assert!(s[0].raw_message_delivery && !s[1].raw_message_delivery);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let r = RetryPolicy { attempts: 5, first_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(5) };
        let waits: Vec<u64> = (0..5).map(|a| r.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn the_envelope_is_sns_s() {
        let p = Publication { message: "hi".into(), subject: Some("s".into()), ..Publication::default() };
        let e: Value = serde_json::from_str(&envelope("m-1", "arn:aws:sns:us-east-1:1:t", &p)).unwrap();
        assert_eq!(e["Type"], "Notification");
        assert_eq!(e["MessageId"], "m-1");
        assert_eq!(e["TopicArn"], "arn:aws:sns:us-east-1:1:t");
        assert_eq!(e["Message"], "hi");
        assert_eq!(e["Subject"], "s");
        assert!(e["Timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
