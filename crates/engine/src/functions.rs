//! Functions: what a Task reaches through a Lambda function ARN
//! (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`) or through `arn:aws:states:::lambda:invoke`
//! with `FunctionName` (a name or an ARN) and `Payload`, as on AWS. They are configured in
//! `baton.toml`, one of three kinds:
//!
//! ```toml
//! [functions.check-order]          # a command: the payload on stdin, the result on stdout
//! command = ["python3", "check_order.py"]
//!
//! [functions.reserve]              # a handler in the style of Lambda: module.handler(event, context)
//! runtime = "python3"              # or "node"
//! handler = "reserve.lambda_handler"
//! code = "functions"               # the folder holding reserve.py (default: beside baton.toml)
//!
//! [functions.score]                # an HTTP endpoint: POST the payload, JSON back
//! url = "http://127.0.0.1:9000/score"
//! timeout_seconds = 10             # every kind; default 60
//! ```
//!
//! Functions are configured in [`crate::config`]. This module owns the two ways a Task calls a function (the legacy ARN
//! gives the function's result as is; `lambda:invoke` wraps it in Lambda's response) and the
//! error names AWS reports. How each kind runs lives in [`process`] (commands and handler
//! runtimes, with their bootstrap scripts) and [`http`] (URLs). It must not know about
//! executions: a call is payload in, result or failure out.

mod http;
mod process;

use asl::eval::Randomness;
use serde_json::{json, Map, Value};

use crate::random::OsRandomness;

use crate::config::{Config, FunctionConfig, FunctionKind};
use crate::task::{CallFailure, TaskOutcome, MAX_RESULT_BYTES, UNSUPPORTED_RESOURCE};

/// One call of one function.
pub(crate) struct Call<'a> {
    pub name: &'a str,
    pub function: &'a FunctionConfig,
    pub config: &'a Config,
    /// The event as the function receives it (JSON text, as Lambda passes it on).
    pub payload: Vec<u8>,
    pub request_id: String,
}

impl Call<'_> {
    pub fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{}:{}:function:{}", self.config.host.region, self.config.host.account, self.name)
    }
}

fn new_request_id() -> String {
    OsRandomness::new().uuid_v4()
}

impl Config {
    /// Run the task `resource` with `input` (the effective input).
    pub fn invoke(&self, resource: &str, input: &Value) -> TaskOutcome {
        if resource.ends_with(".waitForTaskToken") || resource.contains(":activity:") {
            return unsupported(
                resource,
                "callbacks and activities need a running server (`baton serve`); `baton run` cannot wait for them",
            );
        }
        if let Some(name) = lambda_function_name(resource) {
            return self.invoke_legacy(resource, &name, input);
        }
        if resource == "arn:aws:states:::lambda:invoke" {
            return self.invoke_lambda_service(input);
        }
        if resource == crate::http_task::RESOURCE {
            return crate::http_task::call(&self.http, input);
        }
        if let Some(target) = crate::aws::tasks::target(&self.aws_client, resource) {
            return target.map_or_else(|failed| failed, |t| crate::aws::tasks::call(&self.aws_client, t, input));
        }
        unsupported(
            resource,
            "this resource is not available to `baton run`; configure a function or use `baton serve`",
        )
    }

    /// A Lambda function ARN as the resource: the input is the event, the result is the
    /// function's result as is; a function error is its `errorType`, with the error
    /// document as the function wrote it for cause.
    fn invoke_legacy(&self, resource: &str, name: &str, input: &Value) -> TaskOutcome {
        match self.call(name, input.to_string().into_bytes()) {
            Ok(payload) => {
                if payload.len() > MAX_RESULT_BYTES {
                    return data_limit(resource);
                }
                match parse_payload(&payload) {
                    Ok(v) => TaskOutcome::Succeeded(v),
                    Err(e) => TaskOutcome::failed(
                        "Lambda.Unknown",
                        format!("The function '{name}' returned a result that is not JSON: {e}"),
                    ),
                }
            }
            Err(CallFailure::Function { error_type, document }) => {
                TaskOutcome::Failed { error: error_type, cause: document }
            }
            Err(CallFailure::Service { error, cause }) => TaskOutcome::Failed { error, cause },
        }
    }

    /// `arn:aws:states:::lambda:invoke`: `FunctionName` and `Payload` in, Lambda's Invoke
    /// response out (`Payload`, `StatusCode`, `ExecutedVersion`, the SDK's HTTP metadata).
    fn invoke_lambda_service(&self, input: &Value) -> TaskOutcome {
        let Some(target) = input.get("FunctionName").and_then(Value::as_str) else {
            return TaskOutcome::failed(
                "Lambda.InvalidParameterValueException",
                "The parameter 'FunctionName' is required and must be a string",
            );
        };
        let name = lambda_function_name(target).unwrap_or_else(|| target.to_owned());
        // Lambda takes the payload as bytes: a string is passed on as its text, nothing as `{}`.
        let payload = match input.get("Payload") {
            None | Some(Value::Null) => b"{}".to_vec(),
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(v) => v.to_string().into_bytes(),
        };
        match self.call(&name, payload) {
            Ok(payload) => {
                if payload.len() > MAX_RESULT_BYTES {
                    return data_limit("lambda");
                }
                let body = parse_payload(&payload)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned()));
                TaskOutcome::Succeeded(invoke_response(body, payload.len()))
            }
            Err(CallFailure::Function { error_type, document }) => {
                // The service integration hands the error document on re-serialized, compact.
                let cause = serde_json::from_str::<Value>(&document).map_or(document, |v| v.to_string());
                TaskOutcome::Failed { error: error_type, cause }
            }
            Err(CallFailure::Service { error, cause }) => TaskOutcome::Failed { error, cause },
        }
    }

    /// Call the function `name` with `payload` (the event as JSON text); its raw result.
    pub fn call(&self, name: &str, payload: Vec<u8>) -> Result<Vec<u8>, CallFailure> {
        let request_id = new_request_id();
        let Some(function) = self.functions.get(name) else {
            // Not one of ours: a Lambda endpoint, when one is configured, has it.
            if self.aws_client.reaches("lambda") {
                return crate::aws::lambda::call_function(&self.aws_client, name, &payload);
            }
            tracing::warn!(function = name, "no such function: configure it under [functions.{name}] in baton.toml, or a Lambda endpoint (AWS_ENDPOINT_URL_LAMBDA)");
            return Err(CallFailure::Service {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!(
                    "Function not found: arn:aws:lambda:{}:{}:function:{name}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)",
                    self.host.region, self.host.account
                ),
            });
        };
        let call = Call { name, function, config: self, payload, request_id };
        match &function.kind {
            FunctionKind::Url { url, headers } => http::call(&call, url, headers),
            FunctionKind::Command(_) | FunctionKind::Handler { .. } => process::call(&call),
        }
    }
}

fn unsupported(resource: &str, why: &str) -> TaskOutcome {
    TaskOutcome::failed(UNSUPPORTED_RESOURCE, format!("Resource '{resource}': {why}"))
}

fn data_limit(resource: &str) -> TaskOutcome {
    TaskOutcome::failed(
        asl::error::names::DATA_LIMIT_EXCEEDED,
        format!(
            "The state/task '{resource}' returned a result with a size exceeding the maximum number of bytes service limit."
        ),
    )
}

/// A function's result: JSON, or nothing (`null`).
fn parse_payload(payload: &[u8]) -> Result<Value, serde_json::Error> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(payload)
}

/// Lambda's Invoke response as Step Functions hands it to the state.
fn invoke_response(payload: Value, length: usize) -> Value {
    let request_id = new_request_id();
    let date = crate::clock::http_date();
    let trace = {
        let mut r = OsRandomness::new();
        let t = crate::clock::utc_now().timestamp();
        let hex = |n: u64, digits: usize| format!("{n:0digits$x}");
        format!(
            "Root=1-{:08x}-{}{};Parent={};Sampled=0;Lineage=1:{}:0",
            t,
            hex(r.next_u64(), 16),
            &hex(r.next_u64(), 16)[..8],
            hex(r.next_u64(), 16),
            &hex(r.next_u64(), 16)[..8]
        )
    };
    let length = length.to_string();
    let headers: [(&str, &str); 8] = [
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("Connection", "keep-alive"),
        ("x-amzn-RequestId", &request_id),
        ("Content-Length", &length),
        ("Date", &date),
        ("X-Amzn-Trace-Id", &trace),
        ("Content-Type", "application/json"),
    ];
    let all: Map<String, Value> = headers.iter().map(|(k, v)| ((*k).to_owned(), json!([v]))).collect();
    let mut sorted = headers;
    sorted.sort_by_key(|(k, _)| k.to_ascii_lowercase());
    let single: Map<String, Value> = sorted.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    })
}

/// `NAME` from `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
fn lambda_function_name(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function")
        .then(|| parts[6].to_owned())
}

#[cfg(test)]
mod tests;
