//! Task states: `Resource`, timeouts and heartbeats, `Credentials`, the effective input
//! (`Parameters` or `Arguments`) and the result stages; also the lint for tasks that may wait
//! a year.

use serde_json::Value;

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub resource: String,
    pub fields: Fields<TaskPath, TaskJsonata>,
    pub retry: Vec<Retrier>,
    pub transition: Transition,
}

/// A JSONPath Task state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPath {
    pub io: PathIo,
    pub parameters: Option<Template>,
    pub timeout_seconds: Option<Dynamic<u64>>,
    pub heartbeat_seconds: Option<Dynamic<u64>>,
    pub credentials: Option<Template>,
    pub result: PathResult,
}

/// A JSONata Task state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskJsonata {
    pub io: JsonataIo,
    /// The task's input. Absent: the state's input.
    pub arguments: Option<JsonataTemplate>,
    pub timeout_seconds: Option<JsonataDynamic<u64>>,
    pub heartbeat_seconds: Option<JsonataDynamic<u64>>,
    pub credentials: Option<JsonataTemplate>,
    pub result: JsonataResult,
}

impl Parser {
    pub(super) fn task(&mut self, s: &Source, io: Io) -> Task {
        let (obj, at) = (s.obj, s.at);
        let resource = match obj.get("Resource") {
            Some(Value::String(r)) => {
                if !r.starts_with("arn:") {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field 'Resource' must be an ARN, not '{r}'"),
                        format!("{at}/Resource"),
                    );
                }
                r.clone()
            }
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Resource' must be a STRING",
                    format!("{at}/Resource"),
                );
                String::new()
            }
            None => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'Resource' should be non-null",
                    format!("{at}/Resource"),
                );
                String::new()
            }
        };
        let (fields, retry, transition) = match io {
            Fields::JsonPath(io) => {
                let timeout_seconds = self.dynamic_int(obj, "TimeoutSeconds", at);
                let heartbeat_seconds = self.dynamic_int(obj, "HeartbeatSeconds", at);
                if let (Some(Dynamic::Fixed(t)), Some(Dynamic::Fixed(h))) = (&timeout_seconds, &heartbeat_seconds) {
                    self.check_heartbeat(*t, *h, at);
                }
                let credentials = self.template(obj, "Credentials", at);
                let parameters = self.template(obj, "Parameters", at);
                let (result, retry, transition) = self.path_recovery(s);
                let fields = TaskPath { io, parameters, timeout_seconds, heartbeat_seconds, credentials, result };
                (Fields::JsonPath(fields), retry, transition)
            }
            Fields::Jsonata(io) => {
                let positive = |v: &Value| v.as_u64().filter(|n| *n > 0 && *n <= 99_999_999);
                let timeout_seconds = self.jsonata_dynamic(obj, "TimeoutSeconds", at, positive, "a positive INTEGER");
                let heartbeat_seconds =
                    self.jsonata_dynamic(obj, "HeartbeatSeconds", at, positive, "a positive INTEGER");
                if let (Some(JsonataDynamic::Fixed(t)), Some(JsonataDynamic::Fixed(h))) =
                    (&timeout_seconds, &heartbeat_seconds)
                {
                    self.check_heartbeat(*t, *h, at);
                }
                let credentials = obj
                    .get("Credentials")
                    .map(|v| self.jsonata_template(v, &format!("{at}/Credentials"), "Credentials", INPUT_CONTEXT));
                let arguments = self.arguments(s);
                let (result, retry, transition) = self.jsonata_recovery(s);
                let fields = TaskJsonata { io, arguments, timeout_seconds, heartbeat_seconds, credentials, result };
                (Fields::Jsonata(fields), retry, transition)
            }
        };
        Task { resource, fields, retry, transition }
    }

    fn check_heartbeat(&mut self, timeout: u64, heartbeat: u64, at: &str) {
        if heartbeat >= timeout {
            self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'HeartbeatSeconds' must be smaller than the value for the field 'TimeoutSeconds'",
                format!("{at}/HeartbeatSeconds"),
            );
        }
    }
}

/// Tasks that wait for a token or an activity worker without `TimeoutSeconds` (or
/// `TimeoutSecondsPath`): AWS lets them wait a year. Returned as (JSON pointer, state name) for
/// ValidateStateMachineDefinition's warnings; works on any JSON, valid or not.
pub fn waits_without_timeout(definition: &Value) -> Vec<(String, String)> {
    fn walk(graph: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
        let Some(states) = graph.get("States").and_then(Value::as_object) else { return };
        for (name, state) in states {
            let here = format!("{pointer}/States/{}", name.replace('~', "~0").replace('/', "~1"));
            let resource = state.get("Resource").and_then(Value::as_str).unwrap_or_default();
            let waits = state.get("Type").and_then(Value::as_str) == Some("Task")
                && (resource.ends_with(".waitForTaskToken") || resource.contains(":activity:"));
            if waits && state.get("TimeoutSeconds").is_none() && state.get("TimeoutSecondsPath").is_none() {
                out.push((here.clone(), name.clone()));
            }
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                for (i, b) in branches.iter().enumerate() {
                    walk(b, &format!("{here}/Branches/{i}"), out);
                }
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(inner) = state.get(key) {
                    walk(inner, &format!("{here}/{key}"), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(definition, "", &mut out);
    out
}

/// The fields of a Task state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[
        &[
            "Resource",
            "Parameters",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        PATH_IO,
        PATH_RESULT,
    ],
    jsonata: &[
        &["Resource", "Arguments", "TimeoutSeconds", "HeartbeatSeconds", "Credentials"],
        JSONATA_IO,
        JSONATA_RESULT,
    ],
};
