//! Executions: start (durable and synchronous Express), stop, describe, list, history,
//! redrive.

use asl::interpreter::Status;
use engine::clock::now_ms;
use engine::local::{run_local, LocalOptions};
use engine::mocks::{split_test_case, TestCaseRef, UnknownTestCase};
use serde_json::{json, Map, Value};
use store::ExecutionRow;

use crate::api::{check_name, date, encode_token, ApiError, ApiResult, Request, MAX_CAUSE, MAX_ERROR};
use crate::arn::{check_execution, parse_machine};
use crate::machines::{load_machine, resolve_for_start};
use crate::AppState;

const MAX_PAYLOAD: usize = 256 * 1024;

fn no_execution(arn: &str) -> ApiError {
    ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

/// The execution input: JSON text, `{}` when absent.
fn read_input(req: &Request<'_>) -> Result<String, ApiError> {
    let input = req.str("input")?.unwrap_or("{}");
    if input.len() > MAX_PAYLOAD {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            "Invalid State Machine Execution Input: 'The input exceeds the maximum size of 262144 bytes'",
        ));
    }
    serde_json::from_str::<Value>(input)
        .map_err(|e| ApiError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")))?;
    Ok(input.to_owned())
}

pub async fn start(state: &AppState, req: Request<'_>) -> ApiResult {
    let sm_arn = req.required_str("stateMachineArn")?;
    let name = req.str("name")?;
    let input = read_input(&req)?;
    let (arn, start) = start_execution(state, sm_arn, name, input, None, req.caller()).await?;
    Ok(json!({"executionArn": arn, "startDate": date(start)}))
}

/// Start an execution of the machine, version or alias `sm_arn` (from StartExecution, or from
/// a Task through `states:startExecution`, then with `parent` set). `started_by` names who
/// asked, when known. Returns its ARN and start.
pub async fn start_execution(
    state: &AppState,
    sm_arn: &str,
    name: Option<&str>,
    input: String,
    parent: Option<String>,
    started_by: Option<String>,
) -> Result<(String, i64), ApiError> {
    let (sm_arn, test_case) = split_test_case(sm_arn);
    let resolved = resolve_for_start(state, sm_arn).await?;
    let mock = mock_test_case(state, &resolved.machine.name, test_case)?;
    let name = match name {
        Some(n) => {
            check_name(n)?;
            n.to_owned()
        }
        None => state.engine.new_name(),
    };
    let machine = &resolved.machine;
    if machine.kind == "EXPRESS" {
        // Express executions are fire-and-forget: they run in memory and keep no history.
        let arn = state.arns.express_execution(&machine.name, &name, &state.engine.new_name());
        let start = now_ms();
        let def = state.engine.definition(&resolved.definition)?;
        let express = Express::of(state, &machine.name, &name, mock);
        let input_value: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
        tokio::task::spawn_blocking(move || {
            run_local(&def, input_value, express.options());
        });
        return Ok((arn, start));
    }
    let arn = state.arns.execution(&machine.name, &name);
    let row = ExecutionRow {
        arn: arn.clone(),
        state_machine_arn: machine.arn.clone(),
        name: name.clone(),
        status: "RUNNING".into(),
        input: input.clone(),
        output: None,
        error: None,
        cause: None,
        start: now_ms(),
        stop: None,
        version_arn: resolved.version_arn.clone(),
        alias_arn: resolved.alias_arn.clone(),
        definition: resolved.definition.clone(),
        redrive_count: 0,
        redrive_date: None,
        parent,
        version: 0,
        started_by,
        mock_test_case: mock.map(|m| m.test_case),
    };
    match state.engine.start_execution(row, &machine.name, &resolved.role_arn).await {
        Ok(started) => Ok((started.execution_arn, started.start)),
        Err(engine::service::EngineError::ExecutionAlreadyExists(_)) => {
            // Idempotent while running with the same input.
            let existing = state.engine.store().get_execution(&arn).await?;
            match existing {
                Some(e) if e.status == "RUNNING" && e.input == input => Ok((e.arn, e.start)),
                _ => Err(ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'"))),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// What an Express execution runs with. It reaches every integration a Standard one does
/// (those AWS allows for Express: the patterns it refuses are refused when the machine is
/// created).
struct Express {
    config: engine::config::Config,
    integrations: engine::integrations::Integrations,
    machine: String,
    name: String,
    mock: Option<TestCaseRef>,
}

impl Express {
    fn of(state: &AppState, machine: &str, name: &str, mock: Option<TestCaseRef>) -> Self {
        let config = state.engine.config();
        Self {
            config: config.functions.clone(),
            integrations: config.integrations.clone(),
            machine: machine.to_owned(),
            name: name.to_owned(),
            mock,
        }
    }

    fn options(self) -> LocalOptions {
        LocalOptions {
            config: self.config,
            integrations: Some(self.integrations),
            fast_forward: false,
            state_machine_name: self.machine,
            execution_name: self.name,
            random: None,
            on_events: None,
            mock: self.mock,
        }
    }
}

/// The mock test case `stateMachineArn#TestCase` names, checked against the loaded
/// MockConfigFile. Step Functions Local and LocalStack answer an unknown one with
/// `InvalidName`, as here.
fn mock_test_case(state: &AppState, machine: &str, case: Option<&str>) -> Result<Option<TestCaseRef>, ApiError> {
    let Some(case) = case else { return Ok(None) };
    let checked = match state.engine.config().integrations.mocks() {
        Some(mocks) => mocks.config().test_case(machine, case).map(|_| ()),
        None => Err(UnknownTestCase::NoConfig { machine: machine.to_owned(), case: case.to_owned() }),
    };
    checked.map_err(|e| ApiError::new("InvalidName", e.to_string()))?;
    Ok(Some(TestCaseRef { state_machine: machine.to_owned(), test_case: case.to_owned() }))
}

pub async fn start_sync(state: &AppState, req: Request<'_>) -> ApiResult {
    let (sm_arn, test_case) = split_test_case(req.required_str("stateMachineArn")?);
    let resolved = resolve_for_start(state, sm_arn).await?;
    let machine = resolved.machine.clone();
    let mock = mock_test_case(state, &machine.name, test_case)?;
    if machine.kind != "EXPRESS" {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let name = match req.str("name")? {
        Some(n) => {
            check_name(n)?;
            n.to_owned()
        }
        None => state.engine.new_name(),
    };
    let input = read_input(&req)?;
    let def = state.engine.definition(&resolved.definition)?;
    let arn = state.arns.express_execution(&machine.name, &name, &state.engine.new_name());
    let start = now_ms();
    let input_value: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
    let express = Express::of(state, &machine.name, &name, mock);
    let run = tokio::task::spawn_blocking(move || run_local(&def, input_value, express.options()))
        .await
        .map_err(|e| ApiError::new("InternalFailure", e.to_string()).status(500))?;
    let stop = now_ms();
    let mut out = json!({
        "executionArn": arn,
        "stateMachineArn": machine.arn,
        "name": name,
        "startDate": date(start),
        "stopDate": date(stop),
        "input": input,
        "inputDetails": {"included": true},
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": (stop - start).max(100)},
    });
    match run.status() {
        Status::Succeeded { output } => {
            out["status"] = json!("SUCCEEDED");
            out["output"] = json!(output.to_string());
            out["outputDetails"] = json!({"included": true});
        }
        Status::Failed { error, cause } | Status::Aborted { error, cause } | Status::TimedOut { error, cause } => {
            out["status"] = json!(if matches!(run.status(), Status::TimedOut { .. }) { "TIMED_OUT" } else { "FAILED" });
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

pub async fn load(state: &AppState, arn: &str) -> Result<ExecutionRow, ApiError> {
    check_execution(arn)?;
    state.engine.store().get_execution(arn).await?.ok_or_else(|| no_execution(arn))
}

pub async fn stop(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("executionArn")?;
    load(state, arn).await?;
    let error = req.str_at_most("error", MAX_ERROR)?.map(str::to_owned);
    let cause = req.str_at_most("cause", MAX_CAUSE)?.map(str::to_owned);
    let at = state.engine.stop_execution(arn, error, cause).await?;
    Ok(json!({ "stopDate": date(at) }))
}

fn redrive_status(row: &ExecutionRow) -> (&'static str, Option<String>) {
    match row.status.as_str() {
        "FAILED" | "TIMED_OUT" | "ABORTED" => ("REDRIVABLE", None),
        "RUNNING" => ("NOT_REDRIVABLE", Some("Execution is RUNNING and cannot be redriven".into())),
        other => ("NOT_REDRIVABLE", Some(format!("Execution is {other} and cannot be redriven"))),
    }
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("executionArn")?;
    let row = load(state, arn).await?;
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
    let arn = req.required_str("executionArn")?;
    let row = load(state, arn).await?;
    let machine = load_machine(state, &row.state_machine_arn).await.ok();
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
    let sm = req.required_str("stateMachineArn")?;
    let machine_ref = parse_machine(sm)?;
    let machine = load_machine(state, machine_ref.base_arn()).await?;
    if machine.kind == "EXPRESS" {
        // Express executions keep no record to list (AWS points to CloudWatch Logs instead).
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let status = req.str("statusFilter")?;
    if let Some(s) = status {
        if !["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].contains(&s) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: \
                 Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
            )));
        }
    }
    let filter_arn = match &machine_ref {
        crate::arn::MachineRef::Base { .. } => None,
        crate::arn::MachineRef::Version { arn, .. } | crate::arn::MachineRef::Alias { arn, .. } => Some(arn.clone()),
    };
    // Executions of a machine deleted earlier under the same name share its ARN but are not
    // this machine's; those of a version or alias are a subset. Read on until the page is
    // full of matches, so that a page never comes back short while more follow.
    let matches = |r: &ExecutionRow| {
        r.start >= machine.created
            && filter_arn.as_ref().is_none_or(|f| r.version_arn.as_ref() == Some(f) || r.alias_arn.as_ref() == Some(f))
    };
    let batch = (limit + 1).max(100);
    let mut cursor = after;
    let mut rows: Vec<ExecutionRow> = Vec::with_capacity(limit + 1);
    'read: loop {
        let chunk =
            state.engine.store().list_executions(machine_ref.base_arn(), status, cursor.as_deref(), batch).await?;
        let exhausted = chunk.len() < batch;
        for r in chunk {
            cursor = Some(r.arn.clone());
            if matches(&r) {
                rows.push(r);
                if rows.len() > limit {
                    break 'read;
                }
            }
        }
        if exhausted {
            break;
        }
    }
    let more = rows.len() > limit;
    let page: Vec<Value> = rows
        .iter()
        .take(limit)
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
            e
        })
        .collect();
    let mut out = json!({ "executions": page });
    if more {
        if let Some(last) = rows.get(limit - 1) {
            out["nextToken"] = json!(encode_token(&last.arn));
        }
    }
    Ok(out)
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
    let arn = req.required_str("executionArn")?;
    load(state, arn).await?;
    let limit = req.max_results()?;
    let reverse = req.bool("reverseOrder")?.unwrap_or(false);
    let include_data = req.bool("includeExecutionData")?.unwrap_or(true);
    let after = match req.next_token()? {
        Some(t) => {
            Some(t.parse::<i64>().map_err(|_| ApiError::new("InvalidToken", "Invalid Token: 'bad history token'"))?)
        }
        None => None,
    };
    let rows = state.engine.store().history(arn, after, limit + 1, reverse).await?;
    let more = rows.len() > limit;
    let mut events = Vec::with_capacity(rows.len().min(limit));
    for (_, text) in rows.iter().take(limit) {
        let mut event: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if !include_data {
            strip_data(&mut event);
        }
        events.push(event);
    }
    let mut out = Map::new();
    out.insert("events".into(), Value::Array(events));
    if more {
        if let Some((id, _)) = rows.get(limit - 1) {
            out.insert("nextToken".into(), json!(encode_token(&id.to_string())));
        }
    }
    Ok(Value::Object(out))
}

pub async fn redrive(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("executionArn")?;
    load(state, arn).await?;
    let at = state.engine.redrive_execution(arn).await?;
    Ok(json!({ "redriveDate": date(at) }))
}
