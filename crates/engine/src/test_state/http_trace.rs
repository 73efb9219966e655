//! TestState's TRACE view of an HTTP Task: the request it sent and the response it got, in
//! AWS's `inspectionData.request`/`response` shape (text members). Headers a connection adds
//! (its credentials) show only with `revealSecrets`.

use serde_json::{json, Value};

use crate::config::HttpTaskConfig;
use crate::http_task::connection_name;
use crate::task::Outcome;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `[Name: value, ...]`, as AWS writes header lists.
fn header_list(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("[{}]", items.join(", "))
}

/// The request the task's effective `input` describes.
pub fn request(input: &Value, config: &HttpTaskConfig, reveal_secrets: bool) -> Value {
    let endpoint = input.get("ApiEndpoint").map(text).unwrap_or_default();
    let protocol = endpoint.split_once("://").map_or("https", |(p, _)| p).to_owned();
    let mut query: Vec<(String, String)> = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    if reveal_secrets {
        let connection = ["Authentication", "InvocationConfig"]
            .iter()
            .find_map(|k| input.get(*k).and_then(|a| a.get("ConnectionArn")).and_then(Value::as_str))
            .and_then(connection_name)
            .and_then(|name| config.connections.get(name));
        if let Some(c) = connection {
            query.extend(c.query_parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
            headers.extend(c.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    if let Some(Value::Object(params)) = input.get("QueryParameters") {
        for (k, v) in params {
            match v {
                Value::Array(items) => query.extend(items.iter().map(|i| (k.clone(), text(i)))),
                other => query.push((k.clone(), text(other))),
            }
        }
    }
    if let Some(Value::Object(given)) = input.get("Headers") {
        headers.extend(given.iter().map(|(k, v)| (k.clone(), text(v))));
    }
    let body = match input.get("RequestBody") {
        None | Some(Value::Null) => String::new(),
        Some(v) => text(v),
    };
    let url = if query.is_empty() {
        endpoint
    } else {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{endpoint}?{}", q.join("&"))
    };
    json!({
        "protocol": protocol,
        "method": input.get("Method").map(text).unwrap_or_default().to_ascii_uppercase(),
        "url": url,
        "headers": header_list(&headers),
        "body": body,
    })
}

/// The response, from the task's outcome (its result, or the `States.Http.StatusCode.*`
/// failure a status outside 2xx gives).
pub fn response(input: &Value, outcome: &Outcome) -> Value {
    let endpoint = input.get("ApiEndpoint").map(text).unwrap_or_default();
    let protocol = endpoint.split_once("://").map_or("https", |(p, _)| p).to_owned();
    match outcome {
        Outcome::Succeeded(result)
        | Outcome::Submitted(result)
        | Outcome::SubmittedAndEnded { end: Ok(result), .. } => {
            let mut headers = Vec::new();
            if let Some(Value::Object(h)) = result.get("Headers") {
                for (k, v) in h {
                    match v {
                        Value::Array(items) => headers.extend(items.iter().map(|i| (k.clone(), text(i)))),
                        other => headers.push((k.clone(), text(other))),
                    }
                }
            }
            json!({
                "protocol": protocol,
                "statusCode": result.get("StatusCode").map(text).unwrap_or_default(),
                "statusMessage": result.get("StatusText").map(text).unwrap_or_default(),
                "headers": header_list(&headers),
                "body": result.get("ResponseBody").map(text).unwrap_or_default(),
            })
        }
        Outcome::SubmittedAndEnded { end: Err((error, cause)), .. } | Outcome::Failed { error, cause } => json!({
            "protocol": protocol,
            "statusCode": error.strip_prefix("States.Http.StatusCode.").unwrap_or_default(),
            "statusMessage": cause,
            "headers": "[]",
            "body": "",
        }),
    }
}
