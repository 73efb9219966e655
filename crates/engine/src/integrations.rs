//! What a Task's `Resource` reaches in `baton serve`: one [`Integration`] per service,
//! chosen by the resource ARN.
//!
//! An integration performs a task's *initial call*. For a request-response resource that is
//! the whole task; for `.waitForTaskToken` it hands the token out (in a message, an email, a
//! function's payload) and the task then waits for SendTaskSuccess/Failure; for `.sync` it
//! starts work whose end the engine reports later. Integrations never touch execution state:
//! they return an [`Outcome`] and the engine turns it into events.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::config::Config;
use crate::http_task::HttpTask;
use crate::mocks::{Answer, MockedResponse, Mocks};
use crate::task::{Integration, Outcome, Pattern, TaskCall, TaskOutcome};

/// Functions from `baton.toml` (Lambda function ARNs and `lambda:invoke`).
pub struct Functions(pub Config);

#[async_trait]
impl Integration for Functions {
    async fn call(&self, call: TaskCall) -> Outcome {
        let config = self.0.clone();
        let resource = call.resource.clone();
        let input = call.input.clone();
        let outcome = tokio::task::spawn_blocking(move || config.invoke(&resource, &input)).await;
        match (outcome, call.pattern) {
            (Ok(TaskOutcome::Succeeded(v)), Pattern::WaitForTaskToken) => Outcome::Submitted(v),
            (Ok(TaskOutcome::Succeeded(v)), _) => Outcome::Succeeded(v),
            (Ok(TaskOutcome::Failed { error, cause }), _) => Outcome::Failed { error, cause },
            (Err(e), _) => Outcome::Failed { error: "Lambda.ServiceException".into(), cause: e.to_string() },
        }
    }

    fn longest_call(&self) -> Option<std::time::Duration> {
        Some(self.0.longest_function_timeout())
    }
}

/// The integrations of one engine, matched by resource prefix (longest first), and the
/// mocked responses that answer instead of them for executions running a mock test case.
#[derive(Clone, Default)]
pub struct Integrations {
    routes: Vec<(String, Arc<dyn Integration>)>,
    mocks: Option<Arc<Mocks>>,
}

impl fmt::Debug for Integrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.routes.iter().map(|(p, _)| p)).finish()
    }
}

/// Error name for resources no integration serves.
pub const UNSUPPORTED_RESOURCE: &str = crate::task::UNSUPPORTED_RESOURCE;

impl Integrations {
    /// The integrations every engine has: functions from the configuration and the HTTP
    /// Task.
    pub fn with_functions(config: Config) -> Self {
        let http: Arc<dyn Integration> = Arc::new(HttpTask(config.http.clone()));
        let aws: Arc<dyn Integration> = Arc::new(crate::aws::tasks::AwsTasks(config.aws_client.clone()));
        let item_reader: Arc<dyn Integration> = Arc::new(crate::item_reader::ItemReader(config.aws_client.clone()));
        let result_writer: Arc<dyn Integration> =
            Arc::new(crate::result_writer::ResultWriter(config.aws_client.clone()));
        let functions: Arc<dyn Integration> = Arc::new(Functions(config));
        let mut me = Self::default();
        // AWS services at their endpoints: whatever no longer prefix (a built-in) serves.
        me.route("arn:aws:states:::", aws);
        me.route(asl::interpreter::ITEM_READER_RESOURCE, item_reader);
        me.route(asl::interpreter::RESULT_WRITER_RESOURCE, result_writer);
        me.route("arn:aws:states:::lambda:invoke", functions.clone());
        me.route("arn:aws:lambda:", functions);
        me.route(crate::http_task::RESOURCE, http);
        me
    }

    /// The longest initial call any integration may make (see [`Integration::longest_call`]).
    pub fn longest_call(&self) -> std::time::Duration {
        self.routes.iter().filter_map(|(_, i)| i.longest_call()).max().unwrap_or_default()
    }

    /// Serve resources starting with `prefix` with `integration`.
    pub fn route(&mut self, prefix: &str, integration: Arc<dyn Integration>) {
        self.routes.retain(|(p, _)| p != prefix);
        self.routes.push((prefix.to_owned(), integration));
        self.routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    pub fn resolve(&self, resource: &str) -> Option<&Arc<dyn Integration>> {
        self.routes.iter().find(|(p, _)| resource.starts_with(p.as_str())).map(|(_, i)| i)
    }

    /// Answer the Tasks of executions running a mock test case from `mocks`.
    pub fn set_mocks(&mut self, mocks: Arc<Mocks>) {
        self.mocks = Some(mocks);
    }

    /// The loaded MockConfigFile, if any.
    pub fn mocks(&self) -> Option<&Arc<Mocks>> {
        self.mocks.as_ref()
    }

    /// Forget what is counted of an execution that ended (its mocked states' calls).
    pub fn execution_ended(&self, execution_arn: &str) {
        if let Some(mocks) = &self.mocks {
            mocks.forget(execution_arn);
        }
    }

    /// The mocked answer to `call`, when its execution runs a test case that mocks its state.
    /// Whatever the pattern, the answer ends the task: for `.waitForTaskToken` it is the
    /// callback's answer (success or failure), for `.sync` the finished work's end; no token
    /// is waited for.
    fn mocked(&self, call: &TaskCall) -> Option<Outcome> {
        let case = call.mock.as_ref()?;
        let answer = self.mocks.as_ref()?.answer(case, &call.execution_arn, &call.state_name, call.task_id)?;
        let end = match answer {
            Answer::Mocked(MockedResponse::Return(value)) if call.pattern == Pattern::RequestResponse => {
                crate::mocks::lambda_result(&call.resource, value)
            }
            Answer::Mocked(MockedResponse::Return(value)) => Ok(value),
            Answer::Mocked(MockedResponse::Throw { error, cause }) => Err((error, cause)),
            Answer::Exhausted { state, response, call } => Err((
                crate::mocks::NO_MORE_RESPONSES.into(),
                format!(
                    "No mocked response for call {call} of state '{state}': '{response}' of test case '{}' has no response numbered {call}",
                    case.test_case
                ),
            )),
        };
        Some(match end {
            // As AWS records a task that waits: submitted first, then its answer. The mock
            // gives no response to the submission itself: a success records its result there
            // too (as Step Functions Local does), a failure an empty object.
            Ok(value) if call.pattern != Pattern::RequestResponse => {
                Outcome::SubmittedAndEnded { submitted: value.clone(), end: Ok(value) }
            }
            Err(failure) if call.pattern != Pattern::RequestResponse => {
                Outcome::SubmittedAndEnded { submitted: json!({}), end: Err(failure) }
            }
            Ok(value) => Outcome::Succeeded(value),
            Err((error, cause)) => Outcome::Failed { error, cause },
        })
    }

    /// Make the initial call of a task (or answer it with its mocked response), or fail it
    /// clearly when nothing serves the resource.
    pub async fn call(&self, call: TaskCall) -> Outcome {
        if let Some(outcome) = self.mocked(&call) {
            return outcome;
        }
        match self.resolve(&call.resource) {
            Some(integration) => integration.call(call).await,
            None => Outcome::Failed {
                error: UNSUPPORTED_RESOURCE.into(),
                cause: format!("Resource '{}': no integration serves it on this server", call.resource),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn patterns_split_off_the_suffix() {
        assert_eq!(
            Pattern::split("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            ("arn:aws:states:::sqs:sendMessage", Pattern::WaitForTaskToken)
        );
        assert_eq!(
            Pattern::split("arn:aws:states:::states:startExecution.sync:2"),
            ("arn:aws:states:::states:startExecution", Pattern::Sync2)
        );
        assert_eq!(
            Pattern::split("arn:aws:states:::states:startExecution.sync"),
            ("arn:aws:states:::states:startExecution", Pattern::Sync)
        );
        assert_eq!(
            Pattern::split("arn:aws:states:::http:invoke"),
            ("arn:aws:states:::http:invoke", Pattern::RequestResponse)
        );
    }

    struct Fixed(&'static str);

    #[async_trait]
    impl Integration for Fixed {
        async fn call(&self, _: TaskCall) -> Outcome {
            Outcome::Succeeded(Value::String(self.0.into()))
        }
    }

    #[tokio::test]
    async fn the_longest_prefix_wins_and_unknown_resources_fail_clearly() {
        let mut i = Integrations::default();
        i.route("arn:aws:states:::sqs:", Arc::new(Fixed("queue")));
        i.route("arn:aws:states:::sqs:sendMessage", Arc::new(Fixed("send")));
        let call = |r: &str| TaskCall {
            resource: r.into(),
            pattern: Pattern::RequestResponse,
            input: Value::Null,
            token: None,
            execution_arn: String::new(),
            state_name: String::new(),
            task_id: 1,
            mock: None,
        };
        assert_eq!(i.call(call("arn:aws:states:::sqs:sendMessage")).await, Outcome::Succeeded("send".into()));
        assert_eq!(i.call(call("arn:aws:states:::sqs:receiveMessage")).await, Outcome::Succeeded("queue".into()));
        assert!(
            matches!(i.call(call("arn:aws:states:::sns:publish")).await, Outcome::Failed { error, .. } if error == UNSUPPORTED_RESOURCE)
        );
    }
}
