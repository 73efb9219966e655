//! Parallel states: `Branches`, each a nested `{StartAt, States}` flattened into a graph.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<GraphId>,
    pub parameters: Option<Template>,
    /// JSONata's `Arguments`: every branch's input. Absent: the state's input.
    pub arguments: Option<JsonataTemplate>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

impl Parser {
    pub(super) fn parallel(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Parallel {
        let mut branches = Vec::new();
        match obj.get("Branches") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("{at}/Branches/{i}");
                    branches.push(self.sub_graph(item, &loc));
                }
            }
            _ => self.problem(
                Code::SchemaValidationFailed,
                "The field 'Branches' is required and must be a non-empty array",
                format!("{at}/Branches"),
            ),
        }
        let (parameters, arguments) = self.input_stages(obj, at, jsonata);
        let (result_selector, result_path) = self.result_stages(obj, at, jsonata);
        let (retry, catch, transition) = self.recovery(obj, at, index, jsonata);
        Parallel { branches, parameters, arguments, result_selector, result_path, retry, catch, transition }
    }
}

/// The fields of a Parallel state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[
        "Branches",
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "Next",
        "End",
        "Assign",
    ],
    jsonata: &["Branches", "Arguments", "Output", "Retry", "Catch", "Next", "End", "Assign"],
};
