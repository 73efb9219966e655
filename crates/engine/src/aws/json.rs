//! The JSON protocol (awsJson1_0/1_1): `POST /` with `X-Amz-Target: <target>.<Action>`, the
//! request and response as JSON, errors as `{"__type", "message"}`. One function serves every
//! JSON service of the table; member names are turned to the service's casing and back.

use std::time::Duration;

use serde_json::{Map, Value};

use super::client::{Body, Request, SendError};
use super::errors::ServiceError;
use super::services::{Casing, Protocol, Service};
use super::{Aws, NotConfigured};

/// The largest response read (a Task result is at most 256 KiB; some slack for the
/// envelope before the engine's own check).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// A successful response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, member names in PascalCase.
    pub body: Value,
    pub length: usize,
}

/// Why a call gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    NotConfigured(#[from] NotConfigured),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("{}: {}", .0.code, .0.message)]
    Service(ServiceError),
}

/// Call `action` (PascalCase, `PutItem`) of `service` in `region` with `input` (PascalCase
/// member names, as Step Functions writes them).
pub fn call(
    aws: &Aws,
    service: &Service,
    region: &str,
    action: &str,
    input: &Value,
    timeout: Duration,
) -> Result<Response, CallError> {
    let Protocol::Json { target, version } = service.protocol else {
        return Err(CallError::Send(SendError::Transport(format!(
            "{} does not speak the JSON protocol",
            service.sdk_name
        ))));
    };
    let endpoint = aws.endpoint(service, region)?;
    let body = serde_json::to_vec(&to_wire(input, service.casing)).unwrap_or_else(|_| b"{}".to_vec());
    let request = Request {
        method: "POST",
        url: format!("{}/", endpoint.url),
        headers: vec![
            ("content-type".into(), format!("application/x-amz-json-{version}")),
            ("x-amz-target".into(), format!("{target}.{action}")),
        ],
        body: Body::Bytes(&body),
        signing_name: service.signing_name,
        region: region.to_owned(),
        s3: false,
        timeout,
    };
    tracing::debug!(service = service.sdk_name, action, endpoint = %endpoint.url, "AWS call");
    let (status, headers, bytes) = aws.client().send(request, None)?.read_body(MAX_RESPONSE)?;
    if !(200..300).contains(&status) {
        return Err(CallError::Service(ServiceError::from_json(status, &headers, &bytes)));
    }
    let parsed = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            SendError::Transport(format!(
                "Unable to unmarshall response ({e}). Response body: {}",
                String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>()
            ))
        })?
    };
    Ok(Response { status, headers, body: from_wire(without_nulls(parsed), service.casing), length: bytes.len() })
}

/// The SDKs leave out members a response sets to `null`; so do results.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Member names as the service spells them.
pub fn to_wire(value: &Value, casing: Casing) -> Value {
    match casing {
        Casing::Pascal => value.clone(),
        Casing::Camel => rename_keys(value.clone(), &|k| {
            let mut chars = k.chars();
            chars.next().map_or_else(String::new, |c| c.to_ascii_lowercase().to_string() + chars.as_str())
        }),
    }
}

/// Member names as Step Functions spells them (PascalCase).
pub fn from_wire(value: Value, casing: Casing) -> Value {
    match casing {
        Casing::Pascal => value,
        Casing::Camel => rename_keys(value, &|k| {
            let mut chars = k.chars();
            chars.next().map_or_else(String::new, |c| c.to_ascii_uppercase().to_string() + chars.as_str())
        }),
    }
}

fn rename_keys(value: Value, rename: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (rename(&k), rename_keys(v, rename))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| rename_keys(v, rename)).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_services_get_their_own_member_names() {
        let input = json!({"Cluster": "c", "Overrides": {"ContainerOverrides": [{"Name": "x"}]}});
        let wire = to_wire(&input, Casing::Camel);
        assert_eq!(wire, json!({"cluster": "c", "overrides": {"containerOverrides": [{"name": "x"}]}}));
        assert_eq!(from_wire(wire, Casing::Camel), input);
        assert_eq!(to_wire(&input, Casing::Pascal), input);
    }
}
