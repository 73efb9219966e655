//! Lambda's Invoke at an endpoint (AWS, LocalStack, `sam local start-lambda`, moto):
//! `POST /2015-03-31/functions/<name>/invocations`. A function error comes back as a 200 with
//! `X-Amz-Function-Error` and Lambda's error document as the payload: it is a failure of the
//! Task named by the document's `errorType` (`Lambda.Unknown` without one), never a result.

use serde_json::Value;

use super::client::{Body, Request};
use super::errors::{self, Flavour, ServiceError};
use super::json::CallError;
use super::services;
use super::tasks::LAMBDA_TIMEOUT;
use super::Aws;
use crate::task::{CallFailure, TaskOutcome};

/// What Invoke answered.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub status: u16,
    pub payload: Vec<u8>,
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`): the payload is an error document.
    pub function_error: Option<String>,
    pub executed_version: Option<String>,
    pub log_result: Option<String>,
}

/// Invoke `function` (a name, or an ARN whose region is then the one called).
pub fn invoke(
    aws: &Aws,
    function: &str,
    qualifier: Option<&str>,
    invocation_type: Option<&str>,
    payload: &[u8],
) -> Result<Invoked, CallError> {
    let service = services::by_sdk_name("lambda").unwrap_or_else(|| unreachable!("lambda is in the table"));
    let parts: Vec<&str> = function.split(':').collect();
    let region = match parts.as_slice() {
        ["arn", _, "lambda", region, ..] if !region.is_empty() => (*region).to_owned(),
        _ => aws.region().to_owned(),
    };
    let endpoint = aws.endpoint(service, &region)?;
    let name = percent_encoding::utf8_percent_encode(function, percent_encoding::NON_ALPHANUMERIC).to_string();
    let mut url = format!("{}/2015-03-31/functions/{name}/invocations", endpoint.url);
    if let Some(q) = qualifier {
        url.push_str("?Qualifier=");
        url.push_str(&percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC).to_string());
    }
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(t) = invocation_type {
        headers.push(("x-amz-invocation-type".into(), t.to_owned()));
    }
    let request = Request {
        method: "POST",
        url,
        headers,
        body: Body::Bytes(payload),
        signing_name: service.signing_name,
        region,
        s3: false,
        timeout: LAMBDA_TIMEOUT,
    };
    let (status, headers, body) = aws.client().send(request, None)?.read_body(8 * 1024 * 1024)?;
    if !(200..300).contains(&status) {
        return Err(CallError::Service(ServiceError::from_json(status, &headers, &body)));
    }
    let header = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    Ok(Invoked {
        status,
        payload: body,
        function_error: header("x-amz-function-error"),
        executed_version: header("x-amz-executed-version"),
        log_result: header("x-amz-log-result"),
    })
}

/// A function Baton does not run itself, called at the Lambda endpoint: its raw result, or
/// the failure as [`crate::functions`] reports failures of local functions.
pub fn call_function(aws: &Aws, name: &str, payload: &[u8]) -> Result<Vec<u8>, CallFailure> {
    let service = services::by_sdk_name("lambda").unwrap_or_else(|| unreachable!("lambda is in the table"));
    match invoke(aws, name, None, None, payload) {
        Ok(invoked) if invoked.function_error.is_some() => {
            Err(CallFailure::from_document(String::from_utf8_lossy(&invoked.payload).into_owned()))
        }
        Ok(invoked) => Ok(invoked.payload),
        Err(e) => {
            let TaskOutcome::Failed { error, cause } = super::tasks::failure(service, Flavour::Optimized, e) else {
                unreachable!("a failure is a failure")
            };
            Err(CallFailure::Service { error, cause })
        }
    }
}

/// `aws-sdk:lambda:invoke`: `FunctionName`, `Payload`, `Qualifier`, `InvocationType` in;
/// `{"ExecutedVersion", "Payload", "StatusCode"}` out.
pub fn invoke_task(aws: &Aws, input: &Value, flavour: Flavour) -> TaskOutcome {
    let service = services::by_sdk_name("lambda").unwrap_or_else(|| unreachable!("lambda is in the table"));
    let Some(function) = input.get("FunctionName").and_then(Value::as_str) else {
        let e = ServiceError {
            status: 400,
            code: "InvalidParameterValueException".into(),
            message: "The parameter 'FunctionName' is required and must be a string".into(),
            request_id: "null".into(),
        };
        let (error, cause) = errors::name_service_error(service, flavour, &e);
        return TaskOutcome::Failed { error, cause };
    };
    let payload = match input.get("Payload") {
        None | Some(Value::Null) => b"{}".to_vec(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(v) => v.to_string().into_bytes(),
    };
    let text = |k: &str| input.get(k).and_then(Value::as_str);
    match invoke(aws, function, text("Qualifier"), text("InvocationType"), &payload) {
        Ok(invoked) if invoked.function_error.is_some() => {
            let document = String::from_utf8_lossy(&invoked.payload).into_owned();
            let CallFailure::Function { error_type, document } = CallFailure::from_document(document) else {
                unreachable!("a document is a function's failure")
            };
            TaskOutcome::Failed { error: error_type, cause: document }
        }
        Ok(invoked) => {
            let payload = serde_json::from_slice::<Value>(&invoked.payload)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&invoked.payload).into_owned()));
            let mut result = serde_json::json!({"StatusCode": invoked.status, "Payload": payload});
            if let Some(v) = invoked.executed_version {
                result["ExecutedVersion"] = Value::String(v);
            }
            if let Some(v) = invoked.log_result {
                result["LogResult"] = Value::String(v);
            }
            TaskOutcome::Succeeded(result)
        }
        Err(e) => super::tasks::failure(service, flavour, e),
    }
}
