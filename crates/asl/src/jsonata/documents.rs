//! Binding `$states` and workflow variables: the documents a state's expressions read, each
//! converted to JSONata's values at most once per state, and only the members (and top-level
//! keys) an expression reads.

use super::analysis::KeyUse;
use super::*;

/// A `$states` member as JSONata reads it: the whole document, or (when the expression only
/// reads some of its keys and it is an object) an object of just those keys. Conversions are
/// cached for the other expressions of the state.
pub(super) fn member(
    doc: &Value,
    use_: &KeyUse,
    whole: &mut Option<JValue>,
    parts: &mut Vec<(String, JValue)>,
) -> JValue {
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
pub(super) struct DocumentCache {
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
