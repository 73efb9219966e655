//! Pass states: `Result`, `Parameters`, `ResultPath` (JSONPath); `Output` (JSONata).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub result: Option<Value>,
    pub parameters: Option<Template>,
    pub result_path: ResultPath,
    pub transition: Transition,
}

impl Parser {
    pub(super) fn pass(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Pass {
        Pass {
            result: if jsonata { None } else { obj.get("Result").cloned() },
            parameters: if jsonata { None } else { self.template(obj, "Parameters", at) },
            result_path: if jsonata { ResultPath::Replace } else { self.result_path(obj, "ResultPath", at) },
            transition: self.transition(obj, at, index),
        }
    }
}

/// The fields of a Pass state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &["InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "Next", "End", "Assign"],
    jsonata: &["Output", "Next", "End", "Assign"],
};
