//! Values across the boundary: `serde_json::Value` to JSONata's `JValue` and back, and
//! JSONata's type names.

use super::*;

// ----- values ------------------------------------------------------------------------------

/// A JSON value as JSONata sees it.
pub fn to_jvalue(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(items.iter().map(to_jvalue).collect(), flat))
        }
        Value::Object(map) => JValue::object(map.iter().map(|(k, v)| (k.clone(), to_jvalue(v))).collect()),
    }
}

/// A JSONata result that JSON cannot hold (a function or a regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedValue;

/// A JSONata result as JSON: `Ok(None)` for undefined. Whole numbers are written as integers
/// (JSONata numbers are doubles; `2` must not come out as `2.0`), undefined members of arrays
/// and objects are dropped, as JSONata's own serialisation does.
pub fn from_jvalue(value: &JValue) -> Result<Option<Value>, UnsupportedValue> {
    Ok(Some(match value {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                if let Some(v) = from_jvalue(item)? {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map.iter() {
                if let Some(v) = from_jvalue(v)? {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => return Err(UnsupportedValue),
    }))
}

/// The largest magnitude below which every whole double is an exact integer.
pub(super) const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < EXACT_INTEGER_LIMIT {
        // The bound makes the conversion exact.
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// JSONata's name for a value's type (`$type`): JSON's, as AWS quotes them in messages.
pub use crate::template::type_name;
