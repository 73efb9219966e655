//! Activities (queues of work for outside workers) and the callback API: GetActivityTask,
//! SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.

use std::time::Duration;

use serde_json::{json, Value};
use store::{ActivityRow, StoreError};

use crate::api::{check_name, date, encode_token, ApiError, ApiResult, Request, MAX_CAUSE, MAX_ERROR};
use crate::arn::check_activity;
use crate::AppState;

fn no_activity(arn: &str) -> ApiError {
    ApiError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'"))
}

pub async fn create(state: &AppState, req: Request<'_>) -> ApiResult {
    let name = req.required_str("name")?;
    check_name(name)?;
    let arn = state.arns.activity(name);
    let row = ActivityRow { arn: arn.clone(), name: name.to_owned(), created: engine::clock::now_ms() };
    let created = match state.engine.store().insert_activity(&row).await {
        Ok(()) => {
            if let Some(tags) = req.value("tags") {
                crate::tags::store_tags(state, &arn, tags).await?;
            }
            row.created
        }
        // Idempotent by name.
        Err(StoreError::AlreadyExists(_)) => {
            state.engine.store().get_activity(&arn).await?.map_or(row.created, |a| a.created)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(json!({"activityArn": arn, "creationDate": date(created)}))
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("activityArn")?;
    check_activity(arn)?;
    let a = state.engine.store().get_activity(arn).await?.ok_or_else(|| no_activity(arn))?;
    Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": date(a.created)}))
}

pub async fn delete(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("activityArn")?;
    check_activity(arn)?;
    state.engine.store().delete_activity(arn).await?;
    Ok(json!({}))
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let rows = state.engine.store().list_activities(after.as_deref(), limit + 1).await?;
    let more = rows.len() > limit;
    let items: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": date(a.created)}))
        .collect();
    let mut out = json!({ "activities": items });
    if more {
        if let Some(last) = rows.get(limit - 1) {
            out["nextToken"] = json!(encode_token(&last.arn));
        }
    }
    Ok(out)
}

pub async fn get_task(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("activityArn")?;
    check_activity(arn)?;
    state.engine.store().get_activity(arn).await?.ok_or_else(|| no_activity(arn))?;
    let worker = req.str("workerName")?;
    let wait = Duration::from_millis(state.activity_poll_ms);
    match state.engine.get_activity_task(arn, worker, wait).await? {
        Some(task) => Ok(json!({"taskToken": task.token, "input": task.input})),
        // Nothing arrived within the long poll: AWS answers with no token.
        None => Ok(json!({})),
    }
}

fn token(req: &Request<'_>) -> Result<String, ApiError> {
    let t = req.required_str("taskToken")?;
    if t.is_empty() || t.len() > 2048 {
        return Err(ApiError::new("InvalidToken", "Invalid Token: 'Invalid token'"));
    }
    Ok(t.to_owned())
}

pub async fn send_success(state: &AppState, req: Request<'_>) -> ApiResult {
    let token = token(&req)?;
    let output = req.required_str("output")?;
    if output.len() > 256 * 1024 {
        return Err(ApiError::new(
            "InvalidOutput",
            "Invalid Output: 'The output exceeds the maximum size of 262144 bytes'",
        ));
    }
    state.engine.send_task_success(&token, output).await?;
    Ok(json!({}))
}

pub async fn send_failure(state: &AppState, req: Request<'_>) -> ApiResult {
    let token = token(&req)?;
    let error = req.str_at_most("error", MAX_ERROR)?.map(str::to_owned);
    let cause = req.str_at_most("cause", MAX_CAUSE)?.map(str::to_owned);
    state.engine.send_task_failure(&token, error, cause).await?;
    Ok(json!({}))
}

pub async fn send_heartbeat(state: &AppState, req: Request<'_>) -> ApiResult {
    let token = token(&req)?;
    state.engine.send_task_heartbeat(&token).await?;
    Ok(json!({}))
}
