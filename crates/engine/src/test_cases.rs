//! `baton test`: each test case of a MockConfigFile run to its end in this process and
//! compared with its `Baton:Expect` (see [`crate::mocks`]).

use std::sync::Arc;

use asl::interpreter::Status;
use serde_json::{Map, Value};

use crate::integrations::Integrations;
use crate::local::{run_local, LocalOptions};
use crate::mocks::{Mocks, TestCase, TestCaseRef, UnknownTestCase};

/// One test case run by `baton test`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCaseResult {
    pub test_case: String,
    /// SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// How the end differs from `Baton:Expect`; empty when it passed.
    pub problems: Vec<String>,
}

impl TestCaseResult {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What `baton test` runs.
pub struct TestRun<'a> {
    pub definition: &'a asl::Definition,
    pub mocks: Arc<Mocks>,
    /// The state machine's name in the MockConfigFile.
    pub state_machine: String,
    /// Only this test case; every one of the machine when `None`.
    pub test_case: Option<String>,
    /// What Tasks the test case does not mock reach.
    pub config: crate::config::Config,
}

/// Why `baton test` cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TestRunError {
    #[error(transparent)]
    Unknown(#[from] UnknownTestCase),
    #[error("{source_file} has no test cases for state machine '{machine}' (it has: {known})")]
    NoTestCases { machine: String, source_file: String, known: String },
}

/// Run each test case of a state machine to its end in this process, on a virtual clock (Waits
/// and retry intervals take no time), and compare each end with its `Baton:Expect`. Blocks.
pub fn run_test_cases(run: TestRun<'_>) -> Result<Vec<TestCaseResult>, TestRunError> {
    let config = run.mocks.config();
    let cases: Vec<(&String, &TestCase)> = match &run.test_case {
        Some(name) => vec![(name, config.test_case(&run.state_machine, name)?)],
        None => match config.test_cases(&run.state_machine) {
            Some(cases) if !cases.is_empty() => cases.iter().collect(),
            _ => {
                return Err(TestRunError::NoTestCases {
                    machine: run.state_machine.clone(),
                    source_file: config.source.clone(),
                    known: config.machines().collect::<Vec<_>>().join(", "),
                })
            }
        },
    };
    let mut integrations = Integrations::with_functions(run.config.clone());
    integrations.set_mocks(run.mocks.clone());
    let mut results = Vec::new();
    for (name, case) in cases {
        let expect = case.expect.clone().unwrap_or_default();
        let options = LocalOptions {
            config: run.config.clone(),
            integrations: Some(integrations.clone()),
            fast_forward: true,
            state_machine_name: run.state_machine.clone(),
            execution_name: name.clone(),
            random: None,
            on_events: None,
            mock: Some(TestCaseRef { state_machine: run.state_machine.clone(), test_case: name.clone() }),
        };
        let input = expect.input.clone().unwrap_or_else(|| Value::Object(Map::new()));
        let ended = run_local(run.definition, input, options);
        let (output, error, cause) = match ended.status() {
            Status::Succeeded { output } => (Some(output.clone()), None, None),
            Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
                (None, error.clone(), cause.clone())
            }
            Status::Running => (None, None, None),
        };
        let status = ended.status().as_str().to_owned();
        let mut problems = Vec::new();
        let wanted_status = expect.status.as_deref().unwrap_or("SUCCEEDED");
        if status != wanted_status {
            problems.push(format!("status {status}, expected {wanted_status}"));
        }
        if let Some(wanted) = &expect.output {
            if output.as_ref() != Some(wanted) {
                let got = output.as_ref().map_or_else(|| "none".to_owned(), Value::to_string);
                problems.push(format!("output {got}, expected {wanted}"));
            }
        }
        for (what, got, wanted) in [("error", &error, &expect.error), ("cause", &cause, &expect.cause)] {
            if let Some(wanted) = wanted {
                if got.as_ref() != Some(wanted) {
                    problems.push(format!(
                        "{what} {}, expected {wanted:?}",
                        got.as_deref().map_or("none".into(), |g| format!("{g:?}"))
                    ));
                }
            }
        }
        results.push(TestCaseResult { test_case: name.clone(), status, output, error, cause, problems });
    }
    Ok(results)
}
