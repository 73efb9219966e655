//! The data-flow simulator: evaluate one expression as a state would, outside any execution.
//! Backs `baton eval`. An expression is a JSONPath (`$.a`, `$$.Execution.Id`), a payload
//! template (a JSON object whose `.$` keys read paths or call intrinsics), or an intrinsic
//! function call.

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
