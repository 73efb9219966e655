//! Wait states: `Seconds`, `Timestamp`, `SecondsPath`, `TimestampPath` (JSONata:
//! `Seconds`/`Timestamp`, numbers or expressions).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    Timestamp(timestamp::Millis),
    SecondsPath(PathRef),
    TimestampPath(PathRef),
    /// JSONata's `Seconds` as an expression.
    SecondsJsonata(Box<Expression>),
    /// JSONata's `Timestamp` as an expression.
    TimestampJsonata(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub wait_for: WaitFor,
    pub transition: Transition,
}

impl Parser {
    pub(super) fn wait(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Wait {
        let fields: &[&str] =
            if jsonata { &["Seconds", "Timestamp"] } else { &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"] };
        let present: Vec<&str> = fields.iter().copied().filter(|k| obj.contains_key(*k)).collect();
        let mut wait_for = WaitFor::Seconds(0);
        if present.len() != 1 {
            let message = if jsonata {
                "A Wait state must have exactly one of the fields 'Seconds' or 'Timestamp'"
            } else {
                "A Wait state must have exactly one of the fields 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'"
            };
            self.problem(Code::SchemaValidationFailed, message, at.to_owned());
        } else {
            let key = present[0];
            let loc = format!("{at}/{key}");
            let v = &obj[key];
            let expression = match v.as_str() {
                Some(text) if jsonata && expression_text(text).is_some() => Some(text),
                _ => None,
            };
            match (key, expression) {
                ("Seconds", Some(text)) => {
                    if let Some(e) = self.jsonata_expression(text, &loc, "Seconds", INPUT_CONTEXT) {
                        wait_for = WaitFor::SecondsJsonata(Box::new(e));
                    }
                }
                ("Timestamp", Some(text)) => {
                    if let Some(e) = self.jsonata_expression(text, &loc, "Timestamp", INPUT_CONTEXT) {
                        wait_for = WaitFor::TimestampJsonata(Box::new(e));
                    }
                }
                ("Seconds", None) => match v.as_u64() {
                    Some(s) if s <= 99_999_999 => wait_for = WaitFor::Seconds(s),
                    _ => self.problem(Code::SchemaValidationFailed, "The value for the field 'Seconds' must be a non-negative INTEGER", loc),
                },
                ("Timestamp", None) => match v.as_str().and_then(timestamp::parse) {
                    Some(t) => wait_for = WaitFor::Timestamp(t),
                    None => self.problem(
                        Code::SchemaValidationFailed,
                        "The value for the field 'Timestamp' must be a valid ISO-8601 extended offset date-time format string",
                        loc,
                    ),
                },
                ("SecondsPath", _) => {
                    if let Some(p) = self.reference_path_ref(v, &loc) {
                        wait_for = WaitFor::SecondsPath(p);
                    }
                }
                _ => {
                    if let Some(p) = self.reference_path_ref(v, &loc) {
                        wait_for = WaitFor::TimestampPath(p);
                    }
                }
            }
        }
        Wait { wait_for, transition: self.transition(obj, at, index) }
    }
}

/// The fields of a Wait state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[
        "Seconds",
        "Timestamp",
        "SecondsPath",
        "TimestampPath",
        "InputPath",
        "OutputPath",
        "Next",
        "End",
        "Assign",
    ],
    jsonata: &["Seconds", "Timestamp", "Output", "Next", "End", "Assign"],
};
