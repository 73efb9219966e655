//! Evaluating segments against a document: definite walks, scans and filters.

use super::*;

// Evaluation

/// Why a definite walk stopped; only turned into text when someone asks.
#[derive(Debug)]
pub(super) enum Miss {
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
    pub(super) fn message(&self, segments: &[Segment]) -> String {
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

pub(super) use crate::template::type_name;

/// Follow a path made of names, indexes and at most a trailing name union. Borrowing all
/// the way keeps the common `$.a.b` free of allocation.
pub(super) fn walk_definite<'v>(segments: &[Segment], root: &'v Value) -> Result<Cow<'v, Value>, Miss> {
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

pub(super) fn merge(map: &Map<String, Value>, names: &[Name]) -> Map<String, Value> {
    let mut merged = Map::new();
    for name in names {
        if let Some(v) = map.get(&*name.key) {
            merged.insert(name.key.to_string(), v.clone());
        }
    }
    merged
}

pub(super) struct EvalCtx<'v> {
    pub(super) root: &'v Value,
    /// Jayway's REQUIRE_PROPERTIES, used for existence tests in filters: an absent key
    /// anywhere aborts the whole evaluation.
    pub(super) strict: bool,
}

/// A strict evaluation met an absent key.
pub(super) struct Abort;

pub(super) type Found<'v> = Vec<Cow<'v, Value>>;

pub(super) fn collect<'v>(
    segments: &[Segment],
    node: &'v Value,
    ctx: &EvalCtx<'v>,
    out: &mut Found<'v>,
) -> Result<(), Abort> {
    match segments.split_first() {
        None => {
            out.push(Cow::Borrowed(node));
            Ok(())
        }
        Some((segment, rest)) => apply(segment, rest, node, ctx, out),
    }
}

pub(super) fn apply<'v>(
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
pub(super) fn slice_positions(from: Option<i32>, to: Option<i32>, len: usize) -> impl Iterator<Item = usize> {
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
pub(super) fn scan<'v>(
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
pub(super) enum FilterValue<'a> {
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
    pub(super) fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => FilterValue::Null,
            Value::Bool(b) => FilterValue::Bool(*b),
            Value::Number(n) => FilterValue::Number(n),
            Value::String(s) => FilterValue::Str(s),
            Value::Array(_) | Value::Object(_) => FilterValue::Json(Cow::Borrowed(value)),
        }
    }

    pub(super) fn as_array(&self) -> Option<&[Value]> {
        match self {
            FilterValue::Json(v) => v.as_array().map(Vec::as_slice),
            _ => None,
        }
    }

    pub(super) fn same_kind(&self, other: &FilterValue<'_>) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

pub(super) fn accepts(expr: &Expr, item: &Value, root: &Value) -> bool {
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

pub(super) fn exists(path: &SubPath, item: &Value, root: &Value) -> bool {
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

pub(super) fn operand_value<'a>(operand: &'a Operand, item: &'a Value, root: &'a Value) -> FilterValue<'a> {
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
pub(super) fn decimal(text: &str) -> Option<f64> {
    let plausible = !text.is_empty()
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if plausible {
        text.parse().ok()
    } else {
        None
    }
}

pub(super) fn number(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

pub(super) fn equals(l: &FilterValue<'_>, r: &FilterValue<'_>) -> bool {
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

pub(super) fn ordering(l: &FilterValue<'_>, r: &FilterValue<'_>) -> Option<std::cmp::Ordering> {
    match (l, r) {
        (FilterValue::Number(a), FilterValue::Number(b)) => number(a).partial_cmp(&number(b)),
        // Java compares UTF-16 code units; code points order the same outside surrogates.
        (FilterValue::Str(a), FilterValue::Str(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

pub(super) fn list_contains(list: &[Value], wanted: &FilterValue<'_>) -> bool {
    list.iter().any(|v| equals(wanted, &FilterValue::of(v)))
}

pub(super) fn compare(l: &FilterValue<'_>, op: Op, r: &FilterValue<'_>) -> bool {
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
