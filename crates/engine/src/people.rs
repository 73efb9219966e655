//! What a task says about people, in the `Baton*` members of what it sends (its Parameters, a
//! Lambda Payload, an SNS Message, an activity's input): `BatonAssignee`, `BatonGroup`,
//! `BatonExclude`, `BatonApprovals`, `BatonReminders`. They may sit at any depth (a
//! `Payload` wraps them), so they are looked up by name, the first found winning.

use serde_json::Value;

/// The first member `key` in a message, looking into nested objects (up to five deep).
pub fn find_member<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    fn go<'a>(v: &'a Value, key: &str, depth: usize) -> Option<&'a Value> {
        match v {
            Value::Object(o) if depth < 5 => o.get(key).or_else(|| o.values().find_map(|x| go(x, key, depth + 1))),
            _ => None,
        }
    }
    go(v, key, 0)
}

/// The names a member gives: one string or a list of them (other values give none).
pub fn names(message: &Value, key: &str) -> Vec<String> {
    match find_member(message, key) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_found_at_any_depth_as_one_name_or_a_list() {
        let m = json!({"Payload": {"BatonAssignee": "ana", "Inner": {"BatonGroup": ["a", "b", 3]}}});
        assert_eq!(names(&m, "BatonAssignee"), ["ana"]);
        assert_eq!(names(&m, "BatonGroup"), ["a", "b"]);
        assert!(names(&m, "BatonExclude").is_empty());
        assert_eq!(find_member(&json!({"a": {"b": {"c": {"d": {"e": {"K": 1}}}}}}), "K"), None, "six deep");
    }
}
