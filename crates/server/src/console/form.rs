//! Forms a waiting task asks a person to fill in. A task describes them in what it sends (its
//! Parameters, or an SNS `Message` holding JSON): a member `"BatonForm"` with a list of fields,
//!
//! ```json
//! {"BatonForm": [{"name": "score", "type": "number", "label": "Score", "required": true},
//!                {"name": "grade", "type": "select", "allowed": ["pass", "fail"]}]}
//! ```
//!
//! Types: `text` (default), `textarea`, `number`, `integer`, `boolean`, `email`, `select`
//! (with `allowed`). The answer is an object of the fields' typed values, which becomes the
//! task's output. Checked here, in one place, for the inbox and the signed-link page alike.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::html::escape;

/// The member of a task's message that describes its form.
pub const FORM_KEY: &str = "BatonForm";

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub kind: String,
    pub label: String,
    pub required: bool,
    pub allowed: Vec<String>,
}

/// The form a message describes, looking into nested objects and JSON held in strings
/// (an SNS `Message`); empty when there is none.
pub fn find(message: &Value) -> Vec<Field> {
    find_in(message, 0).unwrap_or_default()
}

fn find_in(v: &Value, depth: usize) -> Option<Vec<Field>> {
    if depth > 4 {
        return None;
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(fields)) = o.get(FORM_KEY) {
                return Some(fields.iter().filter_map(parse_field).collect());
            }
            o.values().find_map(|v| find_in(v, depth + 1))
        }
        Value::String(s) if s.trim_start().starts_with('{') => {
            serde_json::from_str::<Value>(s).ok().and_then(|v| find_in(&v, depth + 1))
        }
        _ => None,
    }
}

fn parse_field(v: &Value) -> Option<Field> {
    let name = v.get("name")?.as_str()?.to_owned();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    // Trimmed, as answers are: a value written with spaces around it can still be chosen.
    let allowed: Vec<String> = v
        .get("allowed")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), |s| s.trim().to_owned())).collect())
        .unwrap_or_default();
    let kind = text("type").unwrap_or_else(|| if allowed.is_empty() { "text".into() } else { "select".into() });
    Some(Field {
        label: text("label").unwrap_or_else(|| name.clone()),
        name,
        kind,
        required: v.get("required").and_then(Value::as_bool).unwrap_or(false),
        allowed,
    })
}

/// The fields as HTML inputs; their names are `f.NAME`.
pub fn render(fields: &[Field]) -> String {
    let mut out = String::new();
    for f in fields {
        let id = format!("f.{}", f.name);
        let req = if f.required { " required" } else { "" };
        let star = if f.required { " *" } else { "" };
        let label = format!("<label for=\"{}\">{}{star}</label>", escape(&id), escape(&f.label));
        let input = match f.kind.as_str() {
            "select" => {
                let mut s =
                    format!("<select id=\"{i}\" name=\"{i}\"{req}><option value=\"\"></option>", i = escape(&id));
                for a in &f.allowed {
                    s.push_str(&format!("<option>{}</option>", escape(a)));
                }
                s.push_str("</select>");
                s
            }
            "boolean" => format!("<input type=\"checkbox\" id=\"{i}\" name=\"{i}\" value=\"true\">", i = escape(&id)),
            "textarea" => format!("<textarea id=\"{i}\" name=\"{i}\" rows=\"3\"{req}></textarea>", i = escape(&id)),
            "number" | "integer" => {
                let step = if f.kind == "integer" { "1" } else { "any" };
                format!("<input type=\"number\" step=\"{step}\" id=\"{i}\" name=\"{i}\"{req}>", i = escape(&id))
            }
            "email" => format!("<input type=\"email\" id=\"{i}\" name=\"{i}\"{req}>", i = escape(&id)),
            _ => format!("<input type=\"text\" id=\"{i}\" name=\"{i}\" size=\"40\"{req}>", i = escape(&id)),
        };
        out.push_str(&format!("<div class=\"field\">{label}{input}</div>"));
    }
    out
}

/// The answer to a form, typed, or the first field that does not fit.
pub fn validate(fields: &[Field], params: &HashMap<String, String>) -> Result<Value, String> {
    let mut out = Map::new();
    for f in fields {
        let raw = params.get(&format!("f.{}", f.name)).map(|s| s.trim()).unwrap_or("");
        if f.kind == "boolean" {
            out.insert(f.name.clone(), Value::Bool(matches!(raw, "true" | "on" | "1")));
            continue;
        }
        if raw.is_empty() {
            if f.required {
                return Err(format!("{}: a value is required", f.name));
            }
            continue;
        }
        let value = match f.kind.as_str() {
            "number" => raw
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .ok_or_else(|| format!("{}: '{raw}' is not a number", f.name))?,
            "integer" => {
                raw.parse::<i64>().map(Value::from).map_err(|_| format!("{}: '{raw}' is not a whole number", f.name))?
            }
            "email" => {
                let ok = raw.split_once('@').is_some_and(|(u, d)| !u.is_empty() && d.contains('.'));
                if !ok {
                    return Err(format!("{}: '{raw}' is not an email address", f.name));
                }
                Value::from(raw)
            }
            _ => Value::from(raw),
        };
        if !f.allowed.is_empty() && !f.allowed.iter().any(|a| a == raw) {
            return Err(format!("{}: '{raw}' is not one of {}", f.name, f.allowed.join(", ")));
        }
        out.insert(f.name.clone(), value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn finds_a_form_inside_an_sns_message() {
        let msg = json!({"TopicArn": "t", "Message": "{\"BatonForm\":[{\"name\":\"score\",\"type\":\"integer\",\"required\":true}]}"});
        let fields = find(&msg);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].kind, "integer");
        assert!(fields[0].required);
        assert!(find(&json!({"Message": "hello"})).is_empty());
    }

    #[test]
    fn validates_and_types_the_answer() {
        let fields = find(&json!({"BatonForm": [
            {"name": "score", "type": "integer", "required": true},
            {"name": "grade", "allowed": ["pass", "fail"]},
            {"name": "late", "type": "boolean"}
        ]}));
        assert_eq!(
            validate(&fields, &params(&[("f.score", "7"), ("f.grade", "pass")])),
            Ok(json!({"score": 7, "grade": "pass", "late": false}))
        );
        assert_eq!(validate(&fields, &params(&[])), Err("score: a value is required".into()));
        assert_eq!(validate(&fields, &params(&[("f.score", "x")])), Err("score: 'x' is not a whole number".into()));
        assert_eq!(
            validate(&fields, &params(&[("f.score", "1"), ("f.grade", "maybe")])),
            Err("grade: 'maybe' is not one of pass, fail".into())
        );
    }

    #[test]
    fn allowed_values_with_spaces_around_them_can_be_chosen() {
        let fields = find(&json!({"BatonForm": [{"name": "grade", "allowed": [" pass ", "fail  "]}]}));
        assert!(render(&fields).contains("<option>pass</option>"), "{}", render(&fields));
        assert_eq!(validate(&fields, &params(&[("f.grade", "pass")])), Ok(json!({"grade": "pass"})));
        assert_eq!(validate(&fields, &params(&[("f.grade", " fail ")])), Ok(json!({"grade": "fail"})));
    }
}
