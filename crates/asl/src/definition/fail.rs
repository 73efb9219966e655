//! Fail states: `Error` and `Cause` (literals, `ErrorPath`/`CausePath`, or JSONata
//! expressions).

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub fields: Fields<FailFields<PathFailField>, FailFields<JsonataFailField>>,
}

/// `Error` and `Cause`, each written one way or another.
#[derive(Debug, Clone, PartialEq)]
pub struct FailFields<F> {
    pub error: Option<F>,
    pub cause: Option<F>,
}

/// A JSONPath Fail state's `Error`/`Cause`: a literal, or `ErrorPath`/`CausePath` (a path or
/// an intrinsic function).
#[derive(Debug, Clone, PartialEq)]
pub enum PathFailField {
    Literal(String),
    Dynamic(DynamicValue),
}

/// A JSONata Fail state's `Error`/`Cause`: a literal or a `{% %}` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonataFailField {
    Literal(String),
    Expression(Box<Expression>),
}

impl Parser {
    /// `io` only tells the language: a Fail state has no input or output stages.
    pub(super) fn fail(&mut self, s: &Source, io: Io) -> Fail {
        let (obj, at) = (s.obj, s.at);
        let fields = match io {
            Fields::JsonPath(_) => Fields::JsonPath(FailFields {
                error: self.path_fail_field(obj, "Error", "ErrorPath", at),
                cause: self.path_fail_field(obj, "Cause", "CausePath", at),
            }),
            Fields::Jsonata(_) => Fields::Jsonata(FailFields {
                error: self.jsonata_fail_field(obj, "Error", at),
                cause: self.jsonata_fail_field(obj, "Cause", at),
            }),
        };
        Fail { fields }
    }

    fn jsonata_fail_field(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<JsonataFailField> {
        match obj.get(key)? {
            Value::String(s) if expression_text(s).is_some() => self
                .jsonata_expression(s, &format!("{at}/{key}"), key, INPUT_CONTEXT)
                .map(|e| JsonataFailField::Expression(Box::new(e))),
            Value::String(s) => Some(JsonataFailField::Literal(s.clone())),
            _ => {
                self.not_a_string(key, at);
                None
            }
        }
    }

    fn path_fail_field(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path_key: &str,
        at: &str,
    ) -> Option<PathFailField> {
        match (obj.get(key), obj.get(path_key)) {
            (Some(_), Some(_)) => {
                self.both_present(key, path_key, at);
                None
            }
            (Some(Value::String(s)), None) => Some(PathFailField::Literal(s.clone())),
            (Some(_), None) => {
                self.not_a_string(key, at);
                None
            }
            (None, Some(Value::String(s))) => match DynamicValue::compile(s, &format!("{at}/{path_key}")) {
                Ok(d) => Some(PathFailField::Dynamic(d)),
                Err(p) => {
                    self.problems.push(p);
                    None
                }
            },
            (None, Some(_)) => {
                self.not_a_string(path_key, at);
                None
            }
            (None, None) => None,
        }
    }
}

/// The fields of a Fail state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields =
    StateFields { json_path: &[&["Error", "Cause", "ErrorPath", "CausePath"]], jsonata: &[&["Error", "Cause"]] };
