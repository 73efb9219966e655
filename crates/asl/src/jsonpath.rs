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

use serde_json::Value;

/// A parsed JSONPath expression, starting at `$`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    source: String,
}

/// The text is not a JSONPath.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PathSyntaxError {
    pub message: String,
    /// Byte offset in the text where the problem was found.
    pub position: usize,
}

/// Evaluating a path against a document failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathEvalError {
    /// A definite path found nothing. `canonical` is Jayway's rendering, e.g. `$['a'][0]`.
    #[error("No results for path: {canonical}")]
    NoResults { canonical: String },
}

impl JsonPath {
    /// Parse `text`, which must start with `$`.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let _ = text;
        todo!("jsonpath: parse")
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the path can match at most one node (Jayway's "definite" paths).
    pub fn is_definite(&self) -> bool {
        todo!("jsonpath: is_definite")
    }

    /// Evaluate against `root` with Jayway's result rules (see the module doc).
    pub fn eval(&self, root: &Value) -> Result<Value, PathEvalError> {
        let _ = root;
        todo!("jsonpath: eval")
    }
}

/// A reference path: `$`, then `.name` / `['name']` / `[n]` segments only.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferencePath {
    source: String,
}

/// Writing through a reference path failed (the spec's `States.ResultPathMatchFailure`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AssignError {
    pub message: String,
}

impl ReferencePath {
    /// Parse `text`; anything beyond a single-node path is a syntax error.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let _ = text;
        todo!("jsonpath: ReferencePath::parse")
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True for the bare `$`.
    pub fn is_root(&self) -> bool {
        todo!("jsonpath: is_root")
    }

    /// The node at this path, if there is one.
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let _ = root;
        todo!("jsonpath: get")
    }

    /// Jayway's canonical rendering of the path, e.g. `$['a']['b']`.
    pub fn canonical(&self) -> String {
        todo!("jsonpath: canonical")
    }

    /// ResultPath semantics: put `value` at this path inside `root` and return the new root,
    /// creating intermediate objects as needed. `$` replaces the whole document.
    pub fn assign(&self, root: Value, value: Value) -> Result<Value, AssignError> {
        let _ = (root, value);
        todo!("jsonpath: assign")
    }
}
