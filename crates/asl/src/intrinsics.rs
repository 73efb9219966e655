//! Intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...) of JSONPath mode:
//! their parser, AWS's argument rules, and their evaluation.
//!
//! Parsed once when the definition is loaded ([`Intrinsic::parse`]); evaluated per state with
//! a [`Scope`] for path arguments and a [`Randomness`] for `States.UUID`/`States.MathRandom`.

use serde_json::Value;

use crate::error::EvalFailure;
use crate::eval::{Randomness, Scope};

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    source: String,
}

/// The text is not a well-formed intrinsic call (or names an unknown function, or has the wrong
/// number of arguments where that is known statically).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IntrinsicSyntaxError {
    pub message: String,
}

/// True when a `.$` value should be read as an intrinsic call rather than a path.
pub fn looks_like_intrinsic(text: &str) -> bool {
    text.starts_with("States.")
}

impl Intrinsic {
    pub fn parse(text: &str) -> Result<Self, IntrinsicSyntaxError> {
        let _ = text;
        todo!("intrinsics: parse")
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Evaluate. Failures carry AWS's error name (`States.IntrinsicFailure`, or
    /// `States.Runtime` for a path that finds nothing) and message detail.
    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
        let _ = (scope, random);
        todo!("intrinsics: eval")
    }
}
