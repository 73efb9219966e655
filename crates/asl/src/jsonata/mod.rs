//! JSONata, ASL's 2024 query language, on the `jsonata-core` crate: the glue only.
//!
//! This module owns what Step Functions adds around the language: `{% %}` delimiters,
//! expressions parsed once per definition ([`Expression`]), the documents an expression reads
//! (`$states` and workflow variables, bound by name only when the expression mentions them),
//! AWS's extra functions (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`), the
//! missing `$eval`, and the deterministic `$now`, `$millis`, `$random`, `$uuid` and `$shuffle`
//! that take time and randomness from the interpreter's [`Host`] so an execution replays
//! identically. Evaluation is bounded ([`Limits`]): a runaway expression fails with a JSONata
//! error (D1011, D1012, D2015) instead of holding a worker.
//!
//! The language itself (parser, evaluator, built-in functions) is `jsonata-core`'s; nothing here
//! re-implements it. `JValue`s are reference counted and not `Send`: they live only for one
//! evaluation, and what crosses this module's boundary is `serde_json::Value`.

mod analysis;
mod documents;
mod errors;
mod functions;
pub mod memory;
mod template;
#[cfg(test)]
mod tests;
mod values;

pub use documents::Documents;
pub use errors::{EvalError, QueryFailure, StandaloneError, SyntaxError};
pub use template::{JsonataTemplate, TemplateProblem};
pub use values::{from_jvalue, to_jvalue, type_name, UnsupportedValue};

use analysis::{analyse, HostRefs, Refs};
use errors::syntax_error;
use functions::register_host_functions;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

use jsonata_core::ast::{AstNode, PathStep, Stage};
use jsonata_core::evaluator::{CancelToken, Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::parser::{self, ParserError};
use jsonata_core::value::{JArray, JMap, JValue};
use serde_json::{Map, Number, Value};

use crate::eval::{Randomness, SplitMix64};
use crate::timestamp::{self, Millis};

/// The text between `{%` and `%}` when `text` is a JSONata expression string: it must start
/// with exactly `{%` and end with exactly `%}`; anything else (leading spaces included) is a
/// plain string.
pub fn expression_text(text: &str) -> Option<&str> {
    text.strip_prefix("{%")?.strip_suffix("%}")
}

/// How far one evaluation may go. Depth and sequence length are deterministic; the timeout is
/// the last guard against an expression that is slow without being deep or long, and the
/// memory bound the one against an expression that builds too much in total (many sequences,
/// each within the length limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation (JSONata D1012 when exceeded).
    pub timeout_ms: Option<u64>,
    /// Deepest evaluation stack (D1011).
    pub max_depth: Option<usize>,
    /// Longest sequence one step may build (D2015).
    pub max_sequence: Option<usize>,
    /// Most memory one evaluation may hold at once, in bytes: the values it builds and the
    /// documents it reads (see [`memory`]).
    pub max_memory: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: Some(5_000),
            max_depth: Some(5_000),
            max_sequence: Some(10_000_000),
            max_memory: Some(MAX_MEMORY),
        }
    }
}

/// [`Limits::max_memory`]'s default, 1 GiB: room for the longest range JSONata allows
/// (10,000,000 items, which the reference suite counts) and little more.
pub const MAX_MEMORY: usize = 1 << 30;

impl Limits {
    fn options(self, cancel: Option<CancelToken>) -> EvaluatorOptions {
        EvaluatorOptions {
            timeout_ms: self.timeout_ms,
            cancel,
            max_stack_depth: self.max_depth,
            max_sequence_length: self.max_sequence,
        }
    }
}

/// What the interpreter hands an evaluation: the time `$now`/`$millis` report, a seed for
/// `$random`/`$uuid`/`$shuffle`, and the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub now: Millis,
    pub seed: u64,
    pub limits: Limits,
}

impl Host {
    /// A host for one evaluation, drawing its seed from `random` only when the expression
    /// needs randomness (so expressions without it leave the interpreter's draws alone).
    pub fn for_expression(expression: &Expression, now: Millis, random: &mut dyn Randomness) -> Self {
        let seed = if expression.refs.host.needs_random() { random.next_u64() } else { 0 };
        Self { now, seed, limits: Limits::default() }
    }
}

/// Which members of `$states` an expression reads, so only those are built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatesRefs {
    pub input: bool,
    pub result: bool,
    pub error_output: bool,
    pub context: bool,
}

impl StatesRefs {
    fn all() -> Self {
        Self { input: true, result: true, error_output: true, context: true }
    }
}

/// A parsed JSONata expression: parse once per definition, evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
    ast: AstNode,
    refs: Refs,
}

impl Expression {
    /// Parse the expression text (without `{% %}`). Surrounding whitespace is not part of the
    /// expression, as AWS quotes it in messages.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let source = text.trim().to_owned();
        let ast = parser::parse(&source).map_err(|e| syntax_error(&e))?;
        let refs = analyse(&ast);
        Ok(Self { source, ast, refs })
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Workflow variables the expression reads, sorted (`$states` is not one).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.refs.free.iter().map(String::as_str).filter(|n| *n != "states")
    }

    /// The members of `$states` the expression names (`$states.result`); `$states` used as a
    /// whole names none.
    pub fn states_refs(&self) -> StatesRefs {
        self.refs.named
    }

    /// True when the expression reads `$` or `$$` outside any context item.
    pub fn reads_root_context(&self) -> bool {
        self.refs.root_context
    }

    /// Evaluate against `data` (`$`), binding each free variable `bind` knows. `Ok(None)` is
    /// JSONata's undefined.
    pub fn evaluate(
        &self,
        data: &JValue,
        bind: &mut dyn FnMut(&str) -> Option<JValue>,
        host: &Host,
    ) -> Result<JValue, EvalError> {
        let mut context = Context::new();
        for name in &self.refs.free {
            if let Some(value) = bind(name) {
                context.bind(name.clone(), value);
            }
        }
        let Some(max_memory) = host.limits.max_memory else {
            let mut evaluator = Evaluator::with_options(context, host.limits.options(None));
            register_host_functions(&mut evaluator, self.refs.host, host);
            return evaluator.evaluate(&self.ast, data).map_err(|e| EvalError::from_evaluator(&e));
        };
        let cancel = CancelToken::new();
        let mut evaluator = Evaluator::with_options(context, host.limits.options(Some(cancel.clone())));
        register_host_functions(&mut evaluator, self.refs.host, host);
        let (result, exceeded) = memory::bounded(&cancel, max_memory, || evaluator.evaluate(&self.ast, data));
        drop(evaluator);
        if exceeded {
            return Err(EvalError {
                code: None,
                message: format!(
                    "The evaluation exceeded the memory limit of {} MiB: it builds too many values.",
                    max_memory >> 20
                ),
            });
        }
        result.map_err(|e| EvalError::from_evaluator(&e))
    }
}

/// Evaluate one expression outside an execution, through the same glue as a state's fields
/// (`baton eval --jsonata`, the reference suite): `data` is `$` (`None`: undefined) and
/// `bindings` are variables. `Ok(None)` is undefined.
pub fn evaluate_standalone(
    text: &str,
    data: Option<&Value>,
    bindings: &Map<String, Value>,
    host: &Host,
) -> Result<Option<Value>, StandaloneError> {
    let expression = Expression::parse(text).map_err(StandaloneError::Syntax)?;
    let data = data.map_or(JValue::Undefined, to_jvalue);
    let mut bind = |name: &str| bindings.get(name).map(to_jvalue);
    let result = expression.evaluate(&data, &mut bind, host).map_err(StandaloneError::Eval)?;
    from_jvalue(&result).map_err(|UnsupportedValue| StandaloneError::Unsupported)
}

impl fmt::Display for StatesRefs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.input, "input"),
            (self.result, "result"),
            (self.error_output, "errorOutput"),
            (self.context, "context"),
        ];
        let listed: Vec<&str> = names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
        write!(f, "{}", listed.join(", "))
    }
}
