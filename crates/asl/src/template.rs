//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` and `Assign` in JSONPath
//! mode. A key ending in `.$` takes its value from a path or an intrinsic call and loses the
//! suffix; every other value is literal. Compiled once per definition; literal subtrees stay
//! one `Value` so evaluation clones instead of walking them.

use serde_json::{Map, Value};

use crate::error::{DefinitionErrorCode, DefinitionProblem, EvalFailure};
use crate::eval::{LookupError, PathRef, Randomness, Scope};
use crate::intrinsics::{looks_like_intrinsic, Intrinsic};

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// No `.$` key anywhere below: the value as written.
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// `"key.$": "$.path"`; `field` is the key as written (with `.$`), for messages.
    Path {
        field: String,
        path: PathRef,
    },
    /// `"key.$": "States.Format(...)"`.
    Intrinsic {
        field: String,
        call: Box<Intrinsic>,
    },
}

/// A `.$` value that is a path or an intrinsic call, compiled. Also the form of Fail's
/// `ErrorPath`/`CausePath`.
#[derive(Debug, Clone, PartialEq)]
pub enum DynamicValue {
    Path(PathRef),
    Intrinsic(Box<Intrinsic>),
}

impl DynamicValue {
    pub fn compile(text: &str, location: &str) -> Result<Self, DefinitionProblem> {
        if looks_like_intrinsic(text) {
            Intrinsic::parse(text).map(|c| Self::Intrinsic(Box::new(c))).map_err(|e| DefinitionProblem {
                code: DefinitionErrorCode::InvalidIntrinsicFunction,
                message: format!(
                    "The value for the field '{}' must be a valid intrinsic function: {e}",
                    field_of(location)
                ),
                location: location.to_owned(),
            })
        } else {
            PathRef::parse(text).map(Self::Path).map_err(|e| DefinitionProblem {
                code: DefinitionErrorCode::InvalidJsonPath,
                message: format!(
                    "The value for the field '{}' must be a valid JSONPath or a valid intrinsic function call: {e}",
                    field_of(location)
                ),
                location: location.to_owned(),
            })
        }
    }
}

fn field_of(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

impl Template {
    /// Compile the template at `location` (a JSON pointer), collecting every problem.
    pub fn compile(value: &Value, location: &str, problems: &mut Vec<DefinitionProblem>) -> Template {
        if !has_dynamic(value) {
            return Template::Literal(value.clone());
        }
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut seen = std::collections::HashSet::new();
                for (key, v) in map {
                    let loc = format!("{location}/{}", escape_pointer(key));
                    if let Some(name) = key.strip_suffix(".$") {
                        if !seen.insert(name.to_owned()) {
                            problems.push(DefinitionProblem {
                                code: DefinitionErrorCode::SchemaValidationFailed,
                                message: format!("The field '{name}' appears more than once"),
                                location: loc.clone(),
                            });
                        }
                        match v {
                            Value::String(text) => match DynamicValue::compile(text, &loc) {
                                Ok(DynamicValue::Path(path)) => {
                                    fields.push((name.to_owned(), Template::Path { field: key.clone(), path }))
                                }
                                Ok(DynamicValue::Intrinsic(call)) => {
                                    fields.push((name.to_owned(), Template::Intrinsic { field: key.clone(), call }))
                                }
                                Err(p) => problems.push(p),
                            },
                            _ => problems.push(DefinitionProblem {
                                code: DefinitionErrorCode::SchemaValidationFailed,
                                message: format!("The value for the field '{key}' must be a STRING that contains a JSONPath or an intrinsic function"),
                                location: loc,
                            }),
                        }
                    } else {
                        if !seen.insert(key.clone()) {
                            problems.push(DefinitionProblem {
                                code: DefinitionErrorCode::SchemaValidationFailed,
                                message: format!("The field '{key}' appears more than once"),
                                location: loc.clone(),
                            });
                        }
                        fields.push((key.clone(), Template::compile(v, &loc, problems)));
                    }
                }
                Template::Object(fields)
            }
            Value::Array(items) => Template::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Template::compile(v, &format!("{location}/{i}"), problems))
                    .collect(),
            ),
            other => Template::Literal(other.clone()),
        }
    }

    /// Build the payload from `scope`.
    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    out.insert(k.clone(), t.eval(scope, random)?);
                }
                Value::Object(out)
            }
            Template::Array(items) => {
                Value::Array(items.iter().map(|t| t.eval(scope, random)).collect::<Result<_, _>>()?)
            }
            Template::Path { field, path } => resolve_path(scope, path, field)?,
            Template::Intrinsic { call, .. } => call.eval(scope, random)?,
        })
    }
}

impl Template {
    /// Every path the template reads (intrinsic arguments included), in order.
    pub fn paths(&self) -> Vec<&PathRef> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a PathRef>) {
        match self {
            Template::Literal(_) => {}
            Template::Object(fields) => fields.iter().for_each(|(_, t)| t.collect_paths(out)),
            Template::Array(items) => items.iter().for_each(|t| t.collect_paths(out)),
            Template::Path { path, .. } => out.push(path),
            Template::Intrinsic { call, .. } => out.extend(call.paths()),
        }
    }
}

impl DynamicValue {
    /// Every path the value reads.
    pub fn paths(&self) -> Vec<&PathRef> {
        match self {
            DynamicValue::Path(p) => vec![p],
            DynamicValue::Intrinsic(call) => call.paths(),
        }
    }
}

/// Read a `.$` path for the field `field`, with AWS's message when it finds nothing.
pub fn resolve_path(scope: &Scope<'_>, path: &PathRef, field: &str) -> Result<Value, EvalFailure> {
    scope.eval(path).map_err(|e| match e {
        LookupError::Path(_) => EvalFailure::runtime(format!(
            "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
            path.as_str(),
            field,
            compact(scope.input)
        )),
        LookupError::UndefinedVariable(name) => {
            EvalFailure::runtime(format!("The variable '{name}' referenced by the field '{field}' is not defined"))
        }
    })
}

impl DynamicValue {
    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Randomness, field: &str) -> Result<Value, EvalFailure> {
        match self {
            DynamicValue::Path(p) => resolve_path(scope, p, field),
            DynamicValue::Intrinsic(call) => call.eval(scope, random),
        }
    }
}

/// Compact JSON text, as AWS quotes documents in messages.
pub fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn has_dynamic(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k.ends_with(".$") || has_dynamic(v)),
        Value::Array(items) => items.iter().any(has_dynamic),
        _ => false,
    }
}

/// Escape a key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A JSON value's type with its article, as error messages name it in a sentence (`null`,
/// `a boolean`, `a number`, `a string`, `an array`, `an object`).
pub fn a_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value's type as AWS's messages name it (`null`, `boolean`, `number`, `string`,
/// `array`, `object`): JSONPath's lookups and JSONata's `$type` say the same.
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
