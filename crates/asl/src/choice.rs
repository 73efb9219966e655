//! Choice rules: parsing a rule from the definition and evaluating it against a state's input.
//!
//! Every comparison operator and its `...Path` form, the type tests (`IsPresent`, `IsNull`,
//! `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp`), `StringMatches` with its escapes,
//! and `And`/`Or`/`Not`. A comparison between values of different types is false; a
//! `Variable` that finds nothing (outside `IsPresent`) fails the state with `States.Runtime`.

use serde_json::Value;

use crate::error::{DefinitionError, EvalFailure};
use crate::eval::Scope;

/// A top-level rule of a Choice state: a condition and the state it leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
}

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Placeholder until the parser lands.
    Unparsed(Value),
}

impl ChoiceRule {
    /// Parse one entry of `Choices`; `pointer` is its location (e.g. `/States/Check/Choices/0`),
    /// used in error messages.
    pub fn parse(rule: &Value, pointer: &str) -> Result<Self, DefinitionError> {
        let _ = (rule, pointer);
        todo!("choice: parse")
    }
}

impl Condition {
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, EvalFailure> {
        let _ = scope;
        todo!("choice: eval")
    }
}
