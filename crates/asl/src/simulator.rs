//! The data-flow simulator: evaluate one expression as a state would, outside any execution.
//! Backs `baton eval`. An expression is a JSONPath (`$.a`, `$$.Execution.Id`), a payload
//! template (a JSON object whose `.$` keys read paths or call intrinsics), an intrinsic
//! function call, or a JSON literal (`-4`, `true`, `"text"`), which evaluates to itself as it
//! would in a template.

use serde_json::Value;

use crate::error::{DefinitionError, EvalFailure};
use crate::eval::{PathRef, Randomness, Scope};
use crate::intrinsics::{looks_like_intrinsic, Intrinsic};
use crate::template::{resolve_path, Template};

/// The expression did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("{0}")]
    Template(DefinitionError),
    #[error("invalid intrinsic function: {0}")]
    Intrinsic(String),
    #[error("invalid JSONPath: {0}")]
    Path(String),
}

/// A parsed expression.
pub enum Expression {
    Path(PathRef),
    Template(Template),
    Intrinsic(Box<Intrinsic>),
}

impl Expression {
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        let trimmed = text.trim();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let value: Value = serde_json::from_str(trimmed)
                .map_err(|e| ExpressionError::Path(format!("not a JSON template: {e}")))?;
            let mut problems = Vec::new();
            let template = Template::compile(&value, "", &mut problems);
            if !problems.is_empty() {
                return Err(ExpressionError::Template(DefinitionError { problems }));
            }
            return Ok(Expression::Template(template));
        }
        if let Ok(literal) = serde_json::from_str::<Value>(trimmed) {
            return Ok(Expression::Template(Template::Literal(literal)));
        }
        if looks_like_intrinsic(trimmed) {
            return Intrinsic::parse(trimmed)
                .map(|c| Expression::Intrinsic(Box::new(c)))
                .map_err(|e| ExpressionError::Intrinsic(e.to_string()));
        }
        PathRef::parse(trimmed).map(Expression::Path).map_err(|e| ExpressionError::Path(e.to_string()))
    }

    /// Evaluate against `input`, with `context` as `$$`.
    pub fn eval(&self, input: &Value, context: &Value, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
        let scope = Scope::new(input, context);
        match self {
            Expression::Path(p) => resolve_path(&scope, p, "expression"),
            Expression::Template(t) => t.eval(&scope, random),
            Expression::Intrinsic(c) => c.eval(&scope, random),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Randomness;
    use serde_json::json;

    struct NoRandom;
    impl Randomness for NoRandom {
        fn next_u64(&mut self) -> u64 {
            0
        }
    }

    fn eval(text: &str, input: Value) -> Value {
        Expression::parse(text).unwrap().eval(&input, &json!({}), &mut NoRandom).unwrap()
    }

    #[test]
    fn a_json_literal_evaluates_to_itself() {
        assert_eq!(eval("-4", json!({})), json!(-4));
        assert_eq!(eval(" true ", json!({})), json!(true));
        assert_eq!(eval("\"$.a\"", json!({"a": 1})), json!("$.a"), "a quoted string is text, not a path");
        assert_eq!(eval("$.a", json!({"a": 1})), json!(1));
    }

    #[test]
    fn what_is_neither_a_path_nor_a_literal_is_a_path_error() {
        assert!(matches!(Expression::parse("-$.a"), Err(ExpressionError::Path(_))));
        assert!(matches!(Expression::parse("$.a["), Err(ExpressionError::Path(_))));
    }
}
