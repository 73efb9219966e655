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
mod tests;
