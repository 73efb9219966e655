//! The parsed form of a path: segments, names, and filter expressions.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Name {
    pub(super) key: Box<str>,
    /// Jayway renders a name with the quote it was written with (`.name` counts as `'`).
    pub(super) quote: char,
}

impl Name {
    pub(super) fn render(&self, out: &mut String) {
        out.push('[');
        self.render_quoted(out);
        out.push(']');
    }

    /// Jayway does not escape here; escaping the quote and backslash keeps the rendering
    /// parseable, and changes nothing for ordinary keys.
    pub(super) fn render_quoted(&self, out: &mut String) {
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
pub(super) enum Segment {
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
    pub(super) fn kind(&self) -> &'static str {
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

    pub(super) fn render(&self, out: &mut String) {
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

pub(super) fn render(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for segment in segments {
        segment.render(&mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Filters

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
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
pub(super) enum Operand {
    Path(SubPath),
    Literal(Value),
}

/// A path inside a filter, relative to the current item (`@`) or the document (`$`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SubPath {
    pub(super) from_root: bool,
    pub(super) segments: Vec<Segment>,
    /// Every segment selects at most one node (a trailing name union counts).
    pub(super) definite: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
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
