//! Fail states: `Error` and `Cause` (literals, `ErrorPath`/`CausePath`, or JSONata
//! expressions).

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum FailField {
    Literal(String),
    Dynamic(DynamicValue),
    /// A JSONata state's `{% %}` `Error` or `Cause`.
    Jsonata(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub error: Option<FailField>,
    pub cause: Option<FailField>,
}

impl Parser {
    pub(super) fn fail(&mut self, obj: &Map<String, Value>, at: &str, jsonata: bool) -> Fail {
        Fail {
            error: self.fail_field(obj, "Error", "ErrorPath", at, jsonata),
            cause: self.fail_field(obj, "Cause", "CausePath", at, jsonata),
        }
    }

    pub(super) fn fail_field(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path_key: &str,
        at: &str,
        jsonata: bool,
    ) -> Option<FailField> {
        if jsonata {
            return match obj.get(key)? {
                Value::String(s) if expression_text(s).is_some() => self
                    .jsonata_expression(s, &format!("{at}/{key}"), key, INPUT_CONTEXT)
                    .map(|e| FailField::Jsonata(Box::new(e))),
                Value::String(s) => Some(FailField::Literal(s.clone())),
                _ => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field '{key}' must be a STRING"),
                        format!("{at}/{key}"),
                    );
                    None
                }
            };
        }
        match (obj.get(key), obj.get(path_key)) {
            (Some(_), Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The fields '{key}' and '{path_key}' cannot both be present"),
                    at.to_owned(),
                );
                None
            }
            (Some(Value::String(s)), None) => Some(FailField::Literal(s.clone())),
            (Some(_), None) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be a STRING"),
                    format!("{at}/{key}"),
                );
                None
            }
            (None, Some(Value::String(s))) => match DynamicValue::compile(s, &format!("{at}/{path_key}")) {
                Ok(d) => Some(FailField::Dynamic(d)),
                Err(p) => {
                    self.problems.push(p);
                    None
                }
            },
            (None, Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{path_key}' must be a STRING"),
                    format!("{at}/{path_key}"),
                );
                None
            }
            (None, None) => None,
        }
    }
}

/// The fields of a Fail state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields =
    StateFields { json_path: &["Error", "Cause", "ErrorPath", "CausePath"], jsonata: &["Error", "Cause"] };
