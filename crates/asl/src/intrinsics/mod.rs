//! Intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...) of JSONPath mode:
//! their parser, AWS's argument rules, and their evaluation.
//!
//! Parsed once when the definition is loaded ([`Intrinsic::parse`]); evaluated per state with
//! a [`Scope`] for path arguments and a [`Randomness`] for `States.UUID`/`States.MathRandom`.
//!
//! # Syntax
//!
//! `States.Name(arg, ...)`, where an argument is a `'quoted string'`, a JSON number, `true`,
//! `false`, `null`, a path (`$...`, `$$...`, `$var...`, routed by [`PathRef`]) or another call.
//! Calls nest at most [`MAX_NESTING`] deep. Inside a quoted string `\'`, `\{`, `\}` and `\\`
//! stand for the character itself; an escaped brace is never a `States.Format` placeholder.
//!
//! What is known from the text alone is checked by [`Intrinsic::parse`] and reported as an
//! [`IntrinsicSyntaxError`] (the definition is invalid): unknown function names, argument
//! counts, a literal `States.Format` template whose `{}` count does not match its arguments,
//! and a `States.JsonToString` argument that is not a path. Everything that depends on data is
//! checked when the call runs.
//!
//! # Failures
//!
//! [`Intrinsic::eval`] fails with `States.IntrinsicFailure` when an argument has the wrong type
//! or value, and with `States.Runtime` when a path argument finds nothing, a variable is
//! undefined, or a string literal holds an escape other than the four above (AWS documents an
//! "open escape" as a runtime error, not a definition error).
//!
//! # Behaviour worth knowing
//!
//! - Where an integer is required (`MathAdd`, `MathRandom`, `ArrayRange`, `ArrayPartition`,
//!   `ArrayGetItem`) a fractional number is rounded half up, as Java's `Math.round` does
//!   (`-1.5` → `-1`, `1.5` → `2`), which is what AWS's recorded executions show.
//! - `States.Format` renders strings without quotes, other scalars as JSON, and (as AWS does,
//!   although the spec forbids them) objects as `{k=v, ...}` and arrays as `[a, b]`.
//! - `States.StringSplit` splits on every character of its delimiter and drops empty pieces.
//! - `States.StringToJson` of an empty or blank string is `null`.
//! - `States.ArrayContains` and `States.ArrayUnique` compare numbers by value (`1` equals `1.0`).
//! - `States.MathRandom(start, end[, seed])` draws from `[start, end)`; with a seed the result
//!   depends on the seed alone.

use std::collections::HashSet;
use std::fmt::{self, Write as _};

use base64::Engine as _;
use serde_json::{Map, Number, Value};
use sha2::Digest as _;

use crate::error::EvalFailure;
use crate::eval::{LookupError, PathRef, Randomness, Scope, SplitMix64};

mod eval;
mod functions;
mod parser;
use eval::*;
use functions::*;
use parser::*;

/// How deep calls may nest in one field (the outermost call counts as the first level).
pub const MAX_NESTING: usize = 10;

/// The longest input, in characters, `States.Base64Encode`, `States.Base64Decode` and
/// `States.Hash` accept.
pub const MAX_ENCODING_INPUT_CHARS: usize = 10_000;

/// The most items `States.ArrayRange` may produce.
pub const MAX_RANGE_ITEMS: usize = 1000;

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    source: String,
    call: Call,
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
        let mut parser = Parser { text, pos: 0 };
        let call = parser.call(1)?;
        parser.skip_whitespace();
        if parser.pos < text.len() {
            return Err(syntax(format!("unexpected {} after the end of the call", parser.describe_next())));
        }
        Ok(Self { source: text.to_owned(), call })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every path among the arguments, nested calls included, in order.
    pub fn paths(&self) -> Vec<&PathRef> {
        fn collect<'a>(call: &'a Call, out: &mut Vec<&'a PathRef>) {
            for arg in &call.args {
                match arg {
                    Arg::Path(p) => out.push(p),
                    Arg::Call(c) => collect(c, out),
                    Arg::Literal(_) | Arg::Str { .. } | Arg::BadEscape(_) => {}
                }
            }
        }
        let mut out = Vec::new();
        collect(&self.call, &mut out);
        out
    }

    /// Evaluate. Failures carry AWS's error name (`States.IntrinsicFailure`, or
    /// `States.Runtime` for a path that finds nothing) and message detail.
    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
        eval_call(&self.call, scope, random)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    /// Fewest and most arguments (`None`: no upper bound).
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Format => (1, None),
            Function::Array => (0, None),
            Function::Uuid => (0, Some(0)),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => (1, Some(1)),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => (2, Some(2)),
            Function::ArrayRange | Function::JsonMerge => (3, Some(3)),
            Function::MathRandom => (2, Some(3)),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    function: Function,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    /// A quoted string, unescaped. `holes` are the byte offsets of its unescaped `{}` pairs,
    /// so `States.Format` never has to re-read the escapes.
    Str {
        value: Value,
        holes: Vec<usize>,
    },
    Path(PathRef),
    Call(Box<Call>),
    /// A quoted string with an escape AWS only rejects when the call runs.
    BadEscape(String),
}

#[cfg(test)]
mod tests;
