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

// ---------------------------------------------------------------------------------------------
// The parsed form
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

const EXPECTED_ARGUMENT: &str =
    "expected an argument (a quoted string, a number, true, false, null, a path or an intrinsic function call)";

fn syntax(message: String) -> IntrinsicSyntaxError {
    IntrinsicSyntaxError { message }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '_'
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.bump();
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.text.get(start..self.pos).unwrap_or_default()
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            Some(c) => format!("'{c}' at position {}", self.pos),
            None => "end of text".to_owned(),
        }
    }

    /// `Name(args)`; `depth` is the nesting level of this call, 1 for the outermost.
    fn call(&mut self, depth: usize) -> Result<Call, IntrinsicSyntaxError> {
        let name_at = self.pos;
        let name = self.take_while(is_name_char).to_owned();
        if name.is_empty() {
            return Err(syntax(format!("expected an intrinsic function name, found {}", self.describe_next())));
        }
        let function = Function::from_name(&name)
            .ok_or_else(|| syntax(format!("unknown intrinsic function '{name}' at position {name_at}")))?;
        if depth > MAX_NESTING {
            return Err(syntax(format!(
                "intrinsic functions nest at most {MAX_NESTING} levels deep; '{name}' at position {name_at} is level {depth}"
            )));
        }
        self.skip_whitespace();
        if self.bump() != Some('(') {
            return Err(syntax(format!("expected '(' after '{name}' at position {name_at}")));
        }
        let mut args = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(')') {
            self.bump();
        } else {
            loop {
                self.skip_whitespace();
                args.push(self.arg(depth)?);
                self.skip_whitespace();
                match self.peek() {
                    Some(',') => {
                        self.bump();
                    }
                    Some(')') => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(syntax(format!(
                            "expected ',' or ')' in the arguments of {function}, found {}",
                            self.describe_next()
                        )))
                    }
                }
            }
        }
        let call = Call { function, args };
        check_call(&call)?;
        Ok(call)
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicSyntaxError> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let word = self.take_while(is_name_char).to_owned();
                match word.as_str() {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    _ => {
                        self.skip_whitespace();
                        let is_call = self.peek() == Some('(');
                        self.pos = start;
                        if !is_call {
                            return Err(syntax(format!("{EXPECTED_ARGUMENT}, found '{word}' at position {start}")));
                        }
                        Ok(Arg::Call(Box::new(self.call(depth + 1)?)))
                    }
                }
            }
            _ => Err(syntax(format!("{EXPECTED_ARGUMENT}, found {}", self.describe_next()))),
        }
    }

    fn string(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        let mut holes = Vec::new();
        let mut bad_escape = None;
        loop {
            match self.bump() {
                None => {
                    return Err(syntax(format!("unterminated string starting at position {start}")));
                }
                Some('\'') => break,
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => value.push(c),
                    Some(c) => {
                        bad_escape.get_or_insert_with(|| {
                            format!(
                                "The string starting at position {start} of the intrinsic function has \
                                 the escape sequence '\\{c}'; only \\', \\{{, \\}} and \\\\ are allowed"
                            )
                        });
                        value.push('\\');
                        value.push(c);
                    }
                    None => {
                        return Err(syntax(format!("unterminated string starting at position {start}")));
                    }
                },
                Some('{') if self.peek() == Some('}') => {
                    self.bump();
                    holes.push(value.len());
                    value.push_str("{}");
                }
                Some(c) => value.push(c),
            }
        }
        Ok(match bad_escape {
            Some(message) => Arg::BadEscape(message),
            None => Arg::Str { value: Value::String(value), holes },
        })
    }

    /// A path runs to the first `,`, `)` or whitespace outside brackets; inside brackets
    /// (filters, quoted names) anything goes.
    fn path(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                self.bump();
                if c == '\\' {
                    self.bump();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                ',' | ')' if depth == 0 => break,
                c if depth == 0 && is_space(c) => break,
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                '\'' | '"' if depth > 0 => quote = Some(c),
                _ => {}
            }
            self.bump();
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        PathRef::parse(text)
            .map(Arg::Path)
            .map_err(|e| syntax(format!("invalid path '{text}' at position {start}: {}", e.message)))
    }

    fn number(&mut self) -> Result<Arg, IntrinsicSyntaxError> {
        let start = self.pos;
        let text = self.take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Number(n)) => Ok(Arg::Literal(Value::Number(normalize_zero(n)))),
            _ => Err(syntax(format!("invalid number '{text}' at position {start}"))),
        }
    }
}

/// The checks that need no data.
fn check_call(call: &Call) -> Result<(), IntrinsicSyntaxError> {
    let f = call.function;
    let given = call.args.len();
    let (min, max) = f.arity();
    if given < min || max.is_some_and(|max| given > max) {
        let count = |n: usize| format!("{n} argument{}", if n == 1 { "" } else { "s" });
        let expected = match max {
            Some(0) => "no arguments".to_owned(),
            Some(max) if max == min => count(min),
            Some(max) => format!("{min} or {}", count(max)),
            None => format!("at least {}", count(min)),
        };
        return Err(syntax(format!("{f} takes {expected}, but was given {given}")));
    }
    match (f, call.args.first()) {
        (Function::Format, Some(Arg::Str { holes, .. })) if holes.len() != given - 1 => Err(syntax(format!(
            "the template of {f} has {} '{{}}' placeholder(s) but {} value argument(s) follow it",
            holes.len(),
            given - 1
        ))),
        (Function::Format, Some(Arg::Literal(v))) => {
            Err(syntax(format!("the first argument of {f} must be a string, not {}", type_name(v))))
        }
        (Function::JsonToString, Some(arg)) if !matches!(arg, Arg::Path(_)) => {
            Err(syntax(format!("the argument of {f} must be a path")))
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

fn eval_call(call: &Call, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    let f = call.function;
    let mut args = Args { f, args: call.args.iter(), scope, random, position: 0 };
    match f {
        Function::Format => format(call, scope, args.random),
        Function::StringToJson => string_to_json(args.string()?),
        Function::JsonToString => {
            let value = args.any()?;
            serde_json::to_string(&value).map(Value::String).map_err(|e| invalid(f, e))
        }
        Function::Array => Ok(Value::Array(args.rest()?)),
        Function::ArrayPartition => {
            let array = args.array()?;
            array_partition(array, args.integer()?)
        }
        Function::ArrayContains => {
            let array = args.array()?;
            let needle = args.any()?;
            Ok(Value::Bool(array.iter().any(|v| json_eq(v, &needle))))
        }
        Function::ArrayRange => {
            let start = args.integer()?;
            let end = args.integer()?;
            array_range(start, end, args.integer()?)
        }
        Function::ArrayGetItem => {
            let array = args.array()?;
            array_get_item(array, args.integer()?)
        }
        Function::ArrayLength => Ok(Value::from(args.array()?.len())),
        Function::ArrayUnique => Ok(Value::Array(array_unique(args.array()?))),
        Function::Base64Encode => {
            let text = args.bounded_string()?;
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text)))
        }
        Function::Base64Decode => base64_decode(args.bounded_string()?),
        Function::Hash => {
            let data = args.bounded_string()?;
            hash(&data, &args.string()?)
        }
        Function::JsonMerge => {
            let left = args.object()?;
            let right = args.object()?;
            json_merge(left, right, args.boolean()?)
        }
        Function::MathRandom => {
            let start = args.integer()?;
            let end = args.integer()?;
            let seed = if call.args.len() > 2 { Some(args.integer()?) } else { None };
            math_random(start, end, seed, args.random)
        }
        Function::MathAdd => {
            let a = args.int32()?;
            math_add(a, args.int32()?)
        }
        Function::StringSplit => {
            let text = args.string()?;
            Ok(string_split(&text, &args.string()?))
        }
        Function::Uuid => Ok(Value::String(args.random.uuid_v4())),
    }
}

fn eval_arg(arg: &Arg, f: Function, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    match arg {
        Arg::Literal(v) | Arg::Str { value: v, .. } => Ok(v.clone()),
        Arg::Path(path) => eval_path(path, f, scope),
        Arg::Call(call) => eval_call(call, scope, random),
        Arg::BadEscape(message) => Err(EvalFailure::runtime(message.clone())),
    }
}

fn eval_path(path: &PathRef, f: Function, scope: &Scope<'_>) -> Result<Value, EvalFailure> {
    scope.eval(path).map_err(|e| match e {
        LookupError::Path(_) => {
            let document = match path {
                PathRef::Input(_) => Some(scope.input),
                PathRef::Context(_) => Some(scope.context()),
                PathRef::Variable { name, .. } => scope.variables.and_then(|vars| vars.variable(name)),
            };
            let shown = document.map(|d| serde_json::to_string(d).unwrap_or_default()).unwrap_or_default();
            EvalFailure::runtime(format!(
                "The JsonPath argument '{}' of {f} could not be found in the input '{shown}'",
                path.as_str()
            ))
        }
        LookupError::UndefinedVariable(_) => EvalFailure::runtime(e.to_string()),
    })
}

fn invalid(f: Function, detail: impl fmt::Display) -> EvalFailure {
    EvalFailure::intrinsic(format!("Invalid arguments in {f}: {detail}"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a value for messages: large inputs must not blow up a failure cause.
fn shown(v: &Value) -> String {
    const LIMIT: usize = 100;
    let text = serde_json::to_string(v).unwrap_or_default();
    if text.chars().count() <= LIMIT {
        text
    } else {
        let mut cut: String = text.chars().take(LIMIT).collect();
        cut.push_str("...");
        cut
    }
}

/// The arguments of one call, evaluated in order as each is taken with the type its position
/// needs.
struct Args<'c, 's, 'a, 'r> {
    f: Function,
    args: std::slice::Iter<'c, Arg>,
    scope: &'s Scope<'a>,
    random: &'r mut dyn Randomness,
    position: usize,
}

impl Args<'_, '_, '_, '_> {
    fn any(&mut self) -> Result<Value, EvalFailure> {
        self.position += 1;
        let arg = self.args.next().ok_or_else(|| invalid(self.f, format!("argument {} is missing", self.position)))?;
        eval_arg(arg, self.f, self.scope, self.random)
    }

    fn rest(&mut self) -> Result<Vec<Value>, EvalFailure> {
        let mut values = Vec::with_capacity(self.args.len());
        while self.args.len() > 0 {
            values.push(self.any()?);
        }
        Ok(values)
    }

    fn wrong(&self, wanted: &str, got: &Value) -> EvalFailure {
        invalid(self.f, format!("argument {} must be {wanted}, but got {}", self.position, shown(got)))
    }

    fn string(&mut self) -> Result<String, EvalFailure> {
        match self.any()? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong("a string", &other)),
        }
    }

    fn bounded_string(&mut self) -> Result<String, EvalFailure> {
        let s = self.string()?;
        let chars = s.chars().count();
        if chars > MAX_ENCODING_INPUT_CHARS {
            return Err(invalid(
                self.f,
                format!(
                    "argument {} has {chars} characters; at most {MAX_ENCODING_INPUT_CHARS} are allowed",
                    self.position
                ),
            ));
        }
        Ok(s)
    }

    fn array(&mut self) -> Result<Vec<Value>, EvalFailure> {
        match self.any()? {
            Value::Array(a) => Ok(a),
            other => Err(self.wrong("an array", &other)),
        }
    }

    fn object(&mut self) -> Result<Map<String, Value>, EvalFailure> {
        match self.any()? {
            Value::Object(o) => Ok(o),
            other => Err(self.wrong("an object", &other)),
        }
    }

    fn boolean(&mut self) -> Result<bool, EvalFailure> {
        match self.any()? {
            Value::Bool(b) => Ok(b),
            other => Err(self.wrong("a boolean", &other)),
        }
    }

    fn integer(&mut self) -> Result<i64, EvalFailure> {
        let value = self.any()?;
        let rounded = match &value {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Some(i),
                (None, Some(x)) => java_round(x),
                (None, None) => None,
            },
            _ => None,
        };
        rounded.ok_or_else(|| self.wrong("an integer", &value))
    }

    fn int32(&mut self) -> Result<i64, EvalFailure> {
        let i = self.integer()?;
        if i32::try_from(i).is_err() {
            return Err(invalid(
                self.f,
                format!("argument {} ({i}) is outside the integer range {} to {}", self.position, i32::MIN, i32::MAX),
            ));
        }
        Ok(i)
    }
}

/// Java's `Math.round`: half rounds towards positive infinity. `None` when the result does not
/// fit an `i64` (or `x` is not finite).
fn java_round(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // i64::MAX as f64 rounds up to 2^63, which is already out of range.
    if rounded >= -(2f64.powi(63)) && rounded < 2f64.powi(63) {
        Some(rounded as i64)
    } else {
        None
    }
}

/// `-0` parses as the float `-0.0`; AWS reads it as the integer `0`.
fn normalize_zero(n: Number) -> Number {
    match n.as_f64() {
        Some(x) if n.is_f64() && x == 0.0 && x.is_sign_negative() => Number::from(0),
        _ => n,
    }
}

fn normalize_zeros(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::Number(normalize_zero(n)),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize_zeros).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalize_zeros(v))).collect()),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// The functions
// ---------------------------------------------------------------------------------------------

fn format(call: &Call, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    let f = call.function;
    let (template_arg, value_args) = match call.args.split_first() {
        Some(split) => split,
        None => return Err(invalid(f, "the template argument is missing")),
    };
    // A literal template was split at parse time; only a template read from data is scanned.
    let evaluated;
    let scanned;
    let (template, holes): (&str, &[usize]) = match template_arg {
        Arg::Str { value: Value::String(s), holes } => (s, holes),
        other => match eval_arg(other, f, scope, random)? {
            Value::String(s) => {
                evaluated = s;
                scanned = evaluated.match_indices("{}").map(|(i, _)| i).collect::<Vec<_>>();
                (&evaluated, &scanned)
            }
            v => return Err(invalid(f, format!("the template must be a string, but got {}", shown(&v)))),
        },
    };
    if holes.len() != value_args.len() {
        return Err(invalid(
            f,
            format!(
                "the template has {} '{{}}' placeholder(s) but {} value argument(s) were given",
                holes.len(),
                value_args.len()
            ),
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut from = 0;
    for (hole, arg) in holes.iter().zip(value_args) {
        out.push_str(template.get(from..*hole).unwrap_or_default());
        render_natural(&eval_arg(arg, f, scope, random)?, &mut out);
        from = hole + 2;
    }
    out.push_str(template.get(from..).unwrap_or_default());
    Ok(Value::String(out))
}

/// A value as `States.Format` shows it. Objects and arrays follow AWS's recorded output, which
/// is Java's `Map`/`List` rendering (`{a=1, b=[x, y]}`), not JSON.
fn render_natural(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_natural(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render_natural(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

fn string_to_json(text: String) -> Result<Value, EvalFailure> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str::<Value>(trimmed)
        .map(normalize_zeros)
        .map_err(|e| invalid(Function::StringToJson, format!("the string is not valid JSON ({e})")))
}

fn array_partition(array: Vec<Value>, size: i64) -> Result<Value, EvalFailure> {
    let f = Function::ArrayPartition;
    if size <= 0 {
        return Err(invalid(f, format!("the chunk size must be a positive integer, but got {size}")));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let mut chunks = Vec::with_capacity(array.len().div_ceil(size));
    let mut items = array.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(Value::Array(items.by_ref().take(size).collect()));
    }
    Ok(Value::Array(chunks))
}

fn array_range(start: i64, end: i64, step: i64) -> Result<Value, EvalFailure> {
    let f = Function::ArrayRange;
    if step == 0 {
        return Err(invalid(f, "the step must not be 0"));
    }
    let span = i128::from(end) - i128::from(start);
    let count = if span != 0 && (span < 0) != (step < 0) { 0 } else { span / i128::from(step) + 1 };
    if count > MAX_RANGE_ITEMS as i128 {
        return Err(invalid(f, format!("the range has {count} items; at most {MAX_RANGE_ITEMS} are allowed")));
    }
    // Every item lies between start and end, so it fits an i64.
    let items = (0..count).map(|i| Value::from((i128::from(start) + i * i128::from(step)) as i64)).collect();
    Ok(Value::Array(items))
}

fn array_get_item(array: Vec<Value>, index: i64) -> Result<Value, EvalFailure> {
    let len = array.len();
    usize::try_from(index).ok().and_then(|i| array.into_iter().nth(i)).ok_or_else(|| {
        invalid(Function::ArrayGetItem, format!("index {index} is out of bounds for an array of length {len}"))
    })
}

fn array_unique(array: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::with_capacity(array.len());
    array.into_iter().filter(|v| seen.insert(canonical(v))).collect()
}

fn base64_decode(text: String) -> Result<Value, EvalFailure> {
    let f = Function::Base64Decode;
    // MIME decoding skips line breaks, which MIME encoders insert every 76 characters.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(compact).map_err(|e| invalid(f, format!("the string is not valid base64 ({e})")))?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| invalid(f, "the decoded data is not valid UTF-8 text"))
}

fn hash(data: &str, algorithm: &str) -> Result<Value, EvalFailure> {
    fn hex(bytes: &[u8]) -> Value {
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        Value::String(s)
    }
    let data = data.as_bytes();
    Ok(match algorithm {
        "MD5" => hex(&md5::Md5::digest(data)),
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-384" => hex(&sha2::Sha384::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(invalid(
                Function::Hash,
                format!("the algorithm '{other}' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
            ))
        }
    })
}

fn json_merge(mut left: Map<String, Value>, right: Map<String, Value>, deep: bool) -> Result<Value, EvalFailure> {
    if deep {
        return Err(invalid(Function::JsonMerge, "deep merging is not supported; the third argument must be false"));
    }
    left.extend(right);
    Ok(Value::Object(left))
}

fn math_random(start: i64, end: i64, seed: Option<i64>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    if end <= start {
        return Err(invalid(
            Function::MathRandom,
            format!("the end number ({end}) must be greater than the start number ({start})"),
        ));
    }
    let span = (i128::from(end) - i128::from(start)) as u128;
    let draw = match seed {
        Some(seed) => SplitMix64(seed as u64).next_u64(),
        None => random.next_u64(),
    };
    // Multiply-shift maps the draw onto the span without modulo's bias toward small offsets.
    let offset = (u128::from(draw) * span) >> 64;
    Ok(Value::from((i128::from(start) + offset as i128) as i64))
}

fn math_add(a: i64, b: i64) -> Result<Value, EvalFailure> {
    let sum = a + b;
    if i32::try_from(sum).is_err() {
        return Err(invalid(
            Function::MathAdd,
            format!("the sum {sum} is outside the integer range {} to {}", i32::MIN, i32::MAX),
        ));
    }
    Ok(Value::from(sum))
}

fn string_split(text: &str, delimiters: &str) -> Value {
    Value::Array(
        text.split(|c| delimiters.contains(c))
            .filter(|piece| !piece.is_empty())
            .map(|piece| Value::String(piece.to_owned()))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Value equality
// ---------------------------------------------------------------------------------------------

/// JSON equality with numbers compared by value and object keys in any order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn number_eq(x: &Number, y: &Number) -> bool {
    match (exact_integer(x), exact_integer(y)) {
        (Some(i), Some(j)) => i == j,
        _ => x.as_f64() == y.as_f64(),
    }
}

/// The number as an integer when it is one, whatever its representation.
fn exact_integer(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let x = n.as_f64()?;
    (x.fract() == 0.0 && x.abs() < 2f64.powi(100)).then_some(x as i128)
}

/// A text that is equal for two values exactly when [`json_eq`] holds, for hashing.
fn canonical(v: &Value) -> String {
    fn write_canonical(v: &Value, out: &mut String) {
        match v {
            Value::Number(n) => match exact_integer(n) {
                Some(i) => {
                    let _ = write!(out, "{i}");
                }
                None => {
                    let _ = write!(out, "{n}");
                }
            },
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    write_canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (k, item) in entries {
                    let _ = write!(out, "{}:", Value::String(k.clone()));
                    write_canonical(item, out);
                    out.push(',');
                }
                out.push('}');
            }
            other => {
                let _ = write!(out, "{other}");
            }
        }
    }
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval_with(text: &str, input: &Value, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
        let intrinsic = Intrinsic::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let context = json!({"Execution": {"Name": "exec-1", "Input": input}});
        let scope = Scope::new(input, &context);
        intrinsic.eval(&scope, random)
    }

    fn eval_on(text: &str, input: &Value) -> Result<Value, EvalFailure> {
        eval_with(text, input, &mut SplitMix64(7))
    }

    fn eval(text: &str) -> Value {
        eval_on(text, &json!({})).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn failure_on(text: &str, input: &Value) -> EvalFailure {
        match eval_on(text, input) {
            Ok(v) => panic!("{text} gave {v}, expected a failure"),
            Err(e) => e,
        }
    }

    /// Fails with `States.IntrinsicFailure` and a message naming the function.
    fn assert_invalid(text: &str) -> String {
        let failure = failure_on(text, &json!({}));
        assert_eq!(failure.error, "States.IntrinsicFailure", "{text}: {failure}");
        let name = text.split('(').next().unwrap_or_default();
        assert!(failure.message.contains(name), "{text}: {failure}");
        failure.message
    }

    fn syntax_error(text: &str) -> String {
        match Intrinsic::parse(text) {
            Ok(i) => panic!("{text} parsed as {i:?}"),
            Err(e) => e.message,
        }
    }

    /// `text` with the intrinsic string escapes applied, ready to put between quotes.
    fn escape(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            if matches!(c, '\'' | '{' | '}' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn literals_and_nesting() {
        assert_eq!(
            eval("States.Array('a', 1, -2, 1.5, 2e3, true, false, null, States.Array(), '')"),
            json!(["a", 1, -2, 1.5, 2000.0, true, false, null, [], ""])
        );
        assert!(eval("States.Array(1)")[0].is_i64() || eval("States.Array(1)")[0].is_u64());
        assert_eq!(eval("States.Array(-0)"), json!([0]));
        assert_eq!(eval("States.Array(  1 ,\n 2\t)"), json!([1, 2]));
        assert_eq!(eval("States.Array (1) \n"), json!([1]));
        assert_eq!(eval("States.Array( )"), json!([]));
    }

    #[test]
    fn source_text_is_kept() {
        let text = "States.Array( 1 )";
        assert_eq!(Intrinsic::parse(text).map(|i| i.as_str().to_owned()), Ok(text.to_owned()));
        assert!(looks_like_intrinsic(text));
        assert!(!looks_like_intrinsic("$.States"));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(eval(r"States.Format('it\'s \{\} and \\ {}', 1)"), json!("it's {} and \\ 1"));
        assert_eq!(eval(r"States.Format('\{}{\}')"), json!("{}{}"));
        // Unescaped braces that are not a `{}` pair are plain text, as in AWS's recordings.
        assert_eq!(eval(r#"States.StringToJson('{"a": "}{"}')"#), json!({"a": "}{"}));
        // A raw newline inside the quotes is kept.
        assert_eq!(eval("States.StringSplit('Hello\nWorld', '\n')"), json!(["Hello", "World"]));
        assert_eq!(eval("States.Array('a,b)c')"), json!(["a,b)c"]));
    }

    #[test]
    fn open_escape_fails_at_run_time() {
        let failure = failure_on(r"States.Format('a\nb')", &json!({}));
        assert_eq!(failure.error, "States.Runtime");
        assert!(failure.message.contains(r"\n"), "{failure}");
    }

    #[test]
    fn syntax_errors() {
        for (text, needle) in [
            ("States.Foo(1)", "unknown intrinsic function 'States.Foo'"),
            ("States.Array(Foo(1))", "unknown intrinsic function 'Foo'"),
            ("States.Array(True)", "found 'True'"),
            ("States.ArrayRange(1, 2)", "States.ArrayRange takes 3 arguments, but was given 2"),
            ("States.UUID(1)", "States.UUID takes no arguments, but was given 1"),
            ("States.Format()", "States.Format takes at least 1 argument, but was given 0"),
            ("States.MathRandom(1)", "States.MathRandom takes 2 or 3 arguments, but was given 1"),
            ("States.MathRandom(1, 2, 3, 4)", "but was given 4"),
            ("States.ArrayLength()", "States.ArrayLength takes 1 argument, but was given 0"),
            ("States.Format('{} {}', 1)", "has 2 '{}' placeholder(s) but 1 value argument(s)"),
            ("States.Format('{}')", "has 1 '{}' placeholder(s) but 0 value argument(s)"),
            ("States.Format(1)", "must be a string, not a number"),
            ("States.JsonToString('x')", "the argument of States.JsonToString must be a path"),
            ("States.JsonToString(States.Array())", "must be a path"),
            ("States.Format('abc)", "unterminated string starting at position 14"),
            ("States.Format('abc\\", "unterminated string"),
            ("States.UUID() x", "unexpected 'x' at position 14 after the end of the call"),
            ("States.Array(1,)", "found ')' at position 15"),
            ("States.Array(1", "expected ',' or ')' in the arguments of States.Array, found end of text"),
            ("States.Array(1 2)", "found '2' at position 15"),
            ("States.Array(01)", "invalid number '01'"),
            ("States.Array(-)", "invalid number '-'"),
            ("States.Array(1e999)", "invalid number '1e999'"),
            ("States.Array(#)", "found '#' at position 13"),
            (" States.UUID()", "expected an intrinsic function name, found ' ' at position 0"),
            ("States.UUID", "expected '(' after 'States.UUID'"),
            ("", "expected an intrinsic function name, found end of text"),
        ] {
            let message = syntax_error(text);
            assert!(message.contains(needle), "{text:?}: {message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn nesting_is_limited_to_ten_levels() {
        let nested = |levels: usize| format!("{}1{}", "States.Array(".repeat(levels), ")".repeat(levels));
        let mut expected = json!(1);
        for _ in 0..MAX_NESTING {
            expected = json!([expected]);
        }
        assert_eq!(eval(&nested(MAX_NESTING)), expected);
        let message = syntax_error(&nested(MAX_NESTING + 1));
        assert!(message.contains("at most 10 levels"), "{message}");
    }

    #[test]
    fn format_renders_values_naturally() {
        let input = json!({
            "s": "text", "n": 42, "f": 1.5, "b": true, "z": null,
            "o": {"a": 1, "b": [1, "x", null], "c": {}}, "t": "<{}|{}>"
        });
        assert_eq!(
            eval_on("States.Format('{}/{}/{}/{}/{}/{}', $.s, $.n, $.f, $.b, $.z, $.o)", &input),
            Ok(json!("text/42/1.5/true/null/{a=1, b=[1, x, null], c={}}"))
        );
        assert_eq!(eval_on("States.Format($.t, 1, 'two')", &input), Ok(json!("<1|two>")));
        let message = failure_on("States.Format($.t, 1)", &input).message;
        assert!(message.contains("States.Format") && message.contains("2 '{}' placeholder(s)"), "{message}");
        let failure = failure_on("States.Format($.n)", &input);
        assert_eq!(failure.error, "States.IntrinsicFailure");
        assert!(failure.message.contains("template must be a string"), "{failure}");
        assert_eq!(
            eval("States.Format('Your name is {}, we are in the year {}', 'Foo', 2020)"),
            json!("Your name is Foo, we are in the year 2020")
        );
    }

    #[test]
    fn string_to_json() {
        let input = json!({"s": "{\"number\": 20}", "e": "", "b": " \n", "z": "-0", "bad": "{"});
        assert_eq!(eval_on("States.StringToJson($.s)", &input), Ok(json!({"number": 20})));
        assert_eq!(eval_on("States.StringToJson($.e)", &input), Ok(Value::Null));
        assert_eq!(eval_on("States.StringToJson($.b)", &input), Ok(Value::Null));
        let zero = eval_on("States.StringToJson($.z)", &input);
        assert!(matches!(&zero, Ok(Value::Number(n)) if n.as_u64() == Some(0) || n.as_i64() == Some(0)), "{zero:?}");
        assert!(failure_on("States.StringToJson($.bad)", &input).message.contains("not valid JSON"));
        assert_invalid("States.StringToJson(1)");
    }

    #[test]
    fn json_to_string_is_compact_and_keeps_key_order() {
        let input = json!({"someJson": {"name": "Foo", "year": 2020, "a": [1.5, null]}});
        assert_eq!(
            eval_on("States.JsonToString($.someJson)", &input),
            Ok(json!("{\"name\":\"Foo\",\"year\":2020,\"a\":[1.5,null]}"))
        );
    }

    #[test]
    fn array_partition() {
        assert_eq!(
            eval("States.ArrayPartition(States.Array(1,2,3,4,5,6,7,8,9), 4)"),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(eval("States.ArrayPartition(States.Array(), 4)"), json!([]));
        assert_eq!(eval("States.ArrayPartition(States.Array(1, 2, 3), 2.5)"), json!([[1, 2, 3]]));
        assert!(assert_invalid("States.ArrayPartition(States.Array(1), 0)").contains("positive"));
        assert_invalid("States.ArrayPartition(States.Array(1), -1)");
        assert_invalid("States.ArrayPartition('abc', 1)");
        assert_invalid("States.ArrayPartition(States.Array(1), '1')");
    }

    #[test]
    fn array_contains_compares_by_value() {
        assert_eq!(eval("States.ArrayContains(States.Array(1,2,3), 2)"), json!(true));
        assert_eq!(eval("States.ArrayContains(States.Array(1,2,3), 2.0)"), json!(true));
        assert_eq!(eval("States.ArrayContains(States.Array(1,2,3), '2')"), json!(false));
        assert_eq!(eval("States.ArrayContains(States.Array(), null)"), json!(false));
        assert_eq!(eval("States.ArrayContains(States.Array(null), null)"), json!(true));
        let input = json!({"a": [{"x": 1, "y": [2]}], "v": {"y": [2.0], "x": 1}});
        assert_eq!(eval_on("States.ArrayContains($.a, $.v)", &input), Ok(json!(true)));
        assert_invalid("States.ArrayContains('abc', 'a')");
    }

    #[test]
    fn array_range() {
        assert_eq!(eval("States.ArrayRange(1, 9, 2)"), json!([1, 3, 5, 7, 9]));
        assert_eq!(eval("States.ArrayRange(0, 10, 3)"), json!([0, 3, 6, 9]));
        assert_eq!(eval("States.ArrayRange(9, 1, -4)"), json!([9, 5, 1]));
        assert_eq!(eval("States.ArrayRange(1, 9, -1)"), json!([]));
        assert_eq!(eval("States.ArrayRange(5, 5, 1)"), json!([5]));
        assert_eq!(eval("States.ArrayRange(0.5, 2.4, 1)"), json!([1, 2]));
        assert_eq!(eval("States.ArrayRange(0, 999, 1)").as_array().map(Vec::len), Some(1000));
        assert!(assert_invalid("States.ArrayRange(0, 1000, 1)").contains("1001 items"));
        assert!(assert_invalid("States.ArrayRange(0, 10, 0)").contains("step"));
        assert_invalid("States.ArrayRange('0', 10, 1)");
        assert_invalid("States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)");
    }

    #[test]
    fn array_get_item() {
        assert_eq!(eval("States.ArrayGetItem(States.Array(1,2,3,4,5,6,7,8,9), 5)"), json!(6));
        assert_eq!(eval("States.ArrayGetItem(States.Array('a', States.Array('b')), 1)"), json!(["b"]));
        assert!(assert_invalid("States.ArrayGetItem(States.Array(1,2,3), 3)").contains("out of bounds"));
        assert_invalid("States.ArrayGetItem(States.Array(1,2,3), -1)");
        assert_invalid("States.ArrayGetItem(States.Array(1,2,3), 'a')");
        assert_invalid("States.ArrayGetItem('abc', 0)");
    }

    #[test]
    fn array_length_and_unique() {
        assert_eq!(eval("States.ArrayLength(States.Array(1,2,3,4,5,6,7,8,9))"), json!(9));
        assert_eq!(eval("States.ArrayLength(States.Array())"), json!(0));
        assert_invalid("States.ArrayLength('abc')");
        assert_eq!(eval("States.ArrayUnique(States.Array(1,2,3,3,3,3,3,3,4))"), json!([1, 2, 3, 4]));
        let input = json!({"a": [null, null, 1, 1.0, "1", {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], [1], true, true]});
        assert_eq!(eval_on("States.ArrayUnique($.a)", &input), Ok(json!([null, 1, "1", {"a": 1, "b": 2}, [1], true])));
        assert_invalid("States.ArrayUnique(1)");
    }

    #[test]
    fn base64() {
        assert_eq!(eval("States.Base64Encode('Data to encode')"), json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"), json!("Data to encode"));
        assert_eq!(eval("States.Base64Decode('RGF0YSB0b\nyBlbmNvZGU')"), json!("Data to encode"));
        assert_eq!(eval("States.Base64Decode('')"), json!(""));
        assert_eq!(eval("States.Base64Encode('é')"), json!("w6k="));
        assert!(assert_invalid("States.Base64Decode('*')").contains("base64"));
        assert!(assert_invalid("States.Base64Decode('/w==')").contains("UTF-8"));
        assert_invalid("States.Base64Encode(1)");
        let at_limit = "é".repeat(MAX_ENCODING_INPUT_CHARS);
        assert!(eval(&format!("States.Base64Encode('{at_limit}')")).is_string());
        let message = assert_invalid(&format!("States.Base64Encode('{at_limit}x')"));
        assert!(message.contains("10001 characters"), "{message}");
        assert_invalid(&format!("States.Base64Decode('{}')", "A".repeat(MAX_ENCODING_INPUT_CHARS + 4)));
    }

    #[test]
    fn hash() {
        for (algorithm, digest) in [
            ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
            ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
            ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
            (
                "SHA-384",
                "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
            ),
            (
                "SHA-512",
                "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
            ),
        ] {
            assert_eq!(eval(&format!("States.Hash('input data', '{algorithm}')")), json!(digest), "{algorithm}");
        }
        assert!(assert_invalid("States.Hash('x', 'sha-256')").contains("'sha-256'"));
        assert_invalid("States.Hash(1, 'MD5')");
        assert_invalid("States.Hash('x', 1)");
        assert_invalid(&format!("States.Hash('{}', 'MD5')", "x".repeat(MAX_ENCODING_INPUT_CHARS + 1)));
    }

    #[test]
    fn json_merge_is_shallow() {
        let input = json!({
            "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
            "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}
        });
        assert_eq!(
            eval_on("States.JsonMerge($.json1, $.json2, false)", &input),
            Ok(json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}))
        );
        let failure = failure_on("States.JsonMerge($.json1, $.json2, true)", &input);
        assert_eq!(failure.error, "States.IntrinsicFailure");
        assert!(failure.message.contains("deep merging"), "{failure}");
        assert_eq!(failure_on("States.JsonMerge($.json1, $.json2, 'false')", &input).error, "States.IntrinsicFailure");
        assert_eq!(failure_on("States.JsonMerge($.json1, 1, false)", &input).error, "States.IntrinsicFailure");
    }

    #[test]
    fn math_random() {
        let text = "States.MathRandom(1, 999, 42)";
        let first = eval_with(text, &json!({}), &mut SplitMix64(1));
        assert_eq!(first, eval_with(text, &json!({}), &mut SplitMix64(2)), "a seed alone decides the result");
        assert!(
            matches!(&first, Ok(Value::Number(n)) if n.as_i64().is_some_and(|i| (1..999).contains(&i))),
            "{first:?}"
        );
        let unseeded: HashSet<String> = (0..20)
            .map(|seed| eval_with("States.MathRandom(12.5, 44.51)", &json!({}), &mut SplitMix64(seed)))
            .map(|r| match r {
                Ok(Value::Number(n)) => {
                    let i = n.as_i64().unwrap_or(-1);
                    assert!((13..45).contains(&i), "{i}");
                    i.to_string()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(unseeded.len() > 1, "unseeded draws come from the caller's randomness");
        assert_eq!(eval("States.MathRandom(-5, -4)"), json!(-5));
        assert!(assert_invalid("States.MathRandom(5, 5)").contains("greater than"));
        assert_invalid("States.MathRandom('1', 5)");
        assert_invalid("States.MathRandom(1, 5, 'seed')");
    }

    #[test]
    fn math_add_rounds_like_java() {
        for (a, b, sum) in [
            ("1.49", "1.5", 3),
            ("-1.5", "0", -1),
            ("-1.51", "0", -2),
            ("1.5", "0", 2),
            ("-0.5", "0.5", 1),
            ("-2.5", "0", -2),
            ("1.49", "-1.49", 0),
            ("111", "-1", 110),
        ] {
            let result = eval(&format!("States.MathAdd({a}, {b})"));
            assert_eq!(result, json!(sum), "{a} + {b}");
            assert!(result.is_i64() || result.is_u64(), "{result} must be an integer");
        }
        assert_eq!(eval("States.MathAdd(2147483647, 0)"), json!(2147483647));
        assert_eq!(eval("States.MathAdd(-2147483648, 0)"), json!(-2147483648));
        assert!(assert_invalid("States.MathAdd(2147483648, 0)").contains("2147483648"));
        assert_invalid("States.MathAdd(2147483647, 1)");
        assert_invalid("States.MathAdd('1', 2)");
        assert_invalid("States.MathAdd(null, 2)");
    }

    #[test]
    fn string_split() {
        assert_eq!(eval("States.StringSplit('1,2,3,4,5', ',')"), json!(["1", "2", "3", "4", "5"]));
        assert_eq!(
            eval("States.StringSplit('This.is+a,test=string', '.+,=')"),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(eval("States.StringSplit(', , ,', ',')"), json!([" ", " "]));
        assert_eq!(eval("States.StringSplit('abc', '')"), json!(["abc"]));
        assert_eq!(eval("States.StringSplit('', ',')"), json!([]));
        assert_eq!(eval("States.StringSplit('aéb', 'é')"), json!(["a", "b"]));
        assert_invalid("States.StringSplit(1, ',')");
        assert_invalid("States.StringSplit('a', 1)");
    }

    #[test]
    fn uuid_comes_from_the_callers_randomness() {
        let uuid = eval("States.UUID()");
        assert_eq!(uuid, json!(SplitMix64(7).uuid_v4()));
        let text = uuid.as_str().unwrap_or_default();
        assert_eq!(text.len(), 36);
        assert_eq!(text.chars().nth(14), Some('4'));
    }

    #[test]
    fn path_arguments() {
        let input = json!({"a": {"b": [10, 20]}, "odd key": "x"});
        assert_eq!(
            eval_on("States.Array($.a.b[1], $['odd key'], $$.Execution.Name)", &input),
            Ok(json!([20, "x", "exec-1"]))
        );
        assert_eq!(eval_on("States.Array($)", &input), Ok(json!([input.clone()])));

        let failure = failure_on("States.Format('{}', $.missing)", &input);
        assert_eq!(failure.error, "States.Runtime");
        assert!(failure.message.contains("'$.missing'") && failure.message.contains("States.Format"), "{failure}");
        assert!(failure.message.contains(r#"{"a":{"b":[10,20]}"#), "{failure}");

        let variables: Map<String, Value> = [("v".to_owned(), json!({"x": [1, 2]}))].into_iter().collect();
        let context = json!({});
        let scope = Scope::new(&input, &context).with_variables(&variables);
        let eval_vars = |text: &str| {
            Intrinsic::parse(text)
                .map_err(|e| e.to_string())?
                .eval(&scope, &mut SplitMix64(0))
                .map_err(|e| e.to_string())
        };
        assert_eq!(eval_vars("States.ArrayLength($v.x)"), Ok(json!(2)));
        assert_eq!(eval_vars("States.Array($v)"), Ok(json!([{"x": [1, 2]}])));
        let undefined = eval_vars("States.Array($nope)");
        assert!(
            undefined.as_ref().is_err_and(|e| e.starts_with("States.Runtime") && e.contains("nope")),
            "{undefined:?}"
        );
    }

    #[test]
    fn invalid_paths_are_syntax_errors() {
        let message = syntax_error("States.Array($.a[)");
        assert!(message.contains("invalid path"), "{message}");
    }

    #[test]
    fn one_parse_evaluates_many_times() {
        let intrinsic =
            Intrinsic::parse("States.Format('{}-{}', $.n, States.UUID())").unwrap_or_else(|e| panic!("{e}"));
        let context = json!({});
        let mut random = SplitMix64(3);
        let mut seen = HashSet::new();
        for n in 0..5 {
            let input = json!({"n": n});
            let scope = Scope::new(&input, &context);
            let out = intrinsic.eval(&scope, &mut random).unwrap_or_else(|e| panic!("{e}"));
            let text = out.as_str().unwrap_or_default().to_owned();
            assert!(text.starts_with(&format!("{n}-")), "{text}");
            seen.insert(text);
        }
        assert_eq!(seen.len(), 5);
    }

    /// Replays AWS-recorded executions of the conformance corpus whose definition is a single
    /// Pass state with intrinsic calls in `Parameters`: every call is evaluated against the
    /// case's input and compared with the field of the recorded output it produced.
    ///
    /// The corpus lives outside the repository (`BATON_CONFORMANCE_CORPUS`, by default the
    /// shared checkout beside the repository); without it the test fails. Skipped, with a note: fields whose
    /// recorded value was normalised (run-specific names, `<uuid>`, ...), and values of
    /// `States.UUID`/`States.MathRandom`, which are only checked for shape.
    mod corpus {
        use std::path::PathBuf;

        use serde_json::{json, Map, Value};

        use super::super::{json_eq, looks_like_intrinsic, Intrinsic};
        use crate::eval::{Scope, SplitMix64};

        /// One `.$` intrinsic of a case: where its result lands in the state's output (object
        /// keys from the output root) and its text.
        struct Field {
            location: Vec<String>,
            text: String,
        }

        fn collect(params: &Map<String, Value>, prefix: &[String], out: &mut Vec<Field>) {
            for (key, value) in params {
                let mut location = prefix.to_vec();
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(text)) if looks_like_intrinsic(text) => {
                        location.push(name.to_owned());
                        out.push(Field { location, text: text.clone() });
                    }
                    (None, Value::Object(inner)) => {
                        location.push(key.clone());
                        collect(inner, &location, out);
                    }
                    _ => {}
                }
            }
        }

        /// The object keys of a `$`-rooted dotted path, or `None` for anything fancier.
        fn dotted(path: Option<&Value>) -> Option<Vec<String>> {
            match path {
                None => Some(Vec::new()),
                Some(Value::String(p)) if p == "$" => Some(Vec::new()),
                Some(Value::String(p)) => {
                    let rest = p.strip_prefix("$.")?;
                    let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
                    keys.iter().all(|k| !k.is_empty() && !k.contains(['[', ']', '*', '@'])).then_some(keys)
                }
                Some(_) => None,
            }
        }

        fn pointer(keys: &[String]) -> String {
            keys.iter().map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1"))).collect()
        }

        /// Whether `text` matches a recorded string in which each placeholder token stands for
        /// any text (the recorder replaced run-specific names with tokens).
        fn matches_placeholders(pattern: &str, text: &str, tokens: &[&str]) -> bool {
            let mut pieces = vec![pattern.to_owned()];
            for token in tokens {
                pieces = pieces.iter().flat_map(|p| p.split(token).map(str::to_owned).collect::<Vec<_>>()).collect();
            }
            let [first, middle @ .., last] = pieces.as_slice() else {
                return pattern == text;
            };
            let Some(mut rest) = text.strip_prefix(first.as_str()) else {
                return false;
            };
            for piece in middle {
                match rest.find(piece.as_str()) {
                    Some(i) => rest = &rest[i + piece.len()..],
                    None => return false,
                }
            }
            rest.ends_with(last.as_str())
        }

        #[test]
        fn aws_recorded_intrinsic_results() {
            let dir = std::env::var_os("BATON_CONFORMANCE_CORPUS").map_or_else(
                || {
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .ancestors()
                        .map(|a| a.join("shared/conformance/corpus/localstack"))
                        .find(|p| p.is_dir())
                        .expect("the conformance corpus must be at ../shared/conformance beside the repository")
                },
                PathBuf::from,
            );
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot read the conformance corpus at {}: {e}", dir.display()));
            let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            let (mut checked, mut failed_cases, mut skipped) = (0usize, 0usize, Vec::new());
            let mut mismatches = Vec::new();
            for file in files {
                let Some(case) =
                    std::fs::read_to_string(&file).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
                else {
                    continue;
                };
                let id = case["id"].as_str().unwrap_or_default().to_owned();
                let Some(states) = case["definition"]["States"].as_object() else {
                    continue;
                };
                let Some((state_name, state)) = states.iter().next().filter(|_| states.len() == 1) else {
                    continue;
                };
                let Some(params) = state["Parameters"].as_object().filter(|_| state["Type"] == "Pass") else {
                    continue;
                };
                let mut fields = Vec::new();
                collect(params, &[], &mut fields);
                if fields.is_empty() {
                    continue;
                }
                let Some(input) = case.get("input") else {
                    continue;
                };
                let (Some(input_path), Some(result_path), Some(output_path)) =
                    (dotted(state.get("InputPath")), dotted(state.get("ResultPath")), dotted(state.get("OutputPath")))
                else {
                    skipped.push(format!("{id}: InputPath/ResultPath/OutputPath beyond dotted paths"));
                    continue;
                };
                let mut effective = input;
                for key in &input_path {
                    effective = &effective[key.as_str()];
                }
                let context = json!({
                    "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:exec", "Input": input,
                                  "Name": "exec", "StartTime": "2024-01-01T00:00:00Z"},
                    "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
                    "State": {"Name": state_name, "EnteredTime": "2024-01-01T00:00:00Z", "RetryCount": 0}
                });
                let scope = Scope::new(effective, &context);
                let expected = &case["expected"];
                let tokens: Vec<&str> = case["normalized"]["tokens"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let normalized: Vec<&str> = case["normalized"]["paths"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();

                if expected["status"] != "SUCCEEDED" {
                    // A failed case must fail in one of its calls with the recorded error name.
                    let errors: Vec<String> = fields
                        .iter()
                        .filter_map(|f| Intrinsic::parse(&f.text).ok()?.eval(&scope, &mut SplitMix64(1)).err())
                        .map(|e| e.error)
                        .collect();
                    if !errors.iter().any(|e| Some(e.as_str()) == expected["error"].as_str()) {
                        mismatches.push(format!("{id}: expected {}, calls failed with {errors:?}", expected["error"]));
                    }
                    failed_cases += 1;
                    continue;
                }
                for field in fields {
                    let intrinsic = match Intrinsic::parse(&field.text) {
                        Ok(i) => i,
                        Err(e) => {
                            mismatches.push(format!("{id}: {} does not parse: {e}", field.text));
                            continue;
                        }
                    };
                    let actual = match intrinsic.eval(&scope, &mut SplitMix64(1)) {
                        Ok(v) => v,
                        Err(e) => {
                            mismatches.push(format!("{id}: {} failed: {e}", field.text));
                            continue;
                        }
                    };
                    if field.text.contains("States.UUID") || field.text.contains("States.MathRandom") {
                        let shaped = actual.is_i64() || actual.as_str().is_some_and(|s| s.len() == 36);
                        if !shaped {
                            mismatches.push(format!("{id}: {} gave {actual}", field.text));
                        }
                        skipped.push(format!("{id}: value of {} is random", field.text));
                        continue;
                    }
                    let full: Vec<String> = result_path.iter().chain(&field.location).cloned().collect();
                    let Some(relative) = full.strip_prefix(output_path.as_slice()) else {
                        skipped.push(format!("{id}: {} is cut by OutputPath", field.text));
                        continue;
                    };
                    let at = format!("/output{}", pointer(relative));
                    if normalized.contains(&at.as_str()) {
                        match (expected.pointer(&at).and_then(Value::as_str), actual.as_str()) {
                            (Some(pattern), Some(text)) if matches_placeholders(pattern, text, &tokens) => checked += 1,
                            (Some(_), Some(_)) => {
                                mismatches.push(format!(
                                    "{id}: {} gave {actual}, AWS recorded {}",
                                    field.text,
                                    expected.pointer(&at).unwrap_or(&Value::Null)
                                ));
                            }
                            _ => skipped.push(format!("{id}: {at} is normalised in the recording")),
                        }
                        continue;
                    }
                    if normalized.iter().any(|n| n.starts_with(&at) || at.starts_with(n)) {
                        skipped.push(format!("{id}: {at} is partly normalised in the recording"));
                        continue;
                    }
                    match expected.pointer(&at) {
                        Some(recorded) if json_eq(recorded, &actual) => checked += 1,
                        recorded => {
                            mismatches.push(format!("{id}: {} gave {actual}, AWS recorded {recorded:?}", field.text))
                        }
                    }
                }
            }
            eprintln!("replayed {checked} intrinsic results and {failed_cases} failed cases; skipped:");
            for note in &skipped {
                eprintln!("  {note}");
            }
            assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
            assert!(checked >= 50, "only {checked} intrinsic results replayed; is the corpus complete?");
        }
    }

    mod properties {
        use proptest::prelude::*;
        use serde_json::json;

        use super::{escape, eval};
        use crate::intrinsics::Intrinsic;

        proptest! {
            #[test]
            fn parse_never_panics(text in any::<String>()) {
                let _ = Intrinsic::parse(&text);
            }

            #[test]
            fn parse_never_panics_on_near_misses(
                tail in r"[(),'\\{} $.\[\]a-zA-Z0-9@?=*:-]{0,40}",
                name in prop::sample::select(vec!["Format", "Array", "MathAdd", "StringSplit", "JsonToString", "UUID"]),
            ) {
                let _ = Intrinsic::parse(&format!("States.{name}({tail}"));
            }

            #[test]
            fn format_round_trips_escaped_text(text in r"[a-z '{}\\,()$.]{0,40}") {
                prop_assert_eq!(eval(&format!("States.Format('{}')", escape(&text))), json!(text));
            }

            #[test]
            fn format_fills_placeholders_in_order(
                parts in prop::collection::vec(r"[a-z {}]{0,8}", 1..6),
                numbers in prop::collection::vec(-1000i64..1000, 5),
            ) {
                let template = parts.iter().map(|p| escape(p)).collect::<Vec<_>>().join("{}");
                let args: String = numbers[..parts.len() - 1].iter().map(|n| format!(", {n}")).collect();
                let mut expected = parts[0].clone();
                for (part, n) in parts[1..].iter().zip(&numbers) {
                    expected.push_str(&n.to_string());
                    expected.push_str(part);
                }
                prop_assert_eq!(eval(&format!("States.Format('{template}'{args})")), json!(expected));
            }

            #[test]
            fn partition_then_flatten_gives_the_input(items in prop::collection::vec(-50i64..50, 0..40), size in 1i64..12) {
                let array = items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
                let chunks = eval(&format!("States.ArrayPartition(States.Array({array}), {size})"));
                let chunks = chunks.as_array().cloned().unwrap_or_default();
                let count = chunks.len();
                let mut flat = Vec::new();
                for (i, chunk) in chunks.into_iter().enumerate() {
                    let chunk = chunk.as_array().cloned().unwrap_or_default();
                    prop_assert!(!chunk.is_empty() && chunk.len() as i64 <= size);
                    if i + 1 < count {
                        prop_assert_eq!(chunk.len() as i64, size);
                    }
                    flat.extend(chunk);
                }
                prop_assert_eq!(json!(flat), json!(items));
            }

            #[test]
            fn base64_round_trips(text in any::<String>().prop_filter("within the limit", |s| s.chars().count() <= 2000)) {
                prop_assert_eq!(
                    eval(&format!("States.Base64Decode(States.Base64Encode('{}'))", escape(&text))),
                    json!(text)
                );
            }

            #[test]
            fn seeded_math_random_stays_in_range(start in -10_000i64..10_000, width in 1i64..10_000, seed in any::<i32>()) {
                let text = format!("States.MathRandom({start}, {}, {seed})", start + width);
                let value = eval(&text);
                let n = value.as_i64().unwrap_or(i64::MIN);
                prop_assert!(n >= start && n < start + width, "{} out of range", n);
                prop_assert_eq!(value, eval(&text));
            }

            #[test]
            fn math_add_adds_int32(a in i32::MIN / 2..i32::MAX / 2, b in i32::MIN / 2..i32::MAX / 2) {
                prop_assert_eq!(eval(&format!("States.MathAdd({a}, {b})")), json!(i64::from(a) + i64::from(b)));
            }

            #[test]
            fn string_split_pieces_are_nonempty_and_free_of_delimiters(text in "[a-c,;]{0,30}", delimiters in "[,;b]{0,3}") {
                let pieces = eval(&format!("States.StringSplit('{text}', '{delimiters}')"));
                let pieces = pieces.as_array().cloned().unwrap_or_default();
                let joined: String = pieces.iter().filter_map(|p| p.as_str()).collect();
                for piece in &pieces {
                    let piece = piece.as_str().unwrap_or_default();
                    prop_assert!(!piece.is_empty() && !piece.chars().any(|c| delimiters.contains(c)));
                }
                let kept: String = text.chars().filter(|c| !delimiters.contains(*c)).collect();
                prop_assert_eq!(joined, kept);
            }
        }
    }
}
