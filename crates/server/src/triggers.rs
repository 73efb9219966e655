//! Triggers: HTTP routes from `[triggers.NAME]` in baton.toml, the role API Gateway plays in
//! front of Step Functions and Lambda on AWS.
//!
//! ```toml
//! [triggers.place-order]           # start an execution with the request as input
//! path = "/orders"
//! method = "POST"                  # default POST
//! state_machine = "OrderProcessing" # a name on this server, or an ARN
//! name_from = "$.orderId"          # optional: the execution's name, from the input
//!
//! [triggers.approve]               # call a function with API Gateway's proxy event
//! path = "/orders/approval"
//! function = "ApproveOrder"
//! ```
//!
//! A state machine trigger answers as StartExecution does, `{"executionArn", "startDate"}`;
//! its input is the JSON body, or for GET the query parameters as an object. A function
//! trigger passes the request as API Gateway's Lambda proxy event (`httpMethod`, `path`,
//! `headers`, `queryStringParameters`, `body`) and answers with what the function returns:
//! `{"statusCode", "headers", "body"}`, or any other JSON as a 200. Handlers are thin: the
//! engine starts executions, the functions module runs functions.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use engine::config::TriggerConfig;
use engine::executions::{ExecutionInput, StartExecution};
use serde_json::{json, Map, Value};

use crate::api::{date, ApiError};
use crate::{AppState, SharedState};

/// Paths Baton serves itself besides the console's, which a trigger may not take.
const RESERVED: [&str; 3] = ["/", "/health", "/metrics"];

/// Whether Baton serves `path` itself: the API, health, metrics, and the console's pages and
/// signed links.
fn reserved(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    RESERVED.contains(&path)
        || crate::console::PATHS.contains(&path)
        || path.starts_with(crate::console::LINKS)
        || path == crate::console::LINKS.trim_end_matches('/')
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("trigger '{0}' uses the path {1}, which Baton serves itself")]
    Reserved(String, String),
    #[error("triggers '{0}' and '{1}' both answer {2} {3}")]
    Duplicate(String, String, String, String),
    #[error("trigger '{0}': the path {1} is not a valid route ({2})")]
    BadPath(String, String, String),
}

/// Check the triggers of a configuration before the server starts.
pub fn check(triggers: &BTreeMap<String, TriggerConfig>) -> Result<(), TriggerError> {
    let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
    for (name, t) in triggers {
        if reserved(&t.path) {
            return Err(TriggerError::Reserved(name.clone(), t.path.clone()));
        }
        if t.path.contains("//") || t.path.contains('*') || t.path.contains('{') || t.path.contains(':') {
            return Err(TriggerError::BadPath(
                name.clone(),
                t.path.clone(),
                "use a plain path such as /orders/approval".into(),
            ));
        }
        let key = (t.path.clone(), t.method.to_ascii_uppercase());
        if let Some(other) = seen.insert(key, name) {
            return Err(TriggerError::Duplicate(other.to_owned(), name.clone(), t.method.clone(), t.path.clone()));
        }
    }
    Ok(())
}

/// The routes of every configured trigger (checked with [`check`] first).
pub fn routes(triggers: &BTreeMap<String, TriggerConfig>) -> Router<SharedState> {
    let mut by_path: BTreeMap<&str, MethodRouter<SharedState>> = BTreeMap::new();
    for (name, t) in triggers {
        let filter = match t.method.to_ascii_uppercase().as_str() {
            "GET" => MethodFilter::GET,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::POST,
        };
        let (name, trigger) = (name.clone(), t.clone());
        let handler = move |state: State<SharedState>, method: Method, uri: Uri, query, headers, body| {
            answer(state, name.clone(), trigger.clone(), method, uri, query, headers, body)
        };
        let route = by_path.remove(t.path.as_str()).unwrap_or_default();
        by_path.insert(t.path.as_str(), route.on(filter, handler));
    }
    by_path.into_iter().fold(Router::new(), |router, (path, methods)| router.route(path, methods))
}

#[allow(clippy::too_many_arguments)]
async fn answer(
    State(state): State<SharedState>,
    name: String,
    trigger: TriggerConfig,
    method: Method,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = TriggerRequest { method, uri, query, headers, body };
    let response = match (&trigger.state_machine, &trigger.function) {
        (Some(machine), _) => start(&state, &trigger, machine, &request).await,
        (None, Some(function)) => call_function(&state, function, &request).await,
        (None, None) => error(StatusCode::INTERNAL_SERVER_ERROR, "Baton.TriggerMisconfigured", "no target"),
    };
    tracing::info!(trigger = %name, status = response.status().as_u16(), "trigger answered");
    response
}

struct TriggerRequest {
    method: Method,
    uri: Uri,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, [("content-type", "application/json")], json!({"__type": code, "message": message}).to_string())
        .into_response()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

/// Start an execution with the request as input.
async fn start(state: &AppState, trigger: &TriggerConfig, machine: &str, request: &TriggerRequest) -> Response {
    let input: Value = if request.method == Method::GET {
        Value::Object(request.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
    } else if request.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidExecutionInput",
                    &format!("Invalid State Machine Execution Input: '{e}'"),
                )
            }
        }
    };
    let name = match &trigger.name_from {
        Some(path) => match field(&input, path) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ Value::Number(_)) => Some(v.to_string()),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidName",
                    &format!("the input has no string or number at {path} to name the execution"),
                )
            }
        },
        None => None,
    };
    let arn = if machine.starts_with("arn:") { machine.to_owned() } else { state.arns.state_machine(machine) };
    let start = StartExecution { name, ..StartExecution::of(&arn, ExecutionInput::from_value(input)) };
    match state.engine.start_execution(start).await.map_err(ApiError::from) {
        Ok(started) => json_response(
            StatusCode::OK,
            &json!({"executionArn": started.arn.as_str(), "startDate": date(started.start)}),
        ),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            json_response(status, &e.body())
        }
    }
}

/// `$.a.b` (or `a.b`): the value at that field path.
fn field<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let path = path.strip_prefix('$').unwrap_or(path);
    path.split('.').filter(|p| !p.is_empty()).try_fold(value, |v, key| v.get(key))
}

/// Call a function with API Gateway's Lambda proxy event; answer with its response.
async fn call_function(state: &AppState, function: &str, request: &TriggerRequest) -> Response {
    let event = proxy_event(request);
    let config = state.engine.config().functions.clone();
    let name = function.to_owned();
    let payload = event.to_string().into_bytes();
    let result = tokio::task::spawn_blocking(move || config.call(&name, payload)).await;
    let raw = match result {
        Ok(Ok(raw)) => raw,
        Ok(Err(failure)) => {
            let (error_type, cause) = failure.error_and_cause();
            tracing::warn!(function, error = error_type, cause, "a trigger's function failed");
            // API Gateway's answer to a failed proxy integration, with the error to go on.
            return json_response(
                StatusCode::BAD_GATEWAY,
                &json!({"message": "Internal server error", "errorType": error_type, "errorMessage": cause}),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "Lambda.ServiceException", &e.to_string()),
    };
    let result: Value =
        serde_json::from_slice(&raw).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into()));
    match result.get("statusCode").and_then(Value::as_u64) {
        Some(code) => {
            let status = u16::try_from(code).ok().and_then(|c| StatusCode::from_u16(c).ok()).unwrap_or(StatusCode::OK);
            let body = match result.get("body") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            let mut response = (status, body).into_response();
            let mut has_type = false;
            if let Some(Value::Object(h)) = result.get("headers") {
                for (k, v) in h {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    if let (Ok(name), Ok(value)) =
                        (axum::http::HeaderName::try_from(k.as_str()), axum::http::HeaderValue::try_from(text.as_str()))
                    {
                        has_type |= name == axum::http::header::CONTENT_TYPE;
                        response.headers_mut().insert(name, value);
                    }
                }
            }
            if !has_type {
                response
                    .headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
            }
            response
        }
        None => json_response(StatusCode::OK, &result),
    }
}

/// API Gateway's Lambda proxy event (REST API, version 1.0) for a request.
fn proxy_event(request: &TriggerRequest) -> Value {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in &request.headers {
        let v = v.to_str().unwrap_or_default().to_owned();
        headers.insert(k.as_str().to_owned(), Value::String(v.clone()));
        if let Some(Value::Array(list)) = multi.get_mut(k.as_str()) {
            list.push(Value::String(v));
        } else {
            multi.insert(k.as_str().to_owned(), json!([v]));
        }
    }
    let query: Map<String, Value> = request.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let multi_query: Map<String, Value> = request.query.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let body = if request.body.is_empty() {
        Value::Null
    } else {
        Value::String(String::from_utf8_lossy(&request.body).into_owned())
    };
    let path = request.uri.path().to_owned();
    json!({
        "resource": path,
        "path": path,
        "httpMethod": request.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { Value::Object(multi_query) },
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {"resourcePath": path, "httpMethod": request.method.as_str(), "path": path},
        "body": body,
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(path: &str, method: &str) -> TriggerConfig {
        TriggerConfig {
            path: path.into(),
            method: method.into(),
            state_machine: Some("m".into()),
            function: None,
            name_from: None,
        }
    }

    #[test]
    fn reserved_and_duplicate_routes_are_refused() {
        let mut t = BTreeMap::new();
        t.insert("a".to_owned(), trigger("/health", "GET"));
        assert!(matches!(check(&t), Err(TriggerError::Reserved(..))));
        for console in ["/inbox", "/inbox/answer/", "/login", "/link/x", "/execution"] {
            let t = BTreeMap::from([("a".to_owned(), trigger(console, "POST"))]);
            assert!(matches!(check(&t), Err(TriggerError::Reserved(..))), "{console}");
        }
        let mut t = BTreeMap::new();
        t.insert("a".to_owned(), trigger("/orders", "POST"));
        t.insert("b".to_owned(), trigger("/orders", "post"));
        assert!(matches!(check(&t), Err(TriggerError::Duplicate(..))));
        let mut t = BTreeMap::new();
        t.insert("a".to_owned(), trigger("/orders", "POST"));
        t.insert("b".to_owned(), trigger("/orders", "GET"));
        assert!(check(&t).is_ok());
        // Two methods on one path make one route.
        let _ = routes(&t);
    }

    #[test]
    fn names_come_from_a_field_path() {
        let v = json!({"order": {"id": "A-1"}});
        assert_eq!(field(&v, "$.order.id"), Some(&json!("A-1")));
        assert_eq!(field(&v, "order.id"), Some(&json!("A-1")));
        assert_eq!(field(&v, "$.missing"), None);
    }
}
