//! JSONPath as Step Functions evaluates it: Jayway JsonPath semantics.
//!
//! - A *definite* path (only `.name`, `['name']`, `[n]` segments) yields one value, or
//!   [`PathEvalError::NoResults`] when it finds nothing.
//! - Any other path (`..`, `*`, filters `[?(...)]`, slices `[a:b:c]`, unions `[0,1]`) yields
//!   an array of every match (possibly empty), except `$['a','b']` which yields an object.
//! - A [`ReferencePath`] is the restricted form ResultPath, ItemsPath and the `*Path` fields
//!   take: one node, `.`/`[]` segments only.
//!
//! This module knows nothing of `$$` or variables: [`crate::eval`] routes those.
//!
//! Jayway details that are kept on purpose:
//! - A slice's step is parsed and ignored (`$[0:3:2]` is `$[0:3]`, `$[3:0:-2]` is empty), and
//!   in `[a:b]` a negative `a` or `b` is not counted from the end (only `[a:]` and `[:b]` do).
//! - A filter applied to an object tests the object itself: `$[?(@.a)]` on `{"a":1}` gives
//!   `[{"a":1}]`.
//! - In filters, `==` between a number and a string compares them as numbers, `<`/`>` only
//!   compare two numbers or two strings, and `!=` is true when the left side is missing.
//! - `$['a','b']` as the last segment merges the present keys into one object.
//!
//! Where Step Functions differs from plain Jayway, Step Functions wins: a non-definite path
//! never fails (`$.missing[*]` gives `[]`, where Jayway throws), and a path must start at `$`.
//!
//! Canonical renderings (`$['a'][0]`) escape `'` and `\` inside names, which Jayway does not,
//! so that they parse back to the same path; for ordinary keys they are identical.
//!
//! Not supported (a syntax error): functions such as `.length()`, regular expressions (`=~`),
//! script expressions `[(...)]`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde_json::{Map, Number, Value};

mod eval;
mod parser;
mod syntax;
use eval::*;
use parser::*;
use syntax::*;

/// A parsed JSONPath expression, starting at `$`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    source: String,
    segments: Box<[Segment]>,
    /// Jayway's notion: every segment selects at most one node, counting a trailing
    /// multi-name union (which merges into one object) as definite.
    merges_to_one: bool,
    /// Only `.name`/`['name']`/`[n]` segments.
    plain: bool,
}

/// The text is not a JSONPath.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PathSyntaxError {
    pub message: String,
    /// Byte offset in the text where the problem was found.
    pub position: usize,
}

impl PathSyntaxError {
    fn new(text: &str, position: usize, what: impl fmt::Display) -> Self {
        Self { message: format!("Invalid JSONPath '{text}': {what} (at position {position})"), position }
    }
}

/// Evaluating a path against a document failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathEvalError {
    /// A definite path found nothing. `canonical` is Jayway's rendering, e.g. `$['a'][0]`.
    ///
    /// Jayway words some of these misses differently (`Missing property in path $['a']` when
    /// an intermediate key is absent); [`JsonPath::miss_message`] gives that exact wording.
    #[error("No results for path: {canonical}")]
    NoResults { canonical: String },
}

impl JsonPath {
    /// Parse `text`, which must start with `$`.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let parsed = Parser::new(text).parse_root()?;
        let segments: Box<[Segment]> = parsed.into_iter().map(|(segment, _)| segment).collect();
        let last = segments.len().saturating_sub(1);
        let merges_to_one = segments.iter().enumerate().all(|(i, s)| match s {
            Segment::Name(_) | Segment::Index(_) => true,
            Segment::Names(_) => i == last,
            _ => false,
        });
        let plain = segments.iter().all(|s| matches!(s, Segment::Name(_) | Segment::Index(_)));
        Ok(Self { source: text.to_owned(), segments, merges_to_one, plain })
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the path can match at most one node (Jayway's "definite" paths).
    ///
    /// Only `.name`, `['name']` and `[n]` segments count; a trailing `['a','b']` is not
    /// definite here even though [`JsonPath::eval`] returns it as one merged object.
    pub fn is_definite(&self) -> bool {
        self.plain
    }

    /// Jayway's canonical rendering, e.g. `$['a'][*]..['b'][?]`.
    pub fn canonical(&self) -> String {
        render(&self.segments)
    }

    /// Evaluate against `root` with Jayway's result rules (see the module doc).
    pub fn eval(&self, root: &Value) -> Result<Value, PathEvalError> {
        if self.merges_to_one {
            return match walk_definite(&self.segments, root) {
                Ok(found) => Ok(found.into_owned()),
                Err(_) => Err(PathEvalError::NoResults { canonical: self.canonical() }),
            };
        }
        let mut out = Vec::new();
        let ctx = EvalCtx { root, strict: false };
        // Not strict, so nothing aborts: a path that cannot be followed just adds nothing.
        let _ = collect(&self.segments, root, &ctx, &mut out);
        Ok(Value::Array(out.into_iter().map(Cow::into_owned).collect()))
    }

    /// For a definite path that finds nothing in `root`, Jayway's own message for the miss,
    /// e.g. `No results for path: $['a']['b']`, `Missing property in path $['a']` or
    /// `Expected to find an object with property ['b'] in path $['a'] but found 'string'`.
    /// `None` when the path finds something or is not definite.
    pub fn miss_message(&self, root: &Value) -> Option<String> {
        if !self.merges_to_one {
            return None;
        }
        match walk_definite(&self.segments, root) {
            Ok(_) => None,
            Err(miss) => Some(miss.message(&self.segments)),
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A reference path: `$`, then `.name` / `['name']` / `[n]` segments only.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferencePath {
    source: String,
    steps: Box<[Step]>,
}

/// Writing through a reference path failed (the spec's `States.ResultPathMatchFailure`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AssignError {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Name(Name),
    Index(i32),
}

impl ReferencePath {
    /// Parse `text`; anything beyond a single-node path is a syntax error.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let parsed = Parser::new(text).parse_root()?;
        let mut steps = Vec::with_capacity(parsed.len());
        for (segment, info) in parsed {
            let refuse = |what: &str| {
                PathSyntaxError::new(
                    text,
                    info.position,
                    format_args!("a reference path may only use .name, ['name'] and [n] segments, not {what}"),
                )
            };
            match segment {
                Segment::Name(name) => {
                    if info.dotted {
                        if let Some(c) = name.key.chars().find(|c| "@,:?*".contains(*c)) {
                            return Err(refuse(&format!("'{c}' in a dot-notation name (quote the name: ['...'])")));
                        }
                    }
                    steps.push(Step::Name(name));
                }
                Segment::Index(i) => steps.push(Step::Index(i)),
                other => return Err(refuse(other.kind())),
            }
        }
        Ok(Self { source: text.to_owned(), steps: steps.into_boxed_slice() })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True for the bare `$`.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// The node at this path, if there is one.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for step in self.steps.iter() {
            cur = match (step, cur) {
                (Step::Name(name), Value::Object(map)) => map.get(&*name.key)?,
                (Step::Index(i), Value::Array(items)) => items.get(resolve_index(*i, items.len())?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Jayway's canonical rendering of the path, e.g. `$['a']['b']`.
    pub fn canonical(&self) -> String {
        self.canonical_prefix(self.steps.len())
    }

    fn canonical_prefix(&self, len: usize) -> String {
        let mut out = String::from("$");
        for step in self.steps.iter().take(len) {
            match step {
                Step::Name(name) => name.render(&mut out),
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }

    /// ResultPath semantics: put `value` at this path inside `root` and return the new root,
    /// creating intermediate objects as needed. `$` replaces the whole document.
    pub fn assign(&self, root: Value, value: Value) -> Result<Value, AssignError> {
        let mut root = root;
        let mut value = Some(value);
        let last = self.steps.len().saturating_sub(1);
        let mut cur = &mut root;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Name(name) => {
                    let Value::Object(map) = cur else {
                        return Err(self.assign_error(format_args!(
                            "{} is {}, so it cannot hold the key '{}'",
                            self.place(i),
                            describe(cur),
                            name.key
                        )));
                    };
                    if i == last {
                        if let Some(v) = value.take() {
                            map.insert(name.key.to_string(), v);
                        }
                        break;
                    }
                    if !map.contains_key(&*name.key) {
                        map.insert(name.key.to_string(), Value::Object(Map::new()));
                    }
                    cur = match map.get_mut(&*name.key) {
                        Some(next) => next,
                        None => return Err(self.assign_error(format_args!("could not create {}", self.place(i + 1)))),
                    };
                }
                Step::Index(index) => {
                    let Value::Array(items) = cur else {
                        return Err(self.assign_error(format_args!(
                            "{} is {}, not an array, so it cannot be indexed with [{index}]",
                            self.place(i),
                            describe(cur)
                        )));
                    };
                    let len = items.len();
                    let Some(slot) = resolve_index(*index, len).and_then(|at| items.get_mut(at)) else {
                        return Err(self.assign_error(format_args!(
                            "index [{index}] is out of range for the array of length {len} at {} (arrays are not extended)",
                            self.canonical_prefix(i)
                        )));
                    };
                    if i == last {
                        if let Some(v) = value.take() {
                            *slot = v;
                        }
                        break;
                    }
                    cur = slot;
                }
            }
        }
        match value {
            // Only the bare `$` gets here with the value unused.
            Some(v) => Ok(v),
            None => Ok(root),
        }
    }

    /// How an error message names the node reached after `depth` steps.
    fn place(&self, depth: usize) -> String {
        if depth == 0 {
            "the input".to_owned()
        } else {
            format!("the value at {}", self.canonical_prefix(depth))
        }
    }

    fn assign_error(&self, detail: fmt::Arguments<'_>) -> AssignError {
        AssignError { message: format!("Unable to apply ResultPath '{}' to the input: {detail}", self.source) }
    }
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `n` counted from the end when negative, as Jayway does for `[n]`.
fn resolve_index(index: i32, len: usize) -> Option<usize> {
    let at = if index < 0 { len as i64 + i64::from(index) } else { i64::from(index) };
    usize::try_from(at).ok().filter(|&at| at < len)
}

/// A short description of a value for error messages: its type and a preview.
fn describe(value: &Value) -> String {
    const PREVIEW: usize = 60;
    if value.is_null() {
        return "null".to_owned();
    }
    let kind = crate::template::a_type_name(value);
    let text = value.to_string();
    if text.chars().count() > PREVIEW {
        let cut: String = text.chars().take(PREVIEW).collect();
        format!("{kind} ({cut}...)")
    } else {
        format!("{kind} ({text})")
    }
}

#[cfg(test)]
mod tests;
