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
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let text = value.to_string();
    if text.chars().count() > PREVIEW {
        let cut: String = text.chars().take(PREVIEW).collect();
        format!("{kind} ({cut}...)")
    } else {
        format!("{kind} ({text})")
    }
}

// ---------------------------------------------------------------------------------------------
// Segments

#[derive(Debug, Clone, PartialEq)]
struct Name {
    key: Box<str>,
    /// Jayway renders a name with the quote it was written with (`.name` counts as `'`).
    quote: char,
}

impl Name {
    fn render(&self, out: &mut String) {
        out.push('[');
        self.render_quoted(out);
        out.push(']');
    }

    /// Jayway does not escape here; escaping the quote and backslash keeps the rendering
    /// parseable, and changes nothing for ordinary keys.
    fn render_quoted(&self, out: &mut String) {
        out.push(self.quote);
        for c in self.key.chars() {
            if c == self.quote || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push(self.quote);
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Name(Name),
    /// `['a','b']`: merged into one object when last, otherwise each name in turn.
    Names(Box<[Name]>),
    Index(i32),
    Indexes(Box<[i32]>),
    /// `[from:to]`; a step, if written, is ignored as Jayway does.
    Slice {
        from: Option<i32>,
        to: Option<i32>,
    },
    Wildcard,
    /// `..`: the next segment applies at every depth.
    Scan,
    Filter(Box<Expr>),
}

impl Segment {
    fn kind(&self) -> &'static str {
        match self {
            Segment::Name(_) => "a name",
            Segment::Names(_) => "a union of names ([...,...])",
            Segment::Index(_) => "an index",
            Segment::Indexes(_) => "a union of indexes ([...,...])",
            Segment::Slice { .. } => "a slice ([a:b])",
            Segment::Wildcard => "a wildcard (*)",
            Segment::Scan => "a deep scan (..)",
            Segment::Filter(_) => "a filter ([?(...)])",
        }
    }

    fn render(&self, out: &mut String) {
        match self {
            Segment::Name(name) => name.render(out),
            Segment::Names(names) => {
                out.push('[');
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    name.render_quoted(out);
                }
                out.push(']');
            }
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Indexes(list) => {
                out.push('[');
                for (i, index) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{index}");
                }
                out.push(']');
            }
            Segment::Slice { from, to } => {
                out.push('[');
                if let Some(from) = from {
                    let _ = write!(out, "{from}");
                }
                out.push(':');
                if let Some(to) = to {
                    let _ = write!(out, "{to}");
                }
                out.push(']');
            }
            Segment::Wildcard => out.push_str("[*]"),
            Segment::Scan => out.push_str(".."),
            Segment::Filter(_) => out.push_str("[?]"),
        }
    }
}

fn render(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for segment in segments {
        segment.render(&mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Filters

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// `@.a` (or `!@.a` when `negated`).
    Exists {
        path: SubPath,
        negated: bool,
    },
    Compare {
        left: Operand,
        op: Op,
        right: Operand,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(SubPath),
    Literal(Value),
}

/// A path inside a filter, relative to the current item (`@`) or the document (`$`).
#[derive(Debug, Clone, PartialEq)]
struct SubPath {
    from_root: bool,
    segments: Vec<Segment>,
    /// Every segment selects at most one node (a trailing name union counts).
    definite: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    StrictEq,
    StrictNe,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
    Contains,
    All,
}

// ---------------------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone, Copy)]
struct SegmentInfo {
    position: usize,
    /// Written as `.name` rather than `['name']`.
    dotted: bool,
}

/// Filters nest paths that nest filters; past this depth the text is refused rather than
/// risking the stack.
const MAX_NESTING: usize = 64;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    depth: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        // Jayway trims the path before reading it.
        let mut pos = 0;
        let mut end = bytes.len();
        while pos < end && is_space(bytes[pos]) {
            pos += 1;
        }
        while end > pos && is_space(bytes[end - 1]) {
            end -= 1;
        }
        Self { text, bytes, pos, end, depth: 0 }
    }

    fn err(&self, position: usize, what: impl fmt::Display) -> PathSyntaxError {
        PathSyntaxError::new(self.text, position, what)
    }

    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.bytes[self.pos])
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        let at = self.pos + offset;
        (at < self.end).then(|| self.bytes[at])
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), PathSyntaxError> {
        self.skip_space();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(self.pos, format_args!("expected {what}")))
        }
    }

    fn parse_root(mut self) -> Result<Vec<(Segment, SegmentInfo)>, PathSyntaxError> {
        match self.peek() {
            None => return Err(self.err(self.pos, "the path is empty")),
            Some(b'$') => self.pos += 1,
            Some(_) => return Err(self.err(self.pos, "a path must start with '$'")),
        }
        let segments = self.parse_segments(false)?;
        if self.pos < self.end {
            return Err(self.err(self.pos, "unexpected character"));
        }
        Ok(segments)
    }

    /// Segments after `$` or `@`. Inside a filter (`embedded`) the path ends at the first
    /// character that cannot continue it; at the top level it must reach the end.
    fn parse_segments(&mut self, embedded: bool) -> Result<Vec<(Segment, SegmentInfo)>, PathSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(self.pos, "the path nests too deeply"));
        }
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                b'.' if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    out.push((Segment::Scan, SegmentInfo { position: start, dotted: false }));
                    match self.peek() {
                        None => return Err(self.err(self.pos, "a path must not end with '..'")),
                        Some(b'.') => return Err(self.err(self.pos, "'...' is not valid")),
                        Some(b'[') => out.push(self.parse_bracket()?),
                        Some(b'*') => out.push(self.parse_dot_wildcard(embedded)?),
                        Some(_) => out.push(self.parse_dot_name(embedded)?),
                    }
                }
                b'.' => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(self.err(self.pos, "a path must not end with '.'")),
                        // Jayway accepts `$.['a']` as `$['a']`.
                        Some(b'[') => out.push(self.parse_bracket()?),
                        Some(b'*') => out.push(self.parse_dot_wildcard(embedded)?),
                        Some(_) => out.push(self.parse_dot_name(embedded)?),
                    }
                }
                b'[' => out.push(self.parse_bracket()?),
                _ if embedded => break,
                _ => return Err(self.err(start, "expected '.' or '['")),
            }
        }
        self.depth -= 1;
        Ok(out)
    }

    fn parse_dot_wildcard(&mut self, embedded: bool) -> Result<(Segment, SegmentInfo), PathSyntaxError> {
        let start = self.pos;
        self.pos += 1;
        match self.peek() {
            None | Some(b'.' | b'[') => {}
            Some(c) if embedded && ends_embedded_name(c) => {}
            Some(_) => return Err(self.err(self.pos, "expected '.', '[' or the end after '*'")),
        }
        Ok((Segment::Wildcard, SegmentInfo { position: start, dotted: true }))
    }

    fn parse_dot_name(&mut self, embedded: bool) -> Result<(Segment, SegmentInfo), PathSyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == b'.' || c == b'[' || (embedded && ends_embedded_name(c)) {
                break;
            }
            if is_space(c) {
                return Err(
                    self.err(self.pos, "a dot-notation name cannot contain whitespace; use ['...'] for such keys")
                );
            }
            if c == b'(' {
                break;
            }
            self.pos += 1;
        }
        if self.peek() == Some(b'(') {
            return Err(self.err(self.pos, "functions such as .length() are not supported"));
        }
        if self.pos == start {
            return Err(self.err(start, "expected a name after '.'"));
        }
        let key = &self.text[start..self.pos];
        let segment = Segment::Name(Name { key: key.into(), quote: '\'' });
        Ok((segment, SegmentInfo { position: start, dotted: true }))
    }

    fn parse_bracket(&mut self) -> Result<(Segment, SegmentInfo), PathSyntaxError> {
        let start = self.pos;
        let info = SegmentInfo { position: start, dotted: false };
        self.pos += 1;
        self.skip_space();
        let segment = match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                let mut names = vec![Name { key: self.parse_quoted(q)?.into(), quote: char::from(q) }];
                loop {
                    self.skip_space();
                    match self.peek() {
                        Some(b']') => break,
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_space();
                            match self.peek() {
                                Some(q @ (b'\'' | b'"')) => {
                                    names.push(Name { key: self.parse_quoted(q)?.into(), quote: char::from(q) })
                                }
                                _ => return Err(self.err(self.pos, "expected a quoted name after ','")),
                            }
                        }
                        _ => return Err(self.err(self.pos, "expected ',' or ']' after a quoted name")),
                    }
                }
                if names.len() == 1 {
                    match names.pop() {
                        Some(name) => Segment::Name(name),
                        None => return Err(self.err(start, "empty brackets")),
                    }
                } else {
                    Segment::Names(names.into_boxed_slice())
                }
            }
            Some(b'*') => {
                self.pos += 1;
                self.skip_space();
                if self.peek() != Some(b']') {
                    return Err(self.err(self.pos, "expected ']' after '*'"));
                }
                Segment::Wildcard
            }
            Some(b'?') => {
                self.pos += 1;
                self.expect(b'(', "'(' after '[?'")?;
                let expr = self.parse_or()?;
                self.expect(b')', "')' to close the filter")?;
                self.skip_space();
                if self.peek() != Some(b']') {
                    return Err(self.err(self.pos, "expected ']' after the filter's ')'"));
                }
                Segment::Filter(Box::new(expr))
            }
            Some(b'0'..=b'9' | b'-' | b'+' | b':') => self.parse_numeric_bracket()?,
            Some(b']') => return Err(self.err(self.pos, "empty brackets")),
            Some(b'(') => return Err(self.err(self.pos, "script expressions [(...)] are not supported")),
            _ => return Err(self.err(self.pos, "expected a quoted name, a number, '*' or '?(...)' inside '[...]'")),
        };
        // Every arm above stops on the closing bracket.
        self.pos += 1;
        Ok((segment, info))
    }

    /// `[n]`, `[n,m,...]`, `[a:b]`, `[a:b:c]`, `[:b]`, `[a:]`.
    fn parse_numeric_bracket(&mut self) -> Result<Segment, PathSyntaxError> {
        let start = self.pos;
        let first = self.parse_int_opt()?;
        self.skip_space();
        if self.peek() == Some(b':') {
            self.pos += 1;
            self.skip_space();
            let to = self.parse_int_opt()?;
            self.skip_space();
            if self.peek() == Some(b':') {
                self.pos += 1;
                self.skip_space();
                // Jayway reads the step and then ignores it.
                let _step = self.parse_int_opt()?;
                self.skip_space();
            }
            if self.peek() != Some(b']') {
                return Err(self.err(self.pos, "expected ']' to close the slice"));
            }
            if first.is_none() && to.is_none() {
                return Err(self.err(start, "a slice needs a start or an end"));
            }
            return Ok(Segment::Slice { from: first, to });
        }
        let Some(first) = first else {
            return Err(self.err(start, "expected an index"));
        };
        let mut list = vec![first];
        loop {
            self.skip_space();
            match self.peek() {
                Some(b']') => break,
                Some(b',') => {
                    self.pos += 1;
                    self.skip_space();
                    match self.parse_int_opt()? {
                        Some(i) => list.push(i),
                        None => return Err(self.err(self.pos, "expected an index after ','")),
                    }
                }
                _ => return Err(self.err(self.pos, "expected ',' or ']' after an index")),
            }
        }
        Ok(if list.len() == 1 { Segment::Index(first) } else { Segment::Indexes(list.into_boxed_slice()) })
    }

    /// An optionally signed decimal integer in Java's `int` range, or `None` if there is no
    /// digit here.
    fn parse_int_opt(&mut self) -> Result<Option<i32>, PathSyntaxError> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let digits = self.pos;
        let mut value: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            value = value.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            self.pos += 1;
        }
        if self.pos == digits {
            if self.pos != start {
                return Err(self.err(self.pos, "expected a digit"));
            }
            return Ok(None);
        }
        let value = if negative { -value } else { value };
        match i32::try_from(value) {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(self.err(start, "the number is out of range")),
        }
    }

    /// A string in `q` quotes with backslash escapes; the cursor is on the opening quote.
    fn parse_quoted(&mut self, q: u8) -> Result<String, PathSyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(open, format_args!("unterminated string: missing closing {}", char::from(q))));
            };
            if c == q {
                out.push_str(&self.text[run..self.pos]);
                self.pos += 1;
                return Ok(out);
            }
            if c != b'\\' {
                self.pos += 1;
                continue;
            }
            out.push_str(&self.text[run..self.pos]);
            let escape_at = self.pos;
            self.pos += 1;
            let Some(e) = self.peek() else {
                return Err(self.err(escape_at, "unterminated escape"));
            };
            self.pos += 1;
            match e {
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => out.push(self.parse_unicode_escape(escape_at)?),
                _ => {
                    // Any other escaped character stands for itself (`\'`, `\\`, `\.`...).
                    let ch = self.text[self.pos - 1..].chars().next().unwrap_or('\\');
                    self.pos += ch.len_utf8() - 1;
                    out.push(ch);
                }
            }
            run = self.pos;
        }
    }

    fn parse_hex4(&mut self, escape_at: usize) -> Result<u32, PathSyntaxError> {
        let hex = self.text.get(self.pos..self.pos + 4).filter(|_| self.pos + 4 <= self.end);
        let value =
            hex.filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit())).and_then(|h| u32::from_str_radix(h, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.err(escape_at, "\\u must be followed by four hex digits")),
        }
    }

    fn parse_unicode_escape(&mut self, escape_at: usize) -> Result<char, PathSyntaxError> {
        let first = self.parse_hex4(escape_at)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.peek() == Some(b'\\') && self.peek_at(1) == Some(b'u') {
                self.pos += 2;
                let second = self.parse_hex4(escape_at)?;
                if !(0xDC00..0xE000).contains(&second) {
                    return Err(self.err(escape_at, "invalid surrogate pair in \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            } else {
                return Err(self.err(escape_at, "unpaired surrogate in \\u escape"));
            }
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.err(escape_at, "invalid \\u escape"))
    }

    // --- filter expressions --------------------------------------------------------------

    fn enter(&mut self) -> Result<(), PathSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(self.pos, "the filter nests too deeply"));
        }
        Ok(())
    }

    fn at_pair(&mut self, pair: &[u8; 2]) -> bool {
        self.skip_space();
        if self.peek() == Some(pair[0]) && self.peek_at(1) == Some(pair[1]) {
            self.pos += 2;
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self) -> Result<Expr, PathSyntaxError> {
        self.enter()?;
        let mut list = vec![self.parse_and()?];
        while self.at_pair(b"||") {
            list.push(self.parse_and()?);
        }
        self.depth -= 1;
        Ok(if list.len() == 1 { list.remove(0) } else { Expr::Or(list) })
    }

    fn parse_and(&mut self) -> Result<Expr, PathSyntaxError> {
        let mut list = vec![self.parse_unary()?];
        while self.at_pair(b"&&") {
            list.push(self.parse_unary()?);
        }
        Ok(if list.len() == 1 { list.remove(0) } else { Expr::And(list) })
    }

    fn parse_unary(&mut self) -> Result<Expr, PathSyntaxError> {
        self.enter()?;
        self.skip_space();
        let expr = match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                let save = self.pos;
                self.pos += 1;
                self.skip_space();
                if matches!(self.peek(), Some(b'@' | b'$')) {
                    // `!@.a` is a negated existence test, read as a comparison operand.
                    self.pos = save;
                    self.parse_relation()?
                } else {
                    Expr::Not(Box::new(self.parse_unary()?))
                }
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.parse_or()?;
                self.expect(b')', "')'")?;
                inner
            }
            _ => self.parse_relation()?,
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn parse_relation(&mut self) -> Result<Expr, PathSyntaxError> {
        self.skip_space();
        let start = self.pos;
        let negated = if self.peek() == Some(b'!') {
            self.pos += 1;
            self.skip_space();
            true
        } else {
            false
        };
        let left = self.parse_operand()?;
        let Some(op) = self.parse_operator()? else {
            return match left {
                Operand::Path(path) => Ok(Expr::Exists { path, negated }),
                Operand::Literal(_) => {
                    Err(self.err(start, "a literal alone is not a condition; compare it with something"))
                }
            };
        };
        if negated {
            return Err(self.err(start, "'!' applies to an existence test (!@.a) or to a parenthesised condition"));
        }
        let right = self.parse_operand()?;
        Ok(Expr::Compare { left, op, right })
    }

    fn parse_operator(&mut self) -> Result<Option<Op>, PathSyntaxError> {
        self.skip_space();
        let start = self.pos;
        let symbol = |c: u8| matches!(c, b'=' | b'!' | b'<' | b'>' | b'~');
        let op = match self.peek() {
            Some(c) if symbol(c) => {
                while self.peek().is_some_and(symbol) {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "==" => Op::Eq,
                    "!=" => Op::Ne,
                    "===" => Op::StrictEq,
                    "!==" => Op::StrictNe,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "=~" => return Err(self.err(start, "regular expressions (=~) are not supported")),
                    other => return Err(self.err(start, format_args!("unknown operator '{other}'"))),
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                match self.text[start..self.pos].to_ascii_lowercase().as_str() {
                    "in" => Op::In,
                    "nin" => Op::Nin,
                    "subsetof" => Op::SubsetOf,
                    "anyof" => Op::AnyOf,
                    "noneof" => Op::NoneOf,
                    "size" => Op::Size,
                    "empty" => Op::Empty,
                    "contains" => Op::Contains,
                    "all" => Op::All,
                    other => return Err(self.err(start, format_args!("unknown operator '{other}'"))),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(op))
    }

    fn parse_operand(&mut self) -> Result<Operand, PathSyntaxError> {
        self.skip_space();
        match self.peek() {
            Some(c @ (b'@' | b'$')) => {
                self.pos += 1;
                let segments: Vec<Segment> =
                    self.parse_segments(true)?.into_iter().map(|(segment, _)| segment).collect();
                let last = segments.len().saturating_sub(1);
                let definite = segments.iter().enumerate().all(|(i, s)| match s {
                    Segment::Name(_) | Segment::Index(_) => true,
                    Segment::Names(_) => i == last,
                    _ => false,
                });
                Ok(Operand::Path(SubPath { from_root: c == b'$', segments, definite }))
            }
            Some(b'/') => Err(self.err(self.pos, "regular expressions (/.../) are not supported")),
            Some(_) => Ok(Operand::Literal(self.parse_literal()?)),
            None => Err(self.err(self.pos, "expected a value")),
        }
    }

    /// A JSON value, leniently: strings may use single quotes, as Jayway allows.
    fn parse_literal(&mut self) -> Result<Value, PathSyntaxError> {
        self.enter()?;
        self.skip_space();
        let start = self.pos;
        let value = match self.peek() {
            Some(q @ (b'\'' | b'"')) => Value::String(self.parse_quoted(q)?),
            Some(b'-' | b'0'..=b'9') => self.parse_number()?,
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.parse_literal()?);
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err(self.pos, "expected ',' or ']' in an array literal")),
                        }
                    }
                }
                Value::Array(items)
            }
            Some(b'{') => {
                self.pos += 1;
                let mut map = Map::new();
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_space();
                        let key = match self.peek() {
                            Some(q @ (b'\'' | b'"')) => self.parse_quoted(q)?,
                            _ => return Err(self.err(self.pos, "expected a quoted key in an object literal")),
                        };
                        self.expect(b':', "':' in an object literal")?;
                        let value = self.parse_literal()?;
                        map.insert(key, value);
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err(self.pos, "expected ',' or '}' in an object literal")),
                        }
                    }
                }
                Value::Object(map)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    other => return Err(self.err(start, format_args!("unexpected word '{other}'"))),
                }
            }
            _ => return Err(self.err(start, "expected a value")),
        };
        self.depth -= 1;
        Ok(value)
    }

    fn parse_number(&mut self) -> Result<Value, PathSyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > from
        };
        if !digits(self) {
            return Err(self.err(start, "expected a number"));
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if !digits(self) {
                return Err(self.err(self.pos, "expected digits after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integral = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.err(self.pos, "expected digits in the exponent"));
            }
        }
        let text = &self.text[start..self.pos];
        if integral {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::from(i));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| self.err(start, "the number is out of range"))
    }
}

/// Characters that end a dot-notation name inside a filter (operators, grouping, spacing).
fn ends_embedded_name(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'<' | b'>' | b'~' | b')' | b'(' | b'&' | b'|' | b',' | b']' | b'/') || is_space(c)
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Why a definite walk stopped; only turned into text when someone asks.
#[derive(Debug)]
enum Miss {
    /// The last segment found nothing (or an index was out of range anywhere).
    NoResults,
    /// An intermediate key is absent; `depth` counts the segments up to and including it.
    MissingProperty { depth: usize },
    /// A name was asked of something that is not an object (segment index `at`).
    NotAnObject { at: usize, found: &'static str },
    /// An index was applied to `null` (segment index `at`).
    IndexIntoNull { at: usize },
    /// An index was applied to a non-array (segment index `at`).
    NotAnArray { at: usize, context: String },
}

impl Miss {
    fn message(&self, segments: &[Segment]) -> String {
        let prefix = |n: usize| render(segments.get(..n).unwrap_or(segments));
        match self {
            Miss::NoResults => format!("No results for path: {}", render(segments)),
            Miss::MissingProperty { depth } => {
                format!("Missing property in path {}", prefix(*depth))
            }
            Miss::NotAnObject { at, found } => {
                let mut property = String::new();
                if let Some(segment) = segments.get(*at) {
                    segment.render(&mut property);
                }
                format!(
                    "Expected to find an object with property {property} in path {} but found '{found}'",
                    prefix(*at)
                )
            }
            Miss::IndexIntoNull { at } => format!("The path {} is null", prefix(*at)),
            Miss::NotAnArray { at, context } => {
                let mut rest = String::new();
                for segment in segments.iter().skip(*at) {
                    segment.render(&mut rest);
                }
                format!("Filter: {rest} can only be applied to arrays. Current context is: {context}")
            }
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Follow a path made of names, indexes and at most a trailing name union. Borrowing all
/// the way keeps the common `$.a.b` free of allocation.
fn walk_definite<'v>(segments: &[Segment], root: &'v Value) -> Result<Cow<'v, Value>, Miss> {
    let mut cur = root;
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        cur = match segment {
            Segment::Name(name) => match cur {
                Value::Object(map) => match map.get(&*name.key) {
                    Some(next) => next,
                    None if i == last => return Err(Miss::NoResults),
                    None => return Err(Miss::MissingProperty { depth: i + 1 }),
                },
                other => return Err(Miss::NotAnObject { at: i, found: type_name(other) }),
            },
            Segment::Index(index) => match cur {
                Value::Array(items) => match resolve_index(*index, items.len()).and_then(|at| items.get(at)) {
                    Some(next) => next,
                    None => return Err(Miss::NoResults),
                },
                Value::Null => return Err(Miss::IndexIntoNull { at: i }),
                other => return Err(Miss::NotAnArray { at: i, context: other.to_string() }),
            },
            Segment::Names(names) if i == last => match cur {
                Value::Object(map) => return Ok(Cow::Owned(Value::Object(merge(map, names)))),
                other => return Err(Miss::NotAnObject { at: i, found: type_name(other) }),
            },
            _ => return Err(Miss::NoResults),
        };
    }
    Ok(Cow::Borrowed(cur))
}

fn merge(map: &Map<String, Value>, names: &[Name]) -> Map<String, Value> {
    let mut merged = Map::new();
    for name in names {
        if let Some(v) = map.get(&*name.key) {
            merged.insert(name.key.to_string(), v.clone());
        }
    }
    merged
}

struct EvalCtx<'v> {
    root: &'v Value,
    /// Jayway's REQUIRE_PROPERTIES, used for existence tests in filters: an absent key
    /// anywhere aborts the whole evaluation.
    strict: bool,
}

/// A strict evaluation met an absent key.
struct Abort;

type Found<'v> = Vec<Cow<'v, Value>>;

fn collect<'v>(segments: &[Segment], node: &'v Value, ctx: &EvalCtx<'v>, out: &mut Found<'v>) -> Result<(), Abort> {
    match segments.split_first() {
        None => {
            out.push(Cow::Borrowed(node));
            Ok(())
        }
        Some((segment, rest)) => apply(segment, rest, node, ctx, out),
    }
}

fn apply<'v>(
    segment: &Segment,
    rest: &[Segment],
    node: &'v Value,
    ctx: &EvalCtx<'v>,
    out: &mut Found<'v>,
) -> Result<(), Abort> {
    match segment {
        Segment::Name(name) => match node {
            Value::Object(map) => match map.get(&*name.key) {
                Some(next) => collect(rest, next, ctx, out),
                None if ctx.strict => Err(Abort),
                None => Ok(()),
            },
            _ => Ok(()),
        },
        Segment::Names(names) => {
            let Value::Object(map) = node else {
                return Ok(());
            };
            if ctx.strict && names.iter().any(|n| !map.contains_key(&*n.key)) {
                return Err(Abort);
            }
            if rest.is_empty() {
                out.push(Cow::Owned(Value::Object(merge(map, names))));
                return Ok(());
            }
            for name in names.iter() {
                if let Some(next) = map.get(&*name.key) {
                    collect(rest, next, ctx, out)?;
                }
            }
            Ok(())
        }
        Segment::Index(index) => match node {
            Value::Array(items) => match resolve_index(*index, items.len()).and_then(|at| items.get(at)) {
                Some(next) => collect(rest, next, ctx, out),
                None => Ok(()),
            },
            _ => Ok(()),
        },
        Segment::Indexes(list) => {
            let Value::Array(items) = node else {
                return Ok(());
            };
            for index in list.iter() {
                if let Some(next) = resolve_index(*index, items.len()).and_then(|at| items.get(at)) {
                    collect(rest, next, ctx, out)?;
                }
            }
            Ok(())
        }
        Segment::Slice { from, to } => {
            let Value::Array(items) = node else {
                return Ok(());
            };
            for at in slice_positions(*from, *to, items.len()) {
                if let Some(next) = items.get(at) {
                    collect(rest, next, ctx, out)?;
                }
            }
            Ok(())
        }
        Segment::Wildcard => {
            match node {
                Value::Object(map) => {
                    for next in map.values() {
                        collect(rest, next, ctx, out)?;
                    }
                }
                Value::Array(items) => {
                    for next in items {
                        collect(rest, next, ctx, out)?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
        Segment::Scan => match rest.split_first() {
            Some((target, after)) => scan(target, after, node, ctx, out),
            None => Ok(()),
        },
        Segment::Filter(expr) => match node {
            // Jayway tests an object itself rather than its members.
            Value::Object(_) if accepts(expr, node, ctx.root) => collect(rest, node, ctx, out),
            Value::Array(items) => {
                for item in items {
                    if accepts(expr, item, ctx.root) {
                        collect(rest, item, ctx, out)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        },
    }
}

/// The array positions Jayway's slice visits, in order. Only `[a:]` and `[:b]` count a
/// negative bound from the end; in `[a:b]` a negative position simply selects nothing.
fn slice_positions(from: Option<i32>, to: Option<i32>, len: usize) -> impl Iterator<Item = usize> {
    let len_i = len as i64;
    let (start, stop): (i64, i64) = match (from, to) {
        (Some(from), None) => {
            let from = i64::from(from);
            let from = if from < 0 { len_i + from } else { from };
            (from.max(0), len_i)
        }
        (Some(from), Some(to)) => (i64::from(from), len_i.min(i64::from(to))),
        (None, Some(to)) => {
            let to = i64::from(to);
            let to = if to < 0 { len_i + to } else { to };
            (0, len_i.min(to))
        }
        (None, None) => (0, 0),
    };
    // Jayway indexes `i` and, for a negative `i`, counts from the end.
    (start..stop.max(start)).filter_map(move |i| {
        let at = if i < 0 { len_i + i } else { i };
        usize::try_from(at).ok().filter(|&at| at < len)
    })
}

/// `..target`: apply `target` (then `after`) at every node of the tree, parents first, where
/// Jayway's scan would consider it.
fn scan<'v>(
    target: &Segment,
    after: &[Segment],
    node: &'v Value,
    ctx: &EvalCtx<'v>,
    out: &mut Found<'v>,
) -> Result<(), Abort> {
    let considered = match target {
        Segment::Name(name) => matches!(node, Value::Object(m) if m.contains_key(&*name.key)),
        Segment::Names(names) => match node {
            // A trailing union merges, and Jayway then wants every key present.
            Value::Object(m) => !after.is_empty() || names.iter().all(|n| m.contains_key(&*n.key)),
            _ => false,
        },
        Segment::Index(_) | Segment::Indexes(_) | Segment::Slice { .. } => node.is_array(),
        Segment::Wildcard => true,
        Segment::Filter(expr) => accepts(expr, node, ctx.root),
        Segment::Scan => false,
    };
    match node {
        Value::Object(map) => {
            if considered {
                apply(target, after, node, ctx, out)?;
            }
            for child in map.values() {
                scan(target, after, child, ctx, out)?;
            }
        }
        Value::Array(items) => {
            if considered {
                apply(target, after, node, ctx, out)?;
            }
            for child in items {
                scan(target, after, child, ctx, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A value as a filter sees it.
#[derive(Debug)]
enum FilterValue<'a> {
    /// The path found nothing.
    Missing,
    Null,
    Bool(bool),
    Number(&'a Number),
    Str(&'a str),
    /// An array or object.
    Json(Cow<'a, Value>),
}

impl<'a> FilterValue<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => FilterValue::Null,
            Value::Bool(b) => FilterValue::Bool(*b),
            Value::Number(n) => FilterValue::Number(n),
            Value::String(s) => FilterValue::Str(s),
            Value::Array(_) | Value::Object(_) => FilterValue::Json(Cow::Borrowed(value)),
        }
    }

    fn as_array(&self) -> Option<&[Value]> {
        match self {
            FilterValue::Json(v) => v.as_array().map(Vec::as_slice),
            _ => None,
        }
    }

    fn same_kind(&self, other: &FilterValue<'_>) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

fn accepts(expr: &Expr, item: &Value, root: &Value) -> bool {
    match expr {
        Expr::Or(list) => list.iter().any(|e| accepts(e, item, root)),
        Expr::And(list) => list.iter().all(|e| accepts(e, item, root)),
        Expr::Not(inner) => !accepts(inner, item, root),
        Expr::Exists { path, negated } => exists(path, item, root) != *negated,
        Expr::Compare { left, op, right } => {
            let l = operand_value(left, item, root);
            let r = operand_value(right, item, root);
            compare(&l, *op, &r)
        }
    }
}

fn exists(path: &SubPath, item: &Value, root: &Value) -> bool {
    let start = if path.from_root { root } else { item };
    if path.definite {
        // Jayway's strict mode also wants every key of a trailing union.
        return match (walk_definite(&path.segments, start), path.segments.last()) {
            (Ok(found), Some(Segment::Names(names))) => {
                found.as_object().is_some_and(|m| names.iter().all(|n| m.contains_key(&*n.key)))
            }
            (Ok(_), _) => true,
            (Err(_), _) => false,
        };
    }
    let ctx = EvalCtx { root, strict: true };
    let mut out = Vec::new();
    collect(&path.segments, start, &ctx, &mut out).is_ok()
}

fn operand_value<'a>(operand: &'a Operand, item: &'a Value, root: &'a Value) -> FilterValue<'a> {
    match operand {
        Operand::Literal(value) => FilterValue::of(value),
        Operand::Path(path) => {
            let start = if path.from_root { root } else { item };
            if path.definite {
                return match walk_definite(&path.segments, start) {
                    Ok(Cow::Borrowed(v)) => FilterValue::of(v),
                    Ok(Cow::Owned(v)) => FilterValue::Json(Cow::Owned(v)),
                    Err(_) => FilterValue::Missing,
                };
            }
            let ctx = EvalCtx { root, strict: false };
            let mut out = Vec::new();
            let _ = collect(&path.segments, start, &ctx, &mut out);
            FilterValue::Json(Cow::Owned(Value::Array(out.into_iter().map(Cow::into_owned).collect())))
        }
    }
}

/// A string read as a decimal number, as Java's `BigDecimal` would (no `NaN`, no `inf`).
fn decimal(text: &str) -> Option<f64> {
    let plausible = !text.is_empty()
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if plausible {
        text.parse().ok()
    } else {
        None
    }
}

fn number(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

fn equals(l: &FilterValue<'_>, r: &FilterValue<'_>) -> bool {
    match (l, r) {
        (FilterValue::Json(a), FilterValue::Json(b)) => a == b,
        (FilterValue::Str(a), FilterValue::Str(b)) => a == b,
        (FilterValue::Str(a), FilterValue::Number(b)) => *a == b.to_string(),
        (FilterValue::Number(a), FilterValue::Number(b)) => number(a) == number(b),
        (FilterValue::Number(a), FilterValue::Str(b)) => decimal(b) == Some(number(a)),
        (FilterValue::Bool(a), FilterValue::Bool(b)) => a == b,
        (FilterValue::Null, FilterValue::Null) => true,
        _ => false,
    }
}

fn ordering(l: &FilterValue<'_>, r: &FilterValue<'_>) -> Option<std::cmp::Ordering> {
    match (l, r) {
        (FilterValue::Number(a), FilterValue::Number(b)) => number(a).partial_cmp(&number(b)),
        // Java compares UTF-16 code units; code points order the same outside surrogates.
        (FilterValue::Str(a), FilterValue::Str(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn list_contains(list: &[Value], wanted: &FilterValue<'_>) -> bool {
    list.iter().any(|v| equals(wanted, &FilterValue::of(v)))
}

fn compare(l: &FilterValue<'_>, op: Op, r: &FilterValue<'_>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Op::Eq => equals(l, r),
        Op::Ne => !equals(l, r),
        Op::StrictEq => l.same_kind(r) && equals(l, r),
        Op::StrictNe => !(l.same_kind(r) && equals(l, r)),
        Op::Lt => ordering(l, r) == Some(Less),
        Op::Le => matches!(ordering(l, r), Some(Less | Equal)),
        Op::Gt => ordering(l, r) == Some(Greater),
        Op::Ge => matches!(ordering(l, r), Some(Greater | Equal)),
        Op::In => r.as_array().is_some_and(|list| list_contains(list, l)),
        Op::Nin => r.as_array().is_some_and(|list| !list_contains(list, l)),
        Op::SubsetOf => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => a.iter().all(|v| list_contains(b, &FilterValue::of(v))),
            _ => false,
        },
        Op::AnyOf => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => a.iter().any(|v| list_contains(b, &FilterValue::of(v))),
            _ => false,
        },
        Op::NoneOf => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => !a.iter().any(|v| list_contains(b, &FilterValue::of(v))),
            _ => false,
        },
        Op::All => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => b.iter().all(|v| list_contains(a, &FilterValue::of(v))),
            _ => false,
        },
        Op::Size => {
            let FilterValue::Number(n) = r else {
                return false;
            };
            let expected = number(n);
            match l {
                FilterValue::Str(s) => s.encode_utf16().count() as f64 == expected.trunc(),
                other => other.as_array().is_some_and(|a| a.len() as f64 == expected.trunc()),
            }
        }
        Op::Empty => {
            let FilterValue::Bool(want) = r else {
                return false;
            };
            match l {
                FilterValue::Str(s) => s.is_empty() == *want,
                FilterValue::Json(v) => {
                    let empty = match v.as_ref() {
                        Value::Array(a) => a.is_empty(),
                        Value::Object(m) => m.is_empty(),
                        _ => true,
                    };
                    empty == *want
                }
                _ => false,
            }
        }
        Op::Contains => match (l, r) {
            (FilterValue::Str(a), FilterValue::Str(b)) => a.contains(b),
            _ => l.as_array().is_some_and(|list| list_contains(list, r)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn eval(path: &str, doc: &Value) -> Result<Value, PathEvalError> {
        JsonPath::parse(path).map_err(|e| panic!("{path}: {e}")).and_then(|p| p.eval(doc))
    }

    // --- the json-path-comparison corpus, with Jayway's answers -------------------------------

    /// Queries where this module deliberately answers differently from Jayway.
    const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
        ("array_slice_on_object", "Step Functions returns [] when a non-definite path cannot be followed (AWS-recorded test_json_path_array_wildcard_or_slice_with_no_input cases); Jayway throws"),
        ("current_with_dot_notation", "paths must start with '$'; Jayway also accepts '@'"),
        ("dot_notation_without_root", "paths must start with '$'; Jayway prefixes '$.'"),
        ("dot_notation_without_root_and_dot", "paths must start with '$'; Jayway prefixes '$.'"),
        ("filter_expression_with_length_function", "functions are not supported"),
        ("function_sum", "functions are not supported"),
        ("filter_expression_with_regular_expression", "regular expressions are not supported"),
        ("filter_expression_with_regular_expression_from_member", "regular expressions are not supported"),
        ("filter_expression_with_parent_axis_operator", "'^' is not JSONPath; rejected rather than silently ignored"),
    ];

    fn corpus_path() -> String {
        format!("{}/../../../shared/conformance/corpus/jsonpath/queries.json", env!("CARGO_MANIFEST_DIR"))
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Value(Value),
        Error,
    }

    /// JSON equality where numbers compare by value (the recorded answers print `0.0` as
    /// `0`) and object keys in any order.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }

    fn same_multiset(expected: &[Value], actual: &[Value]) -> bool {
        let mut left: Vec<&Value> = actual.iter().collect();
        expected.len() == actual.len()
            && expected.iter().all(|e| match left.iter().position(|a| same(e, a)) {
                Some(at) => {
                    left.swap_remove(at);
                    true
                }
                None => false,
            })
    }

    #[test]
    fn jayway_corpus() {
        let text = std::fs::read_to_string(corpus_path()).unwrap_or_else(|e| panic!("{}: {e}", corpus_path()));
        let corpus: Value = serde_json::from_str(&text).expect("corpus is JSON");
        let queries = corpus["queries"].as_array().expect("queries array");
        let mut failures = Vec::new();
        let mut unexpectedly_passing = Vec::new();
        for q in queries {
            let id = q["id"].as_str().unwrap_or_default();
            let selector = q["selector"].as_str().unwrap_or_default();
            let jayway = &q["jayway"];
            let expected = if jayway.get("error").is_some()
                || jayway["status"] == "error"
                || jayway.get("result") == Some(&json!("NOT_SUPPORTED"))
            {
                Outcome::Error
            } else {
                Outcome::Value(jayway["result"].clone())
            };
            let (actual, definite) = match JsonPath::parse(selector) {
                Err(_) => (Outcome::Error, true),
                Ok(p) => match p.eval(&q["document"]) {
                    Ok(v) => (Outcome::Value(v), p.merges_to_one),
                    Err(_) => (Outcome::Error, p.merges_to_one),
                },
            };
            // The comparison records unordered results sorted, and Jayway's own order follows
            // Java hash maps; a list result is compared as a multiset.
            let matches = match (&expected, &actual) {
                (Outcome::Value(Value::Array(e)), Outcome::Value(Value::Array(a))) if !definite => same_multiset(e, a),
                (Outcome::Value(e), Outcome::Value(a)) => same(e, a),
                (e, a) => e == a,
            };
            let known = KNOWN_DIFFERENCES.iter().any(|(k, _)| *k == id);
            if !matches && !known {
                failures.push(format!("{id}: {selector}\n   expected {expected:?}\n   actual   {actual:?}"));
            }
            if matches && known {
                unexpectedly_passing.push(id.to_owned());
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
        assert!(unexpectedly_passing.is_empty(), "listed as differences but matching: {unexpectedly_passing:?}");
    }

    // --- definite paths ---------------------------------------------------------------------

    #[test]
    fn definite_paths_return_the_value() {
        let doc = json!({"a": {"b": [10, 20, {"c": null}]}, "k.e y": 1});
        assert_eq!(eval("$", &doc).unwrap(), doc);
        assert_eq!(eval("$.a.b[1]", &doc).unwrap(), json!(20));
        assert_eq!(eval("$.a.b[-1].c", &doc).unwrap(), Value::Null);
        assert_eq!(eval("$['a'][\"b\"][0]", &doc).unwrap(), json!(10));
        assert_eq!(eval("$['k.e y']", &doc).unwrap(), json!(1));
        assert_eq!(eval(" $.a.b[0] ", &doc).unwrap(), json!(10));
    }

    #[test]
    fn definite_misses_are_no_results_with_the_canonical_path() {
        let doc = json!({"a": {"b": [1]}, "s": "str"});
        for (path, canonical) in [
            ("$.NoSuchInputPath", "$['NoSuchInputPath']"),
            ("$.a.x", "$['a']['x']"),
            ("$.a.b[3]", "$['a']['b'][3]"),
            ("$.x.y.z", "$['x']['y']['z']"),
            ("$[0]", "$[0]"),
            ("$.s.len", "$['s']['len']"),
            ("$.s[0]", "$['s'][0]"),
        ] {
            let err = eval(path, &doc).unwrap_err();
            assert_eq!(err, PathEvalError::NoResults { canonical: canonical.to_owned() }, "{path}");
        }
        assert_eq!(
            eval("$.NoSuchInputPath", &doc).unwrap_err().to_string(),
            "No results for path: $['NoSuchInputPath']"
        );
    }

    #[test]
    fn miss_messages_follow_jayway() {
        let doc = json!({"a": {"b": 1}, "n": null, "o": {}});
        let message = |p: &str| JsonPath::parse(p).unwrap().miss_message(&doc);
        assert_eq!(message("$.no.such.result.path").as_deref(), Some("Missing property in path $['no']"));
        assert_eq!(message("$.a.c").as_deref(), Some("No results for path: $['a']['c']"));
        assert_eq!(
            message("$.a.b.c").as_deref(),
            Some("Expected to find an object with property ['c'] in path $['a']['b'] but found 'number'")
        );
        assert_eq!(message("$.n[0]").as_deref(), Some("The path $['n'] is null"));
        assert_eq!(
            message("$.o[0].x").as_deref(),
            Some("Filter: [0]['x'] can only be applied to arrays. Current context is: {}")
        );
        assert_eq!(message("$.a.b"), None);
        assert_eq!(message("$..b"), None);
    }

    #[test]
    fn definiteness() {
        for p in ["$", "$.a", "$['a'][0]", "$.a[-1].b"] {
            assert!(JsonPath::parse(p).unwrap().is_definite(), "{p}");
        }
        for p in ["$..a", "$.*", "$[*]", "$[0:1]", "$[0,1]", "$['a','b']", "$[?(@.a)]"] {
            assert!(!JsonPath::parse(p).unwrap().is_definite(), "{p}");
        }
    }

    // --- non-definite paths -----------------------------------------------------------------

    #[test]
    fn indefinite_paths_return_lists_and_never_fail() {
        let doc = json!({"items": [{"v": 1}, {"v": 2}, {"w": 3}], "o": {"x": 1, "y": 2}});
        assert_eq!(eval("$.items[*].v", &doc).unwrap(), json!([1, 2]));
        assert_eq!(eval("$..v", &doc).unwrap(), json!([1, 2]));
        assert_eq!(eval("$.items[1:].v", &doc).unwrap(), json!([2]));
        assert_eq!(eval("$.items[0,2]", &doc).unwrap(), json!([{"v": 1}, {"w": 3}]));
        assert_eq!(eval("$.items[?(@.v > 1)]", &doc).unwrap(), json!([{"v": 2}]));
        assert_eq!(eval("$.o.*", &doc).unwrap(), json!([1, 2]));
        assert_eq!(eval("$['o']['x','z']", &doc).unwrap(), json!({"x": 1}));
        // AWS: a non-definite path that cannot be followed is an empty list.
        let empty = json!({});
        for p in ["$.item.items[1:5].itemValue", "$.item.items[*]", "$.items[:1]", "$[*]", "$.missing[?(@.a)]"] {
            assert_eq!(eval(p, &empty).unwrap(), json!([]), "{p}");
        }
        assert_eq!(eval("$[3:0:-2]", &json!([1, 2, 3, 4, 5])).unwrap(), json!([]));
    }

    #[test]
    fn filters() {
        let doc = json!([
            {"id": 1, "tags": ["a"], "name": "x"},
            {"id": 2, "tags": [], "name": "yy"},
            {"id": "2", "name": ""},
            {"other": true}
        ]);
        let ids = |p: &str| -> Vec<Value> {
            eval(p, &doc)
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.get("id").cloned().unwrap_or(Value::Null))
                .collect()
        };
        assert_eq!(ids("$[?(@.id == 2)]"), vec![json!(2), json!("2")]);
        assert_eq!(ids("$[?(@.id === 2)]"), vec![json!(2)]);
        assert_eq!(ids("$[?(@.id != 2)]"), vec![json!(1), Value::Null]);
        // Jayway compares a number and a numeric string as numbers.
        assert_eq!(ids("$[?(@.id in [1, '2'])]"), vec![json!(1), json!(2), json!("2")]);
        assert_eq!(ids("$[?(@.id in ['1'])]"), vec![json!(1)]);
        assert_eq!(ids("$[?(@.id nin [1])]"), vec![json!(2), json!("2"), Value::Null]);
        assert_eq!(ids("$[?(@.tags empty true)]"), vec![json!(2)]);
        assert_eq!(ids("$[?(@.name size 2)]"), vec![json!(2)]);
        assert_eq!(ids("$[?(@.tags contains 'a')]"), vec![json!(1)]);
        assert_eq!(ids("$[?(!@.id)]"), vec![Value::Null]);
        assert_eq!(ids("$[?(@.id && !(@.id > 1))]"), vec![json!(1), json!("2")]);
        assert_eq!(ids("$[?(@.id >= 1 && @.id < 2 || @.other)]"), vec![json!(1), Value::Null]);
        assert_eq!(ids("$[?(@.name > 'x')]"), vec![json!(2)]);
        let rooted = json!({"limit": 1, "items": [{"n": 1}, {"n": 2}]});
        assert_eq!(eval("$.items[?(@.n > $.limit)].n", &rooted).unwrap(), json!([2]));
    }

    #[test]
    fn syntax_errors_have_positions() {
        for (text, position) in [
            ("", 0),
            ("a.b", 0),
            ("$a", 1),
            ("$.", 2),
            ("$.a..", 5),
            ("$...a", 3),
            ("$['a'", 5),
            ("$['a", 2),
            ("$[]", 2),
            ("$[key]", 2),
            ("$. a", 2),
            ("$.a b", 3),
            ("$[:]", 2),
            ("$[1:2:3:4]", 7),
            ("$[2147483648]", 2),
            ("$[?(@.a = 1)]", 8),
            ("$[?(@.a =~ /x/)]", 8),
            ("$.length()", 8),
            ("$[?(@.length() == 4)]", 12),
            ("$[?(@.a)", 8),
            ("$['a'.'b']", 5),
        ] {
            let err = JsonPath::parse(text).unwrap_err();
            assert_eq!(err.position, position, "{text}: {err}");
            assert!(err.message.contains(&format!("position {position}")), "{}", err.message);
        }
    }

    #[test]
    fn canonical_rendering() {
        let p = JsonPath::parse("$.a[0]..b[*][1:2:3]['c','d'][?(@.x)][0,1]").unwrap();
        assert_eq!(p.canonical(), "$['a'][0]..['b'][*][1:2]['c','d'][?][0,1]");
        assert_eq!(JsonPath::parse("$[\"k\"]").unwrap().canonical(), "$[\"k\"]");
    }

    // --- reference paths --------------------------------------------------------------------

    #[test]
    fn reference_paths_accept_single_nodes_only() {
        for ok in ["$", "$.a", "$['a b'][0].c", "$.a[-1]", "$['*']"] {
            assert!(ReferencePath::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["$..a", "$.*", "$[*]", "$[?(@.a)]", "$.a@b", "$[0:1]", "$[0,1]", "$['a','b']", "$.a:b", "a"] {
            assert!(ReferencePath::parse(bad).is_err(), "{bad}");
        }
        let err = ReferencePath::parse("$.a..b").unwrap_err();
        assert_eq!(err.position, 3);
        assert!(err.message.contains("deep scan"), "{}", err.message);
    }

    #[test]
    fn reference_path_get_and_canonical() {
        let doc = json!({"a": {"b": [1, 2]}});
        let p = ReferencePath::parse("$.a.b[1]").unwrap();
        assert_eq!(p.get(&doc), Some(&json!(2)));
        assert_eq!(p.canonical(), "$['a']['b'][1]");
        assert!(!p.is_root());
        assert!(ReferencePath::parse("$").unwrap().is_root());
        assert_eq!(ReferencePath::parse("$.a.c").unwrap().get(&doc), None);
        assert_eq!(ReferencePath::parse("$.a.b[2]").unwrap().get(&doc), None);
        assert_eq!(ReferencePath::parse("$.a.b.c").unwrap().get(&doc), None);
    }

    #[test]
    fn assign_follows_result_path_rules() {
        let assign = |p: &str, root: Value, v: Value| ReferencePath::parse(p).unwrap().assign(root, v);
        assert_eq!(assign("$", json!({"a": 1}), json!(5)).unwrap(), json!(5));
        assert_eq!(assign("$.r", json!({"a": 1}), json!(5)).unwrap(), json!({"a": 1, "r": 5}));
        assert_eq!(assign("$.x.y.z", json!({}), json!(true)).unwrap(), json!({"x": {"y": {"z": true}}}));
        assert_eq!(assign("$.a", json!({"a": {"old": 1}}), json!(2)).unwrap(), json!({"a": 2}));
        assert_eq!(assign("$.a[1].b", json!({"a": [0, {}]}), json!(2)).unwrap(), json!({"a": [0, {"b": 2}]}));
        assert_eq!(assign("$.a[-1]", json!({"a": [0, 1]}), json!(9)).unwrap(), json!({"a": [0, 9]}));

        let err = assign("$.r", json!("text"), json!(1)).unwrap_err();
        assert!(err.message.contains("'$.r'") && err.message.contains("the input is a string"), "{}", err.message);
        let err = assign("$.a.b", json!({"a": 3}), json!(1)).unwrap_err();
        assert!(err.message.contains("$['a'] is a number"), "{}", err.message);
        let err = assign("$.a[2]", json!({"a": [1]}), json!(1)).unwrap_err();
        assert!(err.message.contains("out of range"), "{}", err.message);
        assert!(assign("$.a[0]", json!({}), json!(1)).is_err());
    }

    // --- properties -------------------------------------------------------------------------

    fn quoted(key: &str) -> String {
        let mut out = String::from("['");
        for c in key.chars() {
            if c == '\'' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push_str("']");
        out
    }

    fn small_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-z]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn assigned_values_are_found_again(keys in prop::collection::vec(".{0,6}", 1..5), base in small_json()) {
            let text = format!("${}", keys.iter().map(|k| quoted(k)).collect::<String>());
            let reference = ReferencePath::parse(&text).unwrap();
            let root = if base.is_object() { base } else { json!({}) };
            let value = json!({"marker": keys.len()});
            match reference.assign(root, value.clone()) {
                Ok(new_root) => {
                    prop_assert_eq!(reference.get(&new_root), Some(&value));
                    prop_assert_eq!(JsonPath::parse(&text).unwrap().eval(&new_root).unwrap(), value);
                }
                // Only when a prefix of the path already held a non-object.
                Err(e) => prop_assert!(e.message.contains("cannot hold the key"), "{}", e.message),
            }
        }

        #[test]
        fn canonical_reparses_to_the_same_path(keys in prop::collection::vec(prop_oneof![
            ".{0,6}".prop_map(|k| quoted(&k)),
            "[a-zA-Z_][a-zA-Z0-9_-]{0,5}".prop_map(|k| format!(".{k}")),
            (-5i32..50).prop_map(|i| format!("[{i}]")),
        ], 0..5)) {
            let text = format!("${}", keys.concat());
            let reference = ReferencePath::parse(&text).unwrap();
            let again = ReferencePath::parse(&reference.canonical()).unwrap();
            prop_assert_eq!(&again.steps, &reference.steps);
            prop_assert_eq!(again.canonical(), reference.canonical());
            let path = JsonPath::parse(&reference.canonical()).unwrap();
            prop_assert_eq!(path.canonical(), reference.canonical());
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = JsonPath::parse(&text);
            let _ = ReferencePath::parse(&text);
        }

        #[test]
        fn path_like_text_never_panics(
            text in "\\$[.\\[\\]'\"*?@()=<>!&|,:0-9a-c $\\\\ -]{0,24}",
            doc in small_json(),
        ) {
            if let Ok(path) = JsonPath::parse(&text) {
                let _ = path.eval(&doc);
                let _ = path.miss_message(&doc);
                let _ = path.canonical();
            }
            if let Ok(reference) = ReferencePath::parse(&text) {
                let _ = reference.get(&doc);
                let _ = reference.assign(doc.clone(), Value::Null);
            }
        }

        #[test]
        fn dot_and_bracket_notation_agree(keys in prop::collection::vec("[a-c]{1,2}", 1..4), doc in small_json()) {
            let dotted = format!("${}", keys.iter().map(|k| format!(".{k}")).collect::<String>());
            let bracketed = format!("${}", keys.iter().map(|k| quoted(k)).collect::<String>());
            prop_assert_eq!(eval(&dotted, &doc), eval(&bracketed, &doc));
        }
    }
}
