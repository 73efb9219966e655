//! What goes wrong in JSONata and how it is told: syntax and evaluation errors with their
//! JSONata codes, `evaluate_standalone`'s failures, and AWS's `States.QueryEvaluationError`
//! messages for a state's fields.

use super::*;

/// An expression that does not parse, with its JSONata error code when it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub code: Option<String>,
    /// The message, starting with the code (`S0202: Expected ...`) when there is one.
    pub message: String,
}

/// An evaluation that failed inside JSONata (a type error, a limit, a function's own error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub code: Option<String>,
    /// The message, starting with the code (`T1006: Attempted to invoke a non-function`) when
    /// there is one.
    pub message: String,
}

impl EvalError {
    pub(super) fn from_evaluator(e: &EvaluatorError) -> Self {
        let (code, message) = coded(e.message());
        let message = match code.as_deref() {
            // jsonata-core appends the callee's name; the reference message (the one AWS
            // reports) has none.
            Some("T1006") => "T1006: Attempted to invoke a non-function".to_owned(),
            _ => message,
        };
        Self { code, message }
    }
}

pub(super) fn syntax_error(e: &ParserError) -> SyntaxError {
    // jsonata-core leaves an unclosed comment without the reference's code.
    let message = match e {
        ParserError::UnclosedComment => "S0106: Comment has no closing tag".to_owned(),
        other => other.to_string(),
    };
    let (code, message) = coded(&message);
    SyntaxError { code, message }
}

/// The JSONata code of a message and the message starting with it. jsonata-core puts some
/// codes behind a description of its own (`Invalid syntax: S0209: ...`, `Signature
/// validation failed: T0410: ...`); the reference's messages start with the code.
pub(super) fn coded(message: &str) -> (Option<String>, String) {
    let at_code = |i: usize| jsonata_core::evaluator::error_code_prefix(&message[i..]).is_some();
    if at_code(0) {
        return (Some(message[..5].to_owned()), message.to_owned());
    }
    let start = message.match_indices(": ").map(|(i, _)| i + 2).find(|&i| at_code(i));
    match start {
        Some(i) => (Some(message[i..i + 5].to_owned()), message[i..].to_owned()),
        None => (None, message.to_owned()),
    }
}

/// Why [`evaluate_standalone`] produced no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandaloneError {
    #[error(transparent)]
    Syntax(SyntaxError),
    #[error(transparent)]
    Eval(EvalError),
    /// The result is a function or a regex, which JSON cannot hold.
    #[error("the result is a function, which JSON cannot hold")]
    Unsupported,
}

impl StandaloneError {
    /// The JSONata error code (`S0202`, `T2001`, ...), when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StandaloneError::Syntax(e) => e.code.as_deref(),
            StandaloneError::Eval(e) => e.code.as_deref(),
            StandaloneError::Unsupported => None,
        }
    }
}

/// A JSONata field that failed while a state ran: `States.QueryEvaluationError`, with AWS's
/// message (without the state prefix the interpreter adds) and the field it happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    /// `Output/result`, `Items`, `Arguments/FunctionName`, ...; empty when the failure is not
    /// tied to one field.
    pub location: String,
    pub message: String,
}

impl QueryFailure {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self { location: location.into(), message: message.into() }
    }

    /// AWS's message for a value of the wrong type, e.g. `Expected 'array', but was 'number'`.
    pub fn unexpected_type(expression: &Expression, field: &str, expected: &str, value: &Value) -> Self {
        Self::new(
            field,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
                expression.as_str(),
                type_name(value),
                crate::template::compact(value)
            ),
        )
    }
}
