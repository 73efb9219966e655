//! A JSONata state's field as written: JSON with `{% %}` expressions at any depth, compiled
//! once per definition and evaluated against a state's [`Documents`].

use super::*;

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

pub(super) fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(s) => expression_text(s).is_some(),
        Value::Object(map) => map.values().any(has_expression),
        Value::Array(items) => items.iter().any(has_expression),
        _ => false,
    }
}
