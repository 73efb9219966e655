//! Choice rules: parsing a rule from the definition and evaluating it against a state's input.
//!
//! Every comparison operator and its `...Path` form, the type tests (`IsPresent`, `IsNull`,
//! `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp`), `StringMatches` with its escapes,
//! and `And`/`Or`/`Not`. A comparison between values of different types is false; a
//! `Variable` that finds nothing (outside `IsPresent`) fails the state with `States.Runtime`,
//! and so does a `...Path` operand that finds nothing.
//!
//! Everything that can be checked without data is checked by [`ChoiceRule::parse`]: operand
//! types, paths, timestamps and `StringMatches` patterns are parsed once there, so evaluation
//! only reads data and compares. These are JSONPath rules; a JSONata state's `Condition`
//! rules are not parsed here.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::error::{DefinitionError, DefinitionErrorCode, DefinitionProblem, EvalFailure};
use crate::eval::{PathRef, Scope};
use crate::timestamp::Instant;

/// A top-level rule of a Choice state: a condition and the state it leads to.
///
/// The rule's own `Assign` field (allowed on top-level rules only) is checked to be an object
/// but not kept: the Choice state's parser reads it from the rule, as it does the state's.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
}

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// True when every condition is; stops at the first false one.
    And(Vec<Condition>),
    /// True when any condition is; stops at the first true one.
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A test of the value `Variable` selects.
    Test(DataTest),
}

/// `Variable` and its one operator.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTest {
    pub variable: PathRef,
    pub operator: Operator,
}

/// A comparison operator with its parsed operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `String{Equals,LessThan,...}[Path]`: UTF-16 code unit order, as Java's `compareTo`.
    String(Relation, Operand<String>),
    /// `StringMatches`: `*` matches any run of characters.
    StringMatches(Pattern),
    /// `Numeric{Equals,LessThan,...}[Path]`: compared as `f64`, so `1` equals `1.0`.
    Numeric(Relation, Operand<f64>),
    /// `BooleanEquals[Path]`.
    Boolean(Operand<bool>),
    /// `Timestamp{Equals,LessThan,...}[Path]`: compared as instants, whatever their offsets.
    Timestamp(Relation, Operand<Instant>),
    /// `Is*`: the test, and whether the rule wants it to hold (`true`) or not (`false`).
    Is(TypeTest, bool),
}

/// How a comparison operator relates the variable (left) to the operand (right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

/// An operator's right-hand side: a literal from the definition, or a path (the `...Path`
/// operators) read in the same scope as `Variable`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand<T> {
    Literal(T),
    Path(PathRef),
}

/// What an `Is*` operator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

/// A `StringMatches` pattern: literal text with `*` wildcards.
///
/// `\*` is a literal star and `\\` a literal backslash; a backslash before any other
/// character makes that character literal too. A pattern ending in an unpaired backslash is
/// rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    /// The literal text between the wildcards: `a*b*` is `["a", "b", ""]`. Never empty.
    segments: Vec<String>,
}

/// A `StringMatches` pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("The pattern ends with an open escape character '\\'")]
    OpenEscape,
}

impl ChoiceRule {
    /// Parse one entry of `Choices`; `pointer` is its location (e.g. `/States/Check/Choices/0`),
    /// used in error messages.
    ///
    /// Every problem in the rule (nested rules included) is reported, in document order.
    pub fn parse(rule: &Value, pointer: &str) -> Result<Self, DefinitionError> {
        let mut problems = Problems::default();
        let parsed = parse_rule(rule, pointer, Level::Top, &mut problems);
        match parsed {
            RuleParts { condition: Some(condition), next: Some(next) } if problems.0.is_empty() => {
                Ok(Self { condition, next })
            }
            _ => Err(problems.into_error(pointer)),
        }
    }
}

/// The first rule whose condition holds, in order; `None` when none does (the state then
/// goes to its `Default`, or fails with `States.NoChoiceMatched`).
pub fn first_match<'r>(rules: &'r [ChoiceRule], scope: &Scope<'_>) -> Result<Option<&'r ChoiceRule>, EvalFailure> {
    for rule in rules {
        if rule.condition.eval(scope)? {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}

impl Condition {
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, EvalFailure> {
        match self {
            Condition::And(conditions) => {
                for condition in conditions {
                    if !condition.eval(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(conditions) => {
                for condition in conditions {
                    if condition.eval(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(condition) => Ok(!condition.eval(scope)?),
            Condition::Test(test) => test.eval(scope),
        }
    }

    /// Every path the condition reads (`Variable`s and `...Path` operands), in document
    /// order, for checks that need them without data (e.g. which variables a state reads).
    pub fn paths(&self) -> Vec<&PathRef> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a PathRef>) {
        match self {
            Condition::And(conditions) | Condition::Or(conditions) => {
                conditions.iter().for_each(|c| c.collect_paths(out));
            }
            Condition::Not(condition) => condition.collect_paths(out),
            Condition::Test(test) => {
                out.push(&test.variable);
                if let Some(path) = test.operator.operand_path() {
                    out.push(path);
                }
            }
        }
    }
}

impl DataTest {
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, EvalFailure> {
        let Some(value) = lookup(scope, &self.variable)? else {
            return match self.operator {
                Operator::Is(TypeTest::Present, wanted) => Ok(!wanted),
                _ => Err(invalid_path(&self.variable)),
            };
        };
        self.operator.test(&value, scope)
    }
}

impl Operator {
    /// Apply the operator to the value `Variable` selected.
    fn test(&self, value: &Value, scope: &Scope<'_>) -> Result<bool, EvalFailure> {
        // The operand is resolved before the variable's type is looked at, so a `...Path`
        // that finds nothing fails the state whatever the variable holds.
        Ok(match self {
            Operator::String(relation, operand) => {
                let right = operand.resolve(scope, |v| v.as_str().map(str::to_owned))?;
                match (value.as_str(), right) {
                    (Some(left), Some(right)) => relation.holds(compare_utf16(left, &right)),
                    _ => false,
                }
            }
            Operator::StringMatches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
            Operator::Numeric(relation, operand) => {
                let right = operand.resolve(scope, Value::as_f64)?;
                match (value.as_f64(), right) {
                    (Some(left), Some(right)) => left.partial_cmp(&right).is_some_and(|ord| relation.holds(ord)),
                    _ => false,
                }
            }
            Operator::Boolean(operand) => {
                let right = operand.resolve(scope, Value::as_bool)?;
                matches!((value.as_bool(), right), (Some(l), Some(r)) if l == *r)
            }
            Operator::Timestamp(relation, operand) => {
                let right = operand.resolve(scope, |v| v.as_str().and_then(Instant::parse))?;
                match (value.as_str().and_then(Instant::parse), right) {
                    (Some(left), Some(right)) => relation.holds(left.cmp(&right)),
                    _ => false,
                }
            }
            Operator::Is(test, wanted) => test.holds(value) == *wanted,
        })
    }

    fn operand_path(&self) -> Option<&PathRef> {
        match self {
            Operator::String(_, Operand::Path(p))
            | Operator::Numeric(_, Operand::Path(p))
            | Operator::Boolean(Operand::Path(p))
            | Operator::Timestamp(_, Operand::Path(p)) => Some(p),
            _ => None,
        }
    }

    fn is_path(&self) -> bool {
        self.operand_path().is_some()
    }
}

impl fmt::Display for Operator {
    /// The operator's field name in ASL, e.g. `NumericLessThanEqualsPath`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (family, relation) = match self {
            Operator::String(r, _) => ("String", Some(r)),
            Operator::StringMatches(_) => return f.write_str("StringMatches"),
            Operator::Numeric(r, _) => ("Numeric", Some(r)),
            Operator::Boolean(_) => ("Boolean", Some(&Relation::Equals)),
            Operator::Timestamp(r, _) => ("Timestamp", Some(r)),
            Operator::Is(test, _) => return write!(f, "Is{}", test.as_str()),
        };
        f.write_str(family)?;
        if let Some(relation) = relation {
            f.write_str(relation.as_str())?;
        }
        if self.is_path() {
            f.write_str("Path")?;
        }
        Ok(())
    }
}

impl Relation {
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering.is_eq(),
            Relation::LessThan => ordering.is_lt(),
            Relation::GreaterThan => ordering.is_gt(),
            Relation::LessThanEquals => ordering.is_le(),
            Relation::GreaterThanEquals => ordering.is_ge(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Equals => "Equals",
            Relation::LessThan => "LessThan",
            Relation::GreaterThan => "GreaterThan",
            Relation::LessThanEquals => "LessThanEquals",
            Relation::GreaterThanEquals => "GreaterThanEquals",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Equals" => Relation::Equals,
            "LessThan" => Relation::LessThan,
            "GreaterThan" => Relation::GreaterThan,
            "LessThanEquals" => Relation::LessThanEquals,
            "GreaterThanEquals" => Relation::GreaterThanEquals,
            _ => return None,
        })
    }
}

impl<T: Clone> Operand<T> {
    /// The operand's value as `T`: `Ok(None)` when a path found a value of another type.
    fn resolve(
        &self,
        scope: &Scope<'_>,
        read: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<Option<Cow<'_, T>>, EvalFailure> {
        match self {
            Operand::Literal(value) => Ok(Some(Cow::Borrowed(value))),
            Operand::Path(path) => match lookup(scope, path)? {
                Some(value) => Ok(read(&value).map(Cow::Owned)),
                None => Err(invalid_path(path)),
            },
        }
    }
}

impl TypeTest {
    pub fn holds(self, value: &Value) -> bool {
        match self {
            TypeTest::Null => value.is_null(),
            TypeTest::Present => true,
            TypeTest::Numeric => value.is_number(),
            TypeTest::String => value.is_string(),
            TypeTest::Boolean => value.is_boolean(),
            TypeTest::Timestamp => value.as_str().and_then(Instant::parse).is_some(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TypeTest::Null => "Null",
            TypeTest::Present => "Present",
            TypeTest::Numeric => "Numeric",
            TypeTest::String => "String",
            TypeTest::Boolean => "Boolean",
            TypeTest::Timestamp => "Timestamp",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Null" => TypeTest::Null,
            "Present" => TypeTest::Present,
            "Numeric" => TypeTest::Numeric,
            "String" => TypeTest::String,
            "Boolean" => TypeTest::Boolean,
            "Timestamp" => TypeTest::Timestamp,
            _ => return None,
        })
    }
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut segments = vec![String::new()];
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let escaped = chars.next().ok_or(PatternError::OpenEscape)?;
                    push_char(&mut segments, escaped);
                }
                '*' => segments.push(String::new()),
                other => push_char(&mut segments, other),
            }
        }
        Ok(Self { source: text.to_owned(), segments })
    }

    /// The pattern as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches the whole pattern.
    ///
    /// With only `*` as a wildcard, taking the leftmost occurrence of each inner segment is
    /// never worse than any later one, so one left-to-right scan decides the match without
    /// backtracking: linear in the text for each segment.
    pub fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.segments.split_first() else {
            return text.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        for segment in middle {
            match remaining.find(segment.as_str()) {
                Some(at) => remaining = &remaining[at + segment.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last.as_str())
    }
}

fn push_char(segments: &mut [String], c: char) {
    if let Some(segment) = segments.last_mut() {
        segment.push(c);
    }
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units. This differs from Rust's
/// code point order only between supplementary characters and U+E000..=U+FFFF.
fn compare_utf16(left: &str, right: &str) -> Ordering {
    if left.is_ascii() && right.is_ascii() {
        return left.cmp(right);
    }
    left.encode_utf16().cmp(right.encode_utf16())
}

/// Read a path for a rule: `Ok(None)` when it finds nothing.
fn lookup(scope: &Scope<'_>, path: &PathRef) -> Result<Option<Value>, EvalFailure> {
    // Every way a lookup can fail means the data is not there, which the rule reports the
    // same way whatever the reason.
    scope.lookup(path).map_err(|_| invalid_path(path))
}

/// AWS's failure when a rule's path selects nothing.
fn invalid_path(path: &PathRef) -> EvalFailure {
    EvalFailure::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.as_str()
    ))
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A member of `Choices`: needs `Next`, may have `Assign`.
    Top,
    /// Inside `And`, `Or` or `Not`: neither.
    Nested,
}

/// An operator field name, decoded.
#[derive(Debug, Clone, Copy)]
enum OperatorKind {
    String(Relation),
    StringMatches,
    Numeric(Relation),
    Boolean,
    Timestamp(Relation),
    Is(TypeTest),
}

impl OperatorKind {
    /// The operator a field name denotes, and whether it is a `...Path` form.
    fn from_name(name: &str) -> Option<(Self, bool)> {
        let (base, path) = match name.strip_suffix("Path") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let kind = if let Some(rest) = base.strip_prefix("String") {
            if rest == "Matches" {
                OperatorKind::StringMatches
            } else {
                OperatorKind::String(Relation::from_name(rest)?)
            }
        } else if let Some(rest) = base.strip_prefix("Numeric") {
            OperatorKind::Numeric(Relation::from_name(rest)?)
        } else if let Some(rest) = base.strip_prefix("Timestamp") {
            OperatorKind::Timestamp(Relation::from_name(rest)?)
        } else if base == "BooleanEquals" {
            OperatorKind::Boolean
        } else if let Some(rest) = base.strip_prefix("Is") {
            OperatorKind::Is(TypeTest::from_name(rest)?)
        } else {
            return None;
        };
        let has_path_form = !matches!(kind, OperatorKind::StringMatches | OperatorKind::Is(_));
        (!path || has_path_form).then_some((kind, path))
    }
}

#[derive(Default)]
struct Problems(Vec<DefinitionProblem>);

impl Problems {
    fn push(&mut self, code: DefinitionErrorCode, message: impl Into<String>, location: &str) {
        self.0.push(DefinitionProblem { code, message: message.into(), location: location.to_owned() });
    }

    fn schema(&mut self, message: impl Into<String>, location: &str) {
        self.push(DefinitionErrorCode::SchemaValidationFailed, message, location);
    }

    fn expected_type(&mut self, type_name: &str, location: &str) {
        self.schema(format!("Expected value of type {type_name}"), location);
    }

    fn into_error(self, pointer: &str) -> DefinitionError {
        if self.0.is_empty() {
            // Unreachable in practice: a rule only fails to build when a problem was noted.
            return DefinitionError::one(DefinitionErrorCode::SchemaValidationFailed, "Invalid choice rule", pointer);
        }
        DefinitionError { problems: self.0 }
    }
}

struct RuleParts {
    condition: Option<Condition>,
    next: Option<String>,
}

/// Parse one rule object, noting every problem; `None` parts are ones that did not parse.
fn parse_rule(rule: &Value, pointer: &str, level: Level, problems: &mut Problems) -> RuleParts {
    let Some(fields) = rule.as_object() else {
        problems.expected_type("Object", pointer);
        return RuleParts { condition: None, next: None };
    };

    let mut next = None;
    let mut has_next = false;
    let mut variable: Option<Option<PathRef>> = None;
    // Field name, its location, and the parsed value (None when it did not parse).
    let mut operators: Vec<(&str, String, Option<Operator>)> = Vec::new();
    let mut composites: Vec<(&str, String, Option<Condition>)> = Vec::new();

    for (key, value) in fields {
        let location = format!("{pointer}/{}", escape_pointer(key));
        match (key.as_str(), level) {
            ("Next", Level::Top) => {
                has_next = true;
                match value.as_str() {
                    Some(name) => next = Some(name.to_owned()),
                    None => problems.expected_type("String", &location),
                }
            }
            ("Assign", Level::Top) => {
                if !value.is_object() {
                    problems.expected_type("Object", &location);
                }
            }
            ("Comment", _) => {
                if !value.is_string() {
                    problems.expected_type("String", &location);
                }
            }
            ("Variable", _) => variable = Some(parse_path(key, value, &location, problems)),
            ("And" | "Or", _) => {
                let parsed = parse_rule_list(key, value, &location, problems).map(|list| {
                    if key == "And" {
                        Condition::And(list)
                    } else {
                        Condition::Or(list)
                    }
                });
                composites.push((key, location, parsed));
            }
            ("Not", _) => {
                let parsed = parse_rule(value, &location, Level::Nested, problems)
                    .condition
                    .map(|c| Condition::Not(Box::new(c)));
                composites.push((key, location, parsed));
            }
            ("Condition" | "Output", _) => {
                problems.schema(format!("Field '{key}' is only supported in JSONata Choice states"), pointer)
            }
            (name, _) => match OperatorKind::from_name(name) {
                Some((kind, is_path)) => {
                    let parsed = parse_operator(name, kind, is_path, value, &location, problems);
                    operators.push((key, location, parsed));
                }
                // AWS reports an unsupported field at the object that holds it.
                None => problems.schema(format!("Field '{name}' is not supported"), pointer),
            },
        }
    }

    let condition = if let Some((_, _, first)) = composites.first() {
        for (name, location, _) in composites.iter().skip(1) {
            problems.schema(
                format!("Field '{name}' is not supported: a choice rule has only one of 'And', 'Or' and 'Not'"),
                location,
            );
        }
        if variable.is_some() {
            problems.schema("Field 'Variable' is not supported in a choice rule with 'And', 'Or' or 'Not'", pointer);
        }
        for (name, location, _) in &operators {
            problems.schema(
                format!("Field '{name}' is not supported in a choice rule with 'And', 'Or' or 'Not'"),
                location,
            );
        }
        first.clone()
    } else {
        match (variable, operators.len()) {
            (None, 0) => {
                problems.schema(
                    "A choice rule must have either 'And', 'Or' or 'Not', or a 'Variable' and one comparison operator",
                    pointer,
                );
                None
            }
            (None, _) => {
                problems.schema("These fields are required: [Variable]", pointer);
                None
            }
            (Some(_), 0) => {
                problems.schema(
                    "A choice rule with a 'Variable' must have one comparison operator (such as StringEquals, NumericLessThan or IsPresent)",
                    pointer,
                );
                None
            }
            (Some(variable), 1) => {
                let operator = operators.pop().and_then(|(_, _, op)| op);
                match (variable, operator) {
                    (Some(variable), Some(operator)) => Some(Condition::Test(DataTest { variable, operator })),
                    _ => None,
                }
            }
            (Some(_), _) => {
                let first = operators.first().map_or("", |(name, _, _)| *name);
                for (name, location, _) in operators.iter().skip(1) {
                    problems.schema(
                        format!("A choice rule has exactly one comparison operator, but '{name}' follows '{first}'"),
                        location,
                    );
                }
                None
            }
        }
    };

    if level == Level::Top && !has_next {
        problems.schema("These fields are required: [Next]", pointer);
    }
    RuleParts { condition, next }
}

/// `And`/`Or`: a non-empty array of nested rules.
fn parse_rule_list(name: &str, value: &Value, location: &str, problems: &mut Problems) -> Option<Vec<Condition>> {
    let Some(items) = value.as_array() else {
        problems.expected_type("Array", location);
        return None;
    };
    if items.is_empty() {
        problems.schema(format!("The field '{name}' must have at least one choice rule"), location);
        return None;
    }
    let mut conditions = Vec::with_capacity(items.len());
    let mut complete = true;
    for (i, item) in items.iter().enumerate() {
        match parse_rule(item, &format!("{location}/{i}"), Level::Nested, problems).condition {
            Some(condition) => conditions.push(condition),
            None => complete = false,
        }
    }
    complete.then_some(conditions)
}

fn parse_path(name: &str, value: &Value, location: &str, problems: &mut Problems) -> Option<PathRef> {
    let Some(text) = value.as_str() else {
        problems.expected_type("String", location);
        return None;
    };
    match PathRef::parse(text) {
        Ok(path) => Some(path),
        Err(e) => {
            problems.push(
                DefinitionErrorCode::InvalidJsonPath,
                format!("The value for the field '{name}' must be a valid JSONPath: {e}"),
                location,
            );
            None
        }
    }
}

fn parse_operator(
    name: &str,
    kind: OperatorKind,
    is_path: bool,
    value: &Value,
    location: &str,
    problems: &mut Problems,
) -> Option<Operator> {
    if is_path {
        let path = parse_path(name, value, location, problems)?;
        return Some(match kind {
            OperatorKind::String(r) => Operator::String(r, Operand::Path(path)),
            OperatorKind::Numeric(r) => Operator::Numeric(r, Operand::Path(path)),
            OperatorKind::Boolean => Operator::Boolean(Operand::Path(path)),
            OperatorKind::Timestamp(r) => Operator::Timestamp(r, Operand::Path(path)),
            // `from_name` gives these no path form.
            OperatorKind::StringMatches | OperatorKind::Is(_) => return None,
        });
    }

    let expect = |problems: &mut Problems, type_name: &str| {
        problems.expected_type(type_name, location);
        None
    };
    match kind {
        OperatorKind::String(r) => match value.as_str() {
            Some(s) => Some(Operator::String(r, Operand::Literal(s.to_owned()))),
            None => expect(problems, "String"),
        },
        OperatorKind::StringMatches => match value.as_str().map(Pattern::parse) {
            Some(Ok(pattern)) => Some(Operator::StringMatches(pattern)),
            Some(Err(e)) => {
                problems.schema(e.to_string(), location);
                None
            }
            None => expect(problems, "String"),
        },
        OperatorKind::Numeric(r) => match value.as_f64() {
            Some(n) => Some(Operator::Numeric(r, Operand::Literal(n))),
            None => expect(problems, "Number"),
        },
        OperatorKind::Boolean => match value.as_bool() {
            Some(b) => Some(Operator::Boolean(Operand::Literal(b))),
            None => expect(problems, "Boolean"),
        },
        OperatorKind::Timestamp(r) => match value.as_str() {
            Some(s) => match Instant::parse(s) {
                Some(instant) => Some(Operator::Timestamp(r, Operand::Literal(instant))),
                None => {
                    problems.schema(format!("String does not match RFC3339 timestamp: '{s}'"), location);
                    None
                }
            },
            None => expect(problems, "String"),
        },
        OperatorKind::Is(test) => match value.as_bool() {
            Some(b) => Some(Operator::Is(test, b)),
            None => expect(problems, "Boolean"),
        },
    }
}

/// RFC 6901: `~` and `/` inside a pointer segment.
fn escape_pointer(segment: &str) -> Cow<'_, str> {
    if segment.contains(['~', '/']) {
        Cow::Owned(segment.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Map};

    const PTR: &str = "/States/Check/Choices/0";

    fn rule(value: Value) -> ChoiceRule {
        match ChoiceRule::parse(&value, PTR) {
            Ok(rule) => rule,
            Err(e) => panic!("{value} should parse: {e}"),
        }
    }

    fn problems(value: Value) -> Vec<(DefinitionErrorCode, String, String)> {
        match ChoiceRule::parse(&value, PTR) {
            Ok(rule) => panic!("{value} should not parse, got {rule:?}"),
            Err(e) => e.problems.into_iter().map(|p| (p.code, p.message, p.location)).collect(),
        }
    }

    /// Parse `condition` (a rule without `Next`) and evaluate it against `input`.
    fn eval_in(
        mut condition: Value,
        input: Value,
        context: Value,
        vars: &Map<String, Value>,
    ) -> Result<bool, EvalFailure> {
        if let Some(obj) = condition.as_object_mut() {
            obj.insert("Next".into(), json!("Next"));
        }
        let rule = rule(condition);
        let scope = Scope::new(&input, &context).with_variables(vars);
        rule.condition.eval(&scope)
    }

    fn eval(condition: Value, input: Value) -> Result<bool, EvalFailure> {
        eval_in(condition, input, json!({}), &Map::new())
    }

    fn holds(condition: Value, input: Value) -> bool {
        match eval(condition.clone(), input.clone()) {
            Ok(b) => b,
            Err(e) => panic!("{condition} on {input} failed: {e}"),
        }
    }

    fn schema(message: &str, location: &str) -> (DefinitionErrorCode, String, String) {
        (DefinitionErrorCode::SchemaValidationFailed, message.to_owned(), location.to_owned())
    }

    // -- parsing --------------------------------------------------------------------------

    #[test]
    fn choice_parses_data_test_rule() {
        let r = rule(json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.max", "Next": "Low", "Comment": "c"}));
        assert_eq!(r.next, "Low");
        let Condition::Test(test) = &r.condition else { panic!("not a test: {:?}", r.condition) };
        assert!(matches!(test.operator, Operator::Numeric(Relation::LessThanEquals, Operand::Path(_))));
        assert_eq!(test.operator.to_string(), "NumericLessThanEqualsPath");
        assert_eq!(r.condition.paths().len(), 2);
    }

    #[test]
    fn choice_parses_every_operator_name() {
        let relations = ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"];
        let mut cases: Vec<(String, Value)> = Vec::new();
        for rel in relations {
            cases.push((format!("String{rel}"), json!("a")));
            cases.push((format!("Numeric{rel}"), json!(1.5)));
            cases.push((format!("Timestamp{rel}"), json!("2016-03-14T01:59:00Z")));
            for family in ["String", "Numeric", "Timestamp"] {
                cases.push((format!("{family}{rel}Path"), json!("$.x")));
            }
        }
        cases.push(("BooleanEquals".into(), json!(true)));
        cases.push(("BooleanEqualsPath".into(), json!("$.x")));
        cases.push(("StringMatches".into(), json!("a*")));
        for t in ["Null", "Present", "Numeric", "String", "Boolean", "Timestamp"] {
            cases.push((format!("Is{t}"), json!(false)));
        }
        assert_eq!(cases.len(), 39);
        for (name, operand) in cases {
            let mut r = Map::new();
            r.insert("Variable".into(), json!("$.v"));
            r.insert(name.clone(), operand);
            r.insert("Next".into(), json!("N"));
            let parsed = rule(Value::Object(r));
            let Condition::Test(test) = parsed.condition else { panic!("{name}") };
            assert_eq!(test.operator.to_string(), name);
        }
    }

    #[test]
    fn choice_parses_composites_and_context_and_variables() {
        let r = rule(json!({
            "And": [
                {"Variable": "$$.Execution.Input.x", "IsPresent": true},
                {"Or": [{"Variable": "$limit", "NumericGreaterThan": 3}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}]}
            ],
            "Assign": {"a": 1},
            "Next": "N"
        }));
        let Condition::And(items) = &r.condition else { panic!() };
        assert_eq!(items.len(), 2);
        let paths: Vec<String> = r.condition.paths().iter().map(|p| p.as_str()).collect();
        assert_eq!(paths, ["$$.Execution.Input.x", "$limit", "$.s"]);
        assert!(r.condition.paths()[0].is_context());
    }

    #[test]
    fn choice_rejects_operand_of_wrong_type() {
        for (op, operand, expected) in [
            ("NumericEquals", json!("1"), "Number"),
            ("StringEquals", json!(1), "String"),
            ("StringMatches", json!(null), "String"),
            ("BooleanEquals", json!("true"), "Boolean"),
            ("IsPresent", json!("true"), "Boolean"),
            ("IsNull", json!(1), "Boolean"),
            ("TimestampEquals", json!(0), "String"),
            ("NumericEqualsPath", json!(1), "String"),
        ] {
            let mut r = Map::new();
            r.insert("Variable".into(), json!("$.v"));
            r.insert(op.into(), operand);
            r.insert("Next".into(), json!("N"));
            assert_eq!(
                problems(Value::Object(r)),
                [schema(&format!("Expected value of type {expected}"), &format!("{PTR}/{op}"))],
                "{op}"
            );
        }
    }

    #[test]
    fn choice_rejects_invalid_timestamp_and_pattern_and_path() {
        assert_eq!(
            problems(json!({"Variable": "$.v", "TimestampLessThan": "2016-02-30T00:00:00Z", "Next": "N"})),
            [schema(
                "String does not match RFC3339 timestamp: '2016-02-30T00:00:00Z'",
                &format!("{PTR}/TimestampLessThan")
            )]
        );
        assert_eq!(
            problems(json!({"Variable": "$.v", "StringMatches": "abc\\", "Next": "N"})),
            [schema("The pattern ends with an open escape character '\\'", &format!("{PTR}/StringMatches"))]
        );
        let p = problems(json!({"Variable": "v", "StringEquals": "x", "Next": "N"}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, DefinitionErrorCode::InvalidJsonPath);
        assert_eq!(p[0].2, format!("{PTR}/Variable"));
        let p = problems(json!({"Variable": "$.v", "StringEqualsPath": "nope", "Next": "N"}));
        assert_eq!(
            (p[0].0, p[0].2.as_str()),
            (DefinitionErrorCode::InvalidJsonPath, &*format!("{PTR}/StringEqualsPath"))
        );
    }

    #[test]
    fn choice_rejects_bad_structure() {
        assert_eq!(
            problems(json!({"Variable": "$.v", "StringEquals": "x"})),
            [schema("These fields are required: [Next]", PTR)]
        );
        assert_eq!(
            problems(json!({"Variable": "$.v", "StringEquals": "x", "Next": 3})),
            [schema("Expected value of type String", &format!("{PTR}/Next"))]
        );
        assert_eq!(
            problems(json!({"Variable": "$.v", "StringEquals": "x", "NumericEquals": 1, "Next": "N"})),
            [schema(
                "A choice rule has exactly one comparison operator, but 'NumericEquals' follows 'StringEquals'",
                &format!("{PTR}/NumericEquals")
            )]
        );
        assert_eq!(
            problems(json!({"Variable": "$.v", "Next": "N"})),
            [schema(
                "A choice rule with a 'Variable' must have one comparison operator (such as StringEquals, NumericLessThan or IsPresent)",
                PTR
            )]
        );
        assert_eq!(
            problems(json!({"StringEquals": "x", "Next": "N"})),
            [schema("These fields are required: [Variable]", PTR)]
        );
        assert_eq!(
            problems(
                json!({"Variable": "$.v", "StringEquals": "x", "Next": "N", "Foo": 1, "StringMatchesPath": "$.x", "IsNullPath": "$.x"})
            ),
            [
                schema("Field 'Foo' is not supported", PTR),
                schema("Field 'StringMatchesPath' is not supported", PTR),
                schema("Field 'IsNullPath' is not supported", PTR),
            ]
        );
        assert_eq!(problems(json!("rule")), [schema("Expected value of type Object", PTR)]);
        assert_eq!(
            problems(json!({"Next": "N"}))[0].1,
            "A choice rule must have either 'And', 'Or' or 'Not', or a 'Variable' and one comparison operator"
        );
    }

    #[test]
    fn choice_rejects_bad_nested_rules() {
        assert_eq!(
            problems(json!({"And": [{"Variable": "$.v", "IsNull": true, "Next": "X"}], "Next": "N"})),
            [schema("Field 'Next' is not supported", &format!("{PTR}/And/0"))]
        );
        assert_eq!(
            problems(json!({"Not": {"Variable": "$.v", "IsNull": true, "Assign": {}}, "Next": "N"})),
            [schema("Field 'Assign' is not supported", &format!("{PTR}/Not"))]
        );
        assert_eq!(
            problems(json!({"Or": [], "Next": "N"})),
            [schema("The field 'Or' must have at least one choice rule", &format!("{PTR}/Or"))]
        );
        assert_eq!(
            problems(json!({"Or": {}, "Next": "N"})),
            [schema("Expected value of type Array", &format!("{PTR}/Or"))]
        );
        // Problems in several nested rules are all reported, in document order.
        assert_eq!(
            problems(json!({"Or": [
                {"Variable": "$.v", "NumericEquals": "1"},
                {"Variable": "$.v", "IsNull": true},
                {"Not": {"Variable": "$.v", "BooleanEquals": 1}}
            ], "Next": "N"})),
            [
                schema("Expected value of type Number", &format!("{PTR}/Or/0/NumericEquals")),
                schema("Expected value of type Boolean", &format!("{PTR}/Or/2/Not/BooleanEquals")),
            ]
        );
        assert_eq!(
            problems(json!({"And": [{"Variable": "$.v", "IsNull": true}], "Variable": "$.v", "Next": "N"})),
            [schema("Field 'Variable' is not supported in a choice rule with 'And', 'Or' or 'Not'", PTR)]
        );
        assert_eq!(
            problems(json!({"Condition": "{% true %}", "Next": "N"}))[0].1,
            "Field 'Condition' is only supported in JSONata Choice states"
        );
    }

    #[test]
    fn choice_problem_displays_like_aws() {
        let Err(e) = ChoiceRule::parse(&json!({"Variable": "$.v", "NumericEquals": "1", "Next": "N"}), PTR) else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Expected value of type Number at /States/Check/Choices/0/NumericEquals'"
        );
    }

    // -- evaluation -----------------------------------------------------------------------

    #[test]
    fn choice_type_mismatch_is_false() {
        let input = json!({"s": "1", "n": 1, "b": true, "z": null, "o": {}, "a": [1]});
        for var in ["$.s", "$.b", "$.z", "$.o", "$.a"] {
            assert!(!holds(json!({"Variable": var, "NumericEquals": 1}), input.clone()), "{var}");
        }
        for var in ["$.n", "$.b", "$.z", "$.o", "$.a"] {
            assert!(!holds(json!({"Variable": var, "StringEquals": "1"}), input.clone()), "{var}");
            assert!(!holds(json!({"Variable": var, "StringMatches": "*"}), input.clone()), "{var}");
            assert!(!holds(json!({"Variable": var, "TimestampLessThan": "2016-03-14T01:59:00Z"}), input.clone()));
        }
        assert!(!holds(json!({"Variable": "$.s", "BooleanEquals": true}), input.clone()));
        assert!(!holds(json!({"Variable": "$.n", "StringEqualsPath": "$.n"}), input.clone()));
        assert!(!holds(json!({"Variable": "$.s", "NumericEqualsPath": "$.s"}), input));
    }

    #[test]
    fn choice_missing_variable_is_runtime_error() {
        let e = eval(json!({"Variable": "$.nope", "NumericEquals": 1}), json!({})).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(e.message, "Invalid path '$.nope': The choice state's condition path references an invalid value.");
        let e = eval(json!({"Variable": "$.n", "NumericEqualsPath": "$.max"}), json!({"n": 1})).unwrap_err();
        assert_eq!(e.message, "Invalid path '$.max': The choice state's condition path references an invalid value.");
        // The operand is read even when the variable's type already decides the answer.
        assert!(eval(json!({"Variable": "$.n", "StringEqualsPath": "$.max"}), json!({"n": 1})).is_err());
        for op in ["IsNull", "IsString", "IsNumeric", "IsBoolean", "IsTimestamp"] {
            let mut r = Map::new();
            r.insert("Variable".into(), json!("$.nope"));
            r.insert(op.into(), json!(false));
            assert!(eval(Value::Object(r), json!({})).is_err(), "{op}");
        }
        let e = eval(json!({"Variable": "$undefined", "IsNull": true}), json!({})).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid path '$undefined': The choice state's condition path references an invalid value."
        );
    }

    #[test]
    fn choice_is_present() {
        let input = json!({"a": null, "b": {"c": 0}});
        assert!(holds(json!({"Variable": "$.a", "IsPresent": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.b.c", "IsPresent": true}), input.clone()));
        assert!(!holds(json!({"Variable": "$.x", "IsPresent": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.x", "IsPresent": false}), input.clone()));
        assert!(!holds(json!({"Variable": "$.b.x", "IsPresent": true}), input.clone()));
        assert!(holds(json!({"Variable": "$undefined", "IsPresent": false}), input));
    }

    #[test]
    fn choice_type_tests() {
        let input = json!({"z": null, "n": 1.5, "s": "x", "b": false, "t": "2016-03-14T01:59:00Z", "bad": "2016-03-14T01:59:00"});
        let cases = [
            ("IsNull", "$.z", true),
            ("IsNull", "$.n", false),
            ("IsNumeric", "$.n", true),
            ("IsNumeric", "$.s", false),
            ("IsString", "$.s", true),
            ("IsString", "$.z", false),
            ("IsBoolean", "$.b", true),
            ("IsBoolean", "$.n", false),
            ("IsTimestamp", "$.t", true),
            ("IsTimestamp", "$.bad", false),
            ("IsTimestamp", "$.n", false),
        ];
        for (op, var, expected) in cases {
            for wanted in [true, false] {
                let mut r = Map::new();
                r.insert("Variable".into(), json!(var));
                r.insert(op.into(), json!(wanted));
                assert_eq!(holds(Value::Object(r), input.clone()), expected == wanted, "{op} {var} {wanted}");
            }
        }
    }

    #[test]
    fn choice_numeric_compares_by_value() {
        let input = json!({"i": 1, "f": 1.0, "big": 9007199254740993u64, "neg": -0.0});
        assert!(holds(json!({"Variable": "$.i", "NumericEquals": 1.0}), input.clone()));
        assert!(holds(json!({"Variable": "$.f", "NumericEquals": 1}), input.clone()));
        assert!(holds(json!({"Variable": "$.i", "NumericEqualsPath": "$.f"}), input.clone()));
        assert!(holds(json!({"Variable": "$.neg", "NumericEquals": 0}), input.clone()));
        assert!(holds(json!({"Variable": "$.i", "NumericLessThan": 1.5}), input.clone()));
        assert!(holds(json!({"Variable": "$.i", "NumericGreaterThanEquals": 1}), input.clone()));
        assert!(!holds(json!({"Variable": "$.i", "NumericGreaterThan": 1}), input.clone()));
        // Beyond 2^53 the values are compared as f64, as the spec warns.
        assert!(holds(json!({"Variable": "$.big", "NumericEquals": 9007199254740992u64}), input));
    }

    #[test]
    fn choice_string_compares_like_java() {
        let input = json!({"s": "abc", "upper": "B", "lower": "a", "astral": "\u{1F600}", "private": "\u{FF61}"});
        assert!(holds(json!({"Variable": "$.s", "StringEquals": "abc"}), input.clone()));
        assert!(!holds(json!({"Variable": "$.s", "StringEquals": "ABC"}), input.clone()));
        assert!(holds(json!({"Variable": "$.upper", "StringLessThan": "a"}), input.clone()));
        assert!(holds(json!({"Variable": "$.s", "StringGreaterThan": "ab"}), input.clone()));
        assert!(holds(json!({"Variable": "$.s", "StringLessThanEquals": "abc"}), input.clone()));
        assert!(holds(json!({"Variable": "$.lower", "StringLessThanPath": "$.s"}), input.clone()));
        // UTF-16: a surrogate pair (0xD83D...) sorts before U+FF61, unlike code point order.
        assert!(holds(json!({"Variable": "$.astral", "StringLessThanPath": "$.private"}), input.clone()));
        assert!(holds(json!({"Variable": "$.private", "StringGreaterThan": "\u{1F600}"}), input));
        // No normalisation: precomposed and decomposed é differ.
        assert!(!holds(json!({"Variable": "$.e", "StringEquals": "e\u{301}"}), json!({"e": "\u{e9}"})));
    }

    #[test]
    fn choice_string_matches() {
        let m =
            |pattern: &str, text: &str| holds(json!({"Variable": "$.s", "StringMatches": pattern}), json!({"s": text}));
        assert!(m("foo*.log", "foo23.log"));
        assert!(m("*.log", "zebra.log"));
        assert!(m("foo*.*", "foobar.zebra"));
        assert!(!m("foo*.log", "foo23.txt"));
        assert!(m("*", ""));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxcxxbxxaxx"));
        assert!(m("log-\\*.txt", "log-*.txt"));
        assert!(!m("log-\\*.txt", "log-1.txt"));
        assert!(m("C:\\\\dir\\\\*", "C:\\dir\\file"));
        assert!(!m("C:\\\\dir", "C:dir"));
        assert!(m("?[a]", "?[a]"));
        assert!(m("é*ü", "éaaaü"));
        // Pathological for backtracking matchers; linear here.
        let text = "a".repeat(20_000);
        assert!(!m(&format!("{}b", "*a".repeat(200)), &text));
    }

    #[test]
    fn choice_boolean_and_timestamp() {
        let input =
            json!({"t": true, "f": false, "ts": "2016-03-14T03:59:00+02:00", "ts2": "2016-03-14T01:59:00.000000001Z"});
        assert!(holds(json!({"Variable": "$.t", "BooleanEquals": true}), input.clone()));
        assert!(!holds(json!({"Variable": "$.t", "BooleanEqualsPath": "$.f"}), input.clone()));
        assert!(holds(json!({"Variable": "$.ts", "TimestampEquals": "2016-03-14T01:59:00Z"}), input.clone()));
        assert!(holds(json!({"Variable": "$.ts", "TimestampLessThanPath": "$.ts2"}), input.clone()));
        assert!(holds(json!({"Variable": "$.ts2", "TimestampGreaterThan": "2016-03-14T01:59:00Z"}), input.clone()));
        // A string that is not a timestamp, on either side, makes the comparison false.
        assert!(!holds(json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}), input.clone()));
        assert!(!holds(json!({"Variable": "$.ts", "TimestampEqualsPath": "$.t"}), input));
    }

    #[test]
    fn choice_composites_short_circuit() {
        let input = json!({"n": 1});
        // The second test would fail the state; it is never reached.
        assert!(!holds(
            json!({"And": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.x", "NumericEquals": 1}]}),
            input.clone()
        ));
        assert!(holds(
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.x", "NumericEquals": 1}]}),
            input.clone()
        ));
        assert!(eval(
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.x", "NumericEquals": 1}]}),
            input.clone()
        )
        .is_err());
        assert!(holds(json!({"Not": {"Variable": "$.n", "NumericEquals": 2}}), input.clone()));
        assert!(holds(
            json!({"And": [{"Variable": "$.x", "IsPresent": false}, {"Not": {"Or": [{"Variable": "$.n", "IsString": true}]}}]}),
            input
        ));
    }

    #[test]
    fn choice_reads_context_and_variables() {
        let context = json!({"Execution": {"Input": {"level": 3}}});
        let mut vars = Map::new();
        vars.insert("limit".into(), json!({"max": 5}));
        let ok = |c: Value| eval_in(c, json!({"n": 4}), context.clone(), &vars);
        assert_eq!(ok(json!({"Variable": "$$.Execution.Input.level", "NumericEquals": 3})), Ok(true));
        assert_eq!(ok(json!({"Variable": "$.n", "NumericLessThanPath": "$limit.max"})), Ok(true));
        assert_eq!(
            ok(json!({"Variable": "$limit.max", "NumericGreaterThanPath": "$$.Execution.Input.level"})),
            Ok(true)
        );
        assert_eq!(ok(json!({"Variable": "$other", "IsPresent": true})), Ok(false));
    }

    #[test]
    fn choice_first_match_in_order() {
        let rules = [
            rule(json!({"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"})),
            rule(json!({"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Positive"})),
            rule(json!({"Variable": "$.n", "NumericGreaterThan": -10, "Next": "Small"})),
        ];
        let context = json!({});
        let at = |n: i64| {
            let input = json!({"n": n});
            let scope = Scope::new(&input, &context);
            first_match(&rules, &scope).map(|r| r.map(|r| r.next.clone()))
        };
        assert_eq!(at(20), Ok(Some("Big".into())));
        assert_eq!(at(5), Ok(Some("Positive".into())));
        assert_eq!(at(-20), Ok(None));
    }

    // -- properties -----------------------------------------------------------------------

    const KEYS: &[&str] = &[
        "Variable",
        "Next",
        "And",
        "Or",
        "Not",
        "Comment",
        "Assign",
        "StringEquals",
        "StringMatches",
        "NumericLessThanPath",
        "BooleanEquals",
        "TimestampGreaterThanEquals",
        "TimestampEqualsPath",
        "IsPresent",
        "IsTimestamp",
        "Condition",
        "Foo",
        "",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        let strings = prop_oneof![
            Just("$".to_owned()),
            Just("$.a".to_owned()),
            Just("$$.Execution.Id".to_owned()),
            Just("$var".to_owned()),
            Just("2016-03-14T01:59:00Z".to_owned()),
            Just("a\\".to_owned()),
            "[a-z$.*\\\\\\[\\]'0-9 ]{0,10}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            strings.prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..6)
                    .prop_map(|fields| { Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()) }),
            ]
        })
    }

    /// A plain backtracking matcher over the same pattern semantics, small inputs only.
    fn reference_match(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| reference_match(rest, &text[i..])),
            Some((&c, rest)) => text.first() == Some(&c) && reference_match(rest, &text[1..]),
        }
    }

    proptest! {
        #[test]
        fn choice_parse_never_panics(value in arb_json()) {
            let _ = ChoiceRule::parse(&value, PTR);
        }

        #[test]
        fn choice_parse_and_eval_never_panic(value in arb_json(), input in arb_json()) {
            if let Ok(rule) = ChoiceRule::parse(&value, PTR) {
                let context = json!({});
                let scope = Scope::new(&input, &context);
                let _ = rule.condition.eval(&scope);
            }
        }

        #[test]
        fn choice_star_only_pattern_matches_everything(stars in 1..6usize, text in ".{0,30}") {
            let pattern = Pattern::parse(&"*".repeat(stars));
            prop_assert!(pattern.is_ok_and(|p| p.matches(&text)));
        }

        #[test]
        fn choice_pattern_agrees_with_backtracking(pattern in "[ab*]{0,8}", text in "[ab]{0,10}") {
            let chars: Vec<char> = pattern.chars().collect();
            let text_chars: Vec<char> = text.chars().collect();
            let parsed = Pattern::parse(&pattern);
            prop_assert!(parsed.is_ok());
            let Ok(parsed) = parsed else { return Ok(()) };
            prop_assert_eq!(parsed.matches(&text), reference_match(&chars, &text_chars));
        }

        #[test]
        fn choice_literal_pattern_is_equality(literal in "[^*\\\\]{0,12}", text in "[^*\\\\]{0,12}") {
            let parsed = Pattern::parse(&literal);
            prop_assert!(parsed.is_ok_and(|p| p.matches(&text) == (literal == text) && p.matches(&literal)));
        }

        #[test]
        fn choice_numeric_agrees_with_f64(
            a in prop_oneof![any::<i32>().prop_map(f64::from), -1e6..1e6f64, Just(0.0), Just(-0.0)],
            b in prop_oneof![any::<i32>().prop_map(f64::from), -1e6..1e6f64, Just(0.0)],
            b_as_int in any::<bool>(),
        ) {
            // The same value written as an integer or a float must compare the same.
            let right = if b_as_int && b.fract() == 0.0 { json!(b as i64) } else { json!(b) };
            let input = json!({"a": a, "b": right.clone()});
            let context = json!({});
            let scope = Scope::new(&input, &context);
            let relations = [
                ("Equals", a == b),
                ("LessThan", a < b),
                ("GreaterThan", a > b),
                ("LessThanEquals", a <= b),
                ("GreaterThanEquals", a >= b),
            ];
            for (rel, expected) in relations {
                for (op, operand) in [(format!("Numeric{rel}"), right.clone()), (format!("Numeric{rel}Path"), json!("$.b"))] {
                    let mut r = Map::new();
                    r.insert("Variable".into(), json!("$.a"));
                    r.insert(op.clone(), operand);
                    r.insert("Next".into(), json!("N"));
                    let parsed = ChoiceRule::parse(&Value::Object(r), PTR);
                    prop_assert!(parsed.is_ok());
                    let Ok(parsed) = parsed else { return Ok(()) };
                    prop_assert_eq!(parsed.condition.eval(&scope), Ok(expected), "{} {} {}", a, op, b);
                }
            }
        }

        #[test]
        fn choice_string_order_agrees_with_utf16(a in "\\PC{0,6}", b in "\\PC{0,6}") {
            let left: Vec<u16> = a.encode_utf16().collect();
            let right: Vec<u16> = b.encode_utf16().collect();
            prop_assert_eq!(compare_utf16(&a, &b), left.cmp(&right));
        }
    }

    // -- AWS-recorded cases ---------------------------------------------------------------

    /// The recorded LocalStack/AWS cases, when the conformance corpus is at hand: the
    /// `BATON_CONFORMANCE_CORPUS` folder, or `shared/conformance/corpus` above this crate.
    fn corpus_dir() -> Option<std::path::PathBuf> {
        if let Ok(dir) = std::env::var("BATON_CONFORMANCE_CORPUS") {
            return Some(std::path::PathBuf::from(dir).join("localstack"));
        }
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/conformance/corpus/localstack"))
            .find(|p| p.is_dir())
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Succeeded(Value),
        Failed(Option<String>),
    }

    /// JSON equality with numbers compared by value, as the corpus compares outputs.
    fn same_json(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
            }
            _ => a == b,
        }
    }

    /// What running `target` on `input` gives, for the simple end states the cases use.
    fn simulate(states: &Map<String, Value>, target: &str, input: &Value) -> Option<Outcome> {
        let state = states.get(target)?.as_object()?;
        match state.get("Type")?.as_str()? {
            "Pass"
                if state.get("End") == Some(&json!(true))
                    && state.keys().all(|k| ["Type", "End", "Result", "Comment"].contains(&k.as_str())) =>
            {
                Some(Outcome::Succeeded(state.get("Result").unwrap_or(input).clone()))
            }
            "Fail" => Some(Outcome::Failed(state.get("Error").and_then(Value::as_str).map(str::to_owned))),
            "Succeed" if !state.contains_key("OutputPath") && !state.contains_key("InputPath") => {
                Some(Outcome::Succeeded(input.clone()))
            }
            _ => None,
        }
    }

    /// For every recorded execution that starts with a JSONPath Choice state and goes on to a
    /// simple end state, the rule this module picks must lead to the recorded result.
    #[test]
    fn choice_agrees_with_recorded_executions() {
        let dir = corpus_dir().expect(
            "the conformance corpus must be at ../shared/conformance beside the repository \
             (or in BATON_CONFORMANCE_CORPUS)",
        );
        let Ok(entries) = std::fs::read_dir(&dir) else { panic!("cannot read {}", dir.display()) };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let (mut checked, mut skipped) = (0, 0);
        let mut failures = Vec::new();
        for path in paths {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if !name.ends_with(".json") || name.starts_with('_') {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(case) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let def = &case["definition"];
            let Some(states) = def["States"].as_object() else {
                continue;
            };
            let Some(start_name) = def["StartAt"].as_str() else {
                continue;
            };
            let start = &states[start_name];
            if start["Type"] != "Choice" {
                continue;
            }
            if def["QueryLanguage"] == "JSONata"
                || start["QueryLanguage"] == "JSONata"
                || start.get("InputPath").is_some()
                || start.get("OutputPath").is_some()
                || case.get("input").is_none()
            {
                skipped += 1;
                continue;
            }
            let input = &case["input"];
            let expected = match case["expected"]["status"].as_str() {
                Some("SUCCEEDED") => Outcome::Succeeded(case["expected"]["output"].clone()),
                Some("FAILED") => Outcome::Failed(case["expected"]["error"].as_str().map(str::to_owned)),
                _ => {
                    skipped += 1;
                    continue;
                }
            };

            let mut rules = Vec::new();
            for (i, r) in start["Choices"].as_array().into_iter().flatten().enumerate() {
                match ChoiceRule::parse(r, &format!("/States/{start_name}/Choices/{i}")) {
                    Ok(rule) => rules.push(rule),
                    Err(e) => failures.push(format!("{name}: AWS accepted a rule we reject: {e}")),
                }
            }
            let context = json!({"Execution": {"Input": input.clone()}, "State": {"Name": start_name}});
            let scope = Scope::new(input, &context);
            let outcome = match first_match(&rules, &scope) {
                Err(e) => Some(Outcome::Failed(Some(e.error))),
                Ok(Some(rule)) => simulate(states, &rule.next, input),
                Ok(None) => match start["Default"].as_str() {
                    Some(default) => simulate(states, default, input),
                    None => Some(Outcome::Failed(Some("States.NoChoiceMatched".into()))),
                },
            };
            let Some(outcome) = outcome else {
                skipped += 1;
                continue;
            };
            checked += 1;
            let agrees = match (&outcome, &expected) {
                (Outcome::Succeeded(got), Outcome::Succeeded(want)) => same_json(got, want),
                (Outcome::Failed(got), Outcome::Failed(want)) => got.is_none() || got == want,
                _ => false,
            };
            if !agrees {
                failures.push(format!("{name}: got {outcome:?}, AWS recorded {expected:?}"));
            }
        }
        eprintln!("recorded Choice cases: {checked} checked, {skipped} skipped");
        assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
        assert!(checked > 0, "no Choice cases found in {}", dir.display());
    }
}
