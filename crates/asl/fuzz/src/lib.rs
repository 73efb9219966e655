//! The checks behind each fuzz target, one function per target, each taking the raw fuzz
//! input. Kept in a library (rather than in the `fuzz_targets/` entry points) so that
//! `crates/asl/tests/fuzz_regressions.rs` replays saved inputs through exactly the code the
//! fuzzer ran.
//!
//! Every function must return normally for every input. A panic is a finding: either a crash in
//! `asl`, or one of the invariants asserted here (each one is a documented promise of the API
//! it checks) not holding.

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use asl::context::ExecutionInfo;
use asl::eval::{PathRef, Randomness, Scope, SplitMix64};
use asl::interpreter::{self, Command, Env, Event, Execution, StepOutput, MAX_HISTORY_EVENTS};
use asl::intrinsics::Intrinsic;
use asl::jsonpath::{JsonPath, PathEvalError, ReferencePath};
use asl::Definition;
use serde_json::{json, Map, Value};

/// How many history events a driven execution may reach before it is stopped. A definition
/// can loop forever through Pass, Wait or Task states; a few thousand events are enough to
/// reach every state kind while keeping each fuzz run in the millisecond range.
pub const EVENT_BUDGET: u64 = 4_000;

/// The execution start time: a fixed instant so a saved input replays identically.
const START: i64 = 1_700_000_000_000;

/// The document paths and intrinsics are evaluated against: nested objects and arrays, every
/// JSON type, numbers at the edges of what `f64`/`i64` hold, and keys that look like path
/// syntax.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                    {"category": "fiction", "author": "J. R. R. Tolkien", "isbn": "0-395-19395-8", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "a": {"b": {"c": [1, 2, {"d": null}]}},
            "numbers": [0, -1, 1.5, 1e300, -1e-300, 9_007_199_254_740_993_i64, i64::MIN, u64::MAX],
            "strings": ["", "x", "日本語", "a.b", "it's", "[0]", "$.a", "States.Array(1)"],
            "csv": "a,b,,c",
            "jsonText": "{\"k\":[1,2,3]}",
            "b64": "aGVsbG8gd29ybGQ=",
            "n": 7,
            "neg": -3,
            "f": 2.5,
            "big": 1e308,
            "empty": {},
            "emptyArray": [],
            "nul": null,
            "t": true,
            "weird keys": {"a.b": 1, "$": 2, "'": 3, "*": 4, "..": 5, "": 6, "[": 7, "\\": 8}
        })
    })
}

/// The `$$` document: the shape AWS gives it.
fn context() -> &'static Value {
    static CTX: OnceLock<Value> = OnceLock::new();
    CTX.get_or_init(|| {
        json!({
            "Execution": {
                "Id": "arn:aws:states:us-east-1:123456789012:execution:fuzz:run",
                "Input": {"x": 1},
                "Name": "run",
                "RoleArn": "arn:aws:iam::123456789012:role/fuzz",
                "StartTime": "2023-11-14T22:13:20.000Z",
                "RedriveCount": 0
            },
            "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:fuzz", "Name": "fuzz"},
            "State": {"Name": "S", "EnteredTime": "2023-11-14T22:13:20.000Z", "RetryCount": 0},
            "Task": {"Token": "token"},
            "Map": {"Item": {"Index": 0, "Value": {"id": 1}}}
        })
    })
}

fn variables() -> &'static Map<String, Value> {
    static VARS: OnceLock<Map<String, Value>> = OnceLock::new();
    VARS.get_or_init(|| {
        let mut vars = Map::new();
        vars.insert("doc".into(), document().clone());
        vars.insert("n".into(), json!(3));
        vars.insert("s".into(), json!("text"));
        vars
    })
}

/// FNV-1a: seeds the randomness and the task outcomes from the input, so one input always
/// takes the same path.
fn seed(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Target `definition`: any text into [`Definition::parse`]; a definition that parses is run
/// on `{}` by [`drive`].
pub fn definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(def) = Definition::parse(text) else { return };
    drive(&def, json!({}), seed(data));
}

/// Run an execution as a shell would, answering its commands, until it ends or passes
/// [`EVENT_BUDGET`] events; then stop it. Tasks succeed with their input or fail, as the seed
/// decides; timers fire in time order with the clock jumping to them.
///
/// Checks that history event ids count up from 1 without gaps and only point backwards, that
/// a running execution always waits on something (otherwise it would hang forever), that the
/// interpreter's history cap holds, and that the execution state survives a serde round trip
/// (the store keeps it that way).
pub fn drive(def: &Definition, input: Value, seed: u64) {
    let mut random = SplitMix64(seed);
    let mut outcomes = SplitMix64(seed.rotate_left(17));
    let mut now = START;
    let info = ExecutionInfo::local("fuzz", "run", START);
    let (mut exec, out) = {
        let mut env = Env { now, random: &mut random, missing_activities: &[] };
        interpreter::start(def, info, input, &mut env)
    };
    let mut history = History::default();
    let mut waiting = Waiting::default();
    history.check(&out);
    waiting.take(&out);
    while !exec.status.is_terminal() && exec.event_count() < EVENT_BUDGET {
        let event = if let Some(request) = waiting.tasks.pop_front() {
            match outcomes.next_u64() % 4 {
                0 => Event::TaskFailed { task: request.0, error: Some("States.TaskFailed".into()), cause: None },
                1 => Event::TaskFailed { task: request.0, error: Some("Fuzz.Error".into()), cause: Some("c".into()) },
                _ => Event::TaskSucceeded { task: request.0, output: request.1 },
            }
        } else if let Some((&(fire_at, timer), _)) = waiting.timers.iter().next() {
            waiting.timers.remove(&(fire_at, timer));
            now = now.max(fire_at);
            Event::TimerFired { timer }
        } else {
            panic!("the execution is running but waits on no task and no timer: {:?}", exec.status);
        };
        let mut env = Env { now, random: &mut random, missing_activities: &[] };
        let out = interpreter::step(def, &mut exec, event, &mut env);
        history.check(&out);
        waiting.take(&out);
    }
    if !exec.status.is_terminal() {
        let mut env = Env { now, random: &mut random, missing_activities: &[] };
        let out = interpreter::step(def, &mut exec, Event::Stop { error: None, cause: None }, &mut env);
        history.check(&out);
        assert!(exec.status.is_terminal(), "StopExecution must end the execution");
    }
    assert!(exec.event_count() <= MAX_HISTORY_EVENTS + 16, "history grew past the cap: {} events", exec.event_count());
    round_trip(&exec);
}

fn round_trip(exec: &Execution) {
    let text = serde_json::to_string(exec).expect("an execution serialises");
    let back: Execution = serde_json::from_str(&text).expect("a serialised execution reads back");
    assert!(&back == exec, "an execution changed through a serde round trip: {text}");
}

#[derive(Default)]
struct History {
    last_id: u64,
}

impl History {
    fn check(&mut self, out: &StepOutput) {
        for e in &out.events {
            assert_eq!(e.id, self.last_id + 1, "event ids must count up without gaps");
            assert!(e.previous_event_id < e.id, "event {} points forward to {}", e.id, e.previous_event_id);
            self.last_id = e.id;
        }
    }
}

/// What the execution waits on, as its commands said.
#[derive(Default)]
struct Waiting {
    tasks: VecDeque<(interpreter::TaskId, Value)>,
    /// By fire time, then id, so timers fire in order.
    timers: BTreeMap<(i64, interpreter::TimerId), ()>,
}

impl Waiting {
    fn take(&mut self, out: &StepOutput) {
        for c in &out.commands {
            match c {
                Command::InvokeTask(r) => self.tasks.push_back((r.task, r.input.clone())),
                Command::CancelTask { task } => self.tasks.retain(|(t, _)| t != task),
                Command::StartTimer { timer, fire_at } => {
                    self.timers.insert((*fire_at, *timer), ());
                }
                Command::CancelTimer { timer } => self.timers.retain(|(_, t), _| t != timer),
            }
        }
    }
}

/// Target `jsonpath`: [`JsonPath::parse`] and eval on [`document`]; [`ReferencePath::parse`],
/// `get` and `assign`.
///
/// Checks the promises between the two: a reference path is also a definite JSONPath that
/// finds what `get` finds, and after `assign` the value is where `get` looks.
pub fn jsonpath(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let doc = document();
    let parsed = JsonPath::parse(text);
    if let Ok(path) = &parsed {
        assert_eq!(path.as_str(), text, "as_str is the text parsed");
        let definite = path.is_definite();
        let result = path.eval(doc);
        if let (false, Err(e)) = (definite, &result) {
            panic!("an indefinite path yields a list, never {e:?}: {text}");
        }
    }
    let Ok(reference) = ReferencePath::parse(text) else { return };
    assert_eq!(reference.as_str(), text, "as_str is the text parsed");
    let _ = reference.canonical();
    let found = reference.get(doc);
    match &parsed {
        Ok(path) => {
            assert!(path.is_definite(), "a reference path is a definite JSONPath: {text}");
            match (path.eval(doc), found) {
                (Ok(v), Some(g)) => assert_eq!(&v, g, "JsonPath::eval and ReferencePath::get disagree on {text}"),
                (Err(PathEvalError::NoResults { .. }), None) => {}
                (e, g) => panic!("JsonPath::eval gave {e:?} but ReferencePath::get gave {g:?} for {text}"),
            }
        }
        Err(e) => panic!("{text} is a reference path but not a JSONPath: {e}"),
    }
    let marker = json!({"fuzz": "marker"});
    if let Ok(assigned) = reference.assign(doc.clone(), marker.clone()) {
        assert_eq!(reference.get(&assigned), Some(&marker), "assign then get must find the value: {text}");
    }
    if reference.is_root() {
        assert_eq!(reference.assign(json!([1]), marker.clone()).ok(), Some(marker), "`$` replaces the document");
    }
}

/// Target `intrinsics`: [`Intrinsic::parse`], then eval against [`document`] (context and
/// variables too, so `$$` and `$name` arguments resolve).
pub fn intrinsics(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(call) = Intrinsic::parse(text) else { return };
    assert_eq!(call.as_str(), text, "as_str is the text parsed");
    let scope = Scope::new(document(), context()).with_variables(variables());
    let mut random = SplitMix64(seed(data));
    let _ = call.eval(&scope, &mut random);
}

/// Target `path_ref`: [`PathRef::parse`] (routing to `$`, `$$` or `$name`), then eval and
/// lookup in a scope with all three documents.
pub fn path_ref(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(path) = PathRef::parse(text) else { return };
    assert_eq!(path.as_str(), text, "as_str is the text as written");
    assert_eq!(path.is_context(), text.starts_with("$$"), "only `$$` paths read the context: {text}");
    let scope = Scope::new(document(), context()).with_variables(variables());
    let _ = scope.eval(&path);
    let _ = scope.lookup(&path);
}
