//! The table of AWS service facts: everything Baton needs to reach a service, as data, so a
//! service is one row here rather than code of its own.
//!
//! A row says how a service is named (in `aws-sdk:<name>:` resources, in Step Functions'
//! optimized `arn:aws:states:::<name>:` resources, in the SDKs' `AWS_ENDPOINT_URL_<SERVICE>`
//! variables), where it is (endpoint prefix, signing name), how it is spoken to (protocol,
//! JSON target prefix, the casing of its member names on the wire) and how its errors are
//! named to Retry and Catch (`<Prefix>.<Exception>` with the SDK's prefix).

/// How requests to a service are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /` with `X-Amz-Target: <target>.<Action>` and a JSON body
    /// (`application/x-amz-json-<version>`).
    Json { target: &'static str, version: &'static str },
    /// S3's REST-XML (see [`super::s3`]).
    RestXml,
    /// REST with JSON bodies (Lambda): only the actions Baton knows.
    RestJson,
    /// The query protocol (SNS): only the actions Baton knows.
    Query,
}

/// The casing of member names on the wire. Step Functions writes every member in
/// PascalCase (`"TableName"`, `"Cluster"`), as the AWS SDK for Java names them; services
/// whose wire names are camelCase get the first letter of each name turned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    Pascal,
    Camel,
}

/// One AWS service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The name in `arn:aws:states:::aws-sdk:<name>:<action>`.
    pub sdk_name: &'static str,
    /// The SDKs' service id: `AWS_ENDPOINT_URL_<ID>` is it upper-cased with spaces as `_`,
    /// and the shared config file's `[services]` key is it lower-cased the same way.
    pub service_id: &'static str,
    /// The host name's first label on AWS (`https://<prefix>.<region>.amazonaws.com`).
    pub endpoint_prefix: &'static str,
    /// The service name in the SigV4 credential scope.
    pub signing_name: &'static str,
    pub protocol: Protocol,
    pub casing: Casing,
    /// The prefix of error names from `aws-sdk:` Tasks (the AWS SDK for Java 2.x client's
    /// name: `DynamoDb`, `SecretsManager`, `Sfn`), also the generic `<Prefix>.<Prefix>Exception`.
    pub error_prefix: &'static str,
    /// Error codes this service models; `None`: every code except the common ones
    /// ([`COMMON_ERRORS`]). An error that is not modelled is named by the generic exception.
    pub modelled_errors: Option<&'static [&'static str]>,
    /// The optimized integration (`arn:aws:states:::<name>:<action>`), when Step Functions has one.
    pub optimized: Option<Optimized>,
}

/// What an optimized integration of Step Functions names differently: its errors follow the
/// AWS SDK for Java 1.x (`DynamoDB.AmazonDynamoDBException`, causes with `Error Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optimized {
    /// The service in `arn:aws:states:::<name>:<action>`.
    pub name: &'static str,
    /// The prefix of its error names (`DynamoDB`, `EventBridge`, `Lambda`).
    pub error_prefix: &'static str,
    /// The 1.x client in causes: `(Service: AmazonDynamoDBv2; ...)`.
    pub client: &'static str,
    /// The 1.x generic exception: the error name of codes the service does not model.
    pub exception: &'static str,
}

/// Error codes every AWS service may answer with, which service models do not list: they
/// surface as the service's generic exception (`DynamoDb.DynamoDbException`).
pub const COMMON_ERRORS: &[&str] = &[
    "AccessDeniedException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidParameterCombination",
    "InvalidQueryParameter",
    "InvalidSignatureException",
    "MalformedQueryString",
    "MissingAction",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "MissingParameter",
    "NotAuthorized",
    "OptInRequired",
    "RequestExpired",
    "SerializationException",
    "ServiceUnavailable",
    "ThrottlingException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationError",
    "ValidationException",
    "ExpiredTokenException",
];

/// The errors S3's model names; everything else S3 answers is `S3.S3Exception`.
const S3_ERRORS: &[&str] = &[
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "EncryptionTypeMismatch",
    "IdempotencyParameterMismatch",
    "InvalidObjectState",
    "InvalidRequest",
    "InvalidWriteOffset",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "ObjectAlreadyInActiveTierError",
    "ObjectNotInActiveTierError",
    "TooManyParts",
];

const fn json(
    sdk_name: &'static str,
    service_id: &'static str,
    endpoint_prefix: &'static str,
    target: &'static str,
    version: &'static str,
    casing: Casing,
    error_prefix: &'static str,
) -> Service {
    Service {
        sdk_name,
        service_id,
        endpoint_prefix,
        signing_name: endpoint_prefix,
        protocol: Protocol::Json { target, version },
        casing,
        error_prefix,
        modelled_errors: None,
        optimized: None,
    }
}

const fn optimized(
    name: &'static str,
    error_prefix: &'static str,
    client: &'static str,
    exception: &'static str,
) -> Option<Optimized> {
    Some(Optimized { name, error_prefix, client, exception })
}

use Casing::{Camel, Pascal};

/// Every service Baton reaches. Adding a JSON-protocol service is adding a row.
pub const SERVICES: &[Service] = &[
    Service {
        optimized: optimized("dynamodb", "DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
        ..json("dynamodb", "DynamoDB", "dynamodb", "DynamoDB_20120810", "1.0", Pascal, "DynamoDb")
    },
    Service {
        optimized: optimized("events", "EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
        ..json("eventbridge", "EventBridge", "events", "AWSEvents", "1.1", Pascal, "EventBridge")
    },
    json("secretsmanager", "Secrets Manager", "secretsmanager", "secretsmanager", "1.1", Pascal, "SecretsManager"),
    json("ssm", "SSM", "ssm", "AmazonSSM", "1.1", Pascal, "Ssm"),
    json("kms", "KMS", "kms", "TrentService", "1.1", Pascal, "Kms"),
    json("kinesis", "Kinesis", "kinesis", "Kinesis_20131202", "1.1", Pascal, "Kinesis"),
    json("cloudwatchlogs", "CloudWatch Logs", "logs", "Logs_20140328", "1.1", Camel, "CloudWatchLogs"),
    Service {
        optimized: optimized("ecs", "ECS", "AmazonECS", "AmazonECSException"),
        ..json("ecs", "ECS", "ecs", "AmazonEC2ContainerServiceV20141113", "1.1", Camel, "Ecs")
    },
    Service {
        optimized: optimized("glue", "Glue", "AWSGlue", "AWSGlueException"),
        ..json("glue", "Glue", "glue", "AWSGlue", "1.1", Pascal, "Glue")
    },
    Service {
        optimized: optimized("athena", "Athena", "AmazonAthena", "AmazonAthenaException"),
        ..json("athena", "Athena", "athena", "AmazonAthena", "1.1", Pascal, "Athena")
    },
    json("rekognition", "Rekognition", "rekognition", "RekognitionService", "1.1", Pascal, "Rekognition"),
    json("comprehend", "Comprehend", "comprehend", "Comprehend_20171127", "1.1", Pascal, "Comprehend"),
    json("transcribe", "Transcribe", "transcribe", "Transcribe", "1.1", Pascal, "Transcribe"),
    json("textract", "Textract", "textract", "Textract", "1.1", Pascal, "Textract"),
    json("translate", "Translate", "translate", "AWSShineFrontendService_20170701", "1.1", Pascal, "Translate"),
    json("firehose", "Firehose", "firehose", "Firehose_20150804", "1.1", Pascal, "Firehose"),
    Service {
        optimized: optimized("codebuild", "CodeBuild", "AWSCodeBuild", "AWSCodeBuildException"),
        ..json("codebuild", "CodeBuild", "codebuild", "CodeBuild_20161006", "1.1", Camel, "CodeBuild")
    },
    json("codepipeline", "CodePipeline", "codepipeline", "CodePipeline_20150709", "1.1", Camel, "CodePipeline"),
    Service {
        signing_name: "sagemaker",
        optimized: optimized("sagemaker", "SageMaker", "AmazonSageMaker", "AmazonSageMakerException"),
        ..json("sagemaker", "SageMaker", "api.sagemaker", "SageMaker", "1.1", Pascal, "SageMaker")
    },
    Service {
        optimized: optimized("elasticmapreduce", "EMR", "AmazonElasticMapReduce", "AmazonElasticMapReduceException"),
        ..json("emr", "EMR", "elasticmapreduce", "ElasticMapReduce", "1.1", Pascal, "Emr")
    },
    Service {
        signing_name: "ecr",
        ..json("ecr", "ECR", "api.ecr", "AmazonEC2ContainerRegistry_V20150921", "1.1", Camel, "Ecr")
    },
    json("acm", "ACM", "acm", "CertificateManager", "1.1", Pascal, "Acm"),
    Service {
        signing_name: "cognito-idp",
        ..json(
            "cognitoidentityprovider",
            "Cognito Identity Provider",
            "cognito-idp",
            "AWSCognitoIdentityProviderService",
            "1.1",
            Pascal,
            "CognitoIdentityProvider",
        )
    },
    Service { signing_name: "states", ..json("sfn", "SFN", "states", "AWSStepFunctions", "1.0", Camel, "Sfn") },
    Service {
        optimized: optimized("sqs", "SQS", "AmazonSQS", "AmazonSQSException"),
        ..json("sqs", "SQS", "sqs", "AmazonSQS", "1.0", Pascal, "Sqs")
    },
    Service {
        sdk_name: "s3",
        service_id: "S3",
        endpoint_prefix: "s3",
        signing_name: "s3",
        protocol: Protocol::RestXml,
        casing: Pascal,
        error_prefix: "S3",
        modelled_errors: Some(S3_ERRORS),
        optimized: optimized("s3", "S3", "Amazon S3", "AmazonS3Exception"),
    },
    Service {
        sdk_name: "lambda",
        service_id: "Lambda",
        endpoint_prefix: "lambda",
        signing_name: "lambda",
        protocol: Protocol::RestJson,
        casing: Pascal,
        error_prefix: "Lambda",
        modelled_errors: None,
        optimized: optimized("lambda", "Lambda", "AWSLambda", "AWSLambdaException"),
    },
    Service {
        sdk_name: "sns",
        service_id: "SNS",
        endpoint_prefix: "sns",
        signing_name: "sns",
        protocol: Protocol::Query,
        casing: Pascal,
        error_prefix: "Sns",
        modelled_errors: None,
        optimized: optimized("sns", "SNS", "AmazonSNS", "AmazonSNSException"),
    },
];

/// The service of `aws-sdk:<name>:` resources.
pub fn by_sdk_name(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.sdk_name == name)
}

/// The service of `arn:aws:states:::<name>:` resources.
pub fn by_optimized_name(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.optimized.is_some_and(|o| o.name == name))
}

/// A service by any of the names a user may give it in `[aws.endpoints]`: its `aws-sdk:`
/// name, its optimized name, its endpoint prefix or its config-file key.
pub fn by_any_name(name: &str) -> Option<&'static Service> {
    let wanted = name.to_ascii_lowercase().replace('-', "_");
    SERVICES.iter().find(|s| {
        s.sdk_name == wanted
            || s.endpoint_prefix.replace('-', "_") == wanted
            || s.optimized.is_some_and(|o| o.name == wanted)
            || s.config_key() == wanted
    })
}

impl Service {
    /// `AWS_ENDPOINT_URL_<SERVICE>`.
    pub fn endpoint_variable(&self) -> String {
        format!("AWS_ENDPOINT_URL_{}", self.service_id.to_ascii_uppercase().replace(' ', "_"))
    }

    /// The key of this service in the shared config file's `[services NAME]` sections and
    /// in `[aws.endpoints]`.
    pub fn config_key(&self) -> String {
        self.service_id.to_ascii_lowercase().replace(' ', "_")
    }

    /// Whether an error code is one of this service's own (named as it is) rather than a
    /// generic failure.
    pub fn models(&self, code: &str) -> bool {
        // `Http500`: an answer without an error code (see `ServiceError`) is no model's.
        if code.strip_prefix("Http").is_some_and(|status| status.bytes().all(|b| b.is_ascii_digit())) {
            return false;
        }
        match self.modelled_errors {
            Some(list) => list.contains(&code),
            None => !COMMON_ERRORS.contains(&code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_found_by_its_names_and_names_its_variable_as_the_sdks_do() {
        for s in SERVICES {
            assert_eq!(by_sdk_name(s.sdk_name), Some(s));
            assert_eq!(by_any_name(&s.config_key()), Some(s), "{}", s.sdk_name);
        }
        assert_eq!(
            by_sdk_name("secretsmanager").map(Service::endpoint_variable).as_deref(),
            Some("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        );
        assert_eq!(
            by_sdk_name("cloudwatchlogs").map(Service::endpoint_variable).as_deref(),
            Some("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        );
        assert_eq!(by_any_name("logs").map(|s| s.sdk_name), Some("cloudwatchlogs"));
        assert_eq!(by_any_name("events").map(|s| s.sdk_name), Some("eventbridge"));
        assert_eq!(by_optimized_name("events").map(|s| s.sdk_name), Some("eventbridge"));
    }

    #[test]
    fn common_errors_are_not_a_services_own() {
        let dynamodb = by_sdk_name("dynamodb").expect("in the table");
        assert!(dynamodb.models("ConditionalCheckFailedException"));
        assert!(!dynamodb.models("ValidationException"));
        assert!(!dynamodb.models("Http500"));
        let s3 = by_sdk_name("s3").expect("in the table");
        assert!(s3.models("NoSuchKey"));
        assert!(!s3.models("AccessDenied"));
    }
}
