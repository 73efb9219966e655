//! Activities (queues of work for outside workers) and the callback API: GetActivityTask,
//! SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat. Each action parses its request, calls
//! one engine operation and shapes the answer.

use std::time::Duration;

use serde_json::{json, Value};

use crate::api::{date, next_token, ApiResult, Request, MAX_CAUSE, MAX_ERROR};
use crate::AppState;

pub async fn create(state: &AppState, req: Request<'_>) -> ApiResult {
    let name = req.required_str("name")?;
    let activity = state.engine.create_activity(name, req.tags()?).await?;
    Ok(json!({"activityArn": activity.arn, "creationDate": date(activity.created)}))
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let a = state.engine.describe_activity(req.required_str("activityArn")?).await?;
    Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": date(a.created)}))
}

pub async fn delete(state: &AppState, req: Request<'_>) -> ApiResult {
    state.engine.delete_activity(req.required_str("activityArn")?).await?;
    Ok(json!({}))
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let page = state.engine.list_activities(after.as_deref(), limit).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": date(a.created)}))
        .collect();
    let mut out = json!({ "activities": items });
    if let Some(t) = next_token(&page) {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn get_task(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("activityArn")?;
    let worker = req.str("workerName")?;
    let wait = Duration::from_millis(state.activity_poll_ms);
    match state.engine.get_activity_task(arn, worker, wait).await? {
        Some(task) => Ok(json!({"taskToken": task.token.as_str(), "input": task.input})),
        // Nothing arrived within the long poll: AWS answers with no token.
        None => Ok(json!({})),
    }
}

pub async fn send_success(state: &AppState, req: Request<'_>) -> ApiResult {
    let token = req.task_token()?;
    let output = req.required_str("output")?;
    state.engine.send_task_success(&token, output).await?;
    Ok(json!({}))
}

pub async fn send_failure(state: &AppState, req: Request<'_>) -> ApiResult {
    let token = req.task_token()?;
    let error = req.str_at_most("error", MAX_ERROR)?.map(str::to_owned);
    let cause = req.str_at_most("cause", MAX_CAUSE)?.map(str::to_owned);
    state.engine.send_task_failure(&token, error, cause).await?;
    Ok(json!({}))
}

pub async fn send_heartbeat(state: &AppState, req: Request<'_>) -> ApiResult {
    let token = req.task_token()?;
    state.engine.send_task_heartbeat(&token).await?;
    Ok(json!({}))
}
