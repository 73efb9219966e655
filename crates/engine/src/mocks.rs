//! Mocked service integrations in Step Functions Local's `MockConfigFile.json` format, which
//! LocalStack reads too: the file, its validation, and which response a Task gets.
//!
//! ```json
//! {
//!   "StateMachines": {
//!     "<machine name>": {
//!       "TestCases": { "<test case>": { "<state name>": "<mocked response name>" } },
//!       "Baton:Expect": { "<test case>": { "status": "SUCCEEDED", "output": {} } }
//!     }
//!   },
//!   "MockedResponses": {
//!     "<mocked response name>": {
//!       "0": { "Return": {} },
//!       "1-2": { "Throw": { "Error": "...", "Cause": "..." } }
//!     }
//!   }
//! }
//! ```
//!
//! An execution runs with a test case when it is started on `stateMachineArn#TestCase`. Each
//! call of a state the test case names takes the next numbered response: calls are counted
//! per state over the whole execution (retries, loops, Map iterations and Parallel branches
//! alike), a range `"1-2"` answers calls 1 and 2, and calls past the last number fail the
//! task. States the test case does not name run for real.
//!
//! `Baton:Expect` is Baton's own member: the input `baton test` runs each test case with and
//! what it checks the execution ends with ([`run_test_cases`]).
//! It sits beside `TestCases`, where LocalStack's parser ignores unknown members (inside a
//! test case every member must name a state).
//!
//! This module owns the format and the selection of responses; [`Mocks`] counts the calls
//! and is consulted by the integration router ([`crate::integrations::Integrations`]), the
//! one place every Task is run. It knows nothing of executions beyond their ARN.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};

/// The environment variable Step Functions Local and LocalStack read the file's path from.
pub const ENV_VAR: &str = "SFN_MOCK_CONFIG";

/// Baton's member of a state machine's entry: expected ends of its test cases.
pub const EXPECT_KEY: &str = "Baton:Expect";

/// The error an execution fails with when a mocked state is called more often than its
/// mocked response has numbers for.
pub const NO_MORE_RESPONSES: &str = "States.Runtime";

/// One numbered answer of a mocked response.
#[derive(Debug, Clone, PartialEq)]
pub enum MockedResponse {
    /// The Task succeeds with this result (for `lambda:invoke`, Invoke's whole response).
    Return(Value),
    /// The Task fails with this error; Retry and Catch see it as any other.
    Throw { error: String, cause: String },
}

/// How `baton test` runs a test case and how it is expected to end (`Baton:Expect`): the
/// execution input (default `{}`), then the end; members left out are not checked, and
/// without `status` the execution is expected to succeed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expectation {
    pub input: Option<Value>,
    pub status: Option<String>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// A mocked response's numbered answers, in call order.
#[derive(Debug, Clone, PartialEq)]
struct Responses {
    /// `(first call, last call, answer)`, consecutive from call 0.
    ranges: Vec<(u64, u64, MockedResponse)>,
}

impl Responses {
    fn for_call(&self, call: u64) -> Option<&MockedResponse> {
        self.ranges.iter().find(|(first, last, _)| (*first..=*last).contains(&call)).map(|(_, _, r)| r)
    }
}

/// One test case: which states are mocked, with what.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestCase {
    /// State name → (mocked response name, its answers).
    states: BTreeMap<String, (String, Responses)>,
    pub expect: Option<Expectation>,
}

impl TestCase {
    /// The states this test case mocks, with the mocked response each uses.
    pub fn mocked_states(&self) -> impl Iterator<Item = (&str, &str)> {
        self.states.iter().map(|(state, (response, _))| (state.as_str(), response.as_str()))
    }
}

/// A parsed, valid MockConfigFile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockConfig {
    /// Where it was read from, for messages.
    pub source: String,
    machines: BTreeMap<String, BTreeMap<String, TestCase>>,
}

/// What is wrong with a MockConfigFile: the file, the JSON pointer of the member, the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {pointer}: {message}")]
pub struct MockConfigError {
    pub file: String,
    pub pointer: String,
    pub message: String,
}

/// A test case that cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnknownTestCase {
    #[error("No mock configuration file is loaded (set {ENV_VAR} or --mock-config) to run test case '{case}' of state machine '{machine}'")]
    NoConfig { machine: String, case: String },
    #[error("Invalid mock test case name '{case}' for state machine '{machine}': {source_file} defines no state machine '{machine}'")]
    NoMachine { machine: String, case: String, source_file: String },
    #[error("Invalid mock test case name '{case}' for state machine '{machine}': {source_file} defines no such test case for it")]
    NoCase { machine: String, case: String, source_file: String },
}

/// Escape one JSON pointer token (RFC 6901).
fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

struct Parser<'a> {
    file: &'a str,
}

impl Parser<'_> {
    fn err(&self, pointer: &str, message: impl Into<String>) -> MockConfigError {
        MockConfigError {
            file: self.file.to_owned(),
            pointer: if pointer.is_empty() { "/".into() } else { pointer.to_owned() },
            message: message.into(),
        }
    }

    fn object<'v>(&self, v: &'v Value, pointer: &str) -> Result<&'v Map<String, Value>, MockConfigError> {
        v.as_object()
            .ok_or_else(|| self.err(pointer, format!("must be an object, not {}", asl::template::a_type_name(v))))
    }

    fn string<'v>(&self, v: &'v Value, pointer: &str) -> Result<&'v str, MockConfigError> {
        v.as_str().ok_or_else(|| self.err(pointer, format!("must be a string, not {}", asl::template::a_type_name(v))))
    }

    fn member<'v>(&self, obj: &'v Map<String, Value>, name: &str, pointer: &str) -> Result<&'v Value, MockConfigError> {
        obj.get(name).ok_or_else(|| self.err(pointer, format!("the required member '{name}' is missing")))
    }

    fn range(&self, key: &str, pointer: &str) -> Result<(u64, u64), MockConfigError> {
        let number = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| {
                self.err(pointer, format!("'{key}' is not a call number (\"0\") or a range of them (\"1-2\")"))
            })
        };
        match key.split_once('-') {
            None => number(key).map(|n| (n, n)),
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if b < a {
                    return Err(self.err(pointer, format!("the range '{key}' ends before it starts")));
                }
                Ok((a, b))
            }
        }
    }

    fn answer(&self, v: &Value, pointer: &str) -> Result<MockedResponse, MockConfigError> {
        let obj = self.object(v, pointer)?;
        match (obj.get("Return"), obj.get("Throw")) {
            (Some(_), Some(_)) => Err(self.err(pointer, "give one of 'Return' and 'Throw', not both")),
            (None, None) => Err(self.err(pointer, "must contain 'Return' or 'Throw'")),
            (Some(r), None) => Ok(MockedResponse::Return(r.clone())),
            (None, Some(t)) => {
                let pointer = format!("{pointer}/Throw");
                let t = self.object(t, &pointer)?;
                let error = self.string(self.member(t, "Error", &pointer)?, &format!("{pointer}/Error"))?;
                let cause = self.string(self.member(t, "Cause", &pointer)?, &format!("{pointer}/Cause"))?;
                Ok(MockedResponse::Throw { error: error.to_owned(), cause: cause.to_owned() })
            }
        }
    }

    fn responses(&self, v: &Value, pointer: &str) -> Result<Responses, MockConfigError> {
        let obj = self.object(v, pointer)?;
        if obj.is_empty() {
            return Err(self.err(pointer, "defines no responses (give at least \"0\")"));
        }
        let mut ranges = Vec::new();
        for (key, answer) in obj {
            let at = format!("{pointer}/{}", token(key));
            let (first, last) = self.range(key, &at)?;
            ranges.push((first, last, self.answer(answer, &at)?));
        }
        ranges.sort_by_key(|(first, _, _)| *first);
        let mut next = 0u64;
        for (first, last, _) in &ranges {
            if *first != next {
                return Err(self.err(
                    pointer,
                    format!("responses must be numbered consecutively from 0: call {next} has none (the next starts at {first})"),
                ));
            }
            next = last.saturating_add(1);
        }
        Ok(Responses { ranges })
    }

    fn expectation(&self, v: &Value, pointer: &str) -> Result<Expectation, MockConfigError> {
        let obj = self.object(v, pointer)?;
        let mut expect = Expectation::default();
        for (key, value) in obj {
            let at = format!("{pointer}/{}", token(key));
            match key.as_str() {
                "status" => {
                    let status = self.string(value, &at)?;
                    if !matches!(status, "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED") {
                        return Err(self.err(&at, format!("'{status}' is not SUCCEEDED, FAILED, TIMED_OUT or ABORTED")));
                    }
                    expect.status = Some(status.to_owned());
                }
                "input" => expect.input = Some(value.clone()),
                "output" => expect.output = Some(value.clone()),
                "error" => expect.error = Some(self.string(value, &at)?.to_owned()),
                "cause" => expect.cause = Some(self.string(value, &at)?.to_owned()),
                other => {
                    return Err(
                        self.err(&at, format!("unknown member '{other}' (input, status, output, error, cause)"))
                    );
                }
            }
        }
        Ok(expect)
    }

    fn config(&self, root: &Value) -> Result<MockConfig, MockConfigError> {
        let root = self.object(root, "")?;
        let responses_obj = self.object(self.member(root, "MockedResponses", "")?, "/MockedResponses")?;
        let mut responses = BTreeMap::new();
        for (name, v) in responses_obj {
            responses.insert(name.as_str(), self.responses(v, &format!("/MockedResponses/{}", token(name)))?);
        }
        let machines_obj = self.object(self.member(root, "StateMachines", "")?, "/StateMachines")?;
        let mut machines = BTreeMap::new();
        for (machine, v) in machines_obj {
            let mp = format!("/StateMachines/{}", token(machine));
            let m = self.object(v, &mp)?;
            let cases_obj = self.object(self.member(m, "TestCases", &mp)?, &format!("{mp}/TestCases"))?;
            let mut cases = BTreeMap::new();
            for (case, v) in cases_obj {
                let cp = format!("{mp}/TestCases/{}", token(case));
                let mut test_case = TestCase::default();
                for (state, response) in self.object(v, &cp)? {
                    let sp = format!("{cp}/{}", token(state));
                    let name = self.string(response, &sp)?;
                    let Some(found) = responses.get(name) else {
                        return Err(self.err(&sp, format!("MockedResponses has no '{name}'")));
                    };
                    test_case.states.insert(state.clone(), (name.to_owned(), found.clone()));
                }
                cases.insert(case.clone(), test_case);
            }
            if let Some(expect) = m.get(EXPECT_KEY) {
                let ep = format!("{mp}/{}", token(EXPECT_KEY));
                for (case, v) in self.object(expect, &ep)? {
                    let at = format!("{ep}/{}", token(case));
                    let expectation = self.expectation(v, &at)?;
                    let Some(test_case) = cases.get_mut(case) else {
                        return Err(self.err(&at, format!("TestCases has no '{case}'")));
                    };
                    test_case.expect = Some(expectation);
                }
            }
            machines.insert(machine.clone(), cases);
        }
        Ok(MockConfig { source: self.file.to_owned(), machines })
    }
}

impl MockConfig {
    /// Parse the text of a MockConfigFile; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, MockConfigError> {
        let parser = Parser { file };
        let root: Value = serde_json::from_str(text)
            .map_err(|e| parser.err("", format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column())))?;
        parser.config(&root)
    }

    /// Read and parse the MockConfigFile at `path`.
    pub fn load(path: &Path) -> Result<Self, MockConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| MockConfigError {
            file: file.clone(),
            pointer: "/".into(),
            message: format!("cannot be read: {e}"),
        })?;
        Self::parse(&text, &file)
    }

    /// The test cases of `machine`, by name.
    pub fn test_cases(&self, machine: &str) -> Option<&BTreeMap<String, TestCase>> {
        self.machines.get(machine)
    }

    /// The state machines the file has test cases for.
    pub fn machines(&self) -> impl Iterator<Item = &str> {
        self.machines.keys().map(String::as_str)
    }

    /// The test case `case` of `machine`, or why there is none.
    pub fn test_case(&self, machine: &str, case: &str) -> Result<&TestCase, UnknownTestCase> {
        let Some(cases) = self.machines.get(machine) else {
            return Err(UnknownTestCase::NoMachine {
                machine: machine.into(),
                case: case.into(),
                source_file: self.source.clone(),
            });
        };
        cases.get(case).ok_or_else(|| UnknownTestCase::NoCase {
            machine: machine.into(),
            case: case.into(),
            source_file: self.source.clone(),
        })
    }
}

/// The test case an execution runs with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TestCaseRef {
    pub state_machine: String,
    pub test_case: String,
}

/// What a mocked state's call gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Mocked(MockedResponse),
    /// The state was called more often than its mocked response has numbers for.
    Exhausted {
        state: String,
        response: String,
        call: u64,
    },
}

/// Calls of one state in one execution: the number each task got, so a task whose call is
/// made again (its lease ran out) gets the same answer.
#[derive(Default)]
struct StateCalls {
    next: u64,
    by_task: HashMap<u64, u64>,
}

/// A loaded MockConfigFile and the count of each mocked state's calls per execution.
pub struct Mocks {
    config: MockConfig,
    calls: Mutex<HashMap<(String, String), StateCalls>>,
}

impl std::fmt::Debug for Mocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mocks").field("source", &self.config.source).finish_non_exhaustive()
    }
}

impl Mocks {
    pub fn new(config: MockConfig) -> Self {
        Self { config, calls: Mutex::new(HashMap::new()) }
    }

    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// The answer to task `task` of state `state` in execution `execution_arn`, running with
    /// `case`; `None` when the test case does not mock the state (it runs for real).
    pub fn answer(&self, case: &TestCaseRef, execution_arn: &str, state: &str, task: u64) -> Option<Answer> {
        let test_case = self.config.test_case(&case.state_machine, &case.test_case).ok()?;
        let (response_name, responses) = test_case.states.get(state)?;
        let call = {
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            let counted = calls.entry((execution_arn.to_owned(), state.to_owned())).or_default();
            match counted.by_task.get(&task) {
                Some(n) => *n,
                None => {
                    let n = counted.next;
                    counted.next += 1;
                    counted.by_task.insert(task, n);
                    n
                }
            }
        };
        Some(match responses.for_call(call) {
            Some(r) => Answer::Mocked(r.clone()),
            None => Answer::Exhausted { state: state.to_owned(), response: response_name.clone(), call },
        })
    }

    /// Whether `case` mocks `state`.
    pub fn mocks_state(&self, case: &TestCaseRef, state: &str) -> bool {
        self.config.test_case(&case.state_machine, &case.test_case).is_ok_and(|t| t.states.contains_key(state))
    }

    /// Whether the calls of `state` in `execution_arn` are being counted in this process.
    pub fn counting(&self, execution_arn: &str, state: &str) -> bool {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.contains_key(&(execution_arn.to_owned(), state.to_owned()))
    }

    /// Go on counting the calls of `state` in `execution_arn` after the `ended` calls its
    /// history shows (an execution resumed after a restart), unless they are counted already.
    pub fn resume(&self, execution_arn: &str, state: &str, ended: u64) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls
            .entry((execution_arn.to_owned(), state.to_owned()))
            .or_insert_with(|| StateCalls { next: ended, by_task: HashMap::new() });
    }

    /// Forget the counts of an execution that ended.
    pub fn forget(&self, execution_arn: &str) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.retain(|(arn, _), _| arn != execution_arn);
    }
}

/// What a mocked response's `Return` makes of a Lambda Task, as Step Functions Local and
/// LocalStack read it: the response is Invoke's (`StatusCode`, `Payload`, `FunctionError`,
/// ...), so a `FunctionError` fails the task as the function's error does on AWS (the error
/// its payload's `errorType` names, the payload as the cause), and a Task on a function ARN
/// gets only the `Payload` (the whole `Return` when it has none). Other resources: the
/// `Return` as it is.
pub fn lambda_result(resource: &str, value: Value) -> Result<Value, (String, String)> {
    let legacy = resource.starts_with("arn:aws:lambda:");
    if !legacy && resource != "arn:aws:states:::lambda:invoke" {
        return Ok(value);
    }
    if let Some(function_error) = value.get("FunctionError").and_then(Value::as_str) {
        let payload = value.get("Payload").cloned().unwrap_or(Value::Null);
        let error = payload.get("errorType").and_then(Value::as_str).unwrap_or(function_error).to_owned();
        let cause = match &payload {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        return Err((error, cause));
    }
    match value {
        Value::Object(mut response) if legacy && response.contains_key("Payload") => {
            Ok(response.remove("Payload").unwrap_or(Value::Null))
        }
        other => Ok(other),
    }
}

/// The events that end one call of a Task (its answer, success or failure).
const CALL_ENDS: &[&str] = &[
    "TaskSucceeded",
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionSucceeded",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
];

/// How many calls of `state` ended in `history` (events in AWS's JSON form). Each end is tied
/// to its state through `previousEventId`, back to the nearest `*StateEntered` event, so
/// calls in Parallel branches and Map iterations are told apart from others.
pub fn ended_calls(history: &[Value], state: &str) -> u64 {
    let by_id: HashMap<i64, &Value> = history.iter().filter_map(|e| Some((e.get("id")?.as_i64()?, e))).collect();
    let state_of = |end: &Value| -> Option<&str> {
        let mut event = end;
        // Ids only go down along the chain; the bound guards against a malformed history.
        for _ in 0..history.len() {
            let previous = by_id.get(&event.get("previousEventId")?.as_i64()?)?;
            if previous.get("type")?.as_str()?.ends_with("StateEntered") {
                return previous.get("stateEnteredEventDetails")?.get("name")?.as_str();
            }
            event = previous;
        }
        None
    };
    history
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| CALL_ENDS.contains(&t)))
        .filter(|e| state_of(e) == Some(state))
        .count() as u64
}

/// Split `arn#TestCase` into the ARN and the test case.
pub fn split_test_case(arn: &str) -> (&str, Option<&str>) {
    match arn.split_once('#') {
        Some((base, case)) => (base, Some(case)),
        None => (arn, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<MockConfig, MockConfigError> {
        MockConfig::parse(&v.to_string(), "MockConfigFile.json")
    }

    fn lambda_sqs() -> MockConfig {
        parse(json!({
            "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"}
            }}},
            "MockedResponses": {
                "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "hi"}}}},
                "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m"}}},
                "MockedLambdaRetry": {
                    "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
                    "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "timed out"}},
                    "3": {"Return": {"StatusCode": 200, "Payload": {"body": "hi"}}}
                }
            }
        }))
        .expect("the documented example is valid")
    }

    fn case(name: &str) -> TestCaseRef {
        TestCaseRef { state_machine: "LambdaSQSIntegration".into(), test_case: name.into() }
    }

    #[test]
    fn calls_of_a_state_take_the_numbered_responses_in_turn() {
        let mocks = Mocks::new(lambda_sqs());
        let errors: Vec<_> = (1..=5)
            .map(|task| match mocks.answer(&case("RetryPath"), "exec", "LambdaState", task) {
                Some(Answer::Mocked(MockedResponse::Throw { error, .. })) => error,
                Some(Answer::Mocked(MockedResponse::Return(_))) => "return".into(),
                Some(Answer::Exhausted { call, .. }) => format!("exhausted at {call}"),
                None => "real".into(),
            })
            .collect();
        assert_eq!(
            errors,
            [
                "Lambda.ResourceNotReadyException",
                "Lambda.TimeoutException",
                "Lambda.TimeoutException",
                "return",
                "exhausted at 4"
            ]
        );
        // The same task asked again gets the same answer; another execution counts anew.
        assert!(matches!(
            mocks.answer(&case("RetryPath"), "exec", "LambdaState", 4),
            Some(Answer::Mocked(MockedResponse::Return(_)))
        ));
        assert!(matches!(
            mocks.answer(&case("RetryPath"), "other", "LambdaState", 1),
            Some(Answer::Mocked(MockedResponse::Throw { .. }))
        ));
        // States the test case does not name run for real.
        assert_eq!(mocks.answer(&case("HybridPath"), "exec", "SQSState", 9), None);
    }

    #[test]
    fn mistakes_are_reported_with_their_json_pointer() {
        let cases = [
            (json!({"StateMachines": {}}), "/", "'MockedResponses' is missing"),
            (
                json!({"StateMachines": {"M": {"TestCases": {"T": {"S": "Nope"}}}}, "MockedResponses": {}}),
                "/StateMachines/M/TestCases/T/S",
                "no 'Nope'",
            ),
            (
                json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {}, "2": {"Return": 1}}}}),
                "/MockedResponses/R/0",
                "'Return' or 'Throw'",
            ),
            (
                json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 1}}}}),
                "/MockedResponses/R",
                "call 1 has none",
            ),
            (
                json!({"StateMachines": {}, "MockedResponses": {"R": {"x": {"Return": 1}}}}),
                "/MockedResponses/R/x",
                "not a call number",
            ),
            (
                json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}}),
                "/MockedResponses/R/0/Throw",
                "'Cause' is missing",
            ),
            (
                json!({"StateMachines": {"M": {"TestCases": {}, "Baton:Expect": {"T": {"status": "DONE"}}}}, "MockedResponses": {}}),
                "/StateMachines/M/Baton:Expect/T/status",
                "'DONE'",
            ),
        ];
        for (file, pointer, message) in cases {
            let e = parse(file.clone()).expect_err("invalid");
            assert_eq!(e.pointer, pointer, "{file}: {e}");
            assert!(e.message.contains(message), "{file}: {e}");
            assert!(e.to_string().starts_with("MockConfigFile.json: "), "{e}");
        }
        let e = MockConfig::parse("{", "f.json").expect_err("not JSON");
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn expectations_sit_beside_the_test_cases() {
        let config = parse(json!({
            "StateMachines": {"M": {
                "TestCases": {"T": {}},
                "Baton:Expect": {"T": {"status": "FAILED", "error": "E"}}
            }},
            "MockedResponses": {}
        }))
        .expect("valid");
        let t = config.test_case("M", "T").expect("exists");
        assert_eq!(
            t.expect,
            Some(Expectation { status: Some("FAILED".into()), error: Some("E".into()), ..Default::default() })
        );
        assert!(matches!(config.test_case("M", "U"), Err(UnknownTestCase::NoCase { .. })));
        assert!(matches!(config.test_case("N", "T"), Err(UnknownTestCase::NoMachine { .. })));
    }

    #[test]
    fn ended_calls_are_found_through_their_state_entered_events() {
        let entered = |id: i64, prev: i64, name: &str| json!({"id": id, "previousEventId": prev, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}});
        let event = |id: i64, prev: i64, t: &str| json!({"id": id, "previousEventId": prev, "type": t});
        let history = [
            event(1, 0, "ExecutionStarted"),
            entered(2, 1, "Call"),
            event(3, 2, "TaskScheduled"),
            event(4, 3, "TaskStarted"),
            event(5, 4, "TaskFailed"),
            event(6, 5, "TaskScheduled"),
            event(7, 6, "TaskStarted"),
            event(8, 7, "TaskSucceeded"),
            event(9, 8, "TaskStateExited"),
            entered(10, 9, "Other"),
            event(11, 10, "TaskScheduled"),
            event(12, 11, "TaskStarted"),
            event(13, 12, "TaskSucceeded"),
            event(14, 13, "TaskStateExited"),
            entered(15, 14, "Call"),
            event(16, 15, "TaskScheduled"),
        ];
        assert_eq!(ended_calls(&history, "Call"), 2);
        assert_eq!(ended_calls(&history, "Other"), 1);
        assert_eq!(ended_calls(&history, "Missing"), 0);

        let mocks = Mocks::new(lambda_sqs());
        mocks.resume("exec", "LambdaState", 3);
        assert!(mocks.counting("exec", "LambdaState"));
        assert!(matches!(
            mocks.answer(&case("RetryPath"), "exec", "LambdaState", 7),
            Some(Answer::Mocked(MockedResponse::Return(_)))
        ));
    }

    #[test]
    fn lambda_returns_are_invoke_responses() {
        let response = json!({"StatusCode": 200, "Payload": {"body": "hi"}});
        let function = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert_eq!(lambda_result(function, response.clone()), Ok(json!({"body": "hi"})));
        assert_eq!(lambda_result("arn:aws:states:::lambda:invoke", response.clone()), Ok(response.clone()));
        assert_eq!(lambda_result("arn:aws:states:::sqs:sendMessage", response.clone()), Ok(response));
        assert_eq!(lambda_result(function, json!({"body": "hi"})), Ok(json!({"body": "hi"})));
        let failed = json!({"StatusCode": 200, "FunctionError": "Unhandled", "Payload": {"errorType": "ValueError", "errorMessage": "no"}});
        assert_eq!(
            lambda_result(function, failed),
            Err(("ValueError".into(), r#"{"errorType":"ValueError","errorMessage":"no"}"#.into()))
        );
    }

    #[test]
    fn test_cases_are_split_off_state_machine_arns() {
        assert_eq!(
            split_test_case("arn:aws:states:us-east-1:123456789012:stateMachine:M#HappyPath"),
            ("arn:aws:states:us-east-1:123456789012:stateMachine:M", Some("HappyPath"))
        );
        assert_eq!(split_test_case("arn:aws:states:::stateMachine:M"), ("arn:aws:states:::stateMachine:M", None));
    }
}
