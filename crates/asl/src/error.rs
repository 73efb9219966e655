//! Error names and the two error types every other module speaks: [`DefinitionError`] for a
//! definition that does not validate, [`EvalFailure`] for a state that fails while running.

use std::fmt;

/// The error names Step Functions defines. AWS's spelling, in one place.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    pub const PERMISSIONS: &str = "States.Permissions";
}

/// Why a state failed while it ran: an error name (as `ErrorEquals` matches it) and a message.
///
/// `message` is the detail only; the interpreter prefixes it with the state's name and entry
/// event id, as AWS does ("An error occurred while executing the state 'X' (entered at the
/// event id #2). ...") where AWS does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalFailure {
    pub error: String,
    pub message: String,
}

impl EvalFailure {
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error: error.into(), message: message.into() }
    }

    /// A `States.Runtime` failure: not retriable, not caught by `States.ALL`.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, message)
    }

    pub fn intrinsic(message: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, message)
    }
}

impl fmt::Display for EvalFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl std::error::Error for EvalFailure {}

/// The validation codes AWS reports inside an `InvalidDefinition` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionErrorCode {
    /// The definition is not JSON (or YAML) at all.
    InvalidJsonDescription,
    SchemaValidationFailed,
    MissingTransitionTarget,
    UnreachableState,
    DuplicateStateName,
    NoTerminalState,
    InvalidJsonPath,
    InvalidReferencePath,
    InvalidIntrinsicFunction,
    InvalidJsonata,
}

impl DefinitionErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJsonDescription => "INVALID_JSON_DESCRIPTION",
            Self::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            Self::MissingTransitionTarget => "MISSING_TRANSITION_TARGET",
            Self::UnreachableState => "UNREACHABLE_STATE",
            Self::DuplicateStateName => "DUPLICATE_STATE_NAME",
            Self::NoTerminalState => "NO_TERMINAL_STATE",
            Self::InvalidJsonPath => "INVALID_JSON_PATH",
            Self::InvalidReferencePath => "INVALID_REFERENCE_PATH",
            Self::InvalidIntrinsicFunction => "INVALID_INTRINSIC_FUNCTION",
            Self::InvalidJsonata => "INVALID_JSONATA",
        }
    }
}

/// One problem in a definition, with where it is (a JSON pointer such as `/States/Check/Next`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionProblem {
    pub code: DefinitionErrorCode,
    pub message: String,
    pub location: String,
}

impl fmt::Display for DefinitionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if !self.location.is_empty() {
            write!(f, " at {}", self.location)?;
        }
        Ok(())
    }
}

/// A definition that does not validate: every problem found, in document order.
///
/// Displays as AWS's `InvalidDefinition` message does:
/// `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ... at /States/X/Next'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub problems: Vec<DefinitionProblem>,
}

impl DefinitionError {
    pub fn one(code: DefinitionErrorCode, message: impl Into<String>, location: impl Into<String>) -> Self {
        Self { problems: vec![DefinitionProblem { code, message: message.into(), location: location.into() }] }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid State Machine Definition: '")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str("'")
    }
}

impl std::error::Error for DefinitionError {}
