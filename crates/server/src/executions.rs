//! Executions: start (durable and synchronous Express), stop, describe, list, history,
//! redrive. Each action parses its request, calls one operation of the engine
//! (`engine::executions`) and shapes the answer.

use asl::interpreter::Status;
use engine::executions::{ExecutionInput, ExecutionRow, ListExecutions, StartExecution};
use engine::page::Page;
use engine::ExecutionStatus;
use serde_json::{json, Map, Value};

use crate::api::{date, next_token, ApiError, ApiResult, Request, MAX_CAUSE, MAX_ERROR};
use crate::AppState;

/// The execution input: JSON text, `{}` when absent, parsed once.
fn read_input(req: &Request<'_>) -> Result<ExecutionInput, ApiError> {
    match req.str("input")? {
        Some(text) => Ok(ExecutionInput::parse(text)?),
        None => Ok(ExecutionInput::empty()),
    }
}

/// The start a StartExecution or StartSyncExecution request asks for.
fn start_of(req: &Request<'_>) -> Result<StartExecution, ApiError> {
    let state_machine_arn = req.required_str("stateMachineArn")?;
    let name = req.str("name")?.map(str::to_owned);
    let input = read_input(req)?;
    Ok(StartExecution { name, started_by: req.caller(), ..StartExecution::of(state_machine_arn, input) })
}

pub async fn start(state: &AppState, req: Request<'_>) -> ApiResult {
    let started = state.engine.start_execution(start_of(&req)?).await?;
    Ok(json!({"executionArn": started.arn.as_str(), "startDate": date(started.start)}))
}

pub async fn start_sync(state: &AppState, req: Request<'_>) -> ApiResult {
    let run = state.engine.start_sync_execution(start_of(&req)?).await?;
    let mut out = json!({
        "executionArn": run.arn.as_str(),
        "stateMachineArn": run.state_machine_arn,
        "name": run.name,
        "startDate": date(run.start),
        "stopDate": date(run.stop),
        "input": run.input,
        "inputDetails": {"included": true},
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": (run.stop - run.start).max(100)},
    });
    match &run.status {
        Status::Succeeded { output } => {
            out["status"] = json!("SUCCEEDED");
            out["output"] = json!(output.to_string());
            out["outputDetails"] = json!({"included": true});
        }
        Status::Failed { error, cause } | Status::Aborted { error, cause } | Status::TimedOut { error, cause } => {
            out["status"] = json!(if matches!(run.status, Status::TimedOut { .. }) { "TIMED_OUT" } else { "FAILED" });
            if let Some(e) = error {
                out["error"] = json!(e);
            }
            if let Some(c) = cause {
                out["cause"] = json!(c);
            }
        }
        Status::Running => out["status"] = json!("FAILED"),
    }
    Ok(out)
}

pub async fn stop(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.execution_arn("executionArn")?;
    let error = req.str_at_most("error", MAX_ERROR)?.map(str::to_owned);
    let cause = req.str_at_most("cause", MAX_CAUSE)?.map(str::to_owned);
    let at = state.engine.stop_execution(&arn, error, cause).await?;
    Ok(json!({ "stopDate": date(at) }))
}

fn redrive_status(row: &ExecutionRow) -> (&'static str, Option<String>) {
    match row.status {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => ("REDRIVABLE", None),
        other => ("NOT_REDRIVABLE", Some(format!("Execution is {other} and cannot be redriven"))),
    }
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.execution_arn("executionArn")?;
    let row = state.engine.describe_execution(&arn).await?;
    let mut out = json!({
        "executionArn": row.arn,
        "stateMachineArn": row.state_machine_arn,
        "name": row.name,
        "status": row.status,
        "startDate": date(row.start),
        "input": row.input,
        "inputDetails": {"included": true},
        "redriveCount": row.redrive_count,
    });
    let (redrive, reason) = redrive_status(&row);
    out["redriveStatus"] = json!(redrive);
    if let Some(r) = reason {
        out["redriveStatusReason"] = json!(r);
    }
    if let Some(stop) = row.stop {
        out["stopDate"] = date(stop);
    }
    if let Some(o) = &row.output {
        out["output"] = json!(o);
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(e) = &row.error {
        out["error"] = json!(e);
    }
    if let Some(c) = &row.cause {
        out["cause"] = json!(c);
    }
    if let Some(v) = &row.version_arn {
        out["stateMachineVersionArn"] = json!(v);
    }
    if let Some(a) = &row.alias_arn {
        out["stateMachineAliasArn"] = json!(a);
    }
    if let Some(d) = row.redrive_date {
        out["redriveDate"] = date(d);
    }
    let link = row.parent.as_deref().and_then(|p| serde_json::from_str::<engine::service::ParentLink>(p).ok());
    if let Some(run) = link.and_then(|l| l.map_run_arn) {
        out["mapRunArn"] = json!(run);
    }
    Ok(out)
}

pub async fn describe_machine_for(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.execution_arn("executionArn")?;
    let (row, machine) = state.engine.state_machine_for_execution(&arn).await?;
    let mut out = json!({
        "stateMachineArn": row.version_arn.clone().unwrap_or_else(|| row.state_machine_arn.clone()),
        "name": machine.as_ref().map_or_else(|| row.state_machine_arn.rsplit(':').next().unwrap_or_default().to_owned(), |m| m.name.clone()),
        "definition": row.definition,
        "roleArn": machine.as_ref().map(|m| m.role_arn.clone()).unwrap_or_default(),
        "updateDate": date(machine.as_ref().map_or(row.start, |m| m.updated)),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    });
    if let Some(m) = &machine {
        out["revisionId"] = json!(m.revision_id);
    }
    Ok(out)
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    if let Some(map_run) = req.str("mapRunArn")? {
        return crate::map_runs::list_executions(state, &req, map_run).await;
    }
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let machine = req.machine_arn("stateMachineArn")?;
    let status = req.str("statusFilter")?;
    let page = state.engine.list_executions(ListExecutions { machine, status, after: after.as_deref(), limit }).await?;
    Ok(executions_page(&page, None))
}

/// A ListExecutions answer: each execution as AWS lists it (with the Map Run it belongs to,
/// when listed by `mapRunArn`) and the next page's token.
pub fn executions_page(page: &Page<ExecutionRow>, map_run_arn: Option<&str>) -> Value {
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let mut e = json!({
                "executionArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "name": r.name,
                "status": r.status,
                "startDate": date(r.start),
                "redriveCount": r.redrive_count,
            });
            if let Some(s) = r.stop {
                e["stopDate"] = date(s);
            }
            if let Some(v) = &r.version_arn {
                e["stateMachineVersionArn"] = json!(v);
            }
            if let Some(a) = &r.alias_arn {
                e["stateMachineAliasArn"] = json!(a);
            }
            if let Some(m) = map_run_arn {
                e["mapRunArn"] = json!(m);
            }
            e
        })
        .collect();
    let mut out = json!({ "executions": items });
    if let Some(t) = next_token(page) {
        out["nextToken"] = json!(t);
    }
    out
}

/// Drop input/output data from a stored event (`includeExecutionData: false`).
fn strip_data(event: &mut Value) {
    if let Some(obj) = event.as_object_mut() {
        for (key, details) in obj.iter_mut() {
            if key.ends_with("EventDetails") {
                if let Some(d) = details.as_object_mut() {
                    for field in ["input", "output", "parameters", "inputDetails", "outputDetails"] {
                        d.remove(field);
                    }
                }
            }
        }
    }
}

pub async fn history(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.execution_arn("executionArn")?;
    let limit = req.max_results()?;
    let reverse = req.bool("reverseOrder")?.unwrap_or(false);
    let include_data = req.bool("includeExecutionData")?.unwrap_or(true);
    let after = match req.next_token()? {
        Some(t) => {
            Some(t.parse::<i64>().map_err(|_| ApiError::new("InvalidToken", "Invalid Token: 'bad history token'"))?)
        }
        None => None,
    };
    let page = state.engine.execution_history(&arn, after, limit, reverse).await?;
    let mut events = Vec::with_capacity(page.items.len());
    for (_, text) in &page.items {
        let mut event: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if !include_data {
            strip_data(&mut event);
        }
        events.push(event);
    }
    let mut out = Map::new();
    out.insert("events".into(), Value::Array(events));
    if let Some(t) = next_token(&page) {
        out.insert("nextToken".into(), json!(t));
    }
    Ok(Value::Object(out))
}

pub async fn redrive(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.execution_arn("executionArn")?;
    let at = state.engine.redrive_execution(&arn).await?;
    Ok(json!({ "redriveDate": date(at) }))
}
