//! The TestState action: parse the request, run the state ([`engine::test_state`]) on a
//! blocking thread, answer AWS's shape. The state runs as in an Express execution of its
//! own, reaching the same integrations as the server's executions.

use asl::context::ExecutionInfo;
use asl::test_state::{InspectionLevel, Mock, StateConfiguration, TestStateError};
use engine::clock::now_ms;
use engine::test_state::{FieldValidationMode, TestStateRequest};
use serde_json::{Map, Value};

use crate::api::{ApiError, ApiResult, Request};
use crate::AppState;

/// The role a state runs with when the request names none.
const DEFAULT_ROLE: &str = "arn:aws:iam::123456789012:role/TestStateRole";

pub async fn test_state(state: &AppState, req: Request<'_>) -> ApiResult {
    let request = parse(&req)?;
    let role = req.str("roleArn")?.unwrap_or(DEFAULT_ROLE).to_owned();
    let machine = format!("TestStateMachine-{}", state.engine.new_name());
    let name = state.engine.new_name();
    let mut info = ExecutionInfo::local(&machine, &name, now_ms());
    info.execution_arn = state.arns.express_execution(&machine, &name, &state.engine.new_name()).into_string();
    info.state_machine_arn = state.arns.state_machine(&machine);
    info.role_arn = role;
    let integrations = state.engine.config().integrations.clone();
    let http = state.engine.config().functions.http.clone();
    let answer =
        tokio::task::spawn_blocking(move || engine::test_state::test_state(request, info, &integrations, &http))
            .await
            .map_err(|e| ApiError::new("InternalFailure", e.to_string()).status(500))?;
    answer.map_err(|e: TestStateError| ApiError::new(e.code(), e.to_string()))
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::validation(message)
}

/// A request member that holds JSON text.
fn json_text(req: &Request<'_>, key: &str) -> Result<Option<Value>, ApiError> {
    match req.str(key)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| validation(format!("Invalid {key}: the value is not valid JSON: {e}"))),
    }
}

/// A request member that holds a JSON object as text.
fn json_object(req: &Request<'_>, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    match json_text(req, key)? {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(validation(format!("Invalid {key}: the value must be a JSON object"))),
    }
}

fn parse(req: &Request<'_>) -> Result<TestStateRequest, ApiError> {
    let definition = req.required_str("definition")?.to_owned();
    let input_text = req.str("input")?.unwrap_or("{}");
    let input: Value = serde_json::from_str(input_text)
        .map_err(|e| ApiError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")))?;
    let level = match req.str("inspectionLevel")? {
        None => InspectionLevel::Info,
        Some(text) => InspectionLevel::parse(text).ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value '{text}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
            ))
        })?,
    };
    let (mock, field_validation) = parse_mock(req.value("mock"))?;
    Ok(TestStateRequest {
        definition,
        state_name: req.str("stateName")?.map(str::to_owned),
        input,
        level,
        variables: json_object(req, "variables")?,
        context: json_object(req, "context")?,
        mock,
        field_validation,
        configuration: parse_configuration(req.value("stateConfiguration"))?,
        reveal_secrets: req.bool("revealSecrets")?.unwrap_or(false),
    })
}

fn parse_mock(value: Option<&Value>) -> Result<(Option<Mock>, FieldValidationMode), ApiError> {
    let Some(value) = value else { return Ok((None, FieldValidationMode::default())) };
    let Value::Object(m) = value else { return Err(validation("Invalid mock: it must be an object")) };
    let mode = match m.get("fieldValidationMode") {
        None | Some(Value::Null) => FieldValidationMode::default(),
        Some(Value::String(s)) => FieldValidationMode::parse(s).ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value '{s}' at 'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, PRESENT, NONE]"
            ))
        })?,
        Some(_) => return Err(validation("Invalid mock.fieldValidationMode: it must be a string")),
    };
    let result = m.get("result").filter(|v| !v.is_null());
    let error = m.get("errorOutput").filter(|v| !v.is_null());
    let mock = match (result, error) {
        (Some(_), Some(_)) => {
            return Err(validation("A mock can have either a result or an errorOutput, not both."));
        }
        (None, None) => return Err(validation("A mock needs either a result or an errorOutput.")),
        (Some(Value::String(text)), None) => Mock::Result(
            serde_json::from_str(text)
                .map_err(|e| validation(format!("Invalid mock.result: the value is not valid JSON: {e}")))?,
        ),
        (Some(_), None) => return Err(validation("Invalid mock.result: it must be a string of JSON")),
        (None, Some(Value::Object(e))) => {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
            Mock::Error { error: text("error"), cause: text("cause") }
        }
        (None, Some(_)) => return Err(validation("Invalid mock.errorOutput: it must be an object")),
    };
    Ok((Some(mock), mode))
}

fn parse_configuration(value: Option<&Value>) -> Result<StateConfiguration, ApiError> {
    let Some(value) = value else { return Ok(StateConfiguration::default()) };
    let Value::Object(m) = value else { return Err(validation("Invalid stateConfiguration: it must be an object")) };
    let count = |key: &str| -> Result<Option<u64>, ApiError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                validation(format!("Invalid stateConfiguration.{key}: it must be a non-negative integer"))
            }),
        }
    };
    let error_caused_by_state = match m.get("errorCausedByState") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(validation("Invalid stateConfiguration.errorCausedByState: it must be a string")),
    };
    let map_item_reader_data = match m.get("mapItemReaderData") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(serde_json::from_str(text).map_err(|e| {
            validation(format!("Invalid stateConfiguration.mapItemReaderData: the value is not valid JSON: {e}"))
        })?),
        Some(_) => return Err(validation("Invalid stateConfiguration.mapItemReaderData: it must be a string of JSON")),
    };
    Ok(StateConfiguration {
        retrier_retry_count: count("retrierRetryCount")?.unwrap_or(0),
        error_caused_by_state,
        map_iteration_failure_count: count("mapIterationFailureCount")?,
        map_item_reader_data,
    })
}
