//! What an engine operation can answer instead of its result: one variant per AWS error, with
//! AWS's message as its text. The one place a failure gets its AWS error name
//! ([`EngineError::aws_name`]); the server only puts it on the wire.

use store::StoreError;

/// Errors of the engine's operations, each named as AWS names it (see [`EngineError::aws_name`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An ARN of the wrong shape or resource type; the text is what follows `Invalid Arn:`.
    #[error("Invalid Arn: '{0}'")]
    InvalidArn(String),
    #[error("Invalid Token: '{0}'")]
    InvalidToken(String),
    #[error("Task Timed Out: 'Provided task does not exist anymore'")]
    TaskTimedOut,
    #[error("{0}")]
    InvalidOutput(String),
    #[error("Invalid State Machine Execution Input: '{0}'")]
    InvalidExecutionInput(String),
    /// A name breaking AWS's rules, or a mock test case no MockConfigFile names (the text is
    /// the whole message).
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidDefinition(String),
    #[error("State Machine Does Not Exist: '{0}'")]
    StateMachineDoesNotExist(String),
    #[error("State Machine Already Exists: '{0}'")]
    StateMachineAlreadyExists(String),
    #[error("This operation is not supported by this type of state machine")]
    StateMachineTypeNotSupported,
    #[error("Execution Does Not Exist: '{0}'")]
    ExecutionDoesNotExist(String),
    #[error("Execution Already Exists: '{0}'")]
    ExecutionAlreadyExists(String),
    #[error("{0}")]
    ExecutionNotRedrivable(String),
    #[error("Activity Does Not Exist: '{0}'")]
    ActivityDoesNotExist(String),
    #[error("Resource not found: '{0}'")]
    ResourceNotFound(String),
    /// `ConflictException`: the request contradicts what exists (an alias's other
    /// configuration, a version an alias routes to, a stale revision).
    #[error("{0}")]
    Conflict(String),
    /// `ValidationException`: a rule of the catalog the request breaks.
    #[error("{0}")]
    Validation(String),
    #[error("Too many tags: a resource can have at most {0}")]
    TooManyTags(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    /// The AWS error name (`__type`) of this failure; `InternalFailure` for the store's own.
    pub fn aws_name(&self) -> &'static str {
        match self {
            EngineError::InvalidArn(_) => "InvalidArn",
            EngineError::InvalidToken(_) => "InvalidToken",
            EngineError::TaskTimedOut => "TaskTimedOut",
            EngineError::InvalidOutput(_) => "InvalidOutput",
            EngineError::InvalidExecutionInput(_) => "InvalidExecutionInput",
            EngineError::InvalidName(_) => "InvalidName",
            EngineError::InvalidDefinition(_) => "InvalidDefinition",
            EngineError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            EngineError::StateMachineAlreadyExists(_) => "StateMachineAlreadyExists",
            EngineError::StateMachineTypeNotSupported => "StateMachineTypeNotSupported",
            EngineError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            EngineError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            EngineError::ExecutionNotRedrivable(_) => "ExecutionNotRedrivable",
            EngineError::ActivityDoesNotExist(_) => "ActivityDoesNotExist",
            EngineError::ResourceNotFound(_) => "ResourceNotFound",
            EngineError::Conflict(_) => "ConflictException",
            EngineError::Validation(_) => "ValidationException",
            EngineError::TooManyTags(_) => "TooManyTags",
            EngineError::Store(_) => "InternalFailure",
        }
    }

    /// An ARN that is not a Step Functions ARN of the expected form.
    pub fn invalid_arn(arn: &str) -> Self {
        EngineError::InvalidArn(format!("Invalid ARN prefix: {arn}"))
    }

    /// An ARN of a resource type the operation does not take (`execution`, `express`, ...).
    pub fn wrong_resource_type(kind: &str) -> Self {
        EngineError::InvalidArn(format!("Resource type not valid in this context: {kind}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_aws_messages() {
        assert_eq!(EngineError::invalid_arn("x").to_string(), "Invalid Arn: 'Invalid ARN prefix: x'");
        assert_eq!(
            EngineError::wrong_resource_type("express").to_string(),
            "Invalid Arn: 'Resource type not valid in this context: express'"
        );
        assert_eq!(EngineError::StateMachineDoesNotExist("a".into()).to_string(), "State Machine Does Not Exist: 'a'");
        assert_eq!(EngineError::Conflict("c".into()).aws_name(), "ConflictException");
        assert_eq!(EngineError::Validation("v".into()).aws_name(), "ValidationException");
    }
}
