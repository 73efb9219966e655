//! History events as AWS records them: type, id, previousEventId, timestamp and one
//! `<camelCaseType>EventDetails` member. The interpreter is the only writer of events; this
//! module owns their shape and their AWS JSON form.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::timestamp::Millis;

macro_rules! event_types {
    ($($name:ident),* $(,)?) => {
        /// Every history event type Baton emits, spelled as AWS spells it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType { $($name),* }
        impl EventType {
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$name => stringify!($name)),* }
            }
        }
    };
}

event_types!(
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionAborted,
    ExecutionTimedOut,
    ExecutionRedriven,
    PassStateEntered,
    PassStateExited,
    TaskStateEntered,
    TaskStateExited,
    TaskStateAborted,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    WaitStateAborted,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapStateExited,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    MapRunAborted,
    MapRunRedriven,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskStartFailed,
    TaskSubmitFailed,
    ActivityScheduled,
    ActivityStarted,
    ActivitySucceeded,
    ActivityFailed,
    ActivityTimedOut,
    ActivityScheduleFailed,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    LambdaFunctionScheduleFailed,
    LambdaFunctionStartFailed,
    EvaluationFailed,
    // Baton's own: a person answered or voted on a task (the console's inbox, a signed
    // link). Its details say who, when, from where, what they were shown and what they
    // answered. SDKs read an event type they do not know as unknown and keep going.
    TaskAnswerRecorded,
);

impl EventType {
    /// `<State>StateEntered` for a state's `Type`.
    pub fn state_entered(state_type: &str) -> Self {
        match state_type {
            "Pass" => Self::PassStateEntered,
            "Task" => Self::TaskStateEntered,
            "Choice" => Self::ChoiceStateEntered,
            "Wait" => Self::WaitStateEntered,
            "Succeed" => Self::SucceedStateEntered,
            "Fail" => Self::FailStateEntered,
            "Parallel" => Self::ParallelStateEntered,
            _ => Self::MapStateEntered,
        }
    }

    /// `<State>StateExited` for a state's `Type` (Fail has none; callers do not ask).
    pub fn state_exited(state_type: &str) -> Self {
        match state_type {
            "Pass" => Self::PassStateExited,
            "Task" => Self::TaskStateExited,
            "Choice" => Self::ChoiceStateExited,
            "Wait" => Self::WaitStateExited,
            "Succeed" => Self::SucceedStateExited,
            "Parallel" => Self::ParallelStateExited,
            _ => Self::MapStateExited,
        }
    }

    /// The name of the details member: `stateEnteredEventDetails` for every `*StateEntered`,
    /// otherwise the lower-camel type plus `EventDetails`.
    pub fn details_key(self) -> String {
        let s = self.as_str();
        if s.ends_with("StateEntered") {
            return "stateEnteredEventDetails".into();
        }
        if s.ends_with("StateExited") {
            return "stateExitedEventDetails".into();
        }
        let mut out = String::with_capacity(s.len() + 12);
        let mut chars = s.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_lowercase());
        }
        out.extend(chars);
        out.push_str("EventDetails");
        out
    }
}

/// The details member of an event. State entry/exit are the hot path and get their own
/// variants; the rest are built as JSON objects with AWS's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Details {
    None,
    StateEntered {
        name: String,
        input: Value,
    },
    StateExited {
        name: String,
        output: Value,
        /// `assignedVariables`: each variable the state set, as compact JSON text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned_variables: Option<Box<Map<String, Value>>>,
    },
    Fields(Map<String, Value>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: Millis,
    pub event_type: EventType,
    pub details: Details,
}

/// Compact JSON text of a data value, as AWS puts it in `input`/`output` fields.
pub fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl HistoryEvent {
    /// The event as GetExecutionHistory returns it. `include_data: false` drops
    /// `input`/`output` (and their details), as `includeExecutionData=false` asks.
    pub fn to_aws_json(&self, include_data: bool) -> Value {
        let mut ev = Map::new();
        ev.insert("timestamp".into(), Value::from(self.timestamp as f64 / 1000.0));
        ev.insert("type".into(), Value::from(self.event_type.as_str()));
        ev.insert("id".into(), Value::from(self.id));
        ev.insert("previousEventId".into(), Value::from(self.previous_event_id));
        let details = match &self.details {
            Details::None => None,
            Details::StateEntered { name, input } => {
                let mut d = Map::new();
                d.insert("name".into(), Value::from(name.as_str()));
                if include_data {
                    d.insert("input".into(), Value::from(json_text(input)));
                    d.insert("inputDetails".into(), serde_json::json!({"truncated": false}));
                }
                Some(d)
            }
            Details::StateExited { name, output, assigned_variables } => {
                let mut d = Map::new();
                d.insert("name".into(), Value::from(name.as_str()));
                if include_data {
                    d.insert("output".into(), Value::from(json_text(output)));
                    d.insert("outputDetails".into(), serde_json::json!({"truncated": false}));
                    if let Some(vars) = assigned_variables {
                        d.insert("assignedVariables".into(), Value::Object((**vars).clone()));
                        d.insert("assignedVariablesDetails".into(), serde_json::json!({"truncated": false}));
                    }
                }
                Some(d)
            }
            Details::Fields(fields) => {
                let mut d = fields.clone();
                if !include_data {
                    for key in ["input", "output", "parameters", "inputDetails", "outputDetails"] {
                        d.remove(key);
                    }
                }
                Some(d)
            }
        };
        if let Some(d) = details {
            ev.insert(self.event_type.details_key(), Value::Object(d));
        }
        Value::Object(ev)
    }
}
