//! How a failed AWS call is named to Retry and Catch, as Step Functions names it.
//!
//! `aws-sdk:` Tasks name errors as the AWS SDK for Java 2.x does: `<Prefix>.<Exception>` for
//! the errors a service models (`DynamoDb.ResourceNotFoundException`, S3's `NoSuchKey` as
//! `S3.NoSuchKeyException`), the generic `<Prefix>.<Prefix>Exception` for the others, with
//! `(Service: <Prefix>, Status Code: N, Request ID: ...)` after the message. Optimized
//! integrations (`arn:aws:states:::dynamodb:putItem`) name them as the 1.x SDK does:
//! `DynamoDB.ConditionalCheckFailedException`, `DynamoDB.AmazonDynamoDBException`, with
//! `(Service: AmazonDynamoDBv2; Status Code: N; Error Code: ...; Request ID: ...; Proxy: null)`.
//! A request that got no answer is `<Prefix>.SdkClientException` (retryable).

use serde_json::Value;

use super::services::Service;

/// Which naming a Task's errors follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `arn:aws:states:::aws-sdk:<service>:<action>`.
    Sdk,
    /// `arn:aws:states:::<service>:<action>`.
    Optimized,
}

/// An error a service answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub status: u16,
    /// The error code (`ConditionalCheckFailedException`, `NoSuchKey`).
    pub code: String,
    pub message: String,
    pub request_id: String,
}

impl ServiceError {
    /// Read a JSON-protocol error: `__type` (maybe `namespace#Code`) or the
    /// `x-amzn-ErrorType` header, and `message`/`Message`.
    pub fn from_json(status: u16, headers: &[(String, String)], body: &[u8]) -> Self {
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |k: &str| doc.get(k).and_then(Value::as_str);
        let code = text("__type")
            .or_else(|| text("code"))
            .or_else(|| text("Code"))
            .or_else(|| header("x-amzn-ErrorType"))
            .map(|c| c.rsplit('#').next().unwrap_or(c).split(':').next().unwrap_or(c).to_owned())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("Http{status}"));
        let message = text("message")
            .or_else(|| text("Message"))
            .or_else(|| text("errorMessage"))
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
        Self { status, code, message, request_id: request_id(headers) }
    }
}

/// The request id a response carries.
pub fn request_id(headers: &[(String, String)]) -> String {
    ["x-amzn-RequestId", "x-amz-request-id", "x-amzn-requestid"]
        .iter()
        .find_map(|n| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone()))
        .unwrap_or_else(|| "null".into())
}

/// The Step Functions error name and cause for a service's error.
pub fn name_service_error(service: &Service, flavour: Flavour, e: &ServiceError) -> (String, String) {
    match (flavour, service.optimized) {
        (Flavour::Optimized, Some(o)) => {
            let name = if service.models(&e.code) { e.code.clone() } else { o.exception.to_owned() };
            let cause = format!(
                "{} (Service: {}; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
                e.message, o.client, e.status, e.code, e.request_id
            );
            (format!("{}.{name}", o.error_prefix), cause)
        }
        _ => {
            let p = service.error_prefix;
            let name = if service.models(&e.code) {
                if e.code.ends_with("Exception") {
                    e.code.clone()
                } else {
                    format!("{}Exception", e.code)
                }
            } else {
                format!("{p}Exception")
            };
            let cause =
                format!("{} (Service: {p}, Status Code: {}, Request ID: {})", e.message, e.status, e.request_id);
            (format!("{p}.{name}"), cause)
        }
    }
}

/// The error of a request that got no answer.
pub fn name_client_error(service: &Service, flavour: Flavour, message: &str) -> (String, String) {
    let prefix = match (flavour, service.optimized) {
        (Flavour::Optimized, Some(o)) => o.error_prefix,
        _ => service.error_prefix,
    };
    (format!("{prefix}.SdkClientException"), message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::services::by_sdk_name;

    fn error(code: &str, message: &str) -> ServiceError {
        ServiceError { status: 400, code: code.into(), message: message.into(), request_id: "R".into() }
    }

    #[test]
    fn aws_sdk_and_optimized_tasks_name_errors_as_aws_does() {
        let dynamodb = by_sdk_name("dynamodb").unwrap();
        let missing = error("ResourceNotFoundException", "Requested resource not found");
        assert_eq!(
            name_service_error(dynamodb, Flavour::Sdk, &missing),
            (
                "DynamoDb.ResourceNotFoundException".into(),
                "Requested resource not found (Service: DynamoDb, Status Code: 400, Request ID: R)".into()
            )
        );
        assert_eq!(
            name_service_error(dynamodb, Flavour::Optimized, &missing),
            (
                "DynamoDB.ResourceNotFoundException".into(),
                "Requested resource not found (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException; Request ID: R; Proxy: null)".into()
            )
        );
        let invalid = error("ValidationException", "bad");
        assert_eq!(name_service_error(dynamodb, Flavour::Sdk, &invalid).0, "DynamoDb.DynamoDbException");
        assert_eq!(name_service_error(dynamodb, Flavour::Optimized, &invalid).0, "DynamoDB.AmazonDynamoDBException");
        let s3 = by_sdk_name("s3").unwrap();
        assert_eq!(name_service_error(s3, Flavour::Sdk, &error("NoSuchKey", "gone")).0, "S3.NoSuchKeyException");
        assert_eq!(name_service_error(s3, Flavour::Sdk, &error("AccessDenied", "no")).0, "S3.S3Exception");
        assert_eq!(name_client_error(dynamodb, Flavour::Optimized, "refused").0, "DynamoDB.SdkClientException");
    }

    #[test]
    fn json_errors_are_read_from_the_body_or_the_header() {
        let e = ServiceError::from_json(
            400,
            &[("x-amzn-RequestId".into(), "abc".into())],
            br#"{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "The conditional request failed"}"#,
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.request_id.as_str()),
            ("ConditionalCheckFailedException", "The conditional request failed", "abc")
        );
        let e = ServiceError::from_json(500, &[("x-amzn-ErrorType".into(), "InternalFailure:http://x/".into())], b"");
        assert_eq!(e.code, "InternalFailure");
    }
}
