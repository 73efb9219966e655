//! The output shapes a mocked Task result is checked against (TestState's
//! `fieldValidationMode`), as one table of data: per service integration, the fields of the
//! service's API response with their types and whether AWS always returns them.
//!
//! STRICT (the default): every field must be one the API returns, of its type, and the
//! required ones present. PRESENT: only the fields present that the API knows are checked
//! for their type. NONE: nothing. Resources without a row (a Lambda function ARN, whose
//! result is the function's own) are not checked.

use serde_json::Value;

/// How strictly a mocked result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidationMode {
    #[default]
    Strict,
    Present,
    None,
}

impl FieldValidationMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "STRICT" => Some(Self::Strict),
            "PRESENT" => Some(Self::Present),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }
}

/// A field's type in the service's API model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    String,
    Integer,
    /// A date: ISO-8601 text or epoch seconds.
    Timestamp,
    Structure,
    List,
    /// Any JSON (a Lambda payload, an HTTP body).
    Document,
}

/// (name, type, required)
type Field = (&'static str, Ty, bool);

/// The response shapes, by resource (without `.sync`/`.waitForTaskToken`).
const SHAPES: &[(&str, &[Field])] = &[
    (
        "arn:aws:states:::sqs:sendMessage",
        &[
            ("MD5OfMessageAttributes", Ty::String, false),
            ("MD5OfMessageBody", Ty::String, false),
            ("MD5OfMessageSystemAttributes", Ty::String, false),
            ("MessageId", Ty::String, false),
            ("SequenceNumber", Ty::String, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::sns:publish",
        &[
            ("MessageId", Ty::String, false),
            ("SequenceNumber", Ty::String, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::states:startExecution",
        &[
            ("ExecutionArn", Ty::String, true),
            ("StartDate", Ty::Timestamp, true),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::events:putEvents",
        &[
            ("Entries", Ty::List, false),
            ("FailedEntryCount", Ty::Integer, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::dynamodb:putItem",
        &[
            ("Attributes", Ty::Structure, false),
            ("ConsumedCapacity", Ty::Structure, false),
            ("ItemCollectionMetrics", Ty::Structure, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::dynamodb:getItem",
        &[
            ("Item", Ty::Structure, false),
            ("ConsumedCapacity", Ty::Structure, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::dynamodb:updateItem",
        &[
            ("Attributes", Ty::Structure, false),
            ("ConsumedCapacity", Ty::Structure, false),
            ("ItemCollectionMetrics", Ty::Structure, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::dynamodb:deleteItem",
        &[
            ("Attributes", Ty::Structure, false),
            ("ConsumedCapacity", Ty::Structure, false),
            ("ItemCollectionMetrics", Ty::Structure, false),
            ("SdkHttpMetadata", Ty::Structure, false),
            ("SdkResponseMetadata", Ty::Structure, false),
        ],
    ),
    (
        "arn:aws:states:::http:invoke",
        &[
            ("Headers", Ty::Structure, false),
            ("ResponseBody", Ty::Document, false),
            ("StatusCode", Ty::Integer, false),
            ("StatusText", Ty::String, false),
        ],
    ),
];

fn type_holds(ty: Ty, v: &Value) -> bool {
    match ty {
        Ty::String => v.is_string(),
        Ty::Integer => v.is_i64() || v.is_u64(),
        Ty::Timestamp => v.is_string() || v.is_number(),
        Ty::Structure => v.is_object(),
        Ty::List => v.is_array(),
        Ty::Document => true,
    }
}

fn type_name(ty: Ty) -> &'static str {
    match ty {
        Ty::String => "string",
        Ty::Integer => "integer",
        Ty::Timestamp => "timestamp",
        Ty::Structure => "structure",
        Ty::List => "list",
        Ty::Document => "document",
    }
}

/// Check a mocked result of the Task on `resource`; `Err` holds AWS-style validation text.
pub fn check(resource: &str, result: &Value, mode: FieldValidationMode) -> Result<(), String> {
    if mode == FieldValidationMode::None {
        return Ok(());
    }
    let (base, pattern) = crate::task::Pattern::split(resource);
    if pattern != crate::task::Pattern::RequestResponse {
        return Ok(());
    }
    let Some((_, fields)) = SHAPES.iter().find(|(r, _)| *r == base) else { return Ok(()) };
    let Value::Object(map) = result else {
        return Err(format!("Mock result schema validation error: the result of {base} must be a JSON object"));
    };
    for (key, value) in map {
        match fields.iter().find(|(name, _, _)| name == key) {
            Some((_, ty, _)) if !type_holds(*ty, value) => {
                return Err(format!(
                    "Mock result schema validation error: Field '{key}' must be of type {}",
                    type_name(*ty)
                ));
            }
            Some(_) => {}
            None if mode == FieldValidationMode::Strict => {
                return Err(format!(
                    "Mock result schema validation error: Field '{key}' is not supported by the {base} response"
                ));
            }
            None => {}
        }
    }
    if mode == FieldValidationMode::Strict {
        if let Some((name, _, _)) = fields.iter().find(|(name, _, required)| *required && !map.contains_key(*name)) {
            return Err(format!("Mock result schema validation error: Required field '{name}' is missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const START: &str = "arn:aws:states:::states:startExecution";

    #[test]
    fn strict_wants_known_fields_of_their_type_and_the_required_ones() {
        let ok = json!({"ExecutionArn": "arn", "StartDate": "2025-01-01T00:00:00Z"});
        assert!(check(START, &ok, FieldValidationMode::Strict).is_ok());
        assert!(check(START, &json!({}), FieldValidationMode::Strict).unwrap_err().contains("ExecutionArn"));
        let wrong = json!({"ExecutionArn": "arn", "StartDate": true});
        assert!(check(START, &wrong, FieldValidationMode::Strict).unwrap_err().contains("timestamp"));
        let extra = json!({"random": 1});
        assert!(check("arn:aws:states:::events:putEvents", &extra, FieldValidationMode::Strict).is_err());
    }

    #[test]
    fn present_checks_only_known_fields_present_and_none_nothing() {
        assert!(check(START, &json!({}), FieldValidationMode::Present).is_ok());
        assert!(check("arn:aws:states:::events:putEvents", &json!({"random": 1}), FieldValidationMode::Present).is_ok());
        assert!(check(START, &json!({"StartDate": true}), FieldValidationMode::Present).is_err());
        assert!(check(START, &json!({"StartDate": true}), FieldValidationMode::None).is_ok());
    }

    #[test]
    fn resources_without_a_shape_and_patterns() {
        let function = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert!(check(function, &json!({"anything": 1}), FieldValidationMode::Strict).is_ok());
        let lambda = "arn:aws:states:::lambda:invoke";
        assert!(check(lambda, &json!({"anything": 1}), FieldValidationMode::Strict).is_ok());
        let token = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
        assert!(check(token, &json!({"callback": 1}), FieldValidationMode::Strict).is_ok());
        let send = "arn:aws:states:::sqs:sendMessage";
        assert!(check(send, &json!({"MessageId": 1}), FieldValidationMode::Strict).is_err());
    }
}
