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
    fn from_evaluator(e: &EvaluatorError) -> Self {
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

/// The host functions an expression names (by call or as a value), as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HostRefs(u16);

const HOST_FUNCTIONS: [&str; 10] =
    ["partition", "range", "hash", "random", "uuid", "parse", "now", "millis", "eval", "shuffle"];

impl HostRefs {
    fn note(&mut self, name: &str) {
        if let Some(i) = HOST_FUNCTIONS.iter().position(|f| *f == name) {
            self.0 |= 1 << i;
        }
    }

    fn has(self, name: &str) -> bool {
        HOST_FUNCTIONS.iter().position(|f| *f == name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    fn needs_random(self) -> bool {
        self.has("random") || self.has("uuid") || self.has("shuffle")
    }
}

/// Which top-level members of a document an expression reads: a state's input is often large
/// and an expression often reads one field of it (`$states.input.order.id`), so only those
/// members are converted for JSONata.
#[derive(Debug, Clone, Default, PartialEq)]
struct KeyUse {
    /// Read other than as `$states.member.key` (whole, by index, through a function...).
    whole: bool,
    /// The keys read as `$states.member.key`, sorted.
    keys: Vec<String>,
}

impl KeyUse {
    fn note(&mut self, key: Option<&str>) {
        match key {
            Some(k) => {
                if let Err(i) = self.keys.binary_search_by(|x| x.as_str().cmp(k)) {
                    self.keys.insert(i, k.to_owned());
                }
            }
            None => self.whole = true,
        }
    }
}

/// What an expression refers to outside itself, found once at parse time.
#[derive(Debug, Clone, Default, PartialEq)]
struct Refs {
    /// Top-level keys read of `$states.input` and `$states.result`.
    input_keys: KeyUse,
    result_keys: KeyUse,
    /// Variables read and not bound inside the expression (`states` included), sorted.
    free: Vec<String>,
    /// Members of `$states` to bind (all of them when `$states` is used as a whole).
    states: StatesRefs,
    /// Members named explicitly (`$states.result`), which fields restrict.
    named: StatesRefs,
    host: HostRefs,
    /// `$` or `$$` where no context item exists: ASL expressions have no input document.
    root_context: bool,
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

/// The memory bound of one evaluation. jsonata-core bounds each sequence's length but not how
/// many it builds (`[1..10000000].[1..10000000]` builds ten million sequences of ten million
/// items), and has no hook for counting what it builds. So the process's allocator counts,
/// per thread, the bytes held by the evaluation running on that thread (allocated minus
/// freed: `JValue`s are not `Send`, so an evaluation's values live and die on its thread),
/// and once they pass the bound it cancels the evaluation through jsonata-core's
/// [`CancelToken`], which the evaluator checks at every level and in every loop. Outside an
/// evaluation the allocator adds one thread-local read to each call.
pub mod memory {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use jsonata_core::evaluator::CancelToken;

    thread_local! {
        /// The token of the evaluation running on this thread; null outside evaluations.
        static TOKEN: Cell<*const CancelToken> = const { Cell::new(std::ptr::null()) };
        /// Bytes the running evaluation holds (allocated minus freed since it started).
        static HELD: Cell<isize> = const { Cell::new(0) };
        /// The bound of the running evaluation.
        static BOUND: Cell<isize> = const { Cell::new(isize::MAX) };
        static EXCEEDED: Cell<bool> = const { Cell::new(false) };
    }

    /// Run `f` (one evaluation, cancelled by `cancel`) holding at most `bound` bytes; also
    /// says whether it went past them (and so was cancelled).
    pub fn bounded<T>(cancel: &CancelToken, bound: usize, f: impl FnOnce() -> T) -> (T, bool) {
        /// Ends the count however `f` returns, before `cancel` can be dropped.
        struct Reset(*const CancelToken);
        impl Drop for Reset {
            fn drop(&mut self) {
                TOKEN.with(|t| t.set(self.0));
                BOUND.with(|b| b.set(isize::MAX));
            }
        }
        let outer = TOKEN.with(|t| t.replace(cancel));
        let held_before = HELD.with(|h| h.replace(0));
        let exceeded_before = EXCEEDED.with(|e| e.replace(false));
        BOUND.with(|b| b.set(isize::try_from(bound).unwrap_or(isize::MAX)));
        let reset = Reset(outer);
        let out = f();
        drop(reset);
        let exceeded = EXCEEDED.with(|e| e.replace(exceeded_before));
        HELD.with(|h| h.set(held_before));
        (out, exceeded)
    }

    #[inline]
    fn count(delta: isize) {
        // `try_with`: the allocator also runs while threads start and end.
        let _ = TOKEN.try_with(|t| {
            let token = t.get();
            if token.is_null() {
                return;
            }
            let held = HELD.with(|h| {
                let held = h.get().saturating_add(delta);
                h.set(held);
                held
            });
            if delta > 0 && held > BOUND.with(Cell::get) && !EXCEEDED.with(|e| e.replace(true)) {
                // SAFETY: `bounded` keeps the token alive while it is set on this thread.
                unsafe { (*token).cancel() };
            }
        });
    }

    /// The process's allocator: the system's, with the count above.
    pub struct Counting;

    // SAFETY: every call goes to `System` unchanged; counting neither allocates nor unwinds.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size() as isize);
            System.alloc(layout)
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count(layout.size() as isize);
            System.alloc_zeroed(layout)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            count(-(layout.size() as isize));
            System.dealloc(ptr, layout)
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count(new_size as isize - layout.size() as isize);
            System.realloc(ptr, layout, new_size)
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;
}

fn syntax_error(e: &ParserError) -> SyntaxError {
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
fn coded(message: &str) -> (Option<String>, String) {
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

// ----- static analysis ---------------------------------------------------------------------

/// Walks the tree once for free variables, `$states` members, host functions and root `$`.
#[derive(Default)]
struct Analysis {
    read: BTreeSet<String>,
    bound: BTreeSet<String>,
    states: StatesRefs,
    named: StatesRefs,
    input_keys: KeyUse,
    result_keys: KeyUse,
    host: HostRefs,
    root_context: bool,
}

fn analyse(ast: &AstNode) -> Refs {
    let mut a = Analysis::default();
    a.node(ast, false);
    let free = a.read.iter().filter(|n| !a.bound.contains(*n)).cloned().collect();
    Refs {
        input_keys: a.input_keys,
        result_keys: a.result_keys,
        free,
        states: a.states,
        named: a.named,
        host: a.host,
        root_context: a.root_context,
    }
}

impl Analysis {
    /// `in_item`: a context item exists here (inside a path step, predicate, lambda, ...).
    fn node(&mut self, node: &AstNode, in_item: bool) {
        match node {
            AstNode::Variable(name) => self.variable(name, in_item),
            AstNode::ParentVariable(_) => {
                if !in_item {
                    self.root_context = true;
                }
            }
            AstNode::Path { steps } => self.path(steps, in_item),
            AstNode::Binary { op, lhs, rhs } => {
                if matches!(op, jsonata_core::ast::BinaryOp::ColonEqual) {
                    if let AstNode::Variable(name) = lhs.as_ref() {
                        self.bound.insert(name.clone());
                    }
                }
                self.node(lhs, in_item);
                self.node(rhs, in_item);
            }
            AstNode::Unary { operand, .. } => self.node(operand, in_item),
            AstNode::Function { name, args, .. } => {
                self.host.note(name);
                args.iter().for_each(|a| self.node(a, in_item));
            }
            AstNode::Call { procedure, args } => {
                self.node(procedure, in_item);
                args.iter().for_each(|a| self.node(a, in_item));
            }
            AstNode::Lambda { params, body, .. } => {
                self.bound.extend(params.iter().cloned());
                self.node(body, true);
            }
            AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
                items.iter().for_each(|i| self.node(i, in_item));
            }
            AstNode::Object(pairs) => {
                for (k, v) in pairs {
                    self.node(k, in_item);
                    self.node(v, in_item);
                }
            }
            AstNode::ObjectTransform { input, pattern } => {
                self.node(input, in_item);
                for (k, v) in pattern {
                    self.node(k, true);
                    self.node(v, true);
                }
            }
            AstNode::Conditional { condition, then_branch, else_branch } => {
                self.node(condition, in_item);
                self.node(then_branch, in_item);
                if let Some(e) = else_branch {
                    self.node(e, in_item);
                }
            }
            AstNode::FunctionApplication(inner) => self.node(inner, true),
            AstNode::Sort { input, terms } => {
                self.node(input, in_item);
                terms.iter().for_each(|(t, _)| self.node(t, true));
            }
            AstNode::Transform { location, update, delete } => {
                self.node(location, true);
                self.node(update, true);
                if let Some(d) = delete {
                    self.node(d, true);
                }
            }
            AstNode::String(_)
            | AstNode::Name(_)
            | AstNode::Number(_)
            | AstNode::Boolean(_)
            | AstNode::Null
            | AstNode::Undefined
            | AstNode::Placeholder
            | AstNode::Regex { .. }
            | AstNode::Wildcard
            | AstNode::Descendant
            | AstNode::Parent(_) => {}
        }
    }

    fn variable(&mut self, name: &str, in_item: bool) {
        if name.is_empty() {
            if !in_item {
                self.root_context = true;
            }
            return;
        }
        self.host.note(name);
        if name == "states" {
            self.states = StatesRefs::all();
            self.input_keys.whole = true;
            self.result_keys.whole = true;
        }
        self.read.insert(name.to_owned());
    }

    fn path(&mut self, steps: &[PathStep], in_item: bool) {
        for (i, step) in steps.iter().enumerate() {
            let step_in_item = in_item || i > 0;
            if i == 0 {
                if let AstNode::Variable(name) = &step.node {
                    if name == "states" && step.stages.is_empty() {
                        self.read.insert("states".to_owned());
                        match steps.get(1).map(|s| &s.node) {
                            Some(AstNode::Name(member)) => {
                                // `$states.member.key` with nothing between reads one key.
                                let key = match (steps.get(1), steps.get(2)) {
                                    (Some(m), Some(PathStep { node: AstNode::Name(k), .. }))
                                        if m.stages.is_empty() && m.focus.is_none() && m.index_var.is_none() =>
                                    {
                                        Some(k.as_str())
                                    }
                                    _ => None,
                                };
                                match member.as_str() {
                                    "input" => self.input_keys.note(key),
                                    "result" => self.result_keys.note(key),
                                    _ => {}
                                }
                                for refs in [&mut self.states, &mut self.named] {
                                    match member.as_str() {
                                        "input" => refs.input = true,
                                        "result" => refs.result = true,
                                        "errorOutput" => refs.error_output = true,
                                        "context" => refs.context = true,
                                        _ => {}
                                    }
                                }
                            }
                            _ => {
                                self.states = StatesRefs::all();
                                self.input_keys.whole = true;
                                self.result_keys.whole = true;
                            }
                        }
                        continue;
                    }
                }
            }
            self.node(&step.node, step_in_item);
            for stage in &step.stages {
                if let Stage::Filter(f) = stage {
                    self.node(f, true);
                }
            }
            for bound in [&step.focus, &step.index_var].into_iter().flatten() {
                self.bound.insert(bound.clone());
            }
        }
    }
}

// ----- values ------------------------------------------------------------------------------

/// A JSON value as JSONata sees it.
pub fn to_jvalue(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(items.iter().map(to_jvalue).collect(), flat))
        }
        Value::Object(map) => JValue::object(map.iter().map(|(k, v)| (k.clone(), to_jvalue(v))).collect()),
    }
}

/// A JSONata result that JSON cannot hold (a function or a regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedValue;

/// A JSONata result as JSON: `Ok(None)` for undefined. Whole numbers are written as integers
/// (JSONata numbers are doubles; `2` must not come out as `2.0`), undefined members of arrays
/// and objects are dropped, as JSONata's own serialisation does.
pub fn from_jvalue(value: &JValue) -> Result<Option<Value>, UnsupportedValue> {
    Ok(Some(match value {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                if let Some(v) = from_jvalue(item)? {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map.iter() {
                if let Some(v) = from_jvalue(v)? {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => return Err(UnsupportedValue),
    }))
}

/// The largest magnitude below which every whole double is an exact integer.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < EXACT_INTEGER_LIMIT {
        // The bound makes the conversion exact.
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// JSONata's name for a value's type, as AWS quotes it in messages (`$type`).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ----- host functions ----------------------------------------------------------------------

type Rng = Rc<RefCell<SplitMix64>>;

fn register_host_functions(evaluator: &mut Evaluator, refs: HostRefs, host: &Host) {
    if refs.0 == 0 {
        return;
    }
    let rng: Rng = Rc::new(RefCell::new(SplitMix64(host.seed)));
    let now = host.now;
    // Registration fails only for names that collide with built-ins (plain `register_fn`) or
    // built-ins on the compiled fast path (`register_fn_override`); the names below are neither,
    // which the tests pin down, so an error here cannot happen and is ignored.
    if refs.has("partition") {
        let _ = evaluator.register_fn("partition", partition);
    }
    if refs.has("range") {
        let _ = evaluator.register_fn("range", range);
    }
    if refs.has("hash") {
        let _ = evaluator.register_fn("hash", hash);
    }
    if refs.has("parse") {
        let _ = evaluator.register_fn("parse", parse_json);
    }
    if refs.has("uuid") {
        let r = Rc::clone(&rng);
        let _ = evaluator.register_fn("uuid", move |_: &[JValue]| Ok(JValue::string(r.borrow_mut().uuid_v4())));
    }
    if refs.has("random") {
        let r = Rc::clone(&rng);
        let _ = evaluator.register_fn_override("random", move |args: &[JValue]| random(&r, args));
    }
    if refs.has("shuffle") {
        let r = Rc::clone(&rng);
        let _ = evaluator.register_fn_override("shuffle", move |args: &[JValue]| shuffle(&r, args));
    }
    if refs.has("millis") {
        let _ = evaluator.register_fn_override("millis", move |_: &[JValue]| Ok(JValue::Number(now as f64)));
    }
    if refs.has("now") {
        let _ = evaluator.register_fn_override("now", move |args: &[JValue]| now_text(now, args));
    }
    if refs.has("eval") {
        // Step Functions leaves `$eval` out of the language; calling it is calling nothing.
        let _ = evaluator.register_fn_override("eval", |_: &[JValue]| Err(non_function()));
    }
}

fn non_function() -> EvaluatorError {
    EvaluatorError::TypeError("T1006: Attempted to invoke a non-function".to_owned())
}

fn argument_error(function: &str, position: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {position} of function \"{function}\" does not match function signature"
    ))
}

fn too_many(function: &str, allowed: usize, args: &[JValue]) -> Result<(), EvaluatorError> {
    if args.len() > allowed {
        Err(argument_error(function, allowed + 1))
    } else {
        Ok(())
    }
}

/// An argument that must be a number, rounded down to an integer as AWS documents.
fn integer_arg(function: &str, args: &[JValue], position: usize) -> Result<Option<i64>, EvaluatorError> {
    match args.get(position - 1) {
        None | Some(JValue::Undefined) => Ok(None),
        Some(JValue::Number(n)) if n.is_finite() => Ok(Some(n.floor() as i64)),
        Some(_) => Err(argument_error(function, position)),
    }
}

/// The items of an array argument; a single value counts as a one-item array, as JSONata's
/// signatures treat it.
fn array_arg(args: &[JValue], position: usize) -> Option<Vec<JValue>> {
    match args.get(position - 1) {
        None | Some(JValue::Undefined) => None,
        Some(JValue::Array(items)) => Some(items.iter().cloned().collect()),
        Some(other) => Some(vec![other.clone()]),
    }
}

/// `$partition(array, size)`: the array in chunks of `size` items, the last one shorter.
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("partition", 2, args)?;
    let Some(items) = array_arg(args, 1) else { return Ok(JValue::Undefined) };
    let size = integer_arg("partition", args, 2)?.ok_or_else(|| argument_error("partition", 2))?;
    if size <= 0 {
        return Err(EvaluatorError::EvaluationError(
            "D3050: The chunk size of function \"partition\" must be a positive integer".to_owned(),
        ));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let chunks = items.chunks(size).map(|c| JValue::array(c.to_vec())).collect();
    Ok(JValue::array(chunks))
}

/// The most items `$range` builds, so a typo cannot allocate without bound.
const MAX_RANGE_ITEMS: i64 = 1_000_000;

/// `$range(start, end, step)`: the numbers from `start` to `end` inclusive, `step` apart.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("range", 3, args)?;
    let (Some(start), Some(end)) = (integer_arg("range", args, 1)?, integer_arg("range", args, 2)?) else {
        return Ok(JValue::Undefined);
    };
    let step = integer_arg("range", args, 3)?.unwrap_or(1);
    if step == 0 {
        return Err(EvaluatorError::EvaluationError(
            "D3051: The step of function \"range\" must not be zero".to_owned(),
        ));
    }
    let count = if (end - start).signum() * step.signum() < 0 { 0 } else { (end - start) / step + 1 };
    if count > MAX_RANGE_ITEMS {
        return Err(EvaluatorError::EvaluationError(format!(
            "D2014: The size of the sequence allocated by the range operator must not exceed {MAX_RANGE_ITEMS}"
        )));
    }
    let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut n = start;
    for _ in 0..count {
        items.push(JValue::Number(n as f64));
        n += step;
    }
    // A sequence, as JSONata's own `[a..b]`: one item is that item.
    Ok(JValue::sequence(items))
}

/// `$hash(data, algorithm)`: the lowercase hex digest of a string's UTF-8 bytes.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    use md5::Digest as _;
    too_many("hash", 2, args)?;
    let data = match args.first() {
        None | Some(JValue::Undefined) => return Ok(JValue::Undefined),
        Some(JValue::String(s)) => s.clone(),
        Some(_) => return Err(argument_error("hash", 1)),
    };
    let algorithm = match args.get(1) {
        Some(JValue::String(s)) => s.clone(),
        _ => return Err(argument_error("hash", 2)),
    };
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match &*algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(EvaluatorError::EvaluationError(format!(
                "D3052: The hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            )))
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(JValue::string(hex))
}

/// `$parse(text)`: JSON text as a value.
fn parse_json(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("parse", 1, args)?;
    match args.first() {
        None | Some(JValue::Undefined) => Ok(JValue::Undefined),
        Some(JValue::String(s)) => serde_json::from_str::<Value>(s)
            .map(|v| to_jvalue(&v))
            .map_err(|e| EvaluatorError::EvaluationError(format!("D3053: The text is not valid JSON: {e}"))),
        Some(_) => Err(argument_error("parse", 1)),
    }
}

/// A double in [0, 1) from 53 random bits.
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `$random([seed])`: a number in [0, 1); the same seed gives the same number.
fn random(rng: &Rng, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("random", 1, args)?;
    let bits = match integer_arg("random", args, 1)? {
        Some(seed) => SplitMix64(seed as u64).next_u64(),
        None => rng.borrow_mut().next_u64(),
    };
    Ok(JValue::Number(unit_interval(bits)))
}

/// `$shuffle(array)`, drawing from the host's seed rather than the process's generator.
fn shuffle(rng: &Rng, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("shuffle", 1, args)?;
    let Some(mut items) = array_arg(args, 1) else { return Ok(JValue::Undefined) };
    let mut rng = rng.borrow_mut();
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.next_u64() % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
    Ok(JValue::array(items))
}

/// `$now([picture[, timezone]])`: the host's time, formatted by JSONata's own `$fromMillis`
/// when a picture is given.
fn now_text(now: Millis, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("now", 2, args)?;
    let defined = |i: usize| args.get(i).is_some_and(|v| !v.is_undefined());
    if !defined(0) && !defined(1) {
        return Ok(JValue::string(timestamp::format(now)));
    }
    let text = if defined(1) { "$fromMillis($m, $p, $t)" } else { "$fromMillis($m, $p)" };
    let ast = parser::parse(text).map_err(|e| EvaluatorError::EvaluationError(e.to_string()))?;
    let mut context = Context::new();
    context.bind("m".to_owned(), JValue::Number(now as f64));
    context.bind("p".to_owned(), args.first().cloned().unwrap_or(JValue::Undefined));
    context.bind("t".to_owned(), args.get(1).cloned().unwrap_or(JValue::Undefined));
    Evaluator::with_context(context).evaluate(&ast, &JValue::Undefined)
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

// ----- ASL fields ------------------------------------------------------------------------

/// A JSONata state's field value as written: JSON in which any string `{% ... %}` is an
/// expression, at any depth. Compiled once per definition; literal subtrees stay one `Value`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonataTemplate {
    Literal(Value),
    Expression(Box<Expression>),
    Object(Vec<(String, JsonataTemplate)>),
    Array(Vec<JsonataTemplate>),
}

/// Why a field could not be compiled: the location (a JSON pointer) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub location: String,
    pub message: String,
}

impl JsonataTemplate {
    /// Compile `value`, found at the JSON pointer `location`, noting each bad expression.
    pub fn compile(value: &Value, location: &str, problems: &mut Vec<TemplateProblem>) -> Self {
        if !has_expression(value) {
            return JsonataTemplate::Literal(value.clone());
        }
        match value {
            Value::String(text) => match expression_text(text).map(Expression::parse) {
                Some(Ok(e)) => {
                    if e.reads_root_context() {
                        problems.push(TemplateProblem {
                            location: location.to_owned(),
                            message: format!(
                                "The JSONata expression '{}' reads '$' or '$$' at its top level: JSONata states have no input document; use $states.input",
                                e.as_str()
                            ),
                        });
                    }
                    JsonataTemplate::Expression(Box::new(e))
                }
                Some(Err(err)) => {
                    problems.push(TemplateProblem {
                        location: location.to_owned(),
                        message: format!("The value '{text}' is not a valid JSONata expression: {}", err.message),
                    });
                    JsonataTemplate::Literal(Value::Null)
                }
                None => JsonataTemplate::Literal(value.clone()),
            },
            Value::Object(map) => JsonataTemplate::Object(
                map.iter()
                    .map(|(k, v)| {
                        let loc = format!("{location}/{}", crate::template::escape_pointer(k));
                        (k.clone(), JsonataTemplate::compile(v, &loc, problems))
                    })
                    .collect(),
            ),
            Value::Array(items) => JsonataTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| JsonataTemplate::compile(v, &format!("{location}/{i}"), problems))
                    .collect(),
            ),
            other => JsonataTemplate::Literal(other.clone()),
        }
    }

    /// Every expression in the template, in document order.
    pub fn expressions(&self) -> Vec<&Expression> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Expression>) {
        match self {
            JsonataTemplate::Literal(_) => {}
            JsonataTemplate::Expression(e) => out.push(e),
            JsonataTemplate::Object(fields) => fields.iter().for_each(|(_, t)| t.collect(out)),
            JsonataTemplate::Array(items) => items.iter().for_each(|t| t.collect(out)),
        }
    }

    /// The value, every expression evaluated; `field` is AWS's name for where the template
    /// is (`Output`, `Arguments`, `Assign`), extended with keys and indices as it descends.
    pub fn eval(&self, docs: &Documents<'_>, field: &str, random: &mut dyn Randomness) -> Result<Value, QueryFailure> {
        match self {
            JsonataTemplate::Literal(v) => Ok(v.clone()),
            JsonataTemplate::Expression(e) => docs.eval(e, field, random),
            JsonataTemplate::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    out.insert(k.clone(), t.eval(docs, &format!("{field}/{k}"), random)?);
                }
                Ok(Value::Object(out))
            }
            JsonataTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    out.push(t.eval(docs, &format!("{field}/{i}"), random)?);
                }
                Ok(Value::Array(out))
            }
        }
    }
}

/// A `$states` member as JSONata reads it: the whole document, or (when the expression only
/// reads some of its keys and it is an object) an object of just those keys. Conversions are
/// cached for the other expressions of the state.
fn member(doc: &Value, use_: &KeyUse, whole: &mut Option<JValue>, parts: &mut Vec<(String, JValue)>) -> JValue {
    let map = match doc {
        Value::Object(map) if !use_.whole => map,
        _ => return whole.get_or_insert_with(|| to_jvalue(doc)).clone(),
    };
    if let Some(w) = whole {
        return w.clone();
    }
    let mut out: Vec<(String, JValue)> = Vec::with_capacity(use_.keys.len());
    for key in &use_.keys {
        let Some(value) = map.get(key) else { continue };
        let converted = match parts.iter().find(|(k, _)| k == key) {
            Some((_, v)) => v.clone(),
            None => {
                let v = to_jvalue(value);
                parts.push((key.clone(), v.clone()));
                v
            }
        };
        out.push((key.clone(), converted));
    }
    JValue::Object(Rc::new(out.into_iter().collect::<JMap>()))
}

fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(s) => expression_text(s).is_some(),
        Value::Object(map) => map.values().any(has_expression),
        Value::Array(items) => items.iter().any(has_expression),
        _ => false,
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

/// The documents a JSONata state's expressions read: `$states` (input, result, errorOutput,
/// context) and the workflow variables in scope. Each is converted to JSONata's value type at
/// most once per state, however many expressions read it.
pub struct Documents<'a> {
    input: &'a Value,
    result: Option<&'a Value>,
    error_output: Option<&'a Value>,
    context: &'a dyn crate::eval::ContextSource,
    variables: Option<&'a dyn crate::eval::VariableSource>,
    now: Millis,
    cache: RefCell<DocumentCache>,
}

#[derive(Default)]
struct DocumentCache {
    input: Option<JValue>,
    input_members: Vec<(String, JValue)>,
    result: Option<JValue>,
    result_members: Vec<(String, JValue)>,
    error_output: Option<JValue>,
    context: Option<JValue>,
    variables: Vec<(String, JValue)>,
}

impl<'a> Documents<'a> {
    pub fn new(input: &'a Value, context: &'a dyn crate::eval::ContextSource, now: Millis) -> Self {
        Self {
            input,
            result: None,
            error_output: None,
            context,
            variables: None,
            now,
            cache: RefCell::new(DocumentCache::default()),
        }
    }

    pub fn with_result(mut self, result: &'a Value) -> Self {
        self.result = Some(result);
        self
    }

    pub fn with_error_output(mut self, error_output: &'a Value) -> Self {
        self.error_output = Some(error_output);
        self
    }

    pub fn with_variables(mut self, variables: &'a dyn crate::eval::VariableSource) -> Self {
        self.variables = Some(variables);
        self
    }

    /// `$states`, with the members the expression reads.
    fn states(&self, expression: &Expression) -> JValue {
        let refs = expression.refs.states;
        let mut cache = self.cache.borrow_mut();
        let cache = &mut *cache;
        let mut members: Vec<(String, JValue)> = Vec::with_capacity(4);
        if refs.input {
            let v = member(self.input, &expression.refs.input_keys, &mut cache.input, &mut cache.input_members);
            members.push(("input".to_owned(), v));
        }
        if refs.result {
            if let Some(result) = self.result {
                let v = member(result, &expression.refs.result_keys, &mut cache.result, &mut cache.result_members);
                members.push(("result".to_owned(), v));
            }
        }
        if refs.error_output {
            if let Some(error_output) = self.error_output {
                let v = cache.error_output.get_or_insert_with(|| to_jvalue(error_output)).clone();
                members.push(("errorOutput".to_owned(), v));
            }
        }
        if refs.context {
            let v = cache.context.get_or_insert_with(|| to_jvalue(&self.context.context_value())).clone();
            members.push(("context".to_owned(), v));
        }
        JValue::Object(Rc::new(members.into_iter().collect::<JMap>()))
    }

    fn variable(&self, name: &str) -> Option<JValue> {
        let value = self.variables?.variable(name)?;
        let mut cache = self.cache.borrow_mut();
        if let Some((_, v)) = cache.variables.iter().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        let v = to_jvalue(value);
        cache.variables.push((name.to_owned(), v.clone()));
        Some(v)
    }

    /// Evaluate one expression of the field `field`, with AWS's messages for an error, an
    /// undefined result and a result JSON cannot hold.
    pub fn eval(
        &self,
        expression: &Expression,
        field: &str,
        random: &mut dyn Randomness,
    ) -> Result<Value, QueryFailure> {
        let host = Host::for_expression(expression, self.now, random);
        let mut bind = |name: &str| if name == "states" { Some(self.states(expression)) } else { self.variable(name) };
        let result = expression.evaluate(&JValue::Undefined, &mut bind, &host).map_err(|e| {
            QueryFailure::new(
                field,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {}",
                    expression.as_str(),
                    e.message
                ),
            )
        })?;
        match from_jvalue(&result) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(QueryFailure::new(
                field,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                    expression.as_str()
                ),
            )),
            Err(UnsupportedValue) => Err(QueryFailure::new(
                field,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' returned an unsupported result type.",
                    expression.as_str()
                ),
            )),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host() -> Host {
        Host { now: 1_700_000_000_000, seed: 7, limits: Limits::default() }
    }

    fn eval(text: &str, vars: &[(&str, Value)]) -> Result<Option<Value>, EvalError> {
        let e = Expression::parse(text).map_err(|s| EvalError { code: s.code, message: s.message })?;
        let mut bind = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| to_jvalue(v));
        let out = e.evaluate(&JValue::Undefined, &mut bind, &host())?;
        Ok(from_jvalue(&out).expect("tests produce JSON"))
    }

    #[test]
    fn delimiters_must_be_exact() {
        assert_eq!(expression_text("{% $x %}"), Some(" $x "));
        assert_eq!(expression_text(" {% $x %}"), None);
        assert_eq!(expression_text("{% $x %} "), None);
        assert_eq!(expression_text("{ % $x %}"), None);
    }

    #[test]
    fn whole_numbers_come_out_as_integers() {
        assert_eq!(eval("1 + 1", &[]).unwrap(), Some(json!(2)));
        assert_eq!(eval("1.5 * 2", &[]).unwrap(), Some(json!(3)));
        assert_eq!(eval("0.1", &[]).unwrap(), Some(json!(0.1)));
        assert_eq!(serde_json::to_string(&eval("$number('2')", &[]).unwrap()).unwrap(), "2");
    }

    #[test]
    fn free_variables_exclude_local_bindings() {
        let e = Expression::parse("($y := 1; $map($states.input.a, function($v) { $v + $y + $x }))").unwrap();
        assert_eq!(e.variables().collect::<Vec<_>>(), vec!["x"]);
        assert_eq!(e.states_refs(), StatesRefs { input: true, ..StatesRefs::default() });
        assert!(!e.reads_root_context());
        assert!(Expression::parse("$.a").unwrap().reads_root_context());
        assert!(Expression::parse("$$").unwrap().reads_root_context());
        assert!(!Expression::parse("$states.input.items[$ > 1]").unwrap().reads_root_context());
    }

    #[test]
    fn aws_functions() {
        assert_eq!(eval("$partition([0,1,2], 2)", &[]).unwrap(), Some(json!([[0, 1], [2]])));
        assert_eq!(eval("$partition([0], 2)", &[]).unwrap(), Some(json!([[0]])));
        assert_eq!(eval("$range(0, 9, 3)", &[]).unwrap(), Some(json!([0, 3, 6, 9])));
        assert_eq!(eval("$range(1, 9, 9)", &[]).unwrap(), Some(json!(1)));
        assert_eq!(eval("$range(5, 1, -2)", &[]).unwrap(), Some(json!([5, 3, 1])));
        assert_eq!(
            eval("$hash('Hash this string', 'SHA-256')", &[]).unwrap(),
            Some(json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"))
        );
        assert_eq!(eval("$parse('{\"a\": [1, -0]}')", &[]).unwrap(), Some(json!({"a": [1, 0]})));
        let u = eval("$uuid()", &[]).unwrap().unwrap();
        assert_eq!(u.as_str().map(str::len), Some(36));
        let r = eval("$random()", &[]).unwrap().unwrap().as_f64().unwrap();
        assert!((0.0..1.0).contains(&r));
        assert_eq!(eval("$random(42)", &[]).unwrap(), eval("$random(42)", &[]).unwrap());
    }

    #[test]
    fn time_and_randomness_come_from_the_host() {
        assert_eq!(eval("$millis()", &[]).unwrap(), Some(json!(1_700_000_000_000i64)));
        assert_eq!(eval("$now()", &[]).unwrap(), Some(json!("2023-11-14T22:13:20.000Z")));
        assert_eq!(eval("$now('[Y0001]')", &[]).unwrap(), Some(json!("2023")));
        assert_eq!(eval("[$random(), $uuid()]", &[]).unwrap(), eval("[$random(), $uuid()]", &[]).unwrap());
        assert_eq!(eval("$count($shuffle([1,2,3]))", &[]).unwrap(), Some(json!(3)));
    }

    #[test]
    fn eval_is_not_available() {
        let e = eval("$eval('1 + 1')", &[]).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("T1006"));
    }

    #[test]
    fn errors_carry_codes() {
        let e = eval("$randomSeeded(1)", &[]).unwrap_err();
        assert_eq!(e.message, "T1006: Attempted to invoke a non-function");
        let s = Expression::parse("/* open").unwrap_err();
        assert_eq!(s.code.as_deref(), Some("S0106"));
        assert!(Expression::parse("1 +").unwrap_err().code.is_some());
    }

    #[test]
    fn variables_are_bound_by_name() {
        assert_eq!(eval("$x.y", &[("x", json!({"y": 3}))]).unwrap(), Some(json!(3)));
        assert_eq!(eval("$missing", &[]).unwrap(), None);
    }

    #[test]
    fn functions_are_not_json() {
        let e = Expression::parse("function($x) { $x }").unwrap();
        let out = e.evaluate(&JValue::Undefined, &mut |_| None, &host()).unwrap();
        assert_eq!(from_jvalue(&out), Err(UnsupportedValue));
    }

    #[test]
    fn documents_convert_only_what_an_expression_reads() {
        let input = json!({"order": {"id": 7}, "items": [1, 2, 3], "other": true});
        let context = json!({});
        let docs = Documents::new(&input, &context, 0);
        let mut random = SplitMix64(1);
        let mut eval = |text: &str| {
            let e = Expression::parse(text).unwrap();
            docs.eval(&e, "Output", &mut random)
        };
        assert_eq!(eval("$states.input.order.id").unwrap(), json!(7));
        assert_eq!(eval("$count($states.input.items)").unwrap(), json!(3));
        assert_eq!(eval("$keys($states.input)").unwrap(), json!(["order", "items", "other"]));
        assert_eq!(eval("$states.input.items[$ > 1]").unwrap(), json!([2, 3]));
        assert!(eval("$states.input.missing").is_err());
        let list = json!([{"a": 1}, {"a": 2}]);
        let docs = Documents::new(&list, &context, 0);
        let e = Expression::parse("$states.input.a").unwrap();
        assert_eq!(docs.eval(&e, "Output", &mut random).unwrap(), json!([1, 2]));
    }

    #[test]
    fn runaway_recursion_is_stopped() {
        let e = Expression::parse("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))").unwrap();
        let err = e.evaluate(&JValue::Undefined, &mut |_| None, &host()).unwrap_err();
        assert!(err.code.is_some(), "{err}");
    }
}
