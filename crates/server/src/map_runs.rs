//! DescribeMapRun, ListMapRuns and UpdateMapRun: a distributed Map's Map Runs, with item
//! and execution counts by status; ListExecutions with a `mapRunArn`.

use asl::interpreter::ItemCounts;
use engine::arn::check_map_run;
use engine::page::Page;
use serde_json::{json, Value};

use crate::api::{date, next_token, ApiError, ApiResult, Request};
use crate::AppState;

fn counts(c: &ItemCounts) -> Value {
    json!({
        "pending": c.pending,
        "running": c.running,
        "succeeded": c.succeeded,
        "failed": c.failed,
        "timedOut": 0,
        "aborted": c.aborted,
        "total": c.total,
        "resultsWritten": c.results_written,
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("mapRunArn")?;
    check_map_run(arn)?;
    let (execution_arn, run) = state.engine.map_run(arn).await?;
    let mut out = json!({
        "mapRunArn": run.arn,
        "executionArn": execution_arn,
        "status": run.status,
        "startDate": date(run.start),
        "maxConcurrency": run.max_concurrency,
        "toleratedFailurePercentage": run.tolerated_failure_percentage,
        "toleratedFailureCount": run.tolerated_failure_count,
        "itemCounts": counts(&run.counts),
        "executionCounts": counts(run.execution_counts.as_ref().unwrap_or(&run.counts)),
        "redriveCount": run.redrive_count,
    });
    if let Some(stop) = run.stop {
        out["stopDate"] = date(stop);
    }
    if let Some(redriven) = run.redrive_date {
        out["redriveDate"] = date(redriven);
    }
    Ok(out)
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.execution_arn("executionArn")?;
    let execution_arn = arn.as_str();
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let (state_machine_arn, runs) = state.engine.list_map_runs(&arn).await?;
    let page = Page::of_all(runs, |r| r.arn.clone(), after.as_deref(), limit);
    let listed: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let mut v = json!({
                "executionArn": execution_arn,
                "mapRunArn": r.arn,
                "stateMachineArn": state_machine_arn,
                "startDate": date(r.start),
            });
            if let Some(stop) = r.stop {
                v["stopDate"] = date(stop);
            }
            v
        })
        .collect();
    let mut out = json!({"mapRuns": listed});
    if let Some(t) = next_token(&page) {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn update(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("mapRunArn")?;
    check_map_run(arn)?;
    let max_concurrency = match req.value("maxConcurrency") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'maxConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))
        })?),
    };
    let tolerated_count = match req.value("toleratedFailureCount") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'toleratedFailureCount' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))
        })?),
    };
    let tolerated_percentage = match req.value("toleratedFailurePercentage") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => Some(p),
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'toleratedFailurePercentage' failed to satisfy constraint: Member must have value between 0 and 100"
                )))
            }
        },
    };
    if max_concurrency.is_none() && tolerated_count.is_none() && tolerated_percentage.is_none() {
        return Err(ApiError::validation(
            "At least one of the parameters maxConcurrency, toleratedFailurePercentage or toleratedFailureCount must be given",
        ));
    }
    state.engine.update_map_run(arn, max_concurrency, tolerated_count, tolerated_percentage).await?;
    Ok(json!({}))
}

/// ListExecutions with `mapRunArn`: the Map Run's child executions, in the order of their
/// items.
pub async fn list_executions(state: &AppState, req: &Request<'_>, arn: &str) -> ApiResult {
    check_map_run(arn)?;
    if req.str("stateMachineArn")?.is_some() {
        return Err(ApiError::validation("Only one of stateMachineArn and mapRunArn may be given"));
    }
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let status = req.str("statusFilter")?;
    state.engine.map_run(arn).await?;
    let page = state.engine.map_run_children(arn, status, after.as_deref(), limit).await?;
    Ok(crate::executions::executions_page(&page, Some(arn)))
}
