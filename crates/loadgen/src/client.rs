//! A Step Functions client that speaks only the public JSON protocol (awsJson1_0, one
//! `POST /` per action, dispatched on `X-Amz-Target`), so the same scenarios run against any
//! endpoint. Requests carry a well-formed but unsigned SigV4 `Authorization` header: emulators
//! read the region and account from it and do not check the signature.
//!
//! Connections are HTTP/1.1 with keep-alive, pooled per endpoint. Several endpoints (nodes of
//! one cluster) are used in turn, or one picked explicitly so a callback can be answered on
//! another node than the one that handed out the task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// How a call failed: an error the service answered with (its AWS name), or no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("{name}: {message}")]
    Service { name: String, message: String, status: u16 },
    #[error("transport: {0}")]
    Transport(String),
}

impl CallError {
    /// The name errors are counted under: the AWS error name, or `Transport`.
    pub fn name(&self) -> &str {
        match self {
            CallError::Service { name, .. } => name,
            CallError::Transport(_) => "Transport",
        }
    }

    /// Whether the endpoint does not implement the action (as opposed to rejecting input).
    pub fn is_unsupported(&self) -> bool {
        match self {
            CallError::Service { name, message, status } => {
                matches!(
                    name.as_str(),
                    "UnknownOperationException"
                        | "UnknownOperation"
                        | "InvalidAction"
                        | "NotImplemented"
                        | "NotImplementedError"
                        | "UnsupportedOperation"
                ) || *status == 404
                    || *status == 501
                    // Not AWS's error shape at all: the server's framework answered, not its
                    // Step Functions code (moto answers an unimplemented action this way).
                    || (*status == 500 && name.starts_with("HTTP"))
                    || message.contains("not yet implemented")
                    || message.contains("not implemented")
                    || message.contains("not been implemented")
            }
            CallError::Transport(_) => false,
        }
    }
}

struct Endpoint {
    /// `host:port` to connect to.
    authority: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

/// A pooled client over one or more endpoints of one service.
pub struct Client {
    endpoints: Vec<Endpoint>,
    next: AtomicUsize,
    region: String,
}

impl Client {
    /// `urls` are `http://host:port` (a trailing `/` is fine); HTTPS is not supported.
    pub fn new(urls: &[String], region: &str) -> Result<Client, String> {
        if urls.is_empty() {
            return Err("at least one --endpoint is needed".into());
        }
        let mut endpoints = Vec::new();
        for url in urls {
            let rest = url
                .strip_prefix("http://")
                .ok_or_else(|| format!("--endpoint {url}: only http:// endpoints are supported"))?;
            let authority = rest.trim_end_matches('/');
            if authority.is_empty() || authority.contains('/') {
                return Err(format!("--endpoint {url}: expected http://HOST:PORT"));
            }
            let authority = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
            endpoints.push(Endpoint { authority, idle: Mutex::new(Vec::new()) });
        }
        Ok(Client { endpoints, next: AtomicUsize::new(0), region: region.to_owned() })
    }

    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// Call `action` on the next endpoint in turn.
    pub async fn call(&self, action: &str, body: &Value) -> Result<Value, CallError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.endpoints.len();
        self.call_on(i, action, body).await
    }

    /// Call `action` on endpoint `index` (modulo the number of endpoints).
    pub async fn call_on(&self, index: usize, action: &str, body: &Value) -> Result<Value, CallError> {
        let endpoint = &self.endpoints[index % self.endpoints.len()];
        let payload = Bytes::from(serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?);
        // A pooled connection may have been closed by the server since; retry once on a fresh one.
        for attempt in 0..2 {
            let mut sender = match self.take(endpoint, attempt > 0).await {
                Ok(s) => s,
                Err(e) => return Err(CallError::Transport(e)),
            };
            let request = hyper::Request::post("/")
                .header("host", &endpoint.authority)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amz-target", format!("AWSStepFunctions.{action}"))
                .header("x-amz-date", "20240101T000000Z")
                .header(
                    "authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=test/20240101/{}/states/aws4_request, \
                         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}",
                        self.region,
                        "0".repeat(64)
                    ),
                )
                .body(Full::new(payload.clone()))
                .map_err(|e| CallError::Transport(e.to_string()))?;
            let response = match sender.send_request(request).await {
                Ok(r) => r,
                Err(e) if attempt == 0 && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) => continue,
                Err(e) => return Err(CallError::Transport(e.to_string())),
            };
            let status = response.status().as_u16();
            let bytes = match response.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return Err(CallError::Transport(e.to_string())),
            };
            endpoint.idle.lock().expect("pool lock is never poisoned").push(sender);
            return decode(status, &bytes);
        }
        Err(CallError::Transport("connection closed twice".into()))
    }

    async fn take(&self, endpoint: &Endpoint, fresh: bool) -> Result<SendRequest<Full<Bytes>>, String> {
        if !fresh {
            loop {
                let candidate = endpoint.idle.lock().expect("pool lock is never poisoned").pop();
                match candidate {
                    Some(s) if !s.is_closed() => return Ok(s),
                    Some(_) => continue,
                    None => break,
                }
            }
        }
        let stream = TcpStream::connect(&endpoint.authority)
            .await
            .map_err(|e| format!("connect {}: {e}", endpoint.authority))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake {}: {e}", endpoint.authority))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// AWS's error shape: HTTP 4xx/5xx with `{"__type": "...#Name", "message": "..."}`.
fn decode(status: u16, bytes: &[u8]) -> Result<Value, CallError> {
    let value: Value = if bytes.is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(_) if status >= 300 => Value::Null,
            Err(e) => return Err(CallError::Transport(format!("HTTP {status}, not JSON: {e}"))),
        }
    };
    if status < 300 {
        return Ok(value);
    }
    let raw = value.get("__type").or_else(|| value.get("code")).and_then(Value::as_str).unwrap_or("");
    let name = raw.rsplit('#').next().unwrap_or(raw);
    let name = if name.is_empty() { format!("HTTP{status}") } else { name.to_owned() };
    let message = value
        .get("message")
        .or_else(|| value.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| plain_text(bytes));
    Err(CallError::Service { name, message, status })
}

/// A short account of a body that is not AWS's error shape: an HTML page's title, or the
/// start of the text.
fn plain_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let title = text.find("<title>").and_then(|a| text[a + 7..].find("</title>").map(|b| &text[a + 7..a + 7 + b]));
    let summary = title.unwrap_or(&text).trim();
    let end = summary.char_indices().nth(200).map_or(summary.len(), |(i, _)| i);
    format!("not a JSON answer: {}", &summary[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_lose_their_namespace() {
        let e = decode(400, br#"{"__type":"com.amazonaws.swf.base.model#InvalidToken","message":"bad"}"#);
        match e {
            Err(CallError::Service { name, message, status }) => {
                assert_eq!((name.as_str(), message.as_str(), status), ("InvalidToken", "bad", 400));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_json_error_keeps_status() {
        let e = decode(404, b"<html><title>Not Found</title></html>").unwrap_err();
        assert_eq!(e.name(), "HTTP404");
        assert!(e.is_unsupported());
        assert_eq!(e.to_string(), "HTTP404: not a JSON answer: Not Found");
        let e = decode(500, b"<!doctype html><title>500 Internal Server Error</title><p>...").unwrap_err();
        assert!(e.is_unsupported());
        assert_eq!(e.to_string(), "HTTP500: not a JSON answer: 500 Internal Server Error");
        let e = decode(500, br#"{"__type":"InternalFailure","message":"boom"}"#).unwrap_err();
        assert!(!e.is_unsupported());
    }

    #[test]
    fn endpoints_must_be_http() {
        assert!(Client::new(&["https://x:1".into()], "us-east-1").is_err());
        assert!(Client::new(&["http://127.0.0.1:8083/".into()], "us-east-1").is_ok());
    }
}
