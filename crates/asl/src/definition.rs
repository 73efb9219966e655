//! The definition model: a parsed, validated state machine.
//!
//! "Parse, don't validate": a [`Definition`] that exists is valid. Parsing collects every
//! problem it finds (with a JSON pointer to where it is) rather than stopping at the first, so
//! a user fixes a definition in one round. Nested `States` blocks (Parallel branches, Map item
//! processors) are flattened into [`Graph`]s addressed by [`GraphId`]; transitions are indices,
//! so the interpreter never looks a state up by name.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::choice::{ChoiceRule, Condition};
use crate::error::{DefinitionError, DefinitionErrorCode as Code, DefinitionProblem};
use crate::eval::PathRef;
use crate::jsonata::{expression_text, Expression, JsonataTemplate, StatesRefs};
use crate::jsonpath::ReferencePath;
use crate::template::{escape_pointer, DynamicValue, Template};
use crate::timestamp;

/// AWS's default task timeout (the spec's 60 s is not what AWS does).
pub const DEFAULT_TASK_TIMEOUT_SECONDS: u64 = 99_999_999;

/// Index of a [`Graph`] in [`Definition::graphs`]; 0 is the top level.
pub type GraphId = usize;
/// Index of a state within its graph.
pub type StateId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub comment: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub graphs: Vec<Graph>,
}

/// One `{StartAt, States}` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub start_at: StateId,
    pub states: Vec<State>,
    /// JSON pointer of this block's `States`, e.g. `/States/P/Branches/0/States`.
    pub pointer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    /// JSONPath only (JSONata states have `Whole`).
    pub input_path: DataPath,
    /// JSONPath only (JSONata states have `Whole`).
    pub output_path: DataPath,
    pub query_language: QueryLanguage,
    /// Variables the state sets when it leaves normally (a Choice state's: when `Default` is
    /// taken).
    pub assign: Option<Assign>,
    /// JSONata's `Output`: the state's output, from its input (and result). Absent: the
    /// result for Task, Parallel and Map, the input otherwise.
    pub output: Option<JsonataTemplate>,
}

/// The query language of a state: the state's own `QueryLanguage`, else the definition's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

/// An `Assign` block: each top-level key names a variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Assign {
    /// A payload template: `"name.$"` keys read paths (of the state's result, its effective
    /// input or the error output, depending on where the block is) or call intrinsics.
    Path(Template),
    /// JSON with `{% %}` expressions reading `$states` and variables.
    Jsonata(JsonataTemplate),
}

/// A payload that is a JSONPath template in JSONPath states and JSON with expressions in
/// JSONata ones (`Credentials`, `ItemSelector`).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Path(Template),
    Jsonata(JsonataTemplate),
}

/// InputPath/OutputPath: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum DataPath {
    Whole,
    Empty,
    Path(PathRef),
}

/// ResultPath: absent means `$` (replace), `null` means discard the result.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    Replace,
    Discard,
    Path(ReferencePath),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Next(StateId),
    End,
}

/// A number that is either written in the definition or read from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic<T> {
    Fixed(T),
    Path(PathRef),
    /// A JSONata state's `{% %}` in place of the number.
    Jsonata(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Pass(Pass),
    Task(Box<Task>),
    Choice(Choice),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Box<Parallel>),
    Map(Box<MapState>),
}

impl StateKind {
    /// The `Type` as written, which also prefixes history event types (`PassStateEntered`).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass(_) => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub result: Option<Value>,
    pub parameters: Option<Template>,
    pub result_path: ResultPath,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub resource: String,
    pub parameters: Option<Template>,
    /// JSONata's `Arguments`: the task's input. Absent: the state's input.
    pub arguments: Option<JsonataTemplate>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub timeout_seconds: Option<Dynamic<u64>>,
    pub heartbeat_seconds: Option<Dynamic<u64>>,
    pub credentials: Option<Payload>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub rules: Vec<ChoiceBranch>,
    pub default: Option<StateId>,
}

/// One member of `Choices`: its test, where it leads, and what it assigns and outputs when it
/// is the one taken (the state's own `Assign`/`Output` apply only to `Default`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    pub test: ChoiceTest,
    pub next: StateId,
    pub assign: Option<Assign>,
    pub output: Option<JsonataTemplate>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChoiceTest {
    /// A JSONPath rule (`Variable` and an operator, or `And`/`Or`/`Not`).
    Rule(Condition),
    /// A JSONata `Condition` written as `true` or `false`.
    Constant(bool),
    /// A JSONata `Condition` expression; it must produce a boolean.
    Jsonata(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    Timestamp(timestamp::Millis),
    SecondsPath(PathRef),
    TimestampPath(PathRef),
    /// JSONata's `Seconds` as an expression.
    SecondsJsonata(Box<Expression>),
    /// JSONata's `Timestamp` as an expression.
    TimestampJsonata(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub wait_for: WaitFor,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FailField {
    Literal(String),
    Dynamic(DynamicValue),
    /// A JSONata state's `{% %}` `Error` or `Cause`.
    Jsonata(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub error: Option<FailField>,
    pub cause: Option<FailField>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<GraphId>,
    pub parameters: Option<Template>,
    /// JSONata's `Arguments`: every branch's input. Absent: the state's input.
    pub arguments: Option<JsonataTemplate>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    pub processor: GraphId,
    /// DISTRIBUTED processing: each item is a child workflow; the parent history shows a Map Run.
    pub distributed: bool,
    pub items_path: Option<PathRef>,
    /// JSONata's `Items`; absent: the state's input, which must be an array.
    pub items: Option<JsonataTemplate>,
    pub item_selector: Option<Payload>,
    pub max_concurrency: Dynamic<u64>,
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: StateId,
    pub result_path: ResultPath,
    pub assign: Option<Assign>,
    /// JSONata's `Output` (from `$states.errorOutput`); absent: the error output.
    pub output: Option<JsonataTemplate>,
}

impl Definition {
    /// Parse JSON (or YAML, as AWS tooling accepts) definition text.
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(json_err) => {
                let trimmed = text.trim_start();
                if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    return Err(DefinitionError::one(
                        Code::InvalidJsonDescription,
                        format!("The definition is not valid JSON: {json_err}"),
                        "",
                    ));
                }
                serde_yaml::from_str(text).map_err(|e| {
                    DefinitionError::one(
                        Code::InvalidJsonDescription,
                        format!("The definition is neither valid JSON nor valid YAML: {e}"),
                        "",
                    )
                })?
            }
        };
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Self, DefinitionError> {
        let mut parser = Parser::default();
        let def = parser.definition(value);
        if parser.problems.is_empty() {
            Ok(def)
        } else {
            Err(DefinitionError { problems: parser.problems })
        }
    }

    pub fn graph(&self, id: GraphId) -> &Graph {
        &self.graphs[id]
    }

    pub fn state(&self, graph: GraphId, state: StateId) -> &State {
        &self.graphs[graph].states[state]
    }
}

#[derive(Default)]
struct Parser {
    problems: Vec<DefinitionProblem>,
    graphs: Vec<Graph>,
    all_names: HashSet<String>,
    /// The definition's `QueryLanguage`.
    top_language: QueryLanguage,
    /// The language of states without their own `QueryLanguage` in the block being parsed.
    language: QueryLanguage,
}

const TOP_FIELDS: &[&str] = &["Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"];

impl Parser {
    fn problem(&mut self, code: Code, message: impl Into<String>, location: impl Into<String>) {
        self.problems.push(DefinitionProblem { code, message: message.into(), location: location.into() });
    }

    fn definition(&mut self, value: &Value) -> Definition {
        let Some(obj) = value.as_object() else {
            self.problem(Code::SchemaValidationFailed, "The definition must be a JSON object", "");
            return Definition { comment: None, timeout_seconds: None, graphs: Vec::new() };
        };
        for key in obj.keys() {
            if !TOP_FIELDS.contains(&key.as_str()) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The field '{key}' is not supported by Step Functions"),
                    format!("/{}", escape_pointer(key)),
                );
            }
        }
        let comment = self.opt_string(obj, "Comment", "");
        let timeout_seconds = self.opt_positive_int(obj, "TimeoutSeconds", "");
        if let Some(v) = obj.get("Version") {
            if v.as_str() != Some("1.0") {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Version' must be '1.0'",
                    "/Version",
                );
            }
        }
        self.top_language = self.query_language(obj, "").unwrap_or_default();
        self.language = self.top_language;
        self.graphs.push(Graph { start_at: 0, states: Vec::new(), pointer: "/States".into() });
        self.graph_into(0, obj, "");
        Definition { comment, timeout_seconds, graphs: std::mem::take(&mut self.graphs) }
    }

    fn query_language(&mut self, obj: &Map<String, Value>, at: &str) -> Option<QueryLanguage> {
        match obj.get("QueryLanguage") {
            None => None,
            Some(Value::String(s)) if s == "JSONPath" => Some(QueryLanguage::JsonPath),
            Some(Value::String(s)) if s == "JSONata" => Some(QueryLanguage::Jsonata),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]",
                    format!("{at}/QueryLanguage"),
                );
                None
            }
        }
    }

    /// Fill graph `id` from a `{StartAt, States}` object at pointer `at`.
    fn graph_into(&mut self, id: GraphId, obj: &Map<String, Value>, at: &str) {
        let states_at = format!("{at}/States");
        self.graphs[id].pointer = states_at.clone();
        let Some(states) = obj.get("States").and_then(Value::as_object) else {
            self.problem(
                Code::SchemaValidationFailed,
                "The field 'States' is required and must be an object",
                at.to_owned(),
            );
            return;
        };
        if states.is_empty() {
            self.problem(
                Code::SchemaValidationFailed,
                "The field 'States' must contain at least one state",
                states_at.clone(),
            );
        }
        // Names first: transitions are resolved to indices within this block.
        let mut index = HashMap::new();
        for (i, name) in states.keys().enumerate() {
            index.insert(name.clone(), i);
            if name.is_empty() || name.chars().count() > 80 {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The state name '{name}' must be 1 to 80 characters long"),
                    format!("{states_at}/{}", escape_pointer(name)),
                );
            }
            if !self.all_names.insert(name.clone()) {
                self.problem(
                    Code::DuplicateStateName,
                    format!("Duplicate State name: {name}"),
                    format!("{states_at}/{}", escape_pointer(name)),
                );
            }
        }
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => match index.get(s) {
                Some(&i) => i,
                None => {
                    self.problem(
                        Code::MissingTransitionTarget,
                        format!("Missing 'Next' target: {s}"),
                        format!("{at}/StartAt"),
                    );
                    0
                }
            },
            _ => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'StartAt' is required and must be a STRING",
                    format!("{at}/StartAt"),
                );
                0
            }
        };
        let mut parsed = Vec::with_capacity(states.len());
        for (name, body) in states {
            let loc = format!("{states_at}/{}", escape_pointer(name));
            parsed.push(self.state(name, body, &loc, &index));
        }
        self.graphs[id].start_at = start_at;
        self.graphs[id].states = parsed;
        if self.problems.is_empty() {
            self.check_reachability(id);
        }
    }

    fn check_reachability(&mut self, id: GraphId) {
        let graph = &self.graphs[id];
        let n = graph.states.len();
        let mut seen = vec![false; n];
        let mut stack = vec![graph.start_at];
        while let Some(s) = stack.pop() {
            if s >= n || seen[s] {
                continue;
            }
            seen[s] = true;
            stack.extend(successors(&graph.states[s].kind));
        }
        let mut problems = Vec::new();
        for (i, state) in graph.states.iter().enumerate() {
            if !seen[i] {
                problems.push(DefinitionProblem {
                    code: Code::UnreachableState,
                    message: format!("State '{}' is not reachable", state.name),
                    location: format!("{}/{}", graph.pointer, escape_pointer(&state.name)),
                });
            }
        }
        let has_terminal = graph.states.iter().any(|s| {
            matches!(s.kind, StateKind::Succeed | StateKind::Fail(_)) || transition_of(&s.kind) == Some(Transition::End)
        });
        if !has_terminal && n > 0 {
            problems.push(DefinitionProblem {
                code: Code::NoTerminalState,
                message: "No terminal state found in the state machine".into(),
                location: graph.pointer.clone(),
            });
        }
        self.problems.extend(problems);
    }

    fn state(&mut self, name: &str, body: &Value, at: &str, index: &HashMap<String, StateId>) -> State {
        let placeholder = State {
            name: name.to_owned(),
            kind: StateKind::Succeed,
            input_path: DataPath::Whole,
            output_path: DataPath::Whole,
            query_language: self.language,
            assign: None,
            output: None,
        };
        let Some(obj) = body.as_object() else {
            self.problem(Code::SchemaValidationFailed, "A state must be a JSON object", at.to_owned());
            return placeholder;
        };
        let ty = match obj.get("Type") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Type' must be a STRING",
                    format!("{at}/Type"),
                );
                return placeholder;
            }
            None => {
                self.problem(Code::SchemaValidationFailed, "The field 'Type' should be non-null", format!("{at}/Type"));
                return placeholder;
            }
        };
        let Some((path_fields, jsonata_fields)) = state_fields(ty) else {
            self.problem(
                Code::SchemaValidationFailed,
                format!("The value for the field 'Type' must be one of [Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map], not '{ty}'"),
                format!("{at}/Type"),
            );
            return placeholder;
        };
        let own = if obj.contains_key("QueryLanguage") { self.query_language(obj, at) } else { None };
        if own == Some(QueryLanguage::JsonPath) && self.top_language == QueryLanguage::Jsonata {
            self.problem(
                Code::SchemaValidationFailed,
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                at.to_owned(),
            );
        }
        let language = own.unwrap_or(self.language);
        let jsonata = language == QueryLanguage::Jsonata;
        let (allowed, other, mode, other_mode) = if jsonata {
            (jsonata_fields, path_fields, "JSONata", "JSONPath")
        } else {
            (path_fields, jsonata_fields, "JSONPath", "JSONata")
        };
        for key in obj.keys() {
            if key == "Type" || key == "Comment" || key == "QueryLanguage" || allowed.contains(&key.as_str()) {
                continue;
            }
            let message = if other.contains(&key.as_str()) {
                format!("The field '{key}' is not supported in {mode} states; it is a {other_mode} field")
            } else {
                format!("The field '{key}' is not supported by Step Functions for the state type '{ty}'")
            };
            self.problem(Code::SchemaValidationFailed, message, format!("{at}/{}", escape_pointer(key)));
        }
        if obj.get("Comment").is_some_and(|c| !c.is_string()) {
            self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'Comment' must be a STRING",
                format!("{at}/Comment"),
            );
        }
        let (input_path, output_path) = if jsonata {
            (DataPath::Whole, DataPath::Whole)
        } else {
            (self.data_path(obj, "InputPath", at), self.data_path(obj, "OutputPath", at))
        };
        let kind = match ty {
            "Pass" => StateKind::Pass(Pass {
                result: if jsonata { None } else { obj.get("Result").cloned() },
                parameters: if jsonata { None } else { self.template(obj, "Parameters", at) },
                result_path: if jsonata { ResultPath::Replace } else { self.result_path(obj, "ResultPath", at) },
                transition: self.transition(obj, at, index),
            }),
            "Task" => StateKind::Task(Box::new(self.task(obj, at, index, jsonata))),
            "Choice" => StateKind::Choice(self.choice(obj, at, index, jsonata)),
            "Wait" => StateKind::Wait(self.wait(obj, at, index, jsonata)),
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(Fail {
                error: self.fail_field(obj, "Error", "ErrorPath", at, jsonata),
                cause: self.fail_field(obj, "Cause", "CausePath", at, jsonata),
            }),
            "Parallel" => StateKind::Parallel(Box::new(self.parallel(obj, at, index, jsonata))),
            _ => StateKind::Map(Box::new(self.map(obj, at, index, jsonata))),
        };
        let reads_result = matches!(ty, "Task" | "Parallel" | "Map");
        let after = if reads_result { WITH_RESULT } else { INPUT_CONTEXT };
        let output = match obj.get("Output") {
            Some(v) if jsonata => Some(self.jsonata_template(v, &format!("{at}/Output"), "Output", after)),
            _ => None,
        };
        let assign = self.assign(obj, at, jsonata, after);
        State { name: name.to_owned(), kind, input_path, output_path, query_language: language, assign, output }
    }

    fn task(&mut self, obj: &Map<String, Value>, at: &str, index: &HashMap<String, StateId>, jsonata: bool) -> Task {
        let resource = match obj.get("Resource") {
            Some(Value::String(r)) => {
                if !r.starts_with("arn:") {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field 'Resource' must be an ARN, not '{r}'"),
                        format!("{at}/Resource"),
                    );
                }
                r.clone()
            }
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Resource' must be a STRING",
                    format!("{at}/Resource"),
                );
                String::new()
            }
            None => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'Resource' should be non-null",
                    format!("{at}/Resource"),
                );
                String::new()
            }
        };
        let positive = |v: &Value| v.as_u64().filter(|n| *n > 0 && *n <= 99_999_999);
        let (timeout_seconds, heartbeat_seconds) = if jsonata {
            (
                self.jsonata_dynamic(obj, "TimeoutSeconds", at, positive, "a positive INTEGER"),
                self.jsonata_dynamic(obj, "HeartbeatSeconds", at, positive, "a positive INTEGER"),
            )
        } else {
            (self.dynamic_int(obj, "TimeoutSeconds", at), self.dynamic_int(obj, "HeartbeatSeconds", at))
        };
        if let (Some(Dynamic::Fixed(t)), Some(Dynamic::Fixed(h))) = (&timeout_seconds, &heartbeat_seconds) {
            if h >= t {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'HeartbeatSeconds' must be smaller than the value for the field 'TimeoutSeconds'",
                    format!("{at}/HeartbeatSeconds"),
                );
            }
        }
        let credentials = match obj.get("Credentials") {
            None => None,
            Some(v) if jsonata => Some(Payload::Jsonata(self.jsonata_template(
                v,
                &format!("{at}/Credentials"),
                "Credentials",
                INPUT_CONTEXT,
            ))),
            Some(_) => self.template(obj, "Credentials", at).map(Payload::Path),
        };
        Task {
            resource,
            parameters: if jsonata { None } else { self.template(obj, "Parameters", at) },
            arguments: self.arguments(obj, at, jsonata),
            result_selector: if jsonata { None } else { self.template(obj, "ResultSelector", at) },
            result_path: if jsonata { ResultPath::Replace } else { self.result_path(obj, "ResultPath", at) },
            timeout_seconds,
            heartbeat_seconds,
            credentials,
            retry: self.retriers(obj, at),
            catch: self.catchers(obj, at, index, jsonata),
            transition: self.transition(obj, at, index),
        }
    }

    /// JSONata's `Arguments`: it reads the input and the context only.
    fn arguments(&mut self, obj: &Map<String, Value>, at: &str, jsonata: bool) -> Option<JsonataTemplate> {
        let v = obj.get("Arguments").filter(|_| jsonata)?;
        Some(self.jsonata_template(v, &format!("{at}/Arguments"), "Arguments", INPUT_CONTEXT))
    }

    fn choice(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Choice {
        let mut rules = Vec::new();
        match obj.get("Choices") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("{at}/Choices/{i}");
                    let branch =
                        if jsonata { self.jsonata_rule(item, &loc, index) } else { self.path_rule(item, &loc, index) };
                    rules.extend(branch);
                }
            }
            _ => self.problem(
                Code::SchemaValidationFailed,
                "The field 'Choices' is required and must be a non-empty array",
                format!("{at}/Choices"),
            ),
        }
        let default = match obj.get("Default") {
            None => None,
            Some(Value::String(s)) => Some(self.target(s, &format!("{at}/Default"), index)),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Default' must be a STRING",
                    format!("{at}/Default"),
                );
                None
            }
        };
        Choice { rules, default }
    }

    fn path_rule(&mut self, item: &Value, loc: &str, index: &HashMap<String, StateId>) -> Option<ChoiceBranch> {
        match ChoiceRule::parse(item, loc) {
            Ok(rule) => {
                let next = self.target(&rule.next, &format!("{loc}/Next"), index);
                let assign = item.as_object().and_then(|r| self.assign(r, loc, false, INPUT_CONTEXT));
                Some(ChoiceBranch { test: ChoiceTest::Rule(rule.condition), next, assign, output: None })
            }
            Err(e) => {
                self.problems.extend(e.problems);
                None
            }
        }
    }

    fn jsonata_rule(&mut self, item: &Value, loc: &str, index: &HashMap<String, StateId>) -> Option<ChoiceBranch> {
        let Some(rule) = item.as_object() else {
            self.problem(Code::SchemaValidationFailed, "Expected value of type Object", loc.to_owned());
            return None;
        };
        for key in rule.keys() {
            if ["Condition", "Next", "Assign", "Output", "Comment"].contains(&key.as_str()) {
                continue;
            }
            let message = if key == "Variable" || key == "And" || key == "Or" || key == "Not" || is_choice_operator(key)
            {
                format!("Field '{key}' is only supported in JSONPath Choice states; JSONata rules use 'Condition'")
            } else {
                format!("Field '{key}' is not supported")
            };
            self.problem(Code::SchemaValidationFailed, message, loc.to_owned());
        }
        let cond_at = format!("{loc}/Condition");
        let test = match rule.get("Condition") {
            Some(Value::Bool(b)) => Some(ChoiceTest::Constant(*b)),
            Some(Value::String(s)) if expression_text(s).is_some() => self
                .jsonata_expression(s, &cond_at, "Condition", INPUT_CONTEXT)
                .map(|e| ChoiceTest::Jsonata(Box::new(e))),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Condition' must be a BOOLEAN or a JSONata expression",
                    cond_at,
                );
                None
            }
            None => {
                self.problem(Code::SchemaValidationFailed, "These fields are required: [Condition]", loc.to_owned());
                None
            }
        };
        let next = match rule.get("Next") {
            Some(Value::String(n)) => Some(self.target(n, &format!("{loc}/Next"), index)),
            _ => {
                self.problem(Code::SchemaValidationFailed, "These fields are required: [Next]", loc.to_owned());
                None
            }
        };
        let assign = self.assign(rule, loc, true, INPUT_CONTEXT);
        let output =
            rule.get("Output").map(|v| self.jsonata_template(v, &format!("{loc}/Output"), "Output", INPUT_CONTEXT));
        Some(ChoiceBranch { test: test?, next: next?, assign, output })
    }

    fn wait(&mut self, obj: &Map<String, Value>, at: &str, index: &HashMap<String, StateId>, jsonata: bool) -> Wait {
        let fields: &[&str] =
            if jsonata { &["Seconds", "Timestamp"] } else { &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"] };
        let present: Vec<&str> = fields.iter().copied().filter(|k| obj.contains_key(*k)).collect();
        let mut wait_for = WaitFor::Seconds(0);
        if present.len() != 1 {
            let message = if jsonata {
                "A Wait state must have exactly one of the fields 'Seconds' or 'Timestamp'"
            } else {
                "A Wait state must have exactly one of the fields 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'"
            };
            self.problem(Code::SchemaValidationFailed, message, at.to_owned());
        } else {
            let key = present[0];
            let loc = format!("{at}/{key}");
            let v = &obj[key];
            let expression = match v.as_str() {
                Some(text) if jsonata && expression_text(text).is_some() => Some(text),
                _ => None,
            };
            match (key, expression) {
                ("Seconds", Some(text)) => {
                    if let Some(e) = self.jsonata_expression(text, &loc, "Seconds", INPUT_CONTEXT) {
                        wait_for = WaitFor::SecondsJsonata(Box::new(e));
                    }
                }
                ("Timestamp", Some(text)) => {
                    if let Some(e) = self.jsonata_expression(text, &loc, "Timestamp", INPUT_CONTEXT) {
                        wait_for = WaitFor::TimestampJsonata(Box::new(e));
                    }
                }
                ("Seconds", None) => match v.as_u64() {
                    Some(s) if s <= 99_999_999 => wait_for = WaitFor::Seconds(s),
                    _ => self.problem(Code::SchemaValidationFailed, "The value for the field 'Seconds' must be a non-negative INTEGER", loc),
                },
                ("Timestamp", None) => match v.as_str().and_then(timestamp::parse) {
                    Some(t) => wait_for = WaitFor::Timestamp(t),
                    None => self.problem(
                        Code::SchemaValidationFailed,
                        "The value for the field 'Timestamp' must be a valid ISO-8601 extended offset date-time format string",
                        loc,
                    ),
                },
                ("SecondsPath", _) => {
                    if let Some(p) = self.reference_path_ref(v, &loc) {
                        wait_for = WaitFor::SecondsPath(p);
                    }
                }
                _ => {
                    if let Some(p) = self.reference_path_ref(v, &loc) {
                        wait_for = WaitFor::TimestampPath(p);
                    }
                }
            }
        }
        Wait { wait_for, transition: self.transition(obj, at, index) }
    }

    fn parallel(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Parallel {
        let mut branches = Vec::new();
        match obj.get("Branches") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("{at}/Branches/{i}");
                    branches.push(self.sub_graph(item, &loc));
                }
            }
            _ => self.problem(
                Code::SchemaValidationFailed,
                "The field 'Branches' is required and must be a non-empty array",
                format!("{at}/Branches"),
            ),
        }
        Parallel {
            branches,
            parameters: if jsonata { None } else { self.template(obj, "Parameters", at) },
            arguments: self.arguments(obj, at, jsonata),
            result_selector: if jsonata { None } else { self.template(obj, "ResultSelector", at) },
            result_path: if jsonata { ResultPath::Replace } else { self.result_path(obj, "ResultPath", at) },
            retry: self.retriers(obj, at),
            catch: self.catchers(obj, at, index, jsonata),
            transition: self.transition(obj, at, index),
        }
    }

    fn sub_graph(&mut self, value: &Value, at: &str) -> GraphId {
        let id = self.graphs.len();
        self.graphs.push(Graph { start_at: 0, states: Vec::new(), pointer: format!("{at}/States") });
        match value.as_object() {
            Some(obj) => {
                for key in obj.keys() {
                    if !["StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"].contains(&key.as_str()) {
                        self.problem(
                            Code::SchemaValidationFailed,
                            format!("The field '{key}' is not supported by Step Functions"),
                            format!("{at}/{}", escape_pointer(key)),
                        );
                    }
                }
                let outer = self.language;
                if let Some(language) = self.query_language(obj, at) {
                    self.language = language;
                }
                self.graph_into(id, obj, at);
                self.language = outer;
            }
            None => self.problem(
                Code::SchemaValidationFailed,
                "The value must be an object with 'StartAt' and 'States'",
                at.to_owned(),
            ),
        }
        id
    }

    fn map(&mut self, obj: &Map<String, Value>, at: &str, index: &HashMap<String, StateId>, jsonata: bool) -> MapState {
        let (proc_key, proc_value) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", Some(p)),
            (None, Some(p)) => ("Iterator", Some(p)),
            (Some(_), Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The fields 'ItemProcessor' and 'Iterator' cannot both be present",
                    at.to_owned(),
                );
                ("ItemProcessor", None)
            }
            (None, None) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'ItemProcessor' should be non-null",
                    format!("{at}/ItemProcessor"),
                );
                ("ItemProcessor", None)
            }
        };
        let proc_at = format!("{at}/{proc_key}");
        let mut distributed = false;
        if let Some(cfg) = proc_value.and_then(|p| p.get("ProcessorConfig")) {
            match cfg.get("Mode").and_then(Value::as_str) {
                None | Some("INLINE") => {}
                Some("DISTRIBUTED") => distributed = true,
                Some(other) => self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED], not '{other}'"),
                    format!("{proc_at}/ProcessorConfig/Mode"),
                ),
            }
        }
        let processor = match proc_value {
            Some(p) => self.sub_graph(p, &proc_at),
            None => 0,
        };
        let item_selector = if jsonata {
            obj.get("ItemSelector").map(|v| {
                Payload::Jsonata(self.jsonata_template(v, &format!("{at}/ItemSelector"), "ItemSelector", INPUT_CONTEXT))
            })
        } else {
            match (obj.get("ItemSelector"), obj.get("Parameters")) {
                (Some(_), Some(_)) => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The fields 'ItemSelector' and 'Parameters' cannot both be present",
                        at.to_owned(),
                    );
                    None
                }
                (Some(_), None) => self.template(obj, "ItemSelector", at).map(Payload::Path),
                (None, Some(_)) => self.template(obj, "Parameters", at).map(Payload::Path),
                (None, None) => None,
            }
        };
        let items_path = match obj.get("ItemsPath").filter(|_| !jsonata) {
            None => None,
            Some(v) => self.reference_path_ref(v, &format!("{at}/ItemsPath")),
        };
        let items = obj
            .get("Items")
            .filter(|_| jsonata)
            .map(|v| self.jsonata_template(v, &format!("{at}/Items"), "Items", INPUT_CONTEXT));
        if obj.contains_key("ItemReader") {
            self.problem(
                Code::SchemaValidationFailed,
                "ItemReader (reading items from S3) is not supported by this version of Baton",
                format!("{at}/ItemReader"),
            );
        }
        if obj.contains_key("ResultWriter") {
            self.problem(
                Code::SchemaValidationFailed,
                "ResultWriter (writing results to S3) is not supported by this version of Baton",
                format!("{at}/ResultWriter"),
            );
        }
        if obj.contains_key("ItemBatcher") {
            self.problem(
                Code::SchemaValidationFailed,
                "ItemBatcher is not supported by this version of Baton",
                format!("{at}/ItemBatcher"),
            );
        }
        let label = match obj.get("Label") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 40 && s.chars().all(label_char) => {
                Some(s.clone())
            }
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Label' must be a STRING of 1 to 40 characters, without whitespace, \
                     control characters or any of ? * < > { } [ ] : ; , \\ | ^ ~ $ # % & \" `",
                    format!("{at}/Label"),
                );
                None
            }
        };
        let (max_concurrency, tolerated_failure_count, tolerated_failure_percentage) = if jsonata {
            (
                self.jsonata_dynamic(obj, "MaxConcurrency", at, Value::as_u64, "a non-negative INTEGER"),
                self.jsonata_dynamic(obj, "ToleratedFailureCount", at, Value::as_u64, "a non-negative INTEGER"),
                self.jsonata_dynamic(obj, "ToleratedFailurePercentage", at, Value::as_f64, "a NUMBER"),
            )
        } else {
            (
                self.dynamic_int_allow_zero(obj, "MaxConcurrency", at),
                self.dynamic_int_allow_zero(obj, "ToleratedFailureCount", at),
                self.dynamic_number(obj, "ToleratedFailurePercentage", at),
            )
        };
        if let Some(Dynamic::Fixed(p)) = tolerated_failure_percentage {
            if !(0.0..=100.0).contains(&p) {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'ToleratedFailurePercentage' must be between 0 and 100",
                    format!("{at}/ToleratedFailurePercentage"),
                );
            }
        }
        MapState {
            processor,
            distributed,
            items_path,
            items,
            item_selector,
            max_concurrency: max_concurrency.unwrap_or(Dynamic::Fixed(0)),
            tolerated_failure_count,
            tolerated_failure_percentage,
            result_selector: if jsonata { None } else { self.template(obj, "ResultSelector", at) },
            result_path: if jsonata { ResultPath::Replace } else { self.result_path(obj, "ResultPath", at) },
            retry: self.retriers(obj, at),
            catch: self.catchers(obj, at, index, jsonata),
            transition: self.transition(obj, at, index),
            label,
        }
    }

    /// A JSONata field value: compiled, with each expression checked for what it may read.
    fn jsonata_template(&mut self, value: &Value, at: &str, field: &str, allowed: StatesRefs) -> JsonataTemplate {
        let mut problems = Vec::new();
        let template = JsonataTemplate::compile(value, at, &mut problems);
        for p in problems {
            self.problem(Code::SchemaValidationFailed, p.message, p.location);
        }
        for e in template.expressions() {
            self.check_states(e, at, field, allowed);
        }
        template
    }

    /// One `{% %}` string in a field that takes a single expression.
    fn jsonata_expression(&mut self, text: &str, at: &str, field: &str, allowed: StatesRefs) -> Option<Expression> {
        match self.jsonata_template(&Value::String(text.to_owned()), at, field, allowed) {
            JsonataTemplate::Expression(e) => Some(*e),
            _ => None,
        }
    }

    fn check_states(&mut self, e: &Expression, at: &str, field: &str, allowed: StatesRefs) {
        let used = e.states_refs();
        let misused =
            [(used.result && !allowed.result, "result"), (used.error_output && !allowed.error_output, "errorOutput")];
        for (bad, member) in misused {
            if bad {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!(
                        "The JSONata expression '{}' references '$states.{member}', which is not available in the field '{field}'",
                        e.as_str()
                    ),
                    at.to_owned(),
                );
            }
        }
    }

    /// A number field of a JSONata state: the number, or a `{% %}` expression.
    fn jsonata_dynamic<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: impl Fn(&Value) -> Option<T>,
        what: &str,
    ) -> Option<Dynamic<T>> {
        let v = obj.get(key)?;
        let loc = format!("{at}/{key}");
        if let Some(text) = v.as_str().filter(|t| expression_text(t).is_some()) {
            return self.jsonata_expression(text, &loc, key, INPUT_CONTEXT).map(|e| Dynamic::Jsonata(Box::new(e)));
        }
        match read(v) {
            Some(n) => Some(Dynamic::Fixed(n)),
            None => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be {what} or a JSONata expression"),
                    loc,
                );
                None
            }
        }
    }

    /// `Assign`: each key a variable name (with `.$` in JSONPath for a dynamic value).
    fn assign(&mut self, obj: &Map<String, Value>, at: &str, jsonata: bool, allowed: StatesRefs) -> Option<Assign> {
        let value = obj.get("Assign")?;
        let loc = format!("{at}/Assign");
        let Some(map) = value.as_object() else {
            self.problem(Code::SchemaValidationFailed, "The value for the field 'Assign' must be an OBJECT", loc);
            return None;
        };
        for key in map.keys() {
            let name = if jsonata { key.as_str() } else { key.strip_suffix(".$").unwrap_or(key) };
            if let Err(why) = check_variable_name(name) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The variable name '{name}' is not valid: {why}"),
                    format!("{loc}/{}", escape_pointer(key)),
                );
            }
        }
        Some(if jsonata {
            Assign::Jsonata(self.jsonata_template(value, &loc, "Assign", allowed))
        } else {
            Assign::Path(Template::compile(value, &loc, &mut self.problems))
        })
    }

    fn transition(&mut self, obj: &Map<String, Value>, at: &str, index: &HashMap<String, StateId>) -> Transition {
        match (obj.get("Next"), obj.get("End")) {
            (Some(_), Some(Value::Bool(true))) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The fields 'Next' and 'End' cannot both be present",
                    at.to_owned(),
                );
                Transition::End
            }
            (Some(Value::String(next)), _) => Transition::Next(self.target(next, &format!("{at}/Next"), index)),
            (Some(_), _) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Next' must be a STRING",
                    format!("{at}/Next"),
                );
                Transition::End
            }
            (None, Some(Value::Bool(true))) => Transition::End,
            (None, Some(Value::Bool(false))) | (None, None) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "This state must have either a 'Next' or an 'End' field",
                    at.to_owned(),
                );
                Transition::End
            }
            (None, Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'End' must be a BOOLEAN",
                    format!("{at}/End"),
                );
                Transition::End
            }
        }
    }

    fn target(&mut self, name: &str, at: &str, index: &HashMap<String, StateId>) -> StateId {
        match index.get(name) {
            Some(&i) => i,
            None => {
                self.problem(Code::MissingTransitionTarget, format!("Missing 'Next' target: {name}"), at.to_owned());
                0
            }
        }
    }

    fn opt_string(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<String> {
        match obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be a STRING"),
                    format!("{at}/{key}"),
                );
                None
            }
        }
    }

    fn opt_positive_int(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<u64> {
        match obj.get(key) {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 && n <= 99_999_999 => Some(n),
                _ => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field '{key}' must be a positive INTEGER (at most 99999999)"),
                        format!("{at}/{key}"),
                    );
                    None
                }
            },
        }
    }

    fn dynamic_int(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Dynamic<u64>> {
        self.dynamic_generic(obj, key, at, |v| v.as_u64().filter(|n| *n > 0 && *n <= 99_999_999), "a positive INTEGER")
    }

    fn dynamic_int_allow_zero(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Dynamic<u64>> {
        self.dynamic_generic(obj, key, at, |v| v.as_u64(), "a non-negative INTEGER")
    }

    fn dynamic_number(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Dynamic<f64>> {
        self.dynamic_generic(obj, key, at, |v| v.as_f64(), "a NUMBER")
    }

    fn dynamic_generic<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: impl Fn(&Value) -> Option<T>,
        what: &str,
    ) -> Option<Dynamic<T>> {
        let path_key = format!("{key}Path");
        match (obj.get(key), obj.get(&path_key)) {
            (Some(_), Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The fields '{key}' and '{path_key}' cannot both be present"),
                    at.to_owned(),
                );
                None
            }
            (Some(v), None) => match read(v) {
                Some(n) => Some(Dynamic::Fixed(n)),
                None => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field '{key}' must be {what}"),
                        format!("{at}/{key}"),
                    );
                    None
                }
            },
            (None, Some(v)) => self.reference_path_ref(v, &format!("{at}/{path_key}")).map(Dynamic::Path),
            (None, None) => None,
        }
    }

    fn reference_path_ref(&mut self, v: &Value, at: &str) -> Option<PathRef> {
        let field = at.rsplit('/').next().unwrap_or(at).to_owned();
        let Some(text) = v.as_str() else {
            self.problem(
                Code::SchemaValidationFailed,
                format!("The value for the field '{field}' must be a STRING"),
                at.to_owned(),
            );
            return None;
        };
        match PathRef::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problem(
                    Code::InvalidReferencePath,
                    format!("The value for the field '{field}' must be a valid JSONPath: {e}"),
                    at.to_owned(),
                );
                None
            }
        }
    }

    fn data_path(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> DataPath {
        match obj.get(key) {
            None => DataPath::Whole,
            Some(Value::Null) => DataPath::Empty,
            Some(Value::String(s)) => match PathRef::parse(s) {
                Ok(p) => DataPath::Path(p),
                Err(e) => {
                    self.problem(
                        Code::InvalidJsonPath,
                        format!("The value for the field '{key}' must be a valid JSONPath: {e}"),
                        format!("{at}/{key}"),
                    );
                    DataPath::Whole
                }
            },
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be a STRING"),
                    format!("{at}/{key}"),
                );
                DataPath::Whole
            }
        }
    }

    fn result_path(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> ResultPath {
        match obj.get(key) {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(Value::String(s)) => match ReferencePath::parse(s) {
                Ok(p) if p.is_root() => ResultPath::Replace,
                Ok(p) => ResultPath::Path(p),
                Err(e) => {
                    self.problem(
                        Code::InvalidReferencePath,
                        format!("The value for the field '{key}' must be a valid ReferencePath: {e}"),
                        format!("{at}/{key}"),
                    );
                    ResultPath::Replace
                }
            },
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be a STRING"),
                    format!("{at}/{key}"),
                );
                ResultPath::Replace
            }
        }
    }

    fn template(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Template> {
        let v = obj.get(key)?;
        Some(Template::compile(v, &format!("{at}/{key}"), &mut self.problems))
    }

    fn fail_field(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path_key: &str,
        at: &str,
        jsonata: bool,
    ) -> Option<FailField> {
        if jsonata {
            return match obj.get(key)? {
                Value::String(s) if expression_text(s).is_some() => self
                    .jsonata_expression(s, &format!("{at}/{key}"), key, INPUT_CONTEXT)
                    .map(|e| FailField::Jsonata(Box::new(e))),
                Value::String(s) => Some(FailField::Literal(s.clone())),
                _ => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field '{key}' must be a STRING"),
                        format!("{at}/{key}"),
                    );
                    None
                }
            };
        }
        match (obj.get(key), obj.get(path_key)) {
            (Some(_), Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The fields '{key}' and '{path_key}' cannot both be present"),
                    at.to_owned(),
                );
                None
            }
            (Some(Value::String(s)), None) => Some(FailField::Literal(s.clone())),
            (Some(_), None) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be a STRING"),
                    format!("{at}/{key}"),
                );
                None
            }
            (None, Some(Value::String(s))) => match DynamicValue::compile(s, &format!("{at}/{path_key}")) {
                Ok(d) => Some(FailField::Dynamic(d)),
                Err(p) => {
                    self.problems.push(p);
                    None
                }
            },
            (None, Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{path_key}' must be a STRING"),
                    format!("{at}/{path_key}"),
                );
                None
            }
            (None, None) => None,
        }
    }

    fn error_equals(&mut self, obj: &Map<String, Value>, at: &str) -> Vec<String> {
        match obj.get("ErrorEquals") {
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push(s.to_owned()),
                        None => self.problem(
                            Code::SchemaValidationFailed,
                            "The values of the field 'ErrorEquals' must be STRINGs",
                            format!("{at}/ErrorEquals/{i}"),
                        ),
                    }
                }
                if out.iter().any(|e| e == crate::error::names::ALL) && out.len() > 1 {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "'States.ALL' must appear alone in 'ErrorEquals'",
                        format!("{at}/ErrorEquals"),
                    );
                }
                out
            }
            _ => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'ErrorEquals' is required and must be a non-empty array",
                    format!("{at}/ErrorEquals"),
                );
                Vec::new()
            }
        }
    }

    fn retriers(&mut self, obj: &Map<String, Value>, at: &str) -> Vec<Retrier> {
        let Some(v) = obj.get("Retry") else { return Vec::new() };
        let Some(items) = v.as_array() else {
            self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'Retry' must be an array",
                format!("{at}/Retry"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let loc = format!("{at}/Retry/{i}");
            let Some(r) = item.as_object() else {
                self.problem(Code::SchemaValidationFailed, "A retrier must be an object", loc);
                continue;
            };
            for key in r.keys() {
                if ![
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ]
                .contains(&key.as_str())
                {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The field '{key}' is not supported by Step Functions"),
                        format!("{loc}/{}", escape_pointer(key)),
                    );
                }
            }
            let error_equals = self.error_equals(r, &loc);
            let interval_seconds = match r.get("IntervalSeconds") {
                None => 1,
                Some(v) => match v.as_u64() {
                    Some(n) if (1..=99_999_999).contains(&n) => n,
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'IntervalSeconds' must be an INTEGER from 1 to 99999999",
                            format!("{loc}/IntervalSeconds"),
                        );
                        1
                    }
                },
            };
            let max_attempts = match r.get("MaxAttempts") {
                None => 3,
                Some(v) => match v.as_u64() {
                    Some(n) if n <= 99_999_999 => n,
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'MaxAttempts' must be an INTEGER from 0 to 99999999",
                            format!("{loc}/MaxAttempts"),
                        );
                        3
                    }
                },
            };
            let backoff_rate = match r.get("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(n) if n >= 1.0 => n,
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'BackoffRate' must be a NUMBER of at least 1.0",
                            format!("{loc}/BackoffRate"),
                        );
                        2.0
                    }
                },
            };
            let max_delay_seconds = match r.get("MaxDelaySeconds") {
                None => None,
                Some(v) => match v.as_u64() {
                    Some(n) if n > 0 && n < 31_622_401 => Some(n),
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'MaxDelaySeconds' must be an INTEGER from 1 to 31622400",
                            format!("{loc}/MaxDelaySeconds"),
                        );
                        None
                    }
                },
            };
            let jitter = match r.get("JitterStrategy") {
                None => Jitter::None,
                Some(Value::String(s)) if s == "NONE" => Jitter::None,
                Some(Value::String(s)) if s == "FULL" => Jitter::Full,
                Some(_) => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The value for the field 'JitterStrategy' must be one of [FULL, NONE]",
                        format!("{loc}/JitterStrategy"),
                    );
                    Jitter::None
                }
            };
            out.push(Retrier { error_equals, interval_seconds, max_attempts, backoff_rate, max_delay_seconds, jitter });
        }
        self.check_all_last(out.iter().map(|r| &r.error_equals), &format!("{at}/Retry"));
        out
    }

    fn catchers(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Vec<Catcher> {
        let Some(v) = obj.get("Catch") else { return Vec::new() };
        let Some(items) = v.as_array() else {
            self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'Catch' must be an array",
                format!("{at}/Catch"),
            );
            return Vec::new();
        };
        let allowed: &[&str] = if jsonata {
            &["ErrorEquals", "Next", "Output", "Assign", "Comment"]
        } else {
            &["ErrorEquals", "Next", "ResultPath", "Assign", "Comment"]
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let loc = format!("{at}/Catch/{i}");
            let Some(c) = item.as_object() else {
                self.problem(Code::SchemaValidationFailed, "A catcher must be an object", loc);
                continue;
            };
            for key in c.keys() {
                if !allowed.contains(&key.as_str()) {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The field '{key}' is not supported by Step Functions"),
                        format!("{loc}/{}", escape_pointer(key)),
                    );
                }
            }
            let error_equals = self.error_equals(c, &loc);
            let next = match c.get("Next") {
                Some(Value::String(n)) => self.target(n, &format!("{loc}/Next"), index),
                _ => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The field 'Next' is required and must be a STRING",
                        format!("{loc}/Next"),
                    );
                    0
                }
            };
            let result_path = if jsonata { ResultPath::Replace } else { self.result_path(c, "ResultPath", &loc) };
            let assign = self.assign(c, &loc, jsonata, WITH_ERROR_OUTPUT);
            let output = match c.get("Output") {
                Some(v) if jsonata => {
                    Some(self.jsonata_template(v, &format!("{loc}/Output"), "Output", WITH_ERROR_OUTPUT))
                }
                _ => None,
            };
            out.push(Catcher { error_equals, next, result_path, assign, output });
        }
        self.check_all_last(out.iter().map(|c| &c.error_equals), &format!("{at}/Catch"));
        out
    }

    fn check_all_last<'a>(&mut self, lists: impl Iterator<Item = &'a Vec<String>>, at: &str) {
        let lists: Vec<_> = lists.collect();
        for (i, list) in lists.iter().enumerate() {
            if list.iter().any(|e| e == crate::error::names::ALL) && i + 1 != lists.len() {
                self.problem(
                    Code::SchemaValidationFailed,
                    "'States.ALL' must appear only in the last retrier or catcher",
                    format!("{at}/{i}/ErrorEquals"),
                );
            }
        }
    }
}

/// What JSONata expressions in most fields may read of `$states`.
const INPUT_CONTEXT: StatesRefs = StatesRefs { input: true, result: false, error_output: false, context: true };
/// `Output` and `Assign` of Task, Parallel and Map also read the result.
const WITH_RESULT: StatesRefs = StatesRefs { input: true, result: true, error_output: false, context: true };
/// A catcher's `Output` and `Assign` read the error output instead.
const WITH_ERROR_OUTPUT: StatesRefs = StatesRefs { input: true, result: false, error_output: true, context: true };

/// The fields a state type accepts: (in JSONPath states, in JSONata states), besides `Type`,
/// `Comment` and `QueryLanguage`. `None` for an unknown type.
fn state_fields(ty: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match ty {
        "Pass" => (
            &["InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "Next", "End", "Assign"],
            &["Output", "Next", "End", "Assign"],
        ),
        "Task" => (
            &[
                "Resource",
                "InputPath",
                "OutputPath",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Credentials",
                "Next",
                "End",
                "Assign",
            ],
            &[
                "Resource",
                "Arguments",
                "Output",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "HeartbeatSeconds",
                "Credentials",
                "Next",
                "End",
                "Assign",
            ],
        ),
        "Choice" => {
            (&["Choices", "Default", "InputPath", "OutputPath", "Assign"], &["Choices", "Default", "Output", "Assign"])
        }
        "Wait" => (
            &[
                "Seconds",
                "Timestamp",
                "SecondsPath",
                "TimestampPath",
                "InputPath",
                "OutputPath",
                "Next",
                "End",
                "Assign",
            ],
            &["Seconds", "Timestamp", "Output", "Next", "End", "Assign"],
        ),
        "Succeed" => (&["InputPath", "OutputPath"], &["Output"]),
        "Fail" => (&["Error", "Cause", "ErrorPath", "CausePath"], &["Error", "Cause"]),
        "Parallel" => (
            &[
                "Branches",
                "InputPath",
                "OutputPath",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "Next",
                "End",
                "Assign",
            ],
            &["Branches", "Arguments", "Output", "Retry", "Catch", "Next", "End", "Assign"],
        ),
        "Map" => (
            &[
                "ItemProcessor",
                "Iterator",
                "ItemsPath",
                "ItemSelector",
                "Parameters",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "Label",
                "InputPath",
                "OutputPath",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "Next",
                "End",
                "Assign",
            ],
            &[
                "ItemProcessor",
                "Iterator",
                "Items",
                "ItemSelector",
                "MaxConcurrency",
                "ToleratedFailureCount",
                "ToleratedFailurePercentage",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "Label",
                "Output",
                "Retry",
                "Catch",
                "Next",
                "End",
                "Assign",
            ],
        ),
        _ => return None,
    })
}

/// A JSONPath Choice operator's field name (`StringEquals`, `NumericLessThanPath`, `IsNull`).
fn is_choice_operator(key: &str) -> bool {
    ["String", "Numeric", "Boolean", "Timestamp", "Is"].iter().any(|p| key.starts_with(p))
}

/// The longest variable name AWS accepts.
pub const MAX_VARIABLE_NAME_CHARS: usize = 80;

/// A variable name: an identifier (Unicode letters, digits and `_`, not starting with a digit)
/// of at most 80 characters, other than the reserved `states`. Dots are not allowed: `Assign`
/// sets whole variables, never a part of one.
pub fn check_variable_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return Err("a name must not be empty") };
    if name.chars().count() > MAX_VARIABLE_NAME_CHARS {
        return Err("a name has at most 80 characters");
    }
    if name == "states" {
        return Err("'states' is reserved");
    }
    if !(first.is_alphabetic() || first == '_') || !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return Err("a name is a letter or '_' followed by letters, digits or '_'");
    }
    Ok(())
}

/// Which variables each state reads, by state name, each list sorted (DescribeStateMachine's
/// `variableReferences`). States that read none are absent.
pub fn variable_references(def: &Definition) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for graph in &def.graphs {
        for state in &graph.states {
            let mut names = std::collections::BTreeSet::new();
            state_variables(state, &mut names);
            if !names.is_empty() {
                out.insert(state.name.clone(), names.into_iter().collect());
            }
        }
    }
    out
}

fn state_variables(state: &State, names: &mut std::collections::BTreeSet<String>) {
    let mut path = |p: &PathRef| {
        if let PathRef::Variable { name, .. } = p {
            names.insert(name.clone());
        }
    };
    let mut paths: Vec<&PathRef> = Vec::new();
    let mut templates: Vec<&JsonataTemplate> = Vec::new();
    let mut expressions: Vec<&Expression> = Vec::new();
    for p in [&state.input_path, &state.output_path] {
        if let DataPath::Path(p) = p {
            paths.push(p);
        }
    }
    fn assign<'a>(a: &'a Option<Assign>, paths: &mut Vec<&'a PathRef>, templates: &mut Vec<&'a JsonataTemplate>) {
        match a {
            Some(Assign::Path(t)) => paths.extend(t.paths()),
            Some(Assign::Jsonata(t)) => templates.push(t),
            None => {}
        }
    }
    fn payload<'a>(p: &'a Option<Payload>, paths: &mut Vec<&'a PathRef>, templates: &mut Vec<&'a JsonataTemplate>) {
        match p {
            Some(Payload::Path(t)) => paths.extend(t.paths()),
            Some(Payload::Jsonata(t)) => templates.push(t),
            None => {}
        }
    }
    fn dynamic<'a, T>(d: Option<&'a Dynamic<T>>, paths: &mut Vec<&'a PathRef>, expressions: &mut Vec<&'a Expression>) {
        match d {
            Some(Dynamic::Path(p)) => paths.push(p),
            Some(Dynamic::Jsonata(e)) => expressions.push(e),
            _ => {}
        }
    }
    assign(&state.assign, &mut paths, &mut templates);
    templates.extend(state.output.as_ref());
    let mut catchers: &[Catcher] = &[];
    match &state.kind {
        StateKind::Pass(p) => paths.extend(p.parameters.iter().flat_map(Template::paths)),
        StateKind::Task(t) => {
            paths.extend(t.parameters.iter().flat_map(Template::paths));
            paths.extend(t.result_selector.iter().flat_map(Template::paths));
            templates.extend(t.arguments.as_ref());
            payload(&t.credentials, &mut paths, &mut templates);
            dynamic(t.timeout_seconds.as_ref(), &mut paths, &mut expressions);
            dynamic(t.heartbeat_seconds.as_ref(), &mut paths, &mut expressions);
            catchers = &t.catch;
        }
        StateKind::Choice(c) => {
            for branch in &c.rules {
                match &branch.test {
                    ChoiceTest::Rule(cond) => paths.extend(cond.paths()),
                    ChoiceTest::Jsonata(e) => expressions.push(e),
                    ChoiceTest::Constant(_) => {}
                }
                assign(&branch.assign, &mut paths, &mut templates);
                templates.extend(branch.output.as_ref());
            }
        }
        StateKind::Wait(w) => match &w.wait_for {
            WaitFor::SecondsPath(p) | WaitFor::TimestampPath(p) => paths.push(p),
            WaitFor::SecondsJsonata(e) | WaitFor::TimestampJsonata(e) => expressions.push(e),
            WaitFor::Seconds(_) | WaitFor::Timestamp(_) => {}
        },
        StateKind::Succeed => {}
        StateKind::Fail(f) => {
            for field in [&f.error, &f.cause].into_iter().flatten() {
                match field {
                    FailField::Dynamic(d) => paths.extend(d.paths()),
                    FailField::Jsonata(e) => expressions.push(e),
                    FailField::Literal(_) => {}
                }
            }
        }
        StateKind::Parallel(p) => {
            paths.extend(p.parameters.iter().flat_map(Template::paths));
            paths.extend(p.result_selector.iter().flat_map(Template::paths));
            templates.extend(p.arguments.as_ref());
            catchers = &p.catch;
        }
        StateKind::Map(m) => {
            paths.extend(m.items_path.iter());
            templates.extend(m.items.as_ref());
            payload(&m.item_selector, &mut paths, &mut templates);
            dynamic(Some(&m.max_concurrency), &mut paths, &mut expressions);
            dynamic(m.tolerated_failure_count.as_ref(), &mut paths, &mut expressions);
            dynamic(m.tolerated_failure_percentage.as_ref(), &mut paths, &mut expressions);
            paths.extend(m.result_selector.iter().flat_map(Template::paths));
            catchers = &m.catch;
        }
    }
    for c in catchers {
        assign(&c.assign, &mut paths, &mut templates);
        templates.extend(c.output.as_ref());
    }
    paths.into_iter().for_each(&mut path);
    expressions.extend(templates.into_iter().flat_map(JsonataTemplate::expressions));
    for e in expressions {
        names.extend(e.variables().map(str::to_owned));
    }
}

/// The states a state can lead to (for reachability).
fn successors(kind: &StateKind) -> Vec<StateId> {
    let mut out = Vec::new();
    if let Some(Transition::Next(n)) = transition_of(kind) {
        out.push(n);
    }
    match kind {
        StateKind::Choice(c) => {
            out.extend(c.rules.iter().map(|b| b.next));
            out.extend(c.default);
        }
        StateKind::Task(t) => out.extend(t.catch.iter().map(|c| c.next)),
        StateKind::Parallel(p) => out.extend(p.catch.iter().map(|c| c.next)),
        StateKind::Map(m) => out.extend(m.catch.iter().map(|c| c.next)),
        _ => {}
    }
    out
}

pub fn transition_of(kind: &StateKind) -> Option<Transition> {
    match kind {
        StateKind::Pass(p) => Some(p.transition),
        StateKind::Task(t) => Some(t.transition),
        StateKind::Wait(w) => Some(w.transition),
        StateKind::Parallel(p) => Some(p.transition),
        StateKind::Map(m) => Some(m.transition),
        StateKind::Choice(_) | StateKind::Succeed | StateKind::Fail(_) => None,
    }
}

/// A character a Map `Label` may hold: AWS's name rules (it appears in Map Run ARNs).
fn label_char(c: char) -> bool {
    let code = c as u32;
    !(c.is_whitespace()
        || "?*<>{}[]:;,\\|^~$#%&\"`".contains(c)
        || code <= 0x1f
        || (0x7f..=0x9f).contains(&code)
        || code == 0xFFFE
        || code == 0xFFFF)
}

/// Tasks that wait for a token or an activity worker without `TimeoutSeconds` (or
/// `TimeoutSecondsPath`): AWS lets them wait a year. Returned as (JSON pointer, state name) for
/// ValidateStateMachineDefinition's warnings; works on any JSON, valid or not.
pub fn waits_without_timeout(definition: &Value) -> Vec<(String, String)> {
    fn walk(graph: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
        let Some(states) = graph.get("States").and_then(Value::as_object) else { return };
        for (name, state) in states {
            let here = format!("{pointer}/States/{}", name.replace('~', "~0").replace('/', "~1"));
            let resource = state.get("Resource").and_then(Value::as_str).unwrap_or_default();
            let waits = state.get("Type").and_then(Value::as_str) == Some("Task")
                && (resource.ends_with(".waitForTaskToken") || resource.contains(":activity:"));
            if waits && state.get("TimeoutSeconds").is_none() && state.get("TimeoutSecondsPath").is_none() {
                out.push((here.clone(), name.clone()));
            }
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                for (i, b) in branches.iter().enumerate() {
                    walk(b, &format!("{here}/Branches/{i}"), out);
                }
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(inner) = state.get(key) {
                    walk(inner, &format!("{here}/{key}"), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(definition, "", &mut out);
    out
}
