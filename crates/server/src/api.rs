//! The Step Functions JSON protocol: `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`,
//! awsJson1_0 bodies, and AWS's error shape and names. One place maps every error to its AWS
//! `__type` (an engine failure carries its AWS name, [`EngineError::aws_name`]); handlers
//! only parse, call one engine operation, and shape the answer.

use serde_json::{json, Map, Value};

use engine::catalog::Tags;
use engine::page::Page;
use engine::{EngineError, ExecutionArn, MachineRef, TaskToken};

/// An API error as AWS reports it.
#[derive(Debug)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: 400 }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    pub fn invalid_arn(arn: &str) -> Self {
        EngineError::invalid_arn(arn).into()
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The `__type` on the wire: AWS's namespaced form (SDKs keep what follows `#`).
    pub fn wire_type(&self) -> String {
        match self.code {
            "ValidationException" => "com.amazon.coral.validate#ValidationException".to_owned(),
            "UnknownOperationException" | "SerializationException" | "AccessDeniedException" => {
                format!("com.amazon.coral.service#{}", self.code)
            }
            code => format!("com.amazonaws.swf.service.v2.model#{code}"),
        }
    }

    pub fn body(&self) -> Value {
        json!({"__type": self.wire_type(), "message": self.message})
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let error = ApiError::new(e.aws_name(), e.to_string());
        match e {
            EngineError::Store(_) => {
                tracing::error!(error = %e, "store failure");
                error.status(500)
            }
            EngineError::Conflict(_) => error.status(409),
            _ => error,
        }
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// Typed access to a request body, with AWS's messages for what is missing or malformed.
pub struct Request<'a> {
    body: &'a Map<String, Value>,
    caller: Option<String>,
}

impl<'a> Request<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Self { body, caller: None }
    }

    /// The request as made by `caller` (see [`caller`]).
    pub fn with_caller(mut self, caller: Option<String>) -> Self {
        self.caller = caller;
        self
    }

    /// Who made the request, when known: a console user, or the user an API access key
    /// belongs to, else the access key id.
    pub fn caller(&self) -> Option<String> {
        self.caller.clone()
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ApiError::new("SerializationException", format!("Field '{key}' must be a string"))),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.str(key)?.ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::new("SerializationException", format!("Field '{key}' must be a boolean"))),
        }
    }

    /// An optional string of at most `max` characters (AWS's model limits, e.g. `error` 256
    /// and `cause` 32768).
    pub fn str_at_most(&self, key: &str, max: usize) -> Result<Option<&'a str>, ApiError> {
        let value = self.str(key)?;
        if value.is_some_and(|v| v.chars().count() > max) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{key}' failed to satisfy constraint: \
                 Member must have length less than or equal to {max}"
            )));
        }
        Ok(value)
    }

    /// A required state machine, version or alias ARN.
    pub fn machine_arn(&self, key: &str) -> Result<MachineRef, ApiError> {
        Ok(MachineRef::parse(self.required_str(key)?)?)
    }

    /// A required execution ARN (a Standard execution's: AWS refuses Express ones outside the
    /// actions that take them).
    pub fn execution_arn(&self, key: &str) -> Result<ExecutionArn, ApiError> {
        Ok(ExecutionArn::parse(self.required_str(key)?)?)
    }

    /// `taskToken`, required.
    pub fn task_token(&self) -> Result<TaskToken, ApiError> {
        Ok(TaskToken::parse(self.required_str("taskToken")?)?)
    }

    /// `tags`, when given.
    pub fn tags(&self) -> Result<Option<Tags>, ApiError> {
        Ok(self.value("tags").map(Tags::parse).transpose()?)
    }

    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.body.get(key).filter(|v| !v.is_null())
    }

    /// `maxResults`: 0..1000, 0 or absent meaning the default of 100.
    pub fn max_results(&self) -> Result<usize, ApiError> {
        match self.body.get("maxResults") {
            None | Some(Value::Null) => Ok(100),
            Some(v) => match v.as_i64() {
                Some(0) => Ok(100),
                Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
                Some(n) => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: \
                     Member must have value less than or equal to 1000"
                ))),
                None => Err(ApiError::new("SerializationException", "Field 'maxResults' must be an integer")),
            },
        }
    }

    /// The cursor a `nextToken` carries.
    pub fn next_token(&self) -> Result<Option<String>, ApiError> {
        match self.str("nextToken")? {
            None => Ok(None),
            Some(t) => {
                decode_token(t).map(Some).ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{t}'")))
            }
        }
    }
}

const TOKEN_PREFIX: &str = "baton1.";

/// A page cursor as an opaque `nextToken`.
pub fn encode_token(cursor: &str) -> String {
    let hex: String = cursor.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_PREFIX}{hex}")
}

fn decode_token(token: &str) -> Option<String> {
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// AWS's limits on the `error` and `cause` a caller gives (StopExecution, SendTaskFailure).
pub const MAX_ERROR: usize = 256;
pub const MAX_CAUSE: usize = 32768;

/// The `nextToken` of a page, if more follow.
pub fn next_token<T>(page: &Page<T>) -> Option<String> {
    page.next.as_deref().map(encode_token)
}

/// Epoch seconds with a fraction, as awsJson1_0 carries timestamps.
pub fn date(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = encode_token("arn:aws:states:us-east-1:1:execution:a:b");
        assert_eq!(decode_token(&t).as_deref(), Some("arn:aws:states:us-east-1:1:execution:a:b"));
        assert_eq!(decode_token("nope"), None);
        assert_eq!(decode_token("baton1.zz"), None);
    }

    #[test]
    fn validation_errors_use_the_coral_namespace() {
        assert_eq!(ApiError::validation("x").wire_type(), "com.amazon.coral.validate#ValidationException");
        assert_eq!(ApiError::new("InvalidArn", "x").wire_type(), "com.amazonaws.swf.service.v2.model#InvalidArn");
    }
}

/// The access key id of a SigV4-signed request (`Credential=AKID/DATE/REGION/SERVICE/...`).
/// Baton does not hold secret keys, so the signature is not checked: the key only names the
/// caller, for the record.
pub fn access_key_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest.split(',').map(str::trim).find_map(|p| p.strip_prefix("Credential="))?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod access_key_tests {
    use super::*;

    #[test]
    fn the_access_key_comes_from_the_sigv4_credential() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(access_key_id(&h), None);
        h.insert(
            axum::http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKIDANA/20261202/us-east-1/states/aws4_request, SignedHeaders=host, Signature=ab"
                .parse()
                .expect("header"),
        );
        assert_eq!(access_key_id(&h), Some("AKIDANA"));
        h.insert(axum::http::header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert_eq!(access_key_id(&h), None);
    }
}
