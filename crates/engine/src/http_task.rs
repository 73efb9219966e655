//! The HTTP Task (`arn:aws:states:::http:invoke`): a real HTTP request with AWS's fields and
//! AWS's result and errors.
//!
//! Fields: `ApiEndpoint` and `Method` (required), `Headers`, `QueryParameters` (a list value
//! repeats the parameter), `RequestBody` (JSON is sent as JSON, a string as it is), and
//! `Transform` (`RequestBodyEncoding: URL_ENCODED` sends an object as a form, arrays as
//! `RequestEncodingOptions.ArrayFormat` says: INDICES by default, BRACKETS, COMMAS or
//! REPEAT). `Authentication.ConnectionArn` / `InvocationConfig.ConnectionArn` name an
//! EventBridge connection on AWS; here they are optional, and a connection configured under
//! `[http.connections.NAME]` adds its headers and query parameters.
//!
//! The result is `{"Headers": {name: [values]}, "ResponseBody", "StatusCode", "StatusText"}`,
//! the body parsed when it is JSON. A status outside 2xx fails the task with
//! `States.Http.StatusCode.<code>` and the status text as cause; a connection that fails or a
//! request over the timeout (AWS: 60 s) fails it with `States.Http.Socket`.
//!
//! Runs blocking; [`HttpTask`] moves it off the async runtime.

use std::io::Read;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::HttpTaskConfig;
use crate::task::{Integration, Outcome, TaskCall};
use crate::task::{TaskOutcome, MAX_RESULT_BYTES};

pub const RESOURCE: &str = "arn:aws:states:::http:invoke";

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];

/// The HTTP Task as an integration of `baton serve`.
pub struct HttpTask(pub HttpTaskConfig);

#[async_trait]
impl Integration for HttpTask {
    async fn call(&self, call: TaskCall) -> Outcome {
        let config = self.0.clone();
        match tokio::task::spawn_blocking(move || self::call(&config, &call.input)).await {
            Ok(TaskOutcome::Succeeded(v)) => Outcome::Succeeded(v),
            Ok(TaskOutcome::Failed { error, cause }) => Outcome::Failed { error, cause },
            Err(e) => Outcome::Failed { error: SOCKET.into(), cause: e.to_string() },
        }
    }

    fn longest_call(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(self.0.timeout_seconds))
    }
}

const SOCKET: &str = "States.Http.Socket";

fn invalid(cause: String) -> TaskOutcome {
    // AWS rejects these when the definition is created; here the task meets them first.
    TaskOutcome::Failed { error: asl::error::names::RUNTIME.into(), cause }
}

/// Make the request `input` describes.
pub fn call(config: &HttpTaskConfig, input: &Value) -> TaskOutcome {
    let Some(endpoint) = input.get("ApiEndpoint").and_then(Value::as_str) else {
        return invalid("The HTTP Task needs 'ApiEndpoint', a URL string".into());
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return invalid(format!("'ApiEndpoint' must be an http:// or https:// URL, not '{endpoint}'"));
    }
    let method = input.get("Method").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return invalid(format!("'Method' must be one of {}, not '{method}'", METHODS.join(", ")));
    }
    let connection = ["Authentication", "InvocationConfig"]
        .iter()
        .find_map(|k| input.get(*k).and_then(|a| a.get("ConnectionArn")).and_then(Value::as_str))
        .and_then(connection_name)
        .and_then(|name| config.connections.get(name));

    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(config.timeout_seconds))
        .redirects(0)
        .user_agent("Baton|StepFunctions|HttpInvoke")
        .build();
    let mut request = agent.request(&method, endpoint);
    if let Some(c) = connection {
        for (k, v) in &c.query_parameters {
            request = request.query(k, v);
        }
        for (k, v) in &c.headers {
            request = request.set(k, v);
        }
    }
    if let Some(Value::Object(params)) = input.get("QueryParameters") {
        for (k, v) in params {
            for value in scalars(v) {
                request = request.query(k, &value);
            }
        }
    }
    let mut has_content_type = false;
    if let Some(Value::Object(headers)) = input.get("Headers") {
        for (k, v) in headers {
            has_content_type |= k.eq_ignore_ascii_case("content-type");
            for value in scalars(v) {
                request = request.set(k, &value);
            }
        }
    }
    let url_encoded = input.pointer("/Transform/RequestBodyEncoding").and_then(Value::as_str) == Some("URL_ENCODED");
    let body: Option<Vec<u8>> = match input.get("RequestBody") {
        None | Some(Value::Null) => None,
        Some(body) if url_encoded => {
            let format = input.pointer("/Transform/RequestEncodingOptions/ArrayFormat").and_then(Value::as_str);
            if !has_content_type {
                request = request.set("Content-Type", "application/x-www-form-urlencoded");
            }
            Some(form_encode(body, format.unwrap_or("INDICES")).into_bytes())
        }
        Some(Value::String(s)) => {
            if !has_content_type {
                request = request.set("Content-Type", "text/plain; charset=utf-8");
            }
            Some(s.clone().into_bytes())
        }
        Some(v) => {
            if !has_content_type {
                request = request.set("Content-Type", "application/json");
            }
            Some(v.to_string().into_bytes())
        }
    };
    let sent = match &body {
        Some(b) => request.send_bytes(b),
        None => request.call(),
    };
    let response = match sent {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            return TaskOutcome::Failed {
                error: format!("States.Http.StatusCode.{code}"),
                cause: r.status_text().to_owned(),
            }
        }
        Err(ureq::Error::Transport(t)) => {
            return TaskOutcome::Failed { error: SOCKET.into(), cause: format!("{method} {endpoint}: {t}") }
        }
    };
    let status = response.status();
    if !(200..300).contains(&status) {
        // 1xx and 3xx (redirects are not followed) are not success either.
        return TaskOutcome::Failed {
            error: format!("States.Http.StatusCode.{status}"),
            cause: response.status_text().to_owned(),
        };
    }
    let status_text = response.status_text().to_owned();
    let mut headers = Map::new();
    for name in response.headers_names() {
        let values: Vec<Value> = response.all(&name).into_iter().map(|v| Value::String(v.to_owned())).collect();
        headers.insert(name, Value::Array(values));
    }
    let mut raw = Vec::new();
    if let Err(e) = response.into_reader().take(MAX_RESULT_BYTES as u64 * 4).read_to_end(&mut raw) {
        return TaskOutcome::Failed {
            error: SOCKET.into(),
            cause: format!("{method} {endpoint}: reading the answer: {e}"),
        };
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let body = if text.trim().is_empty() {
        Value::String(String::new())
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    let mut out = Map::new();
    out.insert("Headers".into(), Value::Object(headers));
    out.insert("ResponseBody".into(), body);
    out.insert("StatusCode".into(), Value::from(status));
    out.insert("StatusText".into(), Value::String(status_text));
    TaskOutcome::Succeeded(Value::Object(out))
}

/// `NAME` from `arn:aws:events:REGION:ACCOUNT:connection/NAME/ID`.
pub(crate) fn connection_name(arn: &str) -> Option<&str> {
    arn.split_once(":connection/").map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
}

/// The text values of a header or query parameter: a list gives several.
fn scalars(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(scalars).collect(),
        other => vec![other.to_string()],
    }
}

/// An object as `application/x-www-form-urlencoded`, arrays written as `format` says.
fn form_encode(body: &Value, format: &str) -> String {
    let Value::Object(fields) = body else {
        return match body {
            Value::String(s) => s.clone(),
            other => encode(&other.to_string()),
        };
    };
    let mut pairs: Vec<String> = Vec::new();
    for (k, v) in fields {
        match v {
            Value::Null => {}
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(text_of).collect();
                match format {
                    "COMMAS" => pairs.push(format!("{}={}", encode(k), encode(&items.join(",")))),
                    "REPEAT" => pairs.extend(items.iter().map(|i| format!("{}={}", encode(k), encode(i)))),
                    "BRACKETS" => {
                        pairs.extend(items.iter().map(|i| format!("{}={}", encode(&format!("{k}[]")), encode(i))))
                    }
                    _ => pairs.extend(
                        items
                            .iter()
                            .enumerate()
                            .map(|(n, i)| format!("{}={}", encode(&format!("{k}[{n}]")), encode(i))),
                    ),
                }
            }
            other => pairs.push(format!("{}={}", encode(k), encode(&text_of(other)))),
        }
    }
    pairs.join("&")
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_bodies_follow_the_array_format() {
        let body = json!({"a": ["x", "y z"], "b": 1});
        assert_eq!(form_encode(&body, "INDICES"), "a%5B0%5D=x&a%5B1%5D=y%20z&b=1");
        assert_eq!(form_encode(&body, "BRACKETS"), "a%5B%5D=x&a%5B%5D=y%20z&b=1");
        assert_eq!(form_encode(&body, "COMMAS"), "a=x%2Cy%20z&b=1");
        assert_eq!(form_encode(&body, "REPEAT"), "a=x&a=y%20z&b=1");
    }

    #[test]
    fn connection_names_come_from_the_arn() {
        assert_eq!(connection_name("arn:aws:events:us-east-1:1:connection/stripe/0d3c"), Some("stripe"));
        assert_eq!(connection_name("arn:aws:events:us-east-1:1:connection/stripe"), Some("stripe"));
        assert_eq!(connection_name("nonsense"), None);
    }

    #[test]
    fn requests_that_cannot_be_made_are_runtime_errors() {
        let c = HttpTaskConfig::default();
        let out = call(&c, &json!({"Method": "GET"}));
        assert!(matches!(out, TaskOutcome::Failed { ref error, .. } if error == "States.Runtime"), "{out:?}");
        let out = call(&c, &json!({"ApiEndpoint": "http://127.0.0.1:1/", "Method": "FETCH"}));
        assert!(matches!(out, TaskOutcome::Failed { ref error, .. } if error == "States.Runtime"), "{out:?}");
    }
}
