//! Built-in durable queues: what `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]`
//! reaches and what the SQS protocol (`crates/server/src/sqs.rs`) serves to workers.
//!
//! Messages live in the store, so a queue survives a restart and is shared by every node on
//! one PostgreSQL database. A receive makes the messages it hands out invisible for the
//! visibility timeout, atomically in the store, so two receivers never get the same message
//! at once; a message not deleted in time is received again. Long polls wait on a wake-up
//! (this node's sends, or other nodes' through the store) and look again at least every
//! second.
//!
//! A queue is named by its URL's last path segment, whatever the host and account before it,
//! so `https://sqs.us-east-1.amazonaws.com/123456789012/orders` in a definition reaches the
//! built-in queue `orders`. This module knows nothing of executions or HTTP.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use store::{MessageRow, QueueRow, Store, StoreError, Wake};
use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::config::QueueConfig;
use crate::random::OsRandomness;
use crate::task::{aws_cause, sdk_metadata, Integration, Outcome, Pattern, TaskCall};

/// The Task resource for sending a message.
pub const SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";

/// SQS's limit on one message (256 KiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The longest a ReceiveMessage may wait (SQS: 20 s).
pub const MAX_WAIT_SECONDS: u64 = 20;
/// The longest a message may stay invisible (SQS: 12 hours).
pub const MAX_VISIBILITY_SECONDS: u64 = 12 * 60 * 60;
const DEFAULT_VISIBILITY_SECONDS: u64 = 30;

/// Why a queue operation failed, in SQS's terms (the server maps each to its wire name).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("The specified queue does not exist.")]
    NonExistentQueue(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A message body with a character SQS does not carry.
    #[error("Invalid binary character '#x{0:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")]
    InvalidMessageContents(u32),
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    #[error("Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight { handle: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message as SendMessage gives it.
#[derive(Debug, Clone, Default)]
pub struct OutgoingMessage {
    pub body: String,
    /// MessageAttributes: `{name: {DataType, StringValue | BinaryValue}}`.
    pub attributes: Map<String, Value>,
    pub delay_seconds: u64,
}

/// What SendMessage answers.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
}

/// A received message, with the handle that deletes it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub row: MessageRow,
    pub receipt_handle: String,
}

impl ReceivedMessage {
    /// The message in ReceiveMessage's JSON shape (system attributes always included).
    pub fn to_json(&self) -> Value {
        let m = &self.row;
        let mut out = json!({
            "MessageId": m.id,
            "ReceiptHandle": self.receipt_handle,
            "MD5OfBody": md5_hex(m.body.as_bytes()),
            "Body": m.body,
            "Attributes": {
                "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
                "SentTimestamp": m.sent.to_string(),
                "ApproximateReceiveCount": m.receive_count.to_string(),
                "ApproximateFirstReceiveTimestamp": m.first_received.unwrap_or(m.sent).to_string(),
            },
        });
        let attributes: Map<String, Value> = serde_json::from_str(&m.attributes).unwrap_or_default();
        if !attributes.is_empty() {
            out["MD5OfMessageAttributes"] = json!(md5_of_attributes(&attributes));
            out["MessageAttributes"] = Value::Object(attributes);
        }
        out
    }
}

/// The queues of one server.
#[derive(Clone)]
pub struct Queues {
    store: Arc<dyn Store>,
    ready: Arc<Notify>,
    /// Signs receipt handles, so only a handle this server (or a node sharing its key) handed
    /// out deletes a message or changes its visibility.
    handle_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queues")
    }
}

impl Queues {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let ready = Arc::new(Notify::new());
        if let Some(mut rx) = store.subscribe() {
            let ready = ready.clone();
            tokio::spawn(async move {
                while let Ok(wake) = rx.recv().await {
                    if matches!(wake, Wake::Queue(_)) {
                        ready.notify_waiters();
                    }
                }
            });
        }
        Self { store, ready, handle_key: Arc::new(rand::random()) }
    }

    /// Sign receipt handles with a key derived from `secret`: nodes sharing a store and a
    /// secret accept each other's handles.
    pub fn with_handle_secret(mut self, secret: &[u8]) -> Self {
        self.handle_key = Arc::new(crate::links::hmac(secret, b"sqs receipt handles"));
        self
    }

    /// Create the queues `baton.toml` declares (existing ones are kept as they are).
    pub async fn declare(&self, queues: &std::collections::BTreeMap<String, QueueConfig>) -> Result<(), QueueError> {
        for (name, config) in queues {
            let mut attributes = Map::new();
            if let Some(v) = config.visibility_timeout_seconds {
                attributes.insert("VisibilityTimeout".into(), json!(v.to_string()));
            }
            self.create(name, attributes).await?;
        }
        Ok(())
    }

    /// CreateQueue: an existing queue of the name is returned as it is.
    pub async fn create(&self, name: &str, attributes: Map<String, Value>) -> Result<QueueRow, QueueError> {
        check_name(name)?;
        let fifo = attributes.get("FifoQueue").is_some_and(|v| v.as_str() == Some("true") || v == &json!(true));
        match (fifo, name.ends_with(".fifo")) {
            (false, true) => {
                return Err(QueueError::InvalidParameterValue(
                    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length".into(),
                ))
            }
            (true, false) => {
                return Err(QueueError::InvalidParameterValue(
                    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into(),
                ))
            }
            _ => {}
        }
        for (key, value) in &attributes {
            let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let bound = match key.as_str() {
                "VisibilityTimeout" => Some(MAX_VISIBILITY_SECONDS),
                "DelaySeconds" => Some(900),
                "ReceiveMessageWaitTimeSeconds" => Some(MAX_WAIT_SECONDS),
                _ => None,
            };
            if let Some(max) = bound {
                if text.parse::<u64>().map_or(true, |n| n > max) {
                    return Err(QueueError::InvalidParameterValue(format!("Invalid value for the parameter {key}.")));
                }
            }
        }
        let row =
            QueueRow { name: name.to_owned(), attributes: Value::Object(attributes).to_string(), created: now_ms() };
        Ok(self.store.create_queue(&row).await?)
    }

    pub async fn get(&self, name: &str) -> Result<QueueRow, QueueError> {
        self.store.get_queue(name).await?.ok_or_else(|| QueueError::NonExistentQueue(name.to_owned()))
    }

    pub async fn list(&self, prefix: Option<&str>) -> Result<Vec<QueueRow>, QueueError> {
        Ok(self.store.list_queues(prefix).await?)
    }

    pub async fn delete(&self, name: &str) -> Result<(), QueueError> {
        if self.store.delete_queue(name).await? {
            Ok(())
        } else {
            Err(QueueError::NonExistentQueue(name.to_owned()))
        }
    }

    pub async fn purge(&self, name: &str) -> Result<(), QueueError> {
        self.get(name).await?;
        self.store.purge_queue(name).await?;
        Ok(())
    }

    /// GetQueueAttributes: the queue's settings with their defaults and its counts.
    pub async fn attributes(&self, name: &str, arn: &str) -> Result<Map<String, Value>, QueueError> {
        let queue = self.get(name).await?;
        let (visible, in_flight) = self.store.queue_counts(name, now_ms()).await?;
        let mut out = Map::new();
        out.insert("QueueArn".into(), json!(arn));
        out.insert("VisibilityTimeout".into(), json!(DEFAULT_VISIBILITY_SECONDS.to_string()));
        out.insert("DelaySeconds".into(), json!("0"));
        out.insert("ReceiveMessageWaitTimeSeconds".into(), json!("0"));
        out.insert("MaximumMessageSize".into(), json!(MAX_MESSAGE_BYTES.to_string()));
        out.insert("MessageRetentionPeriod".into(), json!("345600"));
        let stored: Map<String, Value> = serde_json::from_str(&queue.attributes).unwrap_or_default();
        out.extend(stored);
        out.insert("ApproximateNumberOfMessages".into(), json!(visible.to_string()));
        out.insert("ApproximateNumberOfMessagesNotVisible".into(), json!(in_flight.to_string()));
        out.insert("CreatedTimestamp".into(), json!((queue.created / 1000).to_string()));
        Ok(out)
    }

    /// SendMessage.
    pub async fn send(&self, name: &str, message: OutgoingMessage) -> Result<SentMessage, QueueError> {
        if message.body.is_empty() {
            return Err(QueueError::InvalidParameterValue(
                "The request must contain the parameter MessageBody.".into(),
            ));
        }
        let size =
            message.body.len() + message.attributes.iter().map(|(k, v)| k.len() + v.to_string().len()).sum::<usize>();
        if size > MAX_MESSAGE_BYTES {
            return Err(QueueError::InvalidParameterValue(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_BYTES} bytes."
            )));
        }
        if let Some(c) = message.body.chars().find(|c| !sqs_character(*c)) {
            return Err(QueueError::InvalidMessageContents(u32::from(c)));
        }
        check_attributes(&message.attributes)?;
        let queue = self.get(name).await?;
        let stored: Map<String, Value> = serde_json::from_str(&queue.attributes).unwrap_or_default();
        let delay = if message.delay_seconds > 0 {
            message.delay_seconds
        } else {
            seconds_attribute(&stored, "DelaySeconds", 0)
        };
        if delay > 900 {
            return Err(QueueError::InvalidParameterValue(
                "Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.".into(),
            ));
        }
        let now = now_ms();
        let row = MessageRow {
            queue: name.to_owned(),
            id: OsRandomness::new_execution_name(),
            body: message.body,
            attributes: Value::Object(message.attributes.clone()).to_string(),
            sent: now,
            visible_at: now + delay as i64 * 1000,
            receive_count: 0,
            first_received: None,
        };
        match self.store.send_message(&row).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Err(QueueError::NonExistentQueue(name.to_owned())),
            Err(e) => return Err(e.into()),
        }
        self.ready.notify_waiters();
        if self.store.subscribe().is_some() {
            let store = self.store.clone();
            let name = name.to_owned();
            tokio::spawn(async move {
                if let Err(e) = store.publish(Wake::Queue(name)).await {
                    tracing::debug!(error = %e, "publishing a queue wake-up");
                }
            });
        }
        Ok(SentMessage {
            message_id: row.id,
            md5_of_body: md5_hex(row.body.as_bytes()),
            md5_of_attributes: (!message.attributes.is_empty()).then(|| md5_of_attributes(&message.attributes)),
        })
    }

    /// ReceiveMessage: up to `max` messages, waiting up to `wait` for the first one.
    pub async fn receive(
        &self,
        name: &str,
        max: usize,
        visibility_seconds: Option<u64>,
        wait: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if !(1..=10).contains(&max) {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
            )));
        }
        let queue = self.get(name).await?;
        let stored: Map<String, Value> = serde_json::from_str(&queue.attributes).unwrap_or_default();
        let visibility = visibility_seconds
            .unwrap_or_else(|| seconds_attribute(&stored, "VisibilityTimeout", DEFAULT_VISIBILITY_SECONDS));
        if visibility > MAX_VISIBILITY_SECONDS {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {visibility} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
            )));
        }
        let wait =
            wait.unwrap_or_else(|| Duration::from_secs(seconds_attribute(&stored, "ReceiveMessageWaitTimeSeconds", 0)));
        if wait > Duration::from_secs(MAX_WAIT_SECONDS) {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
                wait.as_secs()
            )));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register for a wake-up before looking, so a send in between is not missed.
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = now_ms();
            let rows = self.store.receive_messages(name, now, now + visibility as i64 * 1000, max).await?;
            if !rows.is_empty() {
                return Ok(rows
                    .into_iter()
                    .map(|row| {
                        let receipt_handle = receipt_handle(&self.handle_key, &row);
                        ReceivedMessage { row, receipt_handle }
                    })
                    .collect());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let nap = (deadline - now).min(Duration::from_secs(1));
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    /// The newest `limit` messages of a queue, newest first, without receiving them: for a
    /// queue kept as a log (the sent mail), never for work.
    pub async fn peek(&self, name: &str, limit: usize) -> Result<Vec<MessageRow>, QueueError> {
        Ok(self.store.peek_messages(name, limit).await?)
    }

    /// Delete all but the newest `keep` messages of a queue kept as a log, once it holds
    /// `slack` more than that (so a log is not trimmed on every message); the number deleted.
    pub async fn keep_newest(&self, name: &str, keep: usize, slack: usize) -> Result<usize, QueueError> {
        let (visible, in_flight) = self.store.queue_counts(name, now_ms()).await?;
        let held = usize::try_from(visible + in_flight).unwrap_or(0);
        if held <= keep + slack {
            return Ok(0);
        }
        let mut deleted = 0;
        for m in self.store.peek_messages(name, held).await?.iter().skip(keep) {
            deleted += usize::from(self.store.delete_message(name, &m.id).await?);
        }
        Ok(deleted)
    }

    /// DeleteMessage. Deleting a message already deleted succeeds, as on SQS.
    pub async fn delete_message(&self, name: &str, handle: &str) -> Result<(), QueueError> {
        let id = message_id_of(&self.handle_key, name, handle)?;
        self.get(name).await?;
        self.store.delete_message(name, &id).await?;
        Ok(())
    }

    /// ChangeMessageVisibility: the message becomes visible `seconds` from now.
    pub async fn change_visibility(&self, name: &str, handle: &str, seconds: u64) -> Result<(), QueueError> {
        let id = message_id_of(&self.handle_key, name, handle)?;
        if seconds > MAX_VISIBILITY_SECONDS {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
            )));
        }
        self.get(name).await?;
        if !self.store.set_message_visibility(name, &id, now_ms() + seconds as i64 * 1000).await? {
            return Err(QueueError::MessageNotInflight { handle: handle.to_owned() });
        }
        if seconds == 0 {
            self.ready.notify_waiters();
        }
        Ok(())
    }
}

impl Queues {
    /// Start the function consumers `baton.toml` declares (`[queues.NAME] function = ...`):
    /// each receives batches by long poll and calls its function with Lambda's SQS event
    /// (`{"Records": [...]}`); a batch is deleted when the call succeeds and otherwise comes
    /// back after its visibility timeout, to be tried again.
    pub fn start_consumers(&self, config: &crate::config::Config) -> Result<(), QueueError> {
        for (queue, settings) in &config.queues {
            let Some(function) = settings.function.clone() else { continue };
            if !config.functions.contains_key(&function) {
                return Err(QueueError::InvalidParameterValue(format!(
                    "[queues.{queue}] names the function {function:?}, which is not under [functions]"
                )));
            }
            let batch = settings.batch_size.unwrap_or(10).clamp(1, 10);
            let (me, config, queue) = (self.clone(), config.clone(), queue.clone());
            tokio::spawn(async move { me.consume(queue, function, batch, config).await });
        }
        Ok(())
    }

    async fn consume(self, queue: String, function: String, batch: usize, config: crate::config::Config) {
        let source_arn = format!("arn:aws:sqs:{}:{}:{queue}", config.host.region, config.host.account);
        loop {
            let received = match self.receive(&queue, batch, None, Some(Duration::from_secs(MAX_WAIT_SECONDS))).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(queue, error = %e, "a queue consumer cannot receive; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if received.is_empty() {
                continue;
            }
            let records: Vec<Value> =
                received.iter().map(|m| lambda_record(m, &source_arn, &config.host.region)).collect();
            let payload = json!({"Records": records}).to_string().into_bytes();
            let (cfg, name) = (config.clone(), function.clone());
            match tokio::task::spawn_blocking(move || cfg.call(&name, payload)).await {
                Ok(Ok(_)) => {
                    for m in &received {
                        if let Err(e) = self.delete_message(&queue, &m.receipt_handle).await {
                            tracing::warn!(queue, error = %e, "deleting a consumed message");
                        }
                    }
                }
                Ok(Err(failure)) => {
                    let (error, cause) = failure.error_and_cause();
                    tracing::warn!(
                        queue,
                        function,
                        error,
                        cause,
                        "a queue consumer failed; its messages come back after their visibility timeout"
                    );
                }
                Err(e) => tracing::error!(queue, function, error = %e, "a queue consumer's call panicked"),
            }
        }
    }
}

/// One message as Lambda's SQS event source hands it to a function.
fn lambda_record(m: &ReceivedMessage, source_arn: &str, region: &str) -> Value {
    let wire = m.to_json();
    json!({
        "messageId": m.row.id,
        "receiptHandle": m.receipt_handle,
        "body": m.row.body,
        "attributes": wire["Attributes"],
        "messageAttributes": serde_json::from_str::<Value>(&m.row.attributes).unwrap_or(json!({})),
        "md5OfBody": wire["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    })
}

/// The prefix of Baton's own queues (the topics' outbox, reminders, the sent mail). They hold
/// other people's answer links and mail, so no client may reach them: the SQS API and the
/// sendMessage Task answer as if they did not exist.
pub const INTERNAL_PREFIX: &str = "__baton";

/// Whether a queue is one of Baton's own ([`INTERNAL_PREFIX`]).
pub fn is_internal(name: &str) -> bool {
    name.starts_with(INTERNAL_PREFIX)
}

/// The queue a URL names: its last path segment.
pub fn name_from_url(url: &str) -> Option<&str> {
    let name = url.trim_end_matches('/').rsplit('/').next()?;
    (!name.is_empty() && !name.contains(':')).then_some(name)
}

fn check_name(name: &str) -> Result<(), QueueError> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let valid =
        !name.is_empty() && name.len() <= 80 && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(QueueError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length".into(),
        ))
    }
}

/// The characters SQS carries in a message: XML's (`#x9 | #xA | #xD | #x20-#xD7FF |
/// #xE000-#xFFFD | #x10000-#x10FFFF`; a Rust string holds no surrogates).
fn sqs_character(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_attributes(attributes: &Map<String, Value>) -> Result<(), QueueError> {
    for (name, value) in attributes {
        let data_type = value.get("DataType").and_then(Value::as_str).unwrap_or_default();
        let kind = data_type.split('.').next().unwrap_or_default();
        let has_value = match kind {
            "String" | "Number" => value.get("StringValue").is_some_and(Value::is_string),
            "Binary" => value.get("BinaryValue").is_some_and(Value::is_string),
            _ => {
                return Err(QueueError::InvalidParameterValue(format!(
                    "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
                )))
            }
        };
        if !has_value {
            return Err(QueueError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain a non-empty message attribute value for message attribute type '{data_type}'."
            )));
        }
    }
    Ok(())
}

fn seconds_attribute(attributes: &Map<String, Value>, key: &str, default: u64) -> u64 {
    match attributes.get(key) {
        Some(Value::String(s)) => s.parse().unwrap_or(default),
        Some(v) => v.as_u64().unwrap_or(default),
        None => default,
    }
}

/// A receipt handle: the queue, the message, the receive it was handed out for and 128
/// random bits, signed with the handle key. Unguessable, different on every receive, and
/// nothing in it can be made from a MessageId.
fn receipt_handle(key: &[u8; 32], row: &MessageRow) -> String {
    let nonce: [u8; 16] = rand::random();
    let raw = format!("{}#{}#{}#{}", row.queue, row.id, row.receive_count, hex::encode(nonce));
    let mac = crate::links::hmac(key, raw.as_bytes());
    URL_SAFE_NO_PAD.encode(format!("{raw}#{}", hex::encode(mac)))
}

/// The message a receipt handle of queue `name` stands for; a handle not signed with `key`,
/// or signed for another queue, is invalid.
fn message_id_of(key: &[u8; 32], name: &str, handle: &str) -> Result<String, QueueError> {
    let invalid = || QueueError::ReceiptHandleIsInvalid(handle.to_owned());
    let raw = URL_SAFE_NO_PAD.decode(handle).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let (signed, mac) = raw.rsplit_once('#').ok_or_else(invalid)?;
    let given = hex::decode(mac).map_err(|_| invalid())?;
    if !crate::links::same(&given, &crate::links::hmac(key, signed.as_bytes())) {
        return Err(invalid());
    }
    let mut parts = signed.split('#');
    match (parts.next(), parts.next()) {
        (Some(queue), Some(id)) if queue == name && !id.is_empty() => Ok(id.to_owned()),
        _ => Err(invalid()),
    }
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// SQS's MD5 of message attributes: each attribute, sorted by name, as length-prefixed name,
/// data type, a transport byte (1 string, 2 binary) and length-prefixed value.
pub fn md5_of_attributes(attributes: &Map<String, Value>) -> String {
    let mut names: Vec<&String> = attributes.keys().collect();
    names.sort();
    let mut buf = Vec::new();
    let put = |bytes: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    for name in names {
        let value = &attributes[name];
        let data_type = value.get("DataType").and_then(Value::as_str).unwrap_or_default();
        put(name.as_bytes(), &mut buf);
        put(data_type.as_bytes(), &mut buf);
        if let Some(binary) = value.get("BinaryValue").and_then(Value::as_str) {
            buf.push(2);
            let bytes = base64::engine::general_purpose::STANDARD.decode(binary).unwrap_or_default();
            put(&bytes, &mut buf);
        } else {
            buf.push(1);
            put(value.get("StringValue").and_then(Value::as_str).unwrap_or_default().as_bytes(), &mut buf);
        }
    }
    md5_hex(&buf)
}

/// The sendMessage Task.
pub struct SendMessageTask(pub Queues);

#[async_trait]
impl Integration for SendMessageTask {
    async fn call(&self, call: TaskCall) -> Outcome {
        match self.send(&call.input).await {
            Ok(response) if call.pattern == Pattern::WaitForTaskToken => Outcome::Submitted(response),
            Ok(response) => Outcome::Succeeded(response),
            Err((error, cause)) => Outcome::Failed { error, cause },
        }
    }
}

impl SendMessageTask {
    async fn send(&self, input: &Value) -> Result<Value, (String, String)> {
        let invalid = |message: String| {
            (
                "SQS.InvalidParameterValueException".to_owned(),
                aws_cause("AmazonSQS", &message, 400, "InvalidParameterValue"),
            )
        };
        let url = input
            .get("QueueUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("The request must contain the parameter QueueUrl.".into()))?;
        let name =
            name_from_url(url).ok_or_else(|| invalid(format!("Value {url} for parameter QueueUrl is invalid.")))?;
        if is_internal(name) {
            let e = QueueError::NonExistentQueue(name.to_owned());
            return Err((
                "SQS.QueueDoesNotExistException".to_owned(),
                aws_cause("AmazonSQS", &e.to_string(), 400, "AWS.SimpleQueueService.NonExistentQueue"),
            ));
        }
        let body = match input.get("MessageBody") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        let attributes = match input.get("MessageAttributes") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let delay_seconds = input.get("DelaySeconds").and_then(Value::as_u64).unwrap_or(0);
        let sent =
            self.0.send(name, OutgoingMessage { body, attributes, delay_seconds }).await.map_err(|e| match e {
                QueueError::NonExistentQueue(_) => (
                    "SQS.QueueDoesNotExistException".to_owned(),
                    aws_cause("AmazonSQS", &e.to_string(), 400, "AWS.SimpleQueueService.NonExistentQueue"),
                ),
                QueueError::Store(s) => {
                    ("SQS.AmazonSQSException".to_owned(), aws_cause("AmazonSQS", &s.to_string(), 500, "InternalError"))
                }
                QueueError::InvalidMessageContents(_) => (
                    "SQS.InvalidMessageContentsException".to_owned(),
                    aws_cause("AmazonSQS", &e.to_string(), 400, "InvalidMessageContents"),
                ),
                other => invalid(other.to_string()),
            })?;
        let mut out = Map::new();
        let mut wire = Map::new();
        if let Some(md5) = &sent.md5_of_attributes {
            out.insert("MD5OfMessageAttributes".into(), json!(md5));
            wire.insert("MD5OfMessageAttributes".into(), json!(md5));
        }
        out.insert("MD5OfMessageBody".into(), json!(sent.md5_of_body));
        out.insert("MessageId".into(), json!(sent.message_id));
        wire.insert("MD5OfMessageBody".into(), json!(sent.md5_of_body));
        wire.insert("MessageId".into(), json!(sent.message_id));
        let (http, response) = sdk_metadata("application/x-amz-json-1.0", Value::Object(wire).to_string().len());
        out.insert("SdkHttpMetadata".into(), http);
        out.insert("SdkResponseMetadata".into(), response);
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_named_by_the_last_segment_of_its_url() {
        assert_eq!(name_from_url("https://sqs.us-east-1.amazonaws.com/111111111111/queue-1"), Some("queue-1"));
        assert_eq!(name_from_url("http://127.0.0.1:8083/000000000000/orders/"), Some("orders"));
        assert_eq!(name_from_url("orders"), Some("orders"));
        assert_eq!(name_from_url("arn:aws:sqs:us-east-1:1:orders"), None);
    }

    #[test]
    fn receipt_handles_carry_the_message_and_reject_garbage() {
        let row = MessageRow {
            queue: "q".into(),
            id: "m-1".into(),
            body: "b".into(),
            attributes: "{}".into(),
            sent: 0,
            visible_at: 0,
            receive_count: 3,
            first_received: None,
        };
        let key = [7u8; 32];
        let handle = receipt_handle(&key, &row);
        assert_eq!(message_id_of(&key, "q", &handle).unwrap(), "m-1");
        assert_ne!(receipt_handle(&key, &row), handle, "a new handle every time");
        let invalid = |r: Result<String, QueueError>| matches!(r, Err(QueueError::ReceiptHandleIsInvalid(_)));
        assert!(invalid(message_id_of(&[8u8; 32], "q", &handle)), "another key's handle");
        assert!(invalid(message_id_of(&key, "other", &handle)), "another queue's handle");
        assert!(invalid(message_id_of(&key, "q", "garbage!")));
        let forged = URL_SAFE_NO_PAD.encode("q#m-1#3");
        assert!(invalid(message_id_of(&key, "q", &forged)), "made from the MessageId");
    }

    #[test]
    fn md5s_are_sqs_s() {
        // Values SQS answers for these inputs (and boto3 checks).
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        let attributes: Map<String, Value> =
            serde_json::from_str(r#"{"a": {"DataType": "String", "StringValue": "x"}}"#).unwrap();
        // name "a", type "String", transport 1, value "x", each length-prefixed.
        let mut expected = Vec::new();
        expected.extend_from_slice(&[0, 0, 0, 1, b'a', 0, 0, 0, 6]);
        expected.extend_from_slice(b"String");
        expected.extend_from_slice(&[1, 0, 0, 0, 1, b'x']);
        assert_eq!(md5_of_attributes(&attributes), md5_hex(&expected));
    }
}
