//! What a Task call is, for every integration: the call ([`TaskCall`], its [`Pattern`]), how
//! it ends ([`Outcome`], and the request-response [`TaskOutcome`] of functions, HTTP and AWS
//! calls), the [`Integration`] each resource's handler implements, and the AWS-shaped
//! metadata and causes integrations add to their results. It knows no integration.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::mocks::TestCaseRef;
use crate::random::OsRandomness;

/// How a task ended, in the terms the interpreter takes.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

impl TaskOutcome {
    pub(crate) fn failed(error: &str, cause: impl Into<String>) -> Self {
        TaskOutcome::Failed { error: error.into(), cause: cause.into() }
    }
}

/// Error name for resources this runner cannot reach.
pub const UNSUPPORTED_RESOURCE: &str = "Baton.UnsupportedResource";

/// The largest result a task may return (AWS: 256 KiB).
pub const MAX_RESULT_BYTES: usize = 256 * 1024;

/// Why a function call did not give a result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallFailure {
    /// The function ran and failed. `document` is its error as Lambda's runtimes write it
    /// (`{"errorMessage", "errorType", ...}`), as text; `error_type` is read from it.
    Function { error_type: String, document: String },
    /// The function could not be reached or started: a Lambda service error (`Lambda.*`).
    Service { error: String, cause: String },
}

impl CallFailure {
    /// The error name and cause, as the legacy Lambda resource reports them.
    pub fn error_and_cause(&self) -> (&str, &str) {
        match self {
            CallFailure::Function { error_type, document } => (error_type, document),
            CallFailure::Service { error, cause } => (error, cause),
        }
    }

    /// An error document in the shape Lambda's runtime gives for failures outside the
    /// handler's code (a timeout, a crash): `{"errorType", "errorMessage"}`.
    pub(crate) fn runtime(error_type: &str, message: String) -> Self {
        let doc = json!({"errorType": error_type, "errorMessage": message});
        CallFailure::Function { error_type: error_type.into(), document: doc.to_string() }
    }

    /// Read an error document; its `errorType` is the error, `Lambda.Unknown` without one.
    pub(crate) fn from_document(document: String) -> Self {
        let error_type = serde_json::from_str::<Value>(&document)
            .ok()
            .and_then(|v| v.get("errorType").and_then(Value::as_str).map(str::to_owned))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Lambda.Unknown".into());
        CallFailure::Function { error_type, document }
    }
}

/// How the state machine waits for the task (the resource's suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    RequestResponse,
    WaitForTaskToken,
    /// `.sync`: wait for the started work to finish.
    Sync,
    /// `.sync:2`: as `.sync`, with JSON rather than string outputs where AWS distinguishes.
    Sync2,
}

impl Pattern {
    /// Split a resource into its base and its pattern.
    pub fn split(resource: &str) -> (&str, Pattern) {
        if let Some(base) = resource.strip_suffix(".waitForTaskToken") {
            (base, Pattern::WaitForTaskToken)
        } else if let Some(base) = resource.strip_suffix(".sync:2") {
            (base, Pattern::Sync2)
        } else if let Some(base) = resource.strip_suffix(".sync") {
            (base, Pattern::Sync)
        } else {
            (resource, Pattern::RequestResponse)
        }
    }
}

/// One task's initial call.
#[derive(Debug, Clone)]
pub struct TaskCall {
    /// The resource without its pattern suffix.
    pub resource: String,
    pub pattern: Pattern,
    /// The effective input (after InputPath and Parameters).
    pub input: Value,
    pub token: Option<String>,
    pub execution_arn: String,
    pub state_name: String,
    pub task_id: u64,
    /// The mock test case the execution runs with, if any (see [`crate::mocks`]).
    pub mock: Option<TestCaseRef>,
}

impl TaskCall {
    /// The initial call of the task the interpreter asked for, with `input` as the effective
    /// input (the request's own, or with signed links added).
    pub fn of(request: &asl::interpreter::TaskRequest, execution_arn: &str, input: Value) -> Self {
        let (resource, pattern) = Pattern::split(&request.resource);
        Self {
            resource: resource.to_owned(),
            pattern,
            input,
            token: request.token.clone(),
            execution_arn: execution_arn.to_owned(),
            state_name: request.state_name.clone(),
            task_id: request.task,
            mock: None,
        }
    }

    /// The same call, made for an execution running with the mock test case `mock`.
    pub fn with_mock(mut self, mock: Option<TestCaseRef>) -> Self {
        self.mock = mock;
        self
    }
}

/// How an initial call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The task is done with this result.
    Succeeded(Value),
    /// The call went out (`output` is its response); the task now waits for a callback or
    /// for the work it started.
    Submitted(Value),
    /// The call went out (`submitted` is its response) and what the task waits for ended at
    /// once (a mocked `.waitForTaskToken` or `.sync` task): the task is submitted, then
    /// succeeds with the result or fails with `(error, cause)`.
    SubmittedAndEnded {
        submitted: Value,
        end: Result<Value, (String, String)>,
    },
    Failed {
        error: String,
        cause: String,
    },
}

#[async_trait]
pub trait Integration: Send + Sync {
    async fn call(&self, call: TaskCall) -> Outcome;

    /// The longest an initial call may take, when it may take long (a function with a
    /// timeout, an HTTP request). The engine holds a task at least this long before it may
    /// hand it to another node, so a slow call is not made twice.
    fn longest_call(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The `SdkHttpMetadata`/`SdkResponseMetadata` pair Step Functions adds to an AWS SDK
/// response, for a response of `content_type` and `length` bytes.
pub fn sdk_metadata(content_type: &str, length: usize) -> (Value, Value) {
    let request_id = OsRandomness::new_execution_name();
    let date = crate::clock::http_date();
    let length = length.to_string();
    let all = json!({
        "x-amzn-RequestId": [request_id],
        "connection": ["keep-alive"],
        "Content-Length": [length],
        "Date": [date],
        "Content-Type": [content_type],
    });
    let single = json!({
        "connection": "keep-alive",
        "Content-Length": length,
        "Content-Type": content_type,
        "Date": date,
        "x-amzn-RequestId": request_id,
    });
    (json!({"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": 200}), json!({"RequestId": request_id}))
}

/// A cause in the form the AWS SDK for Java gives Step Functions.
pub fn aws_cause(service: &str, message: &str, status: u16, code: &str) -> String {
    format!(
        "{message} (Service: {service}; Status Code: {status}; Error Code: {code}; Request ID: {}; Proxy: null)",
        OsRandomness::new_execution_name()
    )
}
