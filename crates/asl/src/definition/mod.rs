//! The definition model: a parsed, validated state machine.
//!
//! "Parse, don't validate": a [`Definition`] that exists is valid. Parsing collects every
//! problem it finds (with a JSON pointer to where it is) rather than stopping at the first, so
//! a user fixes a definition in one round. Nested `States` blocks (Parallel branches, Map item
//! processors) are flattened into [`Graph`]s addressed by [`GraphId`]; transitions are indices,
//! so the interpreter never looks a state up by name.

mod choice;
mod fail;
mod fields;
mod item_batcher;
mod item_reader;
mod map;
mod parallel;
mod pass;
mod result_writer;
mod retry_catch;
mod succeed;
mod task;
mod variables;
mod wait;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::choice::{ChoiceRule, Condition};
use crate::error::{DefinitionError, DefinitionErrorCode as Code, DefinitionProblem};
use crate::eval::PathRef;
use crate::jsonata::{expression_text, Expression, JsonataTemplate, StatesRefs};
use crate::jsonpath::ReferencePath;
use crate::template::{escape_pointer, DynamicValue, Template};
use crate::timestamp;

pub use choice::{Choice, ChoiceJsonata, ChoicePath, JsonataBranch, JsonataCondition, PathBranch};
pub use fail::{Fail, FailFields, JsonataFailField, PathFailField};
pub use item_batcher::{ItemBatcher, MAX_BATCH_BYTES};
pub use item_reader::{ItemReader, GET_OBJECT, LIST_OBJECTS_V2, MAX_ITEMS_LIMIT};
pub use map::{ChildMachine, MapJsonata, MapPath, MapState};
pub use parallel::{Parallel, ParallelJsonata, ParallelPath};
pub use pass::{Pass, PassPath};
pub use result_writer::{ResultWriter, PUT_OBJECT};
pub use retry_catch::{Catcher, Jitter, PathCatch, Retrier};
pub use task::{waits_without_timeout, Task, TaskJsonata, TaskPath};
pub use variables::{check_variable_name, variable_references, MAX_VARIABLE_NAME_CHARS};
pub use wait::{JsonataWaitFor, Wait, WaitFor, WaitJsonata, WaitPath};

use fields::{INPUT_CONTEXT, WITH_RESULT};

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
    /// The state's type and its fields; each type's fields hold their query language.
    pub kind: StateKind,
}

/// The query language of a state: the state's own `QueryLanguage`, else the definition's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

/// A state's fields in its query language, decided once when the state is parsed: a JSONPath
/// state holds `P` and a JSONata state `J`, so neither can hold the other language's fields.
/// Each state type names its own `P` and `J`; both start with what every state of that
/// language has ([`PathIo`], [`JsonataIo`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Fields<P, J> {
    JsonPath(P),
    Jsonata(J),
}

impl<P, J> Fields<P, J> {
    pub fn query_language(&self) -> QueryLanguage {
        match self {
            Fields::JsonPath(_) => QueryLanguage::JsonPath,
            Fields::Jsonata(_) => QueryLanguage::Jsonata,
        }
    }
}

/// The input and output stages of a state with no fields of its own in either language
/// (Succeed).
pub type Io = Fields<PathIo, JsonataIo>;

/// What a JSONPath state reads its input through and leaves by: `InputPath`, `OutputPath`
/// and `Assign`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathIo {
    pub input_path: DataPath,
    pub output_path: DataPath,
    /// Variables the state sets when it leaves normally (a Choice state's: when `Default` is
    /// taken): a payload template whose `"name.$"` keys read the result, the effective input
    /// or the error output, depending on where the block is.
    pub assign: Option<Template>,
}

/// How a JSONata state leaves: `Output` and `Assign`, both reading `$states` as it is then.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonataIo {
    /// The state's output, from its input (and result). Absent: the result for Task,
    /// Parallel and Map, the input otherwise.
    pub output: Option<JsonataTemplate>,
    /// Variables the state sets when it leaves normally.
    pub assign: Option<JsonataTemplate>,
}

/// What a JSONPath Task, Parallel or Map does with its result and its failures:
/// `ResultSelector`, `ResultPath` and catchers that place the error output by `ResultPath`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathResult {
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub catch: Vec<Catcher<PathCatch>>,
}

/// A JSONata Task, Parallel or Map: its result is read through `Output`; its catchers have
/// their own `Output`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonataResult {
    pub catch: Vec<Catcher<JsonataIo>>,
}

/// InputPath/OutputPath: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum DataPath {
    #[default]
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

/// A number of a JSONPath state that is either written in the definition or read from the
/// input (`TimeoutSeconds` or `TimeoutSecondsPath`).
#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic<T> {
    Fixed(T),
    Path(PathRef),
}

/// A number of a JSONata state: written in the definition, or a `{% %}` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonataDynamic<T> {
    Fixed(T),
    Expression(Box<Expression>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Pass(Pass),
    Task(Box<Task>),
    Choice(Choice),
    Wait(Wait),
    Succeed(Io),
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
            StateKind::Succeed(_) => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }

    pub fn query_language(&self) -> QueryLanguage {
        match self {
            StateKind::Pass(p) => p.fields.query_language(),
            StateKind::Task(t) => t.fields.query_language(),
            StateKind::Choice(c) => c.fields.query_language(),
            StateKind::Wait(w) => w.fields.query_language(),
            StateKind::Succeed(io) => io.query_language(),
            StateKind::Fail(f) => f.fields.query_language(),
            StateKind::Parallel(p) => p.fields.query_language(),
            StateKind::Map(m) => m.fields.query_language(),
        }
    }

    /// The stages every state of its language has (a Fail state has none).
    pub fn io(&self) -> Option<Fields<&PathIo, &JsonataIo>> {
        Some(match self {
            StateKind::Pass(p) => p.fields.as_io(|p| &p.io, |j| j),
            StateKind::Task(t) => t.fields.as_io(|p| &p.io, |j| &j.io),
            StateKind::Choice(c) => c.fields.as_io(|p| &p.io, |j| &j.io),
            StateKind::Wait(w) => w.fields.as_io(|p| &p.io, |j| &j.io),
            StateKind::Succeed(io) => io.as_io(|p| p, |j| j),
            StateKind::Parallel(p) => p.fields.as_io(|p| &p.io, |j| &j.io),
            StateKind::Map(m) => m.fields.as_io(|p| &p.io, |j| &j.io),
            StateKind::Fail(_) => return None,
        })
    }

    fn io_mut(&mut self) -> Option<Fields<&mut PathIo, &mut JsonataIo>> {
        Some(match self {
            StateKind::Pass(p) => p.fields.as_io_mut(|p| &mut p.io, |j| j),
            StateKind::Task(t) => t.fields.as_io_mut(|p| &mut p.io, |j| &mut j.io),
            StateKind::Choice(c) => c.fields.as_io_mut(|p| &mut p.io, |j| &mut j.io),
            StateKind::Wait(w) => w.fields.as_io_mut(|p| &mut p.io, |j| &mut j.io),
            StateKind::Succeed(io) => io.as_io_mut(|p| p, |j| j),
            StateKind::Parallel(p) => p.fields.as_io_mut(|p| &mut p.io, |j| &mut j.io),
            StateKind::Map(m) => m.fields.as_io_mut(|p| &mut p.io, |j| &mut j.io),
            StateKind::Fail(_) => return None,
        })
    }

    /// What a Task, Parallel or Map does with its result and failures, with its stages;
    /// `None` for the other types.
    pub fn recovery(&self) -> Option<Recovery<'_>> {
        Some(match self {
            StateKind::Task(t) => t.fields.as_io(|p| (&p.io, &p.result), |j| (&j.io, &j.result)),
            StateKind::Parallel(p) => p.fields.as_io(|p| (&p.io, &p.result), |j| (&j.io, &j.result)),
            StateKind::Map(m) => m.fields.as_io(|p| (&p.io, &p.result), |j| (&j.io, &j.result)),
            _ => return None,
        })
    }

    /// `Retry` of a Task, Parallel or Map; empty for the other types.
    pub fn retry(&self) -> &[Retrier] {
        match self {
            StateKind::Task(t) => &t.retry,
            StateKind::Parallel(p) => &p.retry,
            StateKind::Map(m) => &m.retry,
            _ => &[],
        }
    }
}

/// A Task's, Parallel's or Map's stages and result handling, in its language.
pub type Recovery<'a> = Fields<(&'a PathIo, &'a PathResult), (&'a JsonataIo, &'a JsonataResult)>;

impl<P, J> Fields<P, J> {
    fn as_io<'a, A, B>(&'a self, path: impl FnOnce(&'a P) -> A, jsonata: impl FnOnce(&'a J) -> B) -> Fields<A, B> {
        match self {
            Fields::JsonPath(p) => Fields::JsonPath(path(p)),
            Fields::Jsonata(j) => Fields::Jsonata(jsonata(j)),
        }
    }

    fn as_io_mut<'a, A, B>(
        &'a mut self,
        path: impl FnOnce(&'a mut P) -> A,
        jsonata: impl FnOnce(&'a mut J) -> B,
    ) -> Fields<A, B> {
        match self {
            Fields::JsonPath(p) => Fields::JsonPath(path(p)),
            Fields::Jsonata(j) => Fields::Jsonata(jsonata(j)),
        }
    }
}

/// A state's object while it is parsed: its fields, its JSON pointer, and the indices of the
/// states of its block (for transitions).
pub(super) struct Source<'a> {
    pub(super) obj: &'a Map<String, Value>,
    pub(super) at: &'a str,
    pub(super) index: &'a HashMap<String, StateId>,
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
            matches!(s.kind, StateKind::Succeed(_) | StateKind::Fail(_))
                || transition_of(&s.kind) == Some(Transition::End)
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
        let placeholder = State { name: name.to_owned(), kind: StateKind::Succeed(Io::JsonPath(PathIo::default())) };
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
        let Some(StateFields { json_path: path_fields, jsonata: jsonata_fields }) = state_fields(ty) else {
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
            if key == "Type" || key == "Comment" || key == "QueryLanguage" || names(allowed, key) {
                continue;
            }
            let message = if names(other, key) {
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
        // The stages every state of the language has, before the type's own fields (so
        // problems are listed in the order of the processing stages).
        let io = if jsonata {
            Io::Jsonata(JsonataIo::default())
        } else {
            Io::JsonPath(PathIo {
                input_path: self.data_path(obj, "InputPath", at),
                output_path: self.data_path(obj, "OutputPath", at),
                assign: None,
            })
        };
        let s = Source { obj, at, index };
        let mut kind = match ty {
            "Pass" => StateKind::Pass(self.pass(&s, io)),
            "Task" => StateKind::Task(Box::new(self.task(&s, io))),
            "Choice" => StateKind::Choice(self.choice(&s, io)),
            "Wait" => StateKind::Wait(self.wait(&s, io)),
            "Succeed" => StateKind::Succeed(io),
            "Fail" => StateKind::Fail(self.fail(&s, io)),
            "Parallel" => StateKind::Parallel(Box::new(self.parallel(&s, io))),
            _ => StateKind::Map(Box::new(self.map(&s, io))),
        };
        let reads_result = matches!(ty, "Task" | "Parallel" | "Map");
        let after = if reads_result { WITH_RESULT } else { INPUT_CONTEXT };
        self.leaving_fields(&s, jsonata, kind.io_mut(), after);
        State { name: name.to_owned(), kind }
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
}

/// The states a state can lead to (for reachability).
fn successors(kind: &StateKind) -> Vec<StateId> {
    let mut out = Vec::new();
    if let Some(Transition::Next(n)) = transition_of(kind) {
        out.push(n);
    }
    if let StateKind::Choice(c) = kind {
        match &c.fields {
            Fields::JsonPath(p) => out.extend(p.rules.iter().map(|b| b.next)),
            Fields::Jsonata(j) => out.extend(j.rules.iter().map(|b| b.next)),
        }
        out.extend(c.default);
    }
    match kind.recovery() {
        Some(Fields::JsonPath((_, result))) => out.extend(result.catch.iter().map(|c| c.next)),
        Some(Fields::Jsonata((_, result))) => out.extend(result.catch.iter().map(|c| c.next)),
        None => {}
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
        StateKind::Choice(_) | StateKind::Succeed(_) | StateKind::Fail(_) => None,
    }
}

/// The fields a state type accepts besides `Type`, `Comment` and `QueryLanguage`, in each
/// query language: its own, and groups every type of a kind shares.
struct StateFields {
    json_path: &'static [&'static [&'static str]],
    jsonata: &'static [&'static [&'static str]],
}

/// Whether one of `groups` names `key`.
fn names(groups: &[&[&str]], key: &str) -> bool {
    groups.iter().any(|group| group.contains(&key))
}

/// What every JSONPath state with input and output stages has.
const PATH_IO: &[&str] = &["InputPath", "OutputPath", "Assign"];
/// What every JSONata state with an output has.
const JSONATA_IO: &[&str] = &["Output", "Assign"];
const TRANSITION: &[&str] = &["Next", "End"];
/// How a JSONPath Task, Parallel or Map ends.
const PATH_RESULT: &[&str] = &["ResultSelector", "ResultPath", "Retry", "Catch", "Next", "End"];
/// How a JSONata Task, Parallel or Map ends.
const JSONATA_RESULT: &[&str] = &["Retry", "Catch", "Next", "End"];

/// `None` for an unknown type.
fn state_fields(ty: &str) -> Option<StateFields> {
    Some(match ty {
        "Pass" => pass::FIELDS,
        "Task" => task::FIELDS,
        "Choice" => choice::FIELDS,
        "Wait" => wait::FIELDS,
        "Succeed" => succeed::FIELDS,
        "Fail" => fail::FIELDS,
        "Parallel" => parallel::FIELDS,
        "Map" => map::FIELDS,
        _ => return None,
    })
}
