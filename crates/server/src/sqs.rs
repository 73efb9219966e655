//! The SQS JSON protocol on the same endpoint as Step Functions: `POST /` with
//! `X-Amz-Target: AmazonSQS.<Action>`, so boto3, the aws CLI and other SDKs use the built-in
//! queues ([`engine::queues`]) as they would SQS. Errors carry SQS's JSON `__type` and the
//! `x-amzn-query-error` header from which SDKs take the older query-protocol code
//! (`AWS.SimpleQueueService.NonExistentQueue`, which boto3 raises as `QueueDoesNotExist`).
//! Thin: parse, call the queues, shape the answer.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::queues::{is_internal, name_from_url, OutgoingMessage, QueueError, MAX_WAIT_SECONDS};
use serde_json::{json, Map, Value};

use crate::AppState;

/// The SQS actions served here (the labels `/metrics` may use).
pub const ACTIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "PurgeQueue",
    "GetQueueAttributes",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
];

/// An SQS error: the JSON protocol's type, the query protocol's code, the message.
#[derive(Debug)]
pub struct SqsError {
    json_type: &'static str,
    query_code: &'static str,
    message: String,
    status: u16,
}

impl SqsError {
    fn new(json_type: &'static str, query_code: &'static str, message: impl Into<String>) -> Self {
        Self { json_type, query_code, message: message.into(), status: 400 }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", "InvalidParameterValue", message)
    }

    fn missing(name: &str) -> Self {
        Self::new("MissingParameter", "MissingParameter", format!("The request must contain the parameter {name}."))
    }

    fn into_response(self) -> Response {
        let fault = if self.status >= 500 { "Receiver" } else { "Sender" };
        let body = json!({"__type": format!("com.amazonaws.sqs#{}", self.json_type), "message": self.message});
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            [
                ("content-type", "application/x-amz-json-1.0".to_owned()),
                ("x-amzn-query-error", format!("{};{fault}", self.query_code)),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

impl From<QueueError> for SqsError {
    fn from(e: QueueError) -> Self {
        let message = e.to_string();
        match e {
            QueueError::NonExistentQueue(_) => {
                SqsError::new("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", message)
            }
            QueueError::InvalidParameterValue(_) => SqsError::invalid(message),
            QueueError::InvalidMessageContents(_) => {
                SqsError::new("InvalidMessageContents", "InvalidMessageContents", message)
            }
            QueueError::ReceiptHandleIsInvalid(_) => {
                SqsError::new("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", message)
            }
            QueueError::MessageNotInflight { .. } => {
                SqsError::new("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", message)
            }
            QueueError::Store(s) => {
                tracing::error!(error = %s, "store failure");
                Self { status: 500, ..SqsError::new("InternalError", "InternalError", s.to_string()) }
            }
        }
    }
}

type SqsResult = Result<Value, SqsError>;

/// A refused call ([`crate::auth`]) in SQS's shape.
pub fn denied(denied: &crate::auth::Denied) -> Response {
    SqsError { status: denied.status(), ..SqsError::new(denied.code(), denied.query_code(), denied.to_string()) }
        .into_response()
}

/// Answer one `AmazonSQS.*` request.
pub async fn dispatch(state: &AppState, action: &str, headers: &HeaderMap, body: &[u8]) -> (Response, bool) {
    let result = handle(state, action, headers, body).await;
    let ok = result.is_ok();
    if let Err(e) = &result {
        tracing::debug!(action, code = e.json_type, message = %e.message, "queue request failed");
    }
    let response = match result {
        Ok(v) => (StatusCode::OK, [("content-type", "application/x-amz-json-1.0")], v.to_string()).into_response(),
        Err(e) => e.into_response(),
    };
    (response, ok)
}

async fn handle(state: &AppState, action: &str, headers: &HeaderMap, body: &[u8]) -> SqsResult {
    let parsed: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            SqsError::new(
                "SerializationException",
                "SerializationException",
                format!("The request body is not valid JSON: {e}"),
            )
        })?
    };
    let Value::Object(req) = parsed else {
        return Err(SqsError::new(
            "SerializationException",
            "SerializationException",
            "The request body must be a JSON object",
        ));
    };
    let queues = &state.queues;
    let base = base_url(state, headers);
    match action {
        "CreateQueue" => {
            let name = required_str(&req, "QueueName")?;
            if is_internal(name) {
                return Err(SqsError::invalid(format!(
                    "Value {name} for parameter QueueName is invalid. Reason: Queue names starting with {} are reserved.",
                    engine::queues::INTERNAL_PREFIX
                )));
            }
            let attributes = match req.get("Attributes") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let row = queues.create(name, attributes).await?;
            Ok(json!({"QueueUrl": format!("{base}/{}", row.name)}))
        }
        "GetQueueUrl" => {
            let name = public(required_str(&req, "QueueName")?)?;
            let row = queues.get(name).await?;
            Ok(json!({"QueueUrl": format!("{base}/{}", row.name)}))
        }
        "ListQueues" => {
            let prefix = optional_str(&req, "QueueNamePrefix")?;
            // Baton's own queues (the delivery outbox) are not listed.
            let urls: Vec<String> = queues
                .list(prefix)
                .await?
                .into_iter()
                .filter(|q| !is_internal(&q.name))
                .map(|q| format!("{base}/{}", q.name))
                .collect();
            Ok(if urls.is_empty() { json!({}) } else { json!({"QueueUrls": urls}) })
        }
        "DeleteQueue" => {
            queues.delete(queue_name(&req)?).await?;
            Ok(json!({}))
        }
        "PurgeQueue" => {
            queues.purge(queue_name(&req)?).await?;
            Ok(json!({}))
        }
        "GetQueueAttributes" => {
            let name = queue_name(&req)?;
            let arn = format!("arn:aws:sqs:{}:{}:{name}", state.arns.region, state.arns.account);
            let all = queues.attributes(name, &arn).await?;
            let wanted: Vec<&str> = match req.get("AttributeNames") {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let picked: Map<String, Value> = if wanted.contains(&"All") {
                all
            } else {
                all.into_iter().filter(|(k, _)| wanted.contains(&k.as_str())).collect()
            };
            Ok(if picked.is_empty() { json!({}) } else { json!({"Attributes": picked}) })
        }
        "SendMessage" => {
            let name = queue_name(&req)?;
            let body = required_str(&req, "MessageBody")?.to_owned();
            let attributes = match req.get("MessageAttributes") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let delay_seconds = optional_u64(&req, "DelaySeconds")?.unwrap_or(0);
            let sent = queues.send(name, OutgoingMessage { body, attributes, delay_seconds }).await?;
            let mut out = json!({"MD5OfMessageBody": sent.md5_of_body, "MessageId": sent.message_id});
            if let Some(md5) = sent.md5_of_attributes {
                out["MD5OfMessageAttributes"] = json!(md5);
            }
            Ok(out)
        }
        "ReceiveMessage" => {
            let name = queue_name(&req)?;
            let max = optional_u64(&req, "MaxNumberOfMessages")?.unwrap_or(1) as usize;
            let visibility = optional_u64(&req, "VisibilityTimeout")?;
            let wait = optional_u64(&req, "WaitTimeSeconds")?;
            if wait.is_some_and(|w| w > MAX_WAIT_SECONDS) {
                return Err(SqsError::invalid(format!(
                    "Value {} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
                    wait.unwrap_or_default()
                )));
            }
            let received = queues.receive(name, max, visibility, wait.map(Duration::from_secs)).await?;
            let mut system = names_list(&req, "AttributeNames");
            system.extend(names_list(&req, "MessageSystemAttributeNames"));
            let user = names_list(&req, "MessageAttributeNames");
            let messages: Vec<Value> = received.iter().map(|m| only_asked(m.to_json(), &system, &user)).collect();
            Ok(if messages.is_empty() { json!({}) } else { json!({"Messages": messages}) })
        }
        "DeleteMessage" => {
            let name = queue_name(&req)?;
            queues.delete_message(name, required_str(&req, "ReceiptHandle")?).await?;
            Ok(json!({}))
        }
        "SendMessageBatch" => {
            let name = queue_name(&req)?;
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for entry in batch_entries(&req, "SendMessageBatchRequestEntry")? {
                let id = entry.get("Id").and_then(Value::as_str).unwrap_or_default();
                let message = OutgoingMessage {
                    body: entry.get("MessageBody").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    attributes: match entry.get("MessageAttributes") {
                        Some(Value::Object(m)) => m.clone(),
                        _ => Map::new(),
                    },
                    delay_seconds: entry.get("DelaySeconds").and_then(Value::as_u64).unwrap_or(0),
                };
                match queues.send(name, message).await {
                    Ok(sent) => {
                        let mut out =
                            json!({"Id": id, "MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body});
                        if let Some(md5) = sent.md5_of_attributes {
                            out["MD5OfMessageAttributes"] = json!(md5);
                        }
                        successful.push(out);
                    }
                    Err(QueueError::NonExistentQueue(n)) => return Err(QueueError::NonExistentQueue(n).into()),
                    Err(e) => {
                        let e = SqsError::from(e);
                        let sender_fault = e.status < 500;
                        failed.push(
                            json!({"Id": id, "Code": e.query_code, "Message": e.message, "SenderFault": sender_fault}),
                        )
                    }
                }
            }
            Ok(json!({"Successful": successful, "Failed": failed}))
        }
        "DeleteMessageBatch" => {
            let name = queue_name(&req)?;
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for entry in batch_entries(&req, "DeleteMessageBatchRequestEntry")? {
                let id = entry.get("Id").and_then(Value::as_str).unwrap_or_default();
                let handle = entry.get("ReceiptHandle").and_then(Value::as_str).unwrap_or_default();
                match queues.delete_message(name, handle).await {
                    Ok(()) => successful.push(json!({"Id": id})),
                    Err(QueueError::NonExistentQueue(n)) => return Err(QueueError::NonExistentQueue(n).into()),
                    Err(e) => {
                        let e = SqsError::from(e);
                        failed.push(json!({"Id": id, "Code": e.query_code, "Message": e.message, "SenderFault": true}))
                    }
                }
            }
            Ok(json!({"Successful": successful, "Failed": failed}))
        }
        "ChangeMessageVisibility" => {
            let name = queue_name(&req)?;
            let handle = required_str(&req, "ReceiptHandle")?;
            let seconds =
                optional_u64(&req, "VisibilityTimeout")?.ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
            queues.change_visibility(name, handle, seconds).await?;
            Ok(json!({}))
        }
        other => Err(SqsError::new(
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            format!("The action {other} is not supported by Baton's queues."),
        )),
    }
}

/// The `Entries` of a batch request, checked as SQS checks them: at least one, at most 10,
/// each `Id` well formed and distinct.
fn batch_entries<'a>(req: &'a Map<String, Value>, entry_type: &str) -> Result<&'a Vec<Value>, SqsError> {
    let entries = match req.get("Entries") {
        Some(Value::Array(entries)) if !entries.is_empty() => entries,
        _ => {
            return Err(SqsError::new(
                "EmptyBatchRequest",
                "AWS.SimpleQueueService.EmptyBatchRequest",
                format!("There should be at least one {entry_type} in the request."),
            ))
        }
    };
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {}.", entries.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let id = entry.get("Id").and_then(Value::as_str).unwrap_or_default();
        let well_formed =
            (1..=80).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            return Err(SqsError::new(
                "InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(entries)
}

/// Entries in one batch request (SQS's limit).
const MAX_BATCH_ENTRIES: usize = 10;

fn names_list(req: &Map<String, Value>, key: &str) -> Vec<String> {
    match req.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// SQS returns a message's system attributes and message attributes only when asked, by
/// name, `All`, or (message attributes) a `prefix.*` pattern.
fn only_asked(mut message: Value, system: &[String], user: &[String]) -> Value {
    let wanted = |asked: &[String], name: &str| {
        asked
            .iter()
            .any(|a| a == "All" || a == ".*" || a == name || a.strip_suffix(".*").is_some_and(|p| name.starts_with(p)))
    };
    for (key, asked) in [("Attributes", system), ("MessageAttributes", user)] {
        if let Some(Value::Object(map)) = message.get_mut(key) {
            map.retain(|name, _| wanted(asked, name));
            if map.is_empty() {
                if let Some(m) = message.as_object_mut() {
                    m.remove(key);
                    if key == "MessageAttributes" {
                        m.remove("MD5OfMessageAttributes");
                    }
                }
            }
        }
    }
    message
}

/// `http://HOST/ACCOUNT`: queue URLs are built from the address the client used, so they
/// lead back here.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8083");
    format!("http://{host}/{}", state.arns.account)
}

fn queue_name(req: &Map<String, Value>) -> Result<&str, SqsError> {
    let url = required_str(req, "QueueUrl")?;
    public(
        name_from_url(url)
            .ok_or_else(|| SqsError::invalid(format!("Value {url} for parameter QueueUrl is invalid.")))?,
    )
}

/// A queue clients may use: Baton's own queues answer as SQS answers for a queue that does
/// not exist.
fn public(name: &str) -> Result<&str, SqsError> {
    if is_internal(name) {
        return Err(QueueError::NonExistentQueue(name.to_owned()).into());
    }
    Ok(name)
}

fn optional_str<'a>(req: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, SqsError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SqsError::invalid(format!("Value for parameter {key} must be a string."))),
    }
}

fn required_str<'a>(req: &'a Map<String, Value>, key: &str) -> Result<&'a str, SqsError> {
    optional_str(req, key)?.ok_or_else(|| SqsError::missing(key))
}

fn optional_u64(req: &Map<String, Value>, key: &str) -> Result<Option<u64>, SqsError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| SqsError::invalid(format!("Value {v} for parameter {key} is invalid."))),
    }
}
