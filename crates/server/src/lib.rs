//! Baton's HTTP front: the Step Functions JSON protocol on `POST /`, `GET /health`,
//! `GET /metrics` (Prometheus text), the web console ([`console`]) and the routes of configured
//! triggers. Handlers are thin: parse, call one engine operation, shape the answer; the store
//! is reached only through the engine (pages read through its `ConsoleView`); every error
//! leaves through [`api::ApiError`].

pub mod activities;
pub mod api;
pub mod auth;
pub mod console;
pub mod executions;
pub mod machines;
pub mod map_runs;
pub mod metrics;
pub mod nested;
pub mod serve;
pub mod sqs;
pub mod tags;
pub mod test_state;
pub mod triggers;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::service::Engine;
use serde_json::{Map, Value};

use crate::api::{ApiError, ApiResult, Request};
use engine::arn::Arns;

/// Every Step Functions action served here: `/metrics` labels requests with these names
/// only, so a client cannot add label values of its own.
pub const ACTIONS: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ListStateMachines",
    "ValidateStateMachineDefinition",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
    "StartExecution",
    "StartSyncExecution",
    "StopExecution",
    "DescribeExecution",
    "DescribeStateMachineForExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "RedriveExecution",
    "CreateActivity",
    "DescribeActivity",
    "DeleteActivity",
    "ListActivities",
    "GetActivityTask",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TestState",
    "DescribeMapRun",
    "ListMapRuns",
    "UpdateMapRun",
];

/// The actions the console's pages call on `POST /` with a session instead of a signature.
const CONSOLE_ACTIONS: &[&str] = &["StartExecution", "StopExecution", "RedriveExecution"];

pub struct AppState {
    pub engine: Engine,
    pub arns: Arns,
    pub metrics: metrics::RequestMetrics,
    /// How long GetActivityTask waits for work (AWS: 60 s).
    pub activity_poll_ms: u64,
    /// The built-in queues, served over the SQS protocol.
    pub queues: engine::queues::Queues,
    /// The topics of baton.toml (their delivery counters show in `/metrics`).
    pub topics: engine::topics::Topics,
    /// The built-in S3, when S3 calls are not configured to go elsewhere.
    pub s3: Option<s3::Endpoint>,
    /// Failed console sign-ins, to slow down password guessing.
    pub sign_ins: console::access::SignInThrottle,
}

pub type SharedState = Arc<AppState>;

/// The whole HTTP surface.
pub fn router(state: SharedState) -> Router {
    let triggers = triggers::routes(&state.engine.config().functions.triggers);
    Router::new()
        .route("/", post(dispatch))
        .merge(console::routes(state.clone()))
        // Triggers are called from anywhere by design; the API and the console are not.
        .route_layer(axum::middleware::from_fn(console::origin::refuse_cross_site))
        .route("/health", get(health))
        .route("/metrics", get(metrics::render))
        .merge(triggers)
        .layer(axum::middleware::from_fn_with_state(state.clone(), s3_front))
        .with_state(state)
}

/// Requests signed for S3 go to the built-in S3 (one port serves Step Functions, SQS and S3,
/// told apart by the service their signature names); everything else goes on.
async fn s3_front(
    State(state): State<SharedState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(s3) = &state.s3 else { return next.run(request).await };
    let (parts, body) = request.into_parts();
    if !s3::is_s3_request(&parts) {
        return next.run(axum::extract::Request::from_parts(parts, body)).await;
    }
    let started = Instant::now();
    let response = s3.call(axum::extract::Request::from_parts(parts, body)).await;
    let ok = response.status().is_success() || response.status().is_redirection();
    state.metrics.observe("s3", started.elapsed(), ok);
    response.map(axum::body::Body::new)
}

async fn health() -> impl IntoResponse {
    (StatusCode::OK, [("content-type", "application/json")], r#"{"status":"ok"}"#)
}

pub(crate) const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

fn respond(result: ApiResult) -> Response {
    match result {
        Ok(body) => (StatusCode::OK, [("content-type", JSON_CONTENT_TYPE)], body.to_string()).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, [("content-type", JSON_CONTENT_TYPE)], e.body().to_string()).into_response()
        }
    }
}

/// Who makes an API call, or why it is refused. Without `[credentials]` anyone may call (the
/// caller is the console session or the access key id the request names); with them, a
/// call is signed by one of those keys (the caller is the key's user, else the key), or
/// comes from the console's own pages with a signed-in person's session.
async fn authenticate(
    state: &SharedState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, auth::Denied> {
    let credentials = &state.engine.config().functions.credentials;
    if credentials.is_empty() {
        return Ok(console::access::caller(state, headers).await);
    }
    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
        // The console's buttons, with the signed-in person's session; nothing more.
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let from_console = target.strip_prefix("AWSStepFunctions.").is_some_and(|a| CONSOLE_ACTIONS.contains(&a));
        return match console::access::session_user(state, headers).await {
            Some(user) if from_console => Ok(Some(user.name)),
            _ => Err(auth::Denied::Missing),
        };
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let credential = auth::verify(credentials, "POST", path, headers, body, engine::clock::system_time())?;
    Ok(Some(credential.user.clone().unwrap_or_else(|| credential.access_key_id.clone())))
}

async fn dispatch(State(state): State<SharedState>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let caller = match authenticate(&state, &uri, &headers, &body).await {
        Ok(caller) => caller,
        Err(denied) => {
            tracing::info!(target, code = denied.code(), reason = %denied, "API call refused");
            if let Some(action) = target.strip_prefix("AmazonSQS.") {
                state.metrics.observe(&metrics::action_label("sqs:", sqs::ACTIONS, action), started.elapsed(), false);
                return sqs::denied(&denied);
            }
            let action = target.strip_prefix("AWSStepFunctions.").unwrap_or_default();
            state.metrics.observe(&metrics::action_label("", ACTIONS, action), started.elapsed(), false);
            return respond(Err(ApiError::new(denied.code(), denied.to_string()).status(denied.status())));
        }
    };
    if let Some(action) = target.strip_prefix("AmazonSQS.") {
        let (response, ok) = sqs::dispatch(&state, action, &headers, &body).await;
        state.metrics.observe(&metrics::action_label("sqs:", sqs::ACTIONS, action), started.elapsed(), ok);
        return response;
    }
    let action = target.strip_prefix("AWSStepFunctions.").unwrap_or_default().to_owned();
    let result = handle(&state, &target, &action, &body, caller).await;
    if let Err(e) = &result {
        tracing::debug!(action, code = e.code, message = %e.message, "request failed");
    }
    state.metrics.observe(&metrics::action_label("", ACTIONS, &action), started.elapsed(), result.is_ok());
    respond(result)
}

async fn handle(state: &AppState, target: &str, action: &str, body: &[u8], caller: Option<String>) -> ApiResult {
    if action.is_empty() {
        return Err(ApiError::new("UnknownOperationException", format!("Unknown target: '{target}'")));
    }
    let parsed: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::new("SerializationException", format!("The request body is not valid JSON: {e}")))?
    };
    let Value::Object(map) = parsed else {
        return Err(ApiError::new("SerializationException", "The request body must be a JSON object"));
    };
    let req = Request::new(&map).with_caller(caller);
    match action {
        "CreateStateMachine" => machines::create(state, req).await,
        "DescribeStateMachine" => machines::describe(state, req).await,
        "UpdateStateMachine" => machines::update(state, req).await,
        "DeleteStateMachine" => machines::delete(state, req).await,
        "ListStateMachines" => machines::list(state, req).await,
        "ValidateStateMachineDefinition" => machines::validate(state, req).await,
        "PublishStateMachineVersion" => machines::publish(state, req).await,
        "ListStateMachineVersions" => machines::list_versions(state, req).await,
        "DeleteStateMachineVersion" => machines::delete_version(state, req).await,
        "CreateStateMachineAlias" => machines::create_alias(state, req).await,
        "DescribeStateMachineAlias" => machines::describe_alias(state, req).await,
        "UpdateStateMachineAlias" => machines::update_alias(state, req).await,
        "DeleteStateMachineAlias" => machines::delete_alias(state, req).await,
        "ListStateMachineAliases" => machines::list_aliases(state, req).await,
        "StartExecution" => executions::start(state, req).await,
        "StartSyncExecution" => executions::start_sync(state, req).await,
        "StopExecution" => executions::stop(state, req).await,
        "DescribeExecution" => executions::describe(state, req).await,
        "DescribeStateMachineForExecution" => executions::describe_machine_for(state, req).await,
        "ListExecutions" => executions::list(state, req).await,
        "GetExecutionHistory" => executions::history(state, req).await,
        "RedriveExecution" => executions::redrive(state, req).await,
        "CreateActivity" => activities::create(state, req).await,
        "DescribeActivity" => activities::describe(state, req).await,
        "DeleteActivity" => activities::delete(state, req).await,
        "ListActivities" => activities::list(state, req).await,
        "GetActivityTask" => activities::get_task(state, req).await,
        "SendTaskSuccess" => activities::send_success(state, req).await,
        "SendTaskFailure" => activities::send_failure(state, req).await,
        "SendTaskHeartbeat" => activities::send_heartbeat(state, req).await,
        "TagResource" => tags::tag(state, req).await,
        "UntagResource" => tags::untag(state, req).await,
        "ListTagsForResource" => tags::list(state, req).await,
        "TestState" => test_state::test_state(state, req).await,
        "DescribeMapRun" => map_runs::describe(state, req).await,
        "ListMapRuns" => map_runs::list(state, req).await,
        "UpdateMapRun" => map_runs::update(state, req).await,
        other => Err(ApiError::new("UnknownOperationException", format!("Unknown operation: '{other}'"))),
    }
}
