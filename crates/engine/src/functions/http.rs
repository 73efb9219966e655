//! Functions that are HTTP endpoints: the payload is POSTed as JSON, a 2xx answer's body is
//! the result. Any other status fails the call: with the error document's `errorType` when
//! the body is one (`{"errorType": ..., "errorMessage": ...}`), `Lambda.Unknown` otherwise.
//! An endpoint that cannot be reached is a Lambda service error (`Lambda.ServiceException`),
//! one that does not answer in time `Sandbox.Timedout`.

use std::collections::BTreeMap;
use std::io::Read;

use super::Call;
use crate::task::{CallFailure, MAX_RESULT_BYTES};

pub(super) fn call(call: &Call<'_>, url: &str, headers: &BTreeMap<String, String>) -> Result<Vec<u8>, CallFailure> {
    let timeout = call.function.timeout;
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let mut request = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("X-Amz-Function-Name", call.name)
        .set("X-Amz-Request-Id", &call.request_id);
    for (k, v) in headers {
        request = request.set(k, v);
    }
    let timed_out = || {
        CallFailure::runtime(
            "Sandbox.Timedout",
            format!("RequestId: {} Error: Task timed out after {:.2} seconds", call.request_id, timeout.as_secs_f64()),
        )
    };
    let (status, response) = match request.send_bytes(&call.payload) {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(status, r)) => (status, r),
        Err(ureq::Error::Transport(t)) => {
            if is_timeout(&t) {
                return Err(timed_out());
            }
            return Err(CallFailure::Service {
                error: "Lambda.ServiceException".into(),
                cause: format!("cannot reach the function '{}' at {url}: {t}", call.name),
            });
        }
    };
    let status_text = response.status_text().to_owned();
    let mut body = Vec::new();
    // One byte over the limit is enough to know the result is too large.
    if let Err(e) = response.into_reader().take(MAX_RESULT_BYTES as u64 * 4 + 1).read_to_end(&mut body) {
        if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock {
            return Err(timed_out());
        }
        return Err(CallFailure::Service {
            error: "Lambda.ServiceException".into(),
            cause: format!("reading the answer of the function '{}' at {url}: {e}", call.name),
        });
    }
    if (200..300).contains(&status) {
        return Ok(body);
    }
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&body) {
        if doc.get("errorType").is_some_and(serde_json::Value::is_string) {
            return Err(CallFailure::from_document(String::from_utf8_lossy(&body).into_owned()));
        }
    }
    let text = String::from_utf8_lossy(&body);
    let text: String = text.chars().take(2000).collect();
    Err(CallFailure::runtime(
        "Lambda.Unknown",
        format!("The function '{}' at {url} answered {status} {status_text}: {}", call.name, text.trim()),
    ))
}

fn is_timeout(t: &ureq::Transport) -> bool {
    use std::error::Error as _;
    let mut source = t.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
                return true;
            }
        }
        source = e.source();
    }
    t.to_string().contains("timed out")
}
