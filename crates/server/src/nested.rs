//! Nested executions: a Task with `arn:aws:states:::states:startExecution` (and `.sync`,
//! `.sync:2`, `.waitForTaskToken`) starts an execution of another state machine on this
//! server. With `.sync` the child records its parent, and the engine reports the child's end
//! to the parent's task.

use std::sync::{OnceLock, Weak};

use async_trait::async_trait;
use engine::executions::{ExecutionInput, StartExecution};
use engine::service::ParentLink;
use engine::task::{Integration, Outcome, Pattern, TaskCall};
use serde_json::{json, Value};

use crate::api::ApiError;
use crate::AppState;

/// The `states:startExecution` integration. Created before the server's state exists (the
/// engine needs its integrations first); [`Nested::attach`] completes it.
#[derive(Default)]
pub struct Nested {
    state: OnceLock<Weak<AppState>>,
}

impl Nested {
    pub fn attach(&self, state: Weak<AppState>) {
        let _ = self.state.set(state);
    }
}

#[async_trait]
impl Integration for Nested {
    async fn call(&self, call: TaskCall) -> Outcome {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return Outcome::Failed { error: "States.TaskFailed".into(), cause: "the server is shutting down".into() };
        };
        let Some(sm_arn) = call.input.get("StateMachineArn").and_then(Value::as_str) else {
            return Outcome::Failed {
                error: "StepFunctions.ValidationException".into(),
                cause: "The parameter 'StateMachineArn' is required and must be a string".into(),
            };
        };
        // Input may be given as JSON or as JSON text.
        let input = match call.input.get("Input") {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        };
        let Ok(input) = ExecutionInput::parse(&input) else {
            return Outcome::Failed {
                error: "StepFunctions.InvalidExecutionInputException".into(),
                cause: format!("Invalid State Machine Execution Input: '{input}'"),
            };
        };
        let name = call.input.get("Name").and_then(Value::as_str).map(str::to_owned);
        let pattern = match call.pattern {
            Pattern::RequestResponse => "requestResponse",
            Pattern::WaitForTaskToken => "waitForTaskToken",
            Pattern::Sync => "sync",
            Pattern::Sync2 => "sync2",
        };
        let link = ParentLink {
            execution_arn: call.execution_arn.clone(),
            task_id: call.task_id,
            pattern: pattern.into(),
            map_run_arn: None,
            index: None,
        };
        let start = StartExecution { name, parent: Some(link), ..StartExecution::of(sm_arn, input) };
        match state.engine.start_execution(start).await.map_err(ApiError::from) {
            Ok(started) => {
                let (arn, start) = (started.arn.into_string(), started.start);
                let mut response = json!({"ExecutionArn": arn, "StartDate": start});
                match call.pattern {
                    Pattern::RequestResponse => {
                        // As an AWS SDK call, with its HTTP metadata (the wire form's length).
                        let wire = json!({"executionArn": arn, "startDate": start}).to_string();
                        let (http, meta) = engine::task::sdk_metadata("application/x-amz-json-1.0", wire.len());
                        response["SdkHttpMetadata"] = http;
                        response["SdkResponseMetadata"] = meta;
                        Outcome::Succeeded(response)
                    }
                    _ => Outcome::Submitted(response),
                }
            }
            Err(e) => Outcome::Failed {
                error: format!("StepFunctions.{}Exception", e.code),
                cause: format!(
                    "{} (Service: AWSStepFunctions; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
                    e.message,
                    e.status,
                    e.code,
                    state.engine.new_name()
                ),
            },
        }
    }
}
