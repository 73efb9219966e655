//! What an execution's history says about each state: its status for the graph, its input and
//! output, and the history as a table. Reads AWS-shaped history events only.

use std::collections::HashMap;

use serde_json::Value;

use super::graph::StateStatus;
use super::html::{escape, json_block};

fn details<'a>(event: &'a Value, key: &str) -> Option<&'a Value> {
    event.get(key)
}

fn entered_name(event: &Value) -> Option<&str> {
    details(event, "stateEnteredEventDetails")?.get("name")?.as_str()
}

fn exited_name(event: &Value) -> Option<&str> {
    details(event, "stateExitedEventDetails")?.get("name")?.as_str()
}

/// A failure of the work inside a state (a task, an activity, a branch), not of the execution.
fn is_state_failure(kind: &str) -> bool {
    !kind.starts_with("Execution")
        && (kind.ends_with("Failed") || kind.ends_with("TimedOut") || kind.ends_with("Aborted"))
}

/// Each state's status: entered and not left is in progress (waiting when one of `waiting`
/// holds an open task there); left is succeeded, or caught when its work failed first; still
/// open when the execution failed is failed.
pub fn of_states(events: &[Value], execution_status: &str, waiting: &[&str]) -> HashMap<String, StateStatus> {
    let mut status: HashMap<String, StateStatus> = HashMap::new();
    let mut open: Vec<String> = Vec::new();
    let mut failed_inside: HashMap<String, bool> = HashMap::new();
    for event in events {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        if let Some(name) = entered_name(event) {
            status.insert(name.to_owned(), StateStatus::InProgress);
            failed_inside.insert(name.to_owned(), false);
            open.retain(|n| n != name);
            open.push(name.to_owned());
        } else if let Some(name) = exited_name(event) {
            let caught = failed_inside.get(name).copied().unwrap_or(false);
            status.insert(name.to_owned(), if caught { StateStatus::Caught } else { StateStatus::Succeeded });
            open.retain(|n| n != name);
        } else if is_state_failure(kind) {
            if let Some(last) = open.last() {
                failed_inside.insert(last.clone(), true);
            }
        } else if kind.ends_with("Succeeded") || kind.ends_with("Scheduled") {
            // A retry that worked: the earlier failure was not the end of the state.
            if let Some(last) = open.last() {
                failed_inside.insert(last.clone(), false);
            }
        }
    }
    let ended_badly = matches!(execution_status, "FAILED" | "TIMED_OUT" | "ABORTED");
    for name in open {
        let s = if ended_badly {
            StateStatus::Failed
        } else if waiting.contains(&name.as_str()) {
            StateStatus::Waiting
        } else {
            StateStatus::InProgress
        };
        status.insert(name, s);
    }
    status
}

/// Each state visit with its input and output, in order.
pub fn states_table(events: &[Value]) -> String {
    let mut rows: Vec<(String, String, Option<String>)> = Vec::new();
    for event in events {
        if let Some(d) = details(event, "stateEnteredEventDetails") {
            let name = d.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let input = d.get("input").and_then(Value::as_str).unwrap_or_default().to_owned();
            rows.push((name, input, None));
        } else if let Some(d) = details(event, "stateExitedEventDetails") {
            let name = d.get("name").and_then(Value::as_str).unwrap_or_default();
            let output = d.get("output").and_then(Value::as_str).unwrap_or_default().to_owned();
            if let Some(row) = rows.iter_mut().rev().find(|(n, _, o)| n == name && o.is_none()) {
                row.2 = Some(output);
            }
        }
    }
    if rows.is_empty() {
        return "<p class=\"muted\">No state entered yet.</p>".into();
    }
    let mut out = String::from("<table class=\"states\"><tr><th>State</th><th>Input</th><th>Output</th></tr>");
    for (name, input, output) in rows {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&name),
            json_block(&input),
            output.as_deref().map(json_block).unwrap_or_else(|| "<span class=\"muted\">—</span>".into())
        ));
    }
    out.push_str("</table>");
    out
}

/// The history: id, type, time since the start, and the event's details.
pub fn history_table(events: &[Value], start: i64) -> String {
    let mut out =
        String::from("<table class=\"history\"><tr><th>ID</th><th>Type</th><th>Elapsed</th><th>Details</th></tr>");
    for event in events {
        let id = event.get("id").and_then(Value::as_i64).unwrap_or_default();
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let at = event.get("timestamp").and_then(Value::as_f64).map(|t| (t * 1000.0) as i64).unwrap_or(start);
        let detail = event
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")))
            .map(|(_, v)| serde_json::to_string(v).unwrap_or_default())
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr data-type=\"{k}\"><td>{id}</td><td>{k}</td><td>{ms} ms</td><td>{d}</td></tr>",
            k = escape(kind),
            ms = at - start,
            d = if detail.is_empty() { String::new() } else { json_block(&detail) },
        ));
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entered(name: &str) -> Value {
        json!({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name, "input": "{}"}})
    }

    fn exited(name: &str) -> Value {
        json!({"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": "{}"}})
    }

    #[test]
    fn colours_follow_the_history() {
        let events = vec![
            entered("A"),
            json!({"type": "TaskScheduled"}),
            json!({"type": "TaskFailed"}),
            exited("A"), // caught
            entered("B"),
            json!({"type": "TaskScheduled"}),
            json!({"type": "TaskFailed"}),
            json!({"type": "TaskScheduled"}), // retried
            json!({"type": "TaskSucceeded"}),
            exited("B"),
            entered("Ask"),
        ];
        let s = of_states(&events, "RUNNING", &["Ask"]);
        assert_eq!(s["A"], StateStatus::Caught);
        assert_eq!(s["B"], StateStatus::Succeeded);
        assert_eq!(s["Ask"], StateStatus::Waiting);
        assert_eq!(of_states(&events, "RUNNING", &[])["Ask"], StateStatus::InProgress);
        assert_eq!(of_states(&events, "FAILED", &[])["Ask"], StateStatus::Failed);
    }
}
