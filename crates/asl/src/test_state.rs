//! TestState: one state run on its own, as AWS's TestState API runs it.
//!
//! The state runs through the one interpreter, never a copy of it: [`prepare`] builds a
//! machine whose only real state is the one under test (named `StateName`, as AWS names it),
//! every state it can go to stands in as a `Succeed` state, so the run stops right after it.
//! An [`Inspector`] watches the state's processing stages, stands in for a mocked Map's
//! iterations or Parallel's branches, and [`Inspector::response`] turns what it saw into
//! AWS's answer: `status` (SUCCEEDED, FAILED, RETRIABLE, CAUGHT_ERROR), `output`, `error`,
//! `cause`, `nextState` and `inspectionData`.
//!
//! Pure like the rest of the crate: the shell (the engine) makes the task calls, answers a
//! mocked task with its mock, and tells the inspector when a retrier waits.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::definition::{Definition, Fields, QueryLanguage, Retrier, StateKind};
use crate::interpreter::{error_matches, ChildrenOutcome, Stage, StageObserver, Status};
use crate::template::compact;

/// The name the state under test runs as (`$$.State.Name`), whatever it is called in a
/// whole machine.
pub const STATE_NAME: &str = "StateName";

/// How much of the state's processing the answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InspectionLevel {
    Info,
    Debug,
    Trace,
}

impl InspectionLevel {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "INFO" => Some(Self::Info),
            "DEBUG" => Some(Self::Debug),
            "TRACE" => Some(Self::Trace),
            _ => None,
        }
    }
}

/// A mocked result of the state's work: a Task's service response, a Map's or Parallel's
/// array of results, or an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    Result(Value),
    Error { error: Option<String>, cause: Option<String> },
}

/// `stateConfiguration`: where in its life the state is tested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateConfiguration {
    /// Retries already made by the retrier that handles the error.
    pub retrier_retry_count: u64,
    /// The state inside a Map or Parallel that a mocked error comes from.
    pub error_caused_by_state: Option<String>,
    /// Map iterations that failed.
    pub map_iteration_failure_count: Option<u64>,
    /// The items an `ItemReader` reads.
    pub map_item_reader_data: Option<Value>,
}

/// Why a TestState request cannot run, in AWS's two error names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestStateError {
    #[error("{0}")]
    InvalidDefinition(String),
    #[error("{0}")]
    Validation(String),
}

impl TestStateError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidDefinition(_) => "InvalidDefinition",
            Self::Validation(_) => "ValidationException",
        }
    }
}

/// The machine that runs the state under test, and what the answer needs to know of it.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub definition: Definition,
    /// The state as written.
    pub state: Map<String, Value>,
    pub query_language: QueryLanguage,
    /// The definition was one state (not a whole machine with `stateName`).
    pub single_state: bool,
}

impl TestRun {
    fn parsed_state(&self) -> &crate::definition::State {
        let graph = self.definition.graph(0);
        self.definition.state(0, graph.start_at)
    }

    /// The state's `Type`.
    pub fn type_name(&self) -> &'static str {
        self.parsed_state().kind.type_name()
    }

    /// The task resource, for a Task state.
    pub fn resource(&self) -> Option<&str> {
        match &self.parsed_state().kind {
            StateKind::Task(_) => self.state.get("Resource").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The most retries any of the state's retriers makes.
    pub fn most_retries(&self) -> u64 {
        self.retriers().iter().map(|r| r.max_attempts).max().unwrap_or(0)
    }

    fn retriers(&self) -> &[Retrier] {
        self.parsed_state().kind.retry()
    }

    /// The `ErrorEquals` of each of the state's catchers, in order.
    fn catcher_errors(&self) -> Vec<&[String]> {
        match self.parsed_state().kind.recovery() {
            Some(Fields::JsonPath((_, result))) => result.catch.iter().map(|c| c.error_equals.as_slice()).collect(),
            Some(Fields::Jsonata((_, result))) => result.catch.iter().map(|c| c.error_equals.as_slice()).collect(),
            None => Vec::new(),
        }
    }

    /// The names of the states inside a Map's processor or a Parallel's branches.
    fn inner_state_names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let mut blocks: Vec<&Value> = Vec::new();
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(b) = self.state.get(key) {
                blocks.push(b);
            }
        }
        if let Some(Value::Array(branches)) = self.state.get("Branches") {
            blocks.extend(branches.iter());
        }
        while let Some(block) = blocks.pop() {
            let Some(Value::Object(states)) = block.get("States") else { continue };
            for (name, s) in states {
                names.insert(name.clone());
                for key in ["ItemProcessor", "Iterator"] {
                    if let Some(b) = s.get(key) {
                        blocks.push(b);
                    }
                }
                if let Some(Value::Array(branches)) = s.get("Branches") {
                    blocks.extend(branches.iter());
                }
            }
        }
        names
    }

    /// Check a mock against the state it mocks, as AWS does before running anything.
    pub fn check_mock(&self, mock: &Mock, config: &StateConfiguration) -> Result<(), TestStateError> {
        let kind = self.type_name();
        if !matches!(kind, "Task" | "Map" | "Parallel") {
            return Err(TestStateError::Validation(format!(
                "A mock can only be given for a Task, Map or Parallel state; this state is a {kind} state."
            )));
        }
        match mock {
            Mock::Result(v) if kind != "Task" && !v.is_array() => Err(TestStateError::Validation(format!(
                "The mocked result of a {kind} state must be a JSON array, but was: {}",
                compact(v)
            ))),
            Mock::Error { .. } if kind == "Map" && config.error_caused_by_state.is_none() => {
                Err(TestStateError::Validation(
                    "A mocked error of a Map state needs stateConfiguration.errorCausedByState: the state inside the Map that fails."
                        .into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// A state that runs only with a mock: Map, Parallel, an activity, and the
    /// `.sync`/`.waitForTaskToken` patterns (TestState does not wait for what they start).
    pub fn check_needs_mock(&self) -> Result<(), TestStateError> {
        let kind = self.type_name();
        if matches!(kind, "Map" | "Parallel") {
            return Err(TestStateError::Validation(format!("TestState runs a {kind} state only with a mock.")));
        }
        if let Some(resource) = self.resource() {
            let waits =
                resource.ends_with(".waitForTaskToken") || resource.ends_with(".sync") || resource.ends_with(".sync:2");
            if waits || resource.contains(":activity:") {
                return Err(TestStateError::Validation(format!(
                    "TestState runs a Task on '{resource}' only with a mock: it does not wait for a callback, an activity worker or the work it starts."
                )));
            }
        }
        Ok(())
    }

    /// Check the state configuration against the state, as AWS does.
    pub fn check_configuration(&self, config: &StateConfiguration) -> Result<(), TestStateError> {
        let kind = self.type_name();
        if let Some(name) = &config.error_caused_by_state {
            if !matches!(kind, "Map" | "Parallel") {
                return Err(TestStateError::Validation(
                    "stateConfiguration.errorCausedByState applies only to Map and Parallel states.".into(),
                ));
            }
            if !self.inner_state_names().contains(name) {
                return Err(TestStateError::Validation(format!(
                    "stateConfiguration.errorCausedByState: no state named '{name}' is inside this {kind} state."
                )));
            }
        }
        if (config.map_iteration_failure_count.is_some() || config.map_item_reader_data.is_some()) && kind != "Map" {
            return Err(TestStateError::Validation(
                "stateConfiguration.mapIterationFailureCount and mapItemReaderData apply only to Map states.".into(),
            ));
        }
        if config.retrier_retry_count > crate::interpreter::MAX_HISTORY_EVENTS {
            return Err(TestStateError::Validation(format!(
                "stateConfiguration.retrierRetryCount must be at most {}: an execution's history cannot hold more retries.",
                crate::interpreter::MAX_HISTORY_EVENTS
            )));
        }
        if config.retrier_retry_count > 0 && self.retriers().is_empty() {
            return Err(TestStateError::Validation(
                "stateConfiguration.retrierRetryCount needs a state with a Retry field.".into(),
            ));
        }
        Ok(())
    }
}

/// Build the run for `definition` (one state, or a whole machine with `state_name`).
pub fn prepare(definition: &str, state_name: Option<&str>) -> Result<TestRun, TestStateError> {
    let value: Value = serde_json::from_str(definition).map_err(|e| {
        TestStateError::InvalidDefinition(format!(
            "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: The definition is not valid JSON: {e}'"
        ))
    })?;
    let Value::Object(top) = &value else {
        return Err(TestStateError::InvalidDefinition(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The definition must be a JSON object'".into(),
        ));
    };
    let whole_machine = top.contains_key("States");
    let (state, top_language, single_state) = if whole_machine {
        Definition::from_value(&value).map_err(|e| TestStateError::InvalidDefinition(e.to_string()))?;
        let name = match state_name {
            Some(n) => n,
            None => top.get("StartAt").and_then(Value::as_str).unwrap_or_default(),
        };
        let state = find_state(top, name).ok_or_else(|| {
            TestStateError::Validation(format!("State '{name}' is not found in the state machine definition."))
        })?;
        (state.clone(), top.get("QueryLanguage").cloned(), false)
    } else {
        if let Some(name) = state_name {
            return Err(TestStateError::Validation(format!(
                "stateName '{name}' can only be given with a state machine definition (StartAt and States)."
            )));
        }
        (top.clone(), None, true)
    };
    let mut states = Map::new();
    for target in transition_targets(&state) {
        if target != STATE_NAME {
            states.insert(target, json!({"Type": "Succeed"}));
        }
    }
    states.insert(STATE_NAME.into(), Value::Object(state.clone()));
    let mut machine = Map::new();
    if let Some(ql) = top_language {
        machine.insert("QueryLanguage".into(), ql);
    }
    machine.insert("StartAt".into(), STATE_NAME.into());
    machine.insert("States".into(), Value::Object(states));
    let definition = Definition::from_value(&Value::Object(machine))
        .map_err(|e| TestStateError::InvalidDefinition(e.to_string()))?;
    let query_language = {
        let graph = definition.graph(0);
        definition.state(0, graph.start_at).kind.query_language()
    };
    Ok(TestRun { definition, state, query_language, single_state })
}

/// A state by name anywhere in a machine: its top level, Map processors, Parallel branches.
fn find_state<'v>(block: &'v Map<String, Value>, name: &str) -> Option<&'v Map<String, Value>> {
    let states = block.get("States")?.as_object()?;
    if let Some(Value::Object(s)) = states.get(name) {
        return Some(s);
    }
    for s in states.values() {
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(found) = s.get(key).and_then(Value::as_object).and_then(|b| find_state(b, name)) {
                return Some(found);
            }
        }
        if let Some(Value::Array(branches)) = s.get("Branches") {
            if let Some(found) = branches.iter().filter_map(Value::as_object).find_map(|b| find_state(b, name)) {
                return Some(found);
            }
        }
    }
    None
}

/// Every state name a state can go to: `Next`, `Default`, its Choice rules' and catchers'.
fn transition_targets(state: &Map<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |v: Option<&Value>| {
        if let Some(Value::String(s)) = v {
            out.insert(s.clone());
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for key in ["Choices", "Catch"] {
        if let Some(Value::Array(list)) = state.get(key) {
            for item in list {
                add(item.get("Next"));
            }
        }
    }
    out
}

/// Where a retrier stopped the run: the retry it waits to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retrying {
    pub backoff_ms: u64,
}

/// Watches the state under test as it runs; stands in for a mocked Map's or Parallel's
/// children.
#[derive(Debug, Default)]
pub struct Inspector {
    stages: Vec<(Stage, Value)>,
    output: Option<Value>,
    failure: Option<Value>,
    next_state: Option<String>,
    children: Option<ChildrenOutcome>,
    /// A mocked Map's failed iterations (stateConfiguration.mapIterationFailureCount) and
    /// how many iterations there were.
    iteration_failures: Option<(u64, usize)>,
}

impl Inspector {
    /// An inspector for `run`, standing in for a Map's or Parallel's children when `mock`
    /// gives them.
    pub fn new(run: &TestRun, mock: Option<&Mock>, config: &StateConfiguration) -> Self {
        let mut me = Self::default();
        if matches!(run.type_name(), "Map" | "Parallel") {
            me.children = match mock {
                Some(Mock::Result(Value::Array(items))) => Some(ChildrenOutcome::Results(items.clone())),
                Some(Mock::Result(other)) => Some(ChildrenOutcome::Results(vec![other.clone()])),
                Some(Mock::Error { error, cause }) => {
                    Some(ChildrenOutcome::Failed { error: error.clone(), cause: cause.clone() })
                }
                None => None,
            };
            if let (Some(n), Some(Mock::Result(result))) = (config.map_iteration_failure_count, mock) {
                me.iteration_failures = Some((n, result.as_array().map_or(1, Vec::len)));
            }
        }
        me
    }

    /// The state left (normally, through a Choice rule, or through a catcher).
    pub fn exited(&self) -> bool {
        self.output.is_some()
    }

    /// A failure of the state's work was seen (the last one, after retries).
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    fn stage_value(&self, stage: Stage) -> Option<&Value> {
        self.stages.iter().rev().find(|(s, _)| *s == stage).map(|(_, v)| v)
    }

    /// AWS's answer to the TestState request, from what the run showed. `status` is the
    /// execution's; `retrying` is set when the run stopped at a retrier's backoff.
    pub fn response(
        &self,
        run: &TestRun,
        status: &Status,
        retrying: Option<Retrying>,
        level: InspectionLevel,
        variables: Option<&Map<String, Value>>,
    ) -> Value {
        let mut out = Map::new();
        let mut error_details = Map::new();
        let failure_name =
            |f: &Value| (f.get("Error").and_then(Value::as_str).map(str::to_owned), f.get("Cause").cloned());
        let (state_status, error, cause) = if let (Some(r), Some(f)) = (retrying, &self.failure) {
            let (error, cause) = failure_name(f);
            let name = error.clone().unwrap_or_default();
            if let Some(i) = run.retriers().iter().position(|r| error_matches(&r.error_equals, &name)) {
                error_details.insert("retryBackoffIntervalSeconds".into(), json!(r.backoff_ms / 1000));
                error_details.insert("retryIndex".into(), json!(i));
            }
            ("RETRIABLE", error, cause)
        } else if let (Some(output), Some(f)) = (&self.output, &self.failure) {
            let (error, cause) = failure_name(f);
            let name = error.clone().unwrap_or_default();
            if let Some(i) = run.catcher_errors().iter().position(|errors| error_matches(errors, &name)) {
                error_details.insert("catchIndex".into(), json!(i));
            }
            out.insert("output".into(), Value::String(compact(output)));
            ("CAUGHT_ERROR", error, cause)
        } else if let Some(output) = &self.output {
            out.insert("output".into(), Value::String(compact(output)));
            ("SUCCEEDED", None, None)
        } else {
            let (error, cause) = match status {
                Status::Failed { error, cause }
                | Status::TimedOut { error, cause }
                | Status::Aborted { error, cause } => (error.clone(), cause.clone().map(Value::String)),
                Status::Succeeded { .. } | Status::Running => (
                    Some(crate::error::names::RUNTIME.to_owned()),
                    Some(Value::String(
                        "The state did not finish: it waits for something TestState cannot give it.".into(),
                    )),
                ),
            };
            if let (Some(name), true) = (&error, self.failure.is_some()) {
                if let Some(i) = run.retriers().iter().position(|r| error_matches(&r.error_equals, name)) {
                    error_details.insert("retryIndex".into(), json!(i));
                }
            }
            ("FAILED", error, cause)
        };
        out.insert("status".into(), json!(state_status));
        if let Some(e) = error {
            out.insert("error".into(), Value::String(e));
        }
        if let Some(Value::String(c)) = cause {
            out.insert("cause".into(), Value::String(c));
        }
        if matches!(state_status, "SUCCEEDED" | "CAUGHT_ERROR") {
            if let Some(next) = &self.next_state {
                out.insert("nextState".into(), Value::String(next.clone()));
            }
        }
        if level >= InspectionLevel::Debug {
            let mut data = self.inspection_data(run, state_status == "SUCCEEDED", variables);
            if !error_details.is_empty() {
                data.insert("errorDetails".into(), Value::Object(error_details));
            }
            out.insert("inspectionData".into(), Value::Object(data));
        }
        Value::Object(out)
    }

    /// The stages AWS shows for this kind of state, as JSON text (numbers as numbers).
    fn inspection_data(
        &self,
        run: &TestRun,
        succeeded: bool,
        variables: Option<&Map<String, Value>>,
    ) -> Map<String, Value> {
        let mut data = Map::new();
        let text = |v: &Value| Value::String(compact(v));
        let put = |data: &mut Map<String, Value>, key: &str, v: Option<&Value>| {
            if let Some(v) = v {
                data.insert(key.into(), text(v));
            }
        };
        let input = self.stage_value(Stage::Input);
        put(&mut data, "input", input);
        let jsonpath = run.query_language == QueryLanguage::JsonPath;
        match run.type_name() {
            "Pass" if jsonpath && succeeded => {
                if run.state.contains_key("Result") {
                    let result = self.stage_value(Stage::Result);
                    put(&mut data, "result", result);
                    put(&mut data, "afterResultSelector", result);
                } else {
                    let after_parameters = self.stage_value(Stage::AfterParameters);
                    put(&mut data, "afterInputPath", self.stage_value(Stage::AfterInputPath));
                    put(&mut data, "afterParameters", after_parameters);
                    put(&mut data, "afterResultSelector", after_parameters);
                }
                put(&mut data, "afterResultPath", self.stage_value(Stage::AfterResultPath));
            }
            "Choice" | "Succeed" | "Fail" if jsonpath && run.single_state => {
                put(&mut data, "afterInputPath", self.stage_value(Stage::AfterInputPath).or(input));
            }
            "Task" => {
                if jsonpath {
                    put(&mut data, "afterInputPath", self.stage_value(Stage::AfterInputPath));
                    put(&mut data, "afterParameters", self.stage_value(Stage::AfterParameters));
                } else {
                    put(&mut data, "afterArguments", self.stage_value(Stage::AfterArguments));
                }
                put(&mut data, "result", self.stage_value(Stage::Result));
                if jsonpath {
                    put(&mut data, "afterResultSelector", self.stage_value(Stage::AfterResultSelector));
                    put(&mut data, "afterResultPath", self.stage_value(Stage::AfterResultPath));
                }
            }
            "Parallel" if jsonpath => {
                put(&mut data, "afterResultSelector", self.stage_value(Stage::AfterResultSelector));
                put(&mut data, "afterResultPath", self.stage_value(Stage::AfterResultPath));
            }
            "Map" => {
                if jsonpath {
                    put(&mut data, "afterInputPath", self.stage_value(Stage::AfterInputPath));
                    put(&mut data, "afterItemsPath", self.stage_value(Stage::AfterItemsPath));
                    put(&mut data, "afterResultSelector", self.stage_value(Stage::AfterResultSelector));
                    put(&mut data, "afterResultPath", self.stage_value(Stage::AfterResultPath));
                }
                for (stage, key) in [
                    (Stage::MaxConcurrency, "maxConcurrency"),
                    (Stage::ToleratedFailureCount, "toleratedFailureCount"),
                    (Stage::ToleratedFailurePercentage, "toleratedFailurePercentage"),
                ] {
                    if let Some(v) = self.stage_value(stage) {
                        data.insert(key.into(), v.clone());
                    }
                }
            }
            _ => {}
        }
        let mut vars = variables.cloned().unwrap_or_default();
        if let Some(Value::Object(assigned)) = self.stage_value(Stage::Variables) {
            vars.extend(assigned.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if !vars.is_empty() {
            data.insert("variables".into(), Value::String(compact(&Value::Object(vars))));
        }
        data
    }
}

impl StageObserver for Inspector {
    fn stage(&mut self, state: &str, stage: Stage, value: &Value) {
        if self.output.is_some() {
            // The first state entered after the state under test left is where it went.
            if stage == Stage::Input && self.next_state.is_none() {
                self.next_state = Some(state.to_owned());
            }
            return;
        }
        if state != STATE_NAME {
            return;
        }
        match stage {
            Stage::Output => self.output = Some(value.clone()),
            Stage::Failure => self.failure = Some(value.clone()),
            Stage::Input => {
                // Each attempt starts afresh; a retried state shows its last attempt.
                self.stages.clear();
                self.failure = None;
                self.stages.push((stage, value.clone()));
            }
            _ => self.stages.push((stage, value.clone())),
        }
    }

    fn children_outcome(&mut self, state: &str) -> Option<ChildrenOutcome> {
        if state != STATE_NAME || self.output.is_some() {
            return None;
        }
        // Failed iterations count against the Map's tolerance; a Map without one is tested
        // on its result alone, as AWS records.
        let count = self.stage_value(Stage::ToleratedFailureCount).and_then(Value::as_u64);
        let percentage = self.stage_value(Stage::ToleratedFailurePercentage).and_then(Value::as_f64);
        if let (Some((failures, total)), true) = (self.iteration_failures, count.is_some() || percentage.is_some()) {
            let within_count = count.is_some_and(|c| failures <= c);
            let within_percentage =
                percentage.is_some_and(|p| total > 0 && (failures as f64 * 100.0 / total as f64) <= p);
            if !within_count && !within_percentage {
                return Some(ChildrenOutcome::Failed {
                    error: Some(crate::error::names::EXCEED_TOLERATED_FAILURE_THRESHOLD.into()),
                    cause: Some("The specified tolerated failure threshold was exceeded".into()),
                });
            }
        }
        self.children.clone()
    }
}
