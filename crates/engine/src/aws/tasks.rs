//! The Task resources that reach AWS services, with Step Functions' request and result shapes:
//!
//! - `arn:aws:states:::aws-sdk:<service>:<action>`: any JSON-protocol service of the table,
//!   and S3; the input is the request, the response (PascalCase) the result.
//! - Optimized integrations, `arn:aws:states:::<service>:<action>`: DynamoDB (`getItem`,
//!   `putItem`, `updateItem`, `deleteItem`, ...), `events:putEvents` (a `Detail` object is
//!   sent as its JSON text; failed entries fail the Task with `EventBridge.FailedEntry`), and
//!   the other JSON services Step Functions optimizes (ECS, Glue, Athena, CodeBuild, SageMaker,
//!   EMR, SQS when an SQS endpoint is configured); their results carry the SDK's HTTP metadata
//!   (`SdkHttpMetadata`, `SdkResponseMetadata`) from the real response.
//!
//! Lambda is reached through [`crate::functions`] (a function configured in `baton.toml` wins
//! over the endpoint); queues and topics are built in unless their service has an endpoint of
//! its own ([`Aws::has_own_endpoint`]).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::client::DEFAULT_TIMEOUT;
use super::errors::{name_client_error, name_service_error, Flavour};
use super::json::{self, CallError};
use super::services::{self, Protocol, Service};
use super::{Aws, NOT_CONFIGURED};
use crate::task::TaskOutcome;

const SDK_PREFIX: &str = "arn:aws:states:::aws-sdk:";
const STATES_PREFIX: &str = "arn:aws:states:::";

/// Optimized services whose Tasks Baton serves in other ways (functions, queues, topics,
/// nested executions, the HTTP Task).
const SERVED_ELSEWHERE: &[&str] = &["lambda", "sns", "states", "http"];

/// What a resource (without its `.sync`/`.waitForTaskToken` suffix) names here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub service: &'static Service,
    /// The action as written (`putItem`).
    pub action: &'a str,
    pub flavour: Flavour,
}

/// The AWS call a resource names, when it names one this module makes. `aws-sdk:` resources
/// of services not in the table are `Err` with the failure to report.
pub fn target<'a>(aws: &Aws, resource: &'a str) -> Option<Result<Target<'a>, TaskOutcome>> {
    if let Some(rest) = resource.strip_prefix(SDK_PREFIX) {
        let (name, action) = rest.split_once(':').unwrap_or((rest, ""));
        return Some(match services::by_sdk_name(name) {
            Some(service) if !action.is_empty() => Ok(Target { service, action, flavour: Flavour::Sdk }),
            _ => Err(TaskOutcome::Failed {
                error: crate::task::UNSUPPORTED_RESOURCE.into(),
                cause: format!(
                    "Resource '{resource}': Baton does not know the AWS service '{name}'. It reaches: {}",
                    services::SERVICES.iter().map(|s| s.sdk_name).collect::<Vec<_>>().join(", ")
                ),
            }),
        });
    }
    let rest = resource.strip_prefix(STATES_PREFIX)?;
    let (name, action) = rest.split_once(':')?;
    if SERVED_ELSEWHERE.contains(&name) {
        return None;
    }
    let service = services::by_optimized_name(name)?;
    // Built-in queues serve sqs:* unless SQS has an endpoint of its own.
    if service.sdk_name == "sqs" && !aws.has_own_endpoint("sqs") {
        return None;
    }
    if action.ends_with(".sync") || action.ends_with(".sync:2") {
        return Some(Err(cannot_wait(resource)));
    }
    Some(Ok(Target { service, action, flavour: Flavour::Optimized }))
}

/// The failure of a `.sync` Task on a service Baton cannot follow to its end.
pub fn cannot_wait(resource: &str) -> TaskOutcome {
    TaskOutcome::Failed {
        error: crate::task::UNSUPPORTED_RESOURCE.into(),
        cause: format!(
            "Resource '{resource}': Baton starts this work but cannot wait for it to finish (.sync); use the resource without .sync and poll its status, or .waitForTaskToken"
        ),
    }
}

/// Task states whose resource waits (`.sync`) on a service Baton cannot follow, as
/// (JSON pointer, state name, resource): ValidateStateMachineDefinition warns of them.
pub fn unfollowed_sync_tasks(definition: &Value) -> Vec<(String, String, String)> {
    fn walk(states: &Value, pointer: &str, out: &mut Vec<(String, String, String)>) {
        let Some(states) = states.as_object() else { return };
        for (name, state) in states {
            let here = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
            if let Some(resource) = state.get("Resource").and_then(Value::as_str) {
                let (base, pattern) = crate::task::Pattern::split(resource);
                let sync = matches!(pattern, crate::task::Pattern::Sync | crate::task::Pattern::Sync2);
                if sync && base != "arn:aws:states:::states:startExecution" {
                    out.push((format!("{here}/Resource"), name.clone(), resource.to_owned()));
                }
            }
            for key in ["Iterator", "ItemProcessor"] {
                if let Some(inner) = state.get(key) {
                    walk(&inner["States"], &format!("{here}/{key}/States"), out);
                }
            }
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                for (i, b) in branches.iter().enumerate() {
                    walk(&b["States"], &format!("{here}/Branches/{i}/States"), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&definition["States"], "/States", &mut out);
    out
}

/// The AWS Tasks as an integration of `baton serve`: the call runs off the async runtime.
pub struct AwsTasks(pub Aws);

#[async_trait::async_trait]
impl crate::task::Integration for AwsTasks {
    async fn call(&self, call: crate::task::TaskCall) -> crate::task::Outcome {
        use crate::task::{Outcome, Pattern};
        let aws = self.0.clone();
        let resource = call.resource.clone();
        let pattern = call.pattern;
        let outcome = tokio::task::spawn_blocking(move || {
            if matches!(pattern, Pattern::Sync | Pattern::Sync2) {
                return cannot_wait(&format!("{resource}.sync"));
            }
            match target(&aws, &resource) {
                Some(Ok(t)) => self::call(&aws, t, &call.input),
                Some(Err(failed)) => failed,
                None => TaskOutcome::Failed {
                    error: crate::task::UNSUPPORTED_RESOURCE.into(),
                    cause: format!("Resource '{resource}': no integration serves it on this server"),
                },
            }
        })
        .await;
        match (outcome, pattern) {
            (Ok(TaskOutcome::Succeeded(v)), Pattern::WaitForTaskToken) => Outcome::Submitted(v),
            (Ok(TaskOutcome::Succeeded(v)), _) => Outcome::Succeeded(v),
            (Ok(TaskOutcome::Failed { error, cause }), _) => Outcome::Failed { error, cause },
            (Err(e), _) => Outcome::Failed { error: "States.Runtime".into(), cause: e.to_string() },
        }
    }

    fn longest_call(&self) -> Option<Duration> {
        Some(DEFAULT_TIMEOUT)
    }
}

/// Make the call `target` names with `input` (the Task's effective input).
pub fn call(aws: &Aws, target: Target<'_>, input: &Value) -> TaskOutcome {
    let Target { service, action, flavour } = target;
    let region = aws.region().to_owned();
    match service.protocol {
        Protocol::Json { .. } => {
            let mut request = input.clone();
            if flavour == Flavour::Optimized && service.sdk_name == "eventbridge" {
                stringify_details(&mut request);
            }
            // Step Functions sends a message body given as JSON as its text.
            if flavour == Flavour::Optimized && service.sdk_name == "sqs" {
                if let Some(body) = request.get_mut("MessageBody").filter(|b| !b.is_string()) {
                    *body = Value::String(body.to_string());
                }
            }
            let result = json::call(aws, service, &region, &pascal(action), &request, DEFAULT_TIMEOUT);
            match result {
                Ok(response) => {
                    if flavour == Flavour::Optimized && service.sdk_name == "eventbridge" {
                        return put_events_result(response.body);
                    }
                    let mut body = response.body;
                    if flavour == Flavour::Optimized {
                        add_http_metadata(&mut body, response.status, &response.headers);
                    }
                    TaskOutcome::Succeeded(body)
                }
                Err(e) => failure(service, flavour, e),
            }
        }
        Protocol::RestXml => super::s3::task(aws, action, input, flavour),
        Protocol::RestJson if service.sdk_name == "lambda" && action == "invoke" => {
            super::lambda::invoke_task(aws, input, flavour)
        }
        Protocol::RestJson | Protocol::Query => TaskOutcome::Failed {
            error: crate::task::UNSUPPORTED_RESOURCE.into(),
            cause: format!(
                "Resource 'arn:aws:states:::aws-sdk:{}:{action}': Baton reaches {} only through its own integration",
                service.sdk_name, service.sdk_name
            ),
        },
    }
}

/// The Task failure for a call that gave no result.
pub fn failure(service: &Service, flavour: Flavour, e: CallError) -> TaskOutcome {
    let (error, cause) = match e {
        CallError::NotConfigured(n) => (NOT_CONFIGURED.to_owned(), n.to_string()),
        CallError::Send(super::client::SendError::Credentials(message)) => (NOT_CONFIGURED.to_owned(), message),
        CallError::Send(super::client::SendError::Transport(message)) => name_client_error(service, flavour, &message),
        CallError::Service(e) => name_service_error(service, flavour, &e),
    };
    TaskOutcome::Failed { error, cause }
}

/// `putItem` → `PutItem`.
pub fn pascal(action: &str) -> String {
    let mut chars = action.chars();
    chars.next().map_or_else(String::new, |c| c.to_ascii_uppercase().to_string() + chars.as_str())
}

/// Step Functions sends an entry's `Detail` given as JSON (an object) as its text.
fn stringify_details(request: &mut Value) {
    if let Some(entries) = request.get_mut("Entries").and_then(Value::as_array_mut) {
        for entry in entries {
            if let Some(detail) = entry.get_mut("Detail") {
                if !detail.is_string() {
                    *detail = Value::String(detail.to_string());
                }
            }
        }
    }
}

/// PutEvents' answer: the entries and their count, or `EventBridge.FailedEntry` when any
/// entry failed (the answer is the cause).
fn put_events_result(body: Value) -> TaskOutcome {
    let failed = body.get("FailedEntryCount").and_then(Value::as_u64).unwrap_or(0);
    let result = json!({
        "Entries": body.get("Entries").cloned().unwrap_or_else(|| json!([])),
        "FailedEntryCount": failed,
    });
    if failed > 0 {
        return TaskOutcome::Failed { error: "EventBridge.FailedEntry".into(), cause: result.to_string() };
    }
    TaskOutcome::Succeeded(result)
}

/// `SdkHttpMetadata` and `SdkResponseMetadata`, as the AWS SDK for Java gives them to Step
/// Functions, from the response that came back.
pub fn add_http_metadata(body: &mut Value, status: u16, headers: &[(String, String)]) {
    let mut all: Map<String, Value> = Map::new();
    for (k, v) in headers {
        match all.get_mut(k).and_then(Value::as_array_mut) {
            Some(values) => values.push(Value::String(v.clone())),
            None => {
                all.insert(k.clone(), json!([v]));
            }
        }
    }
    let mut single: Vec<(&String, &String)> = headers.iter().map(|(k, v)| (k, v)).collect();
    single.sort_by_key(|(k, _)| k.to_ascii_lowercase());
    single.dedup_by(|a, b| a.0.eq_ignore_ascii_case(b.0));
    let single: Map<String, Value> = single.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    if let Value::Object(map) = body {
        map.insert(
            "SdkHttpMetadata".into(),
            json!({"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": status}),
        );
        map.insert("SdkResponseMetadata".into(), json!({"RequestId": super::errors::request_id(headers)}));
    }
}

/// How long a Lambda call may take at most (Lambda's own limit).
pub const LAMBDA_TIMEOUT: Duration = Duration::from_secs(900);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_their_service_action_and_flavour() {
        let aws = Aws::unconfigured();
        let t = target(&aws, "arn:aws:states:::aws-sdk:dynamodb:putItem").unwrap().unwrap();
        assert_eq!((t.service.sdk_name, t.action, t.flavour), ("dynamodb", "putItem", Flavour::Sdk));
        let t = target(&aws, "arn:aws:states:::events:putEvents").unwrap().unwrap();
        assert_eq!((t.service.sdk_name, t.flavour), ("eventbridge", Flavour::Optimized));
        assert!(target(&aws, "arn:aws:states:::aws-sdk:nosuch:doIt").unwrap().is_err());
        assert_eq!(target(&aws, "arn:aws:states:::sqs:sendMessage"), None);
        assert_eq!(target(&aws, "arn:aws:states:::lambda:invoke"), None);
        assert_eq!(target(&aws, "arn:aws:states:::http:invoke"), None);
        assert_eq!(pascal("listObjectsV2"), "ListObjectsV2");
    }

    #[test]
    fn a_service_nobody_configured_fails_with_what_would_configure_it() {
        let aws = Aws::unconfigured();
        let t = target(&aws, "arn:aws:states:::dynamodb:getItem").unwrap().unwrap();
        let TaskOutcome::Failed { error, cause } = call(&aws, t, &json!({})) else { panic!("fails") };
        assert_eq!(error, NOT_CONFIGURED);
        assert!(cause.contains("AWS_ENDPOINT_URL_DYNAMODB") && cause.contains("[aws.endpoints]"), "{cause}");
    }

    #[test]
    fn failed_entries_fail_put_events() {
        let ok = put_events_result(json!({"Entries": [{"EventId": "1"}], "FailedEntryCount": 0}));
        assert!(matches!(ok, TaskOutcome::Succeeded(_)));
        let failed = put_events_result(json!({"Entries": [{"ErrorCode": "MalformedDetail"}], "FailedEntryCount": 1}));
        assert!(matches!(failed, TaskOutcome::Failed { error, .. } if error == "EventBridge.FailedEntry"));
        let mut request = json!({"Entries": [{"Detail": {"a": 1}}, {"Detail": "{}"}]});
        stringify_details(&mut request);
        assert_eq!(request, json!({"Entries": [{"Detail": "{\"a\":1}"}, {"Detail": "{}"}]}));
    }
}
