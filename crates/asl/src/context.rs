//! The context object (`$$`): what an execution knows about itself while a state runs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::eval::ContextSource;
use crate::timestamp::{self, Millis};

/// The execution-wide part of the context object, fixed when the execution starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub execution_name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub role_arn: String,
    pub start_time: Millis,
    pub redrive_count: u32,
    /// The version the execution runs, when it was started through a version or an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine_version_arn: Option<String>,
    /// The alias the execution was started through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine_alias_arn: Option<String>,
    /// The context object as given from outside (TestState's `context`): it replaces the
    /// computed one whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// An Express execution: its context object has no `Execution.RedriveCount`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub express: bool,
    /// The shell runs this execution's distributed Maps' children as executions of their
    /// own: a Map Run is handed to it whole (`MAP_RUN_RESOURCE`) rather than iterated here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub child_executions: bool,
}

impl ExecutionInfo {
    /// Names and ARNs for a local run (`baton run`, tests) with AWS's default region/account.
    pub fn local(machine: &str, execution: &str, start_time: Millis) -> Self {
        let prefix = "arn:aws:states:us-east-1:123456789012";
        Self {
            execution_arn: format!("{prefix}:execution:{machine}:{execution}"),
            execution_name: execution.to_owned(),
            state_machine_arn: format!("{prefix}:stateMachine:{machine}"),
            state_machine_name: machine.to_owned(),
            role_arn: "arn:aws:iam::123456789012:role/baton".to_owned(),
            start_time,
            redrive_count: 0,
            state_machine_version_arn: None,
            state_machine_alias_arn: None,
            context: None,
            express: false,
            child_executions: false,
        }
    }
}

/// The context object as seen by one state.
pub struct StateContext<'a> {
    pub execution: &'a ExecutionInfo,
    pub execution_input: &'a Value,
    pub state_name: &'a str,
    pub entered_time: Millis,
    /// `Some` for states that retry (Task, Parallel, Map): `$$.State.RetryCount`.
    pub retry_count: Option<u32>,
    pub task_token: Option<&'a str>,
    /// `$$.Map.Item` while a Map's ItemSelector runs: index and value.
    pub map_item: Option<(usize, &'a Value)>,
}

impl ContextSource for StateContext<'_> {
    fn context_value(&self) -> Value {
        let e = self.execution;
        if let Some(given) = &e.context {
            return given.clone();
        }
        let mut root = Map::new();
        let mut execution = json!({
            "Id": e.execution_arn,
            "Input": self.execution_input,
            "StartTime": timestamp::format(e.start_time),
            "Name": e.execution_name,
            "RoleArn": e.role_arn,
        });
        if !e.express {
            execution["RedriveCount"] = json!(e.redrive_count);
        }
        root.insert("Execution".into(), execution);
        root.insert("StateMachine".into(), json!({"Id": e.state_machine_arn, "Name": e.state_machine_name}));
        let mut state = Map::new();
        state.insert("Name".into(), Value::String(self.state_name.to_owned()));
        state.insert("EnteredTime".into(), Value::String(timestamp::format(self.entered_time)));
        if let Some(n) = self.retry_count {
            state.insert("RetryCount".into(), n.into());
        }
        root.insert("State".into(), Value::Object(state));
        if let Some(token) = self.task_token {
            root.insert("Task".into(), json!({ "Token": token }));
        }
        if let Some((index, value)) = self.map_item {
            root.insert("Map".into(), json!({"Item": {"Index": index, "Value": value}}));
        }
        Value::Object(root)
    }
}
