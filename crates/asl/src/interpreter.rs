//! The interpreter: a transition function from (definition, execution state, event, time,
//! randomness) to (new execution state, history events, commands).
//!
//! An execution is a tree of *frames*: the top level is one frame, and every Parallel branch
//! and Map iteration that is running is a child frame. Frames live in an arena inside
//! [`Execution`], so the whole state is plain data that serialises for the store.
//!
//! [`start`] and [`step`] run every frame that can make progress until each one is finished or
//! waits on something outside: a task result, a timer, or its children. Work is kept on a
//! stack so a Map's iterations run depth first (iteration 0 to its end before iteration 1
//! starts, when nothing blocks), which is the order AWS records for sequential Maps, and so
//! no recursion grows with the number of items.
//!
//! What the shell must do comes back as [`Command`]s; what happened outside comes in as
//! [`Event`]s. Events for tasks or timers that are no longer awaited are ignored, so a shell
//! may deliver late or duplicate events safely.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{ExecutionInfo, StateContext};
use crate::definition::{
    Assign, Catcher, ChoiceTest, Definition, Dynamic, FailField, GraphId, Jitter, MapState, Payload, QueryLanguage,
    Retrier, State, StateId, StateKind, Transition, WaitFor,
};
use crate::error::{names, EvalFailure};
use crate::eval::{PathRef, Randomness, Scope, VariableSource};
use crate::history::{Details, EventType, HistoryEvent};
use crate::io;
use crate::jsonata::{Documents, Expression, JsonataTemplate, QueryFailure};
use crate::template::{compact, Template};
use crate::timestamp::{self, Millis};

/// AWS's payload limit: 256 KiB of UTF-8.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// AWS's cap on history events in a Standard execution.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;
/// AWS's limit on one variable's value, and on all the values one `Assign` sets.
pub const MAX_VARIABLE_BYTES: usize = 256 * 1024;
/// AWS's limit on all variables of an execution at once.
pub const MAX_EXECUTION_VARIABLE_BYTES: usize = 10 * 1024 * 1024;

pub type FrameId = usize;
pub type TaskId = u64;
pub type TimerId = u64;

/// What the interpreter is handed from outside: the time, a source of randomness, and what
/// it cannot know by itself about the world.
pub struct Env<'a> {
    pub now: Millis,
    pub random: &'a mut dyn Randomness,
    /// Activity ARNs that do not exist (the engine looks up those the definition names). A
    /// Task on one fails the execution with `States.Runtime` when it is entered, as AWS does.
    pub missing_activities: &'a [String],
}

/// Something that happened outside the interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A worker or integration picked the task up (`TaskStarted`, `ActivityStarted`).
    TaskStarted {
        task: TaskId,
        worker_name: Option<String>,
    },
    /// The call that hands out a task token succeeded; the task now waits for the callback.
    TaskSubmitted {
        task: TaskId,
        output: Value,
    },
    /// `SendTaskHeartbeat`: the heartbeat clock starts again.
    TaskHeartbeat {
        task: TaskId,
    },
    TaskSucceeded {
        task: TaskId,
        output: Value,
    },
    TaskFailed {
        task: TaskId,
        error: Option<String>,
        cause: Option<String>,
    },
    TimerFired {
        timer: TimerId,
    },
    /// `StopExecution`.
    Stop {
        error: Option<String>,
        cause: Option<String>,
    },
    /// A person's answer (`TaskSucceeded` or `TaskFailed`) with its audit record: the
    /// record goes into the history as `TaskAnswerRecorded` just before the answer's own
    /// event, or nowhere if the task no longer waits.
    TaskAnswered {
        audit: Map<String, Value>,
        answer: Box<Event>,
    },
    /// One person's vote on a task that needs several approvals. Votes are recorded in the
    /// history (`TaskAnswerRecorded`, with the count so far); a second vote by the same person
    /// counts once. The task succeeds with `{"approved": false, "approvals": [...],
    /// "rejectedBy": by}` at the first rejection, or with `{"approved": true, "approvals":
    /// [...]}` once `needed` different people approved. Votes come one at a time (the
    /// execution's events are applied in order), so exactly one vote decides.
    TaskVote {
        task: TaskId,
        by: String,
        approve: bool,
        needed: u32,
        audit: Map<String, Value>,
    },
}

impl Event {
    /// The task this event ends when it is applied, if any.
    pub fn ending_task(&self) -> Option<TaskId> {
        match self {
            Event::TaskSucceeded { task, .. } | Event::TaskFailed { task, .. } => Some(*task),
            Event::TaskAnswered { answer, .. } => answer.ending_task(),
            _ => None,
        }
    }
}

/// Work the shell must carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    InvokeTask(Box<TaskRequest>),
    /// The task is no longer awaited (timed out, or its branch or execution ended).
    CancelTask {
        task: TaskId,
    },
    StartTimer {
        timer: TimerId,
        fire_at: Millis,
    },
    CancelTimer {
        timer: TimerId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    pub task: TaskId,
    pub state_name: String,
    pub resource: String,
    /// The effective input (after InputPath and Parameters).
    pub input: Value,
    /// Set for `.waitForTaskToken` resources and activities.
    pub token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    pub credentials: Option<Value>,
}

/// The result of one call to [`start`] or [`step`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StepOutput {
    pub events: Vec<HistoryEvent>,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Status {
    Running,
    Succeeded { output: Value },
    Failed { error: Option<String>, cause: Option<String> },
    TimedOut { error: Option<String>, cause: Option<String> },
    Aborted { error: Option<String>, cause: Option<String> },
}

impl Status {
    /// As DescribeExecution spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded { .. } => "SUCCEEDED",
            Status::Failed { .. } => "FAILED",
            Status::TimedOut { .. } => "TIMED_OUT",
            Status::Aborted { .. } => "ABORTED",
        }
    }

    pub fn is_terminal(&self) -> bool {
        !matches!(self, Status::Running)
    }
}

/// A failure on its way through Retry and Catch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The failure is a task's result (its own error, or a result too large): a
    /// `States.DataLimitExceeded` of a task result is caught by `States.ALL`, as AWS records.
    #[serde(default)]
    pub from_task_result: bool,
    /// The failure is a missed heartbeat. AWS records it as `States.Timeout`; a retrier or
    /// catcher naming `States.HeartbeatTimeout` still sees it.
    #[serde(default)]
    pub heartbeat: bool,
}

impl Failure {
    fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// `States.Runtime` and `States.DataLimitExceeded` end the execution: no retrier or
    /// catcher sees them.
    fn is_terminal(&self) -> bool {
        matches!(self.error_name(), names::RUNTIME | names::DATA_LIMIT_EXCEEDED)
    }

    /// What a catcher hands on: `Error` and `Cause`, as AWS records them: each null when the
    /// failure has none (a SendTaskFailure without either gives `{"Error": null, "Cause":
    /// null}`), except that a timeout's missing cause is the empty string.
    fn error_output(&self) -> Value {
        let mut m = Map::new();
        m.insert("Error".into(), self.error.clone().map_or(Value::Null, Value::String));
        let cause = match (&self.cause, self.error_name()) {
            (Some(c), _) => Value::String(c.clone()),
            (None, names::TIMEOUT | names::HEARTBEAT_TIMEOUT) => Value::String(String::new()),
            (None, _) => Value::Null,
        };
        m.insert("Cause".into(), cause);
        Value::Object(m)
    }
}

/// The whole state of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub info: ExecutionInfo,
    pub input: Value,
    pub status: Status,
    frames: Vec<Option<Frame>>,
    free_frames: Vec<FrameId>,
    next_event_id: u64,
    next_task: TaskId,
    next_timer: TimerId,
    tasks: BTreeMap<TaskId, FrameId>,
    timers: BTreeMap<TimerId, TimerPurpose>,
    /// Where a redrive resumes: the top-level state the execution ended in, and its input.
    #[serde(default)]
    redrive_from: Option<(StateId, Value)>,
    /// Size (compact JSON bytes) of every variable alive, against the execution-wide limit.
    #[serde(default)]
    variable_bytes: usize,
}

impl Execution {
    /// Number of history events written so far.
    pub fn event_count(&self) -> u64 {
        self.next_event_id - 1
    }

    /// Tasks the execution is waiting on, with the state that waits.
    pub fn open_tasks(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.tasks.keys().copied()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum TimerPurpose {
    ExecutionTimeout,
    Wait(FrameId),
    RetryBackoff(FrameId),
    TaskTimeout(FrameId),
    TaskHeartbeat(FrameId),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Parent {
    frame: FrameId,
    slot: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Frame {
    graph: GraphId,
    parent: Option<Parent>,
    state: StateId,
    /// The current state's raw input.
    input: Value,
    entered_event: u64,
    entered_time: Millis,
    /// The last event of this frame, for `previousEventId`.
    last_event: u64,
    retry_counts: Vec<u64>,
    retry_total: u32,
    phase: Phase,
    /// Runs as a child execution of a distributed Map: its events are not in this history.
    #[serde(default)]
    silent: bool,
    /// The variables this frame's scope assigned (the top level's, or one Parallel branch's
    /// or Map iteration's). Outer scopes are read through `parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vars: Option<Box<Map<String, Value>>>,
}

/// Variables a state assigns when it leaves, in the order its `Assign` lists them.
type Assigned = Option<Box<Map<String, Value>>>;

/// The variables visible from a frame: its own scope's, then each enclosing scope's, up to
/// the top level or a distributed Map (whose children see none of the parent's).
struct FrameVars<'a> {
    def: &'a Definition,
    exec: &'a Execution,
    frame: FrameId,
}

impl FrameVars<'_> {
    /// The frames whose scopes are visible, innermost first.
    fn scopes(&self) -> impl Iterator<Item = &Frame> {
        let mut next = self.exec.frames.get(self.frame).and_then(Option::as_ref);
        std::iter::from_fn(move || {
            let frame = next?;
            next = frame.parent.as_ref().and_then(|p| {
                let parent = self.exec.frames.get(p.frame)?.as_ref()?;
                let distributed =
                    matches!(&self.def.state(parent.graph, parent.state).kind, StateKind::Map(m) if m.distributed);
                (!distributed).then_some(parent)
            });
            Some(frame)
        })
    }
}

impl VariableSource for FrameVars<'_> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.scopes().find_map(|f| f.vars.as_ref()?.get(name))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Phase {
    /// About to enter `state` (writes the `*StateEntered` event).
    Entering,
    /// Entered; (re)run the state's work. Retries come back here without a new entry event.
    Running,
    Task(Box<TaskWait>),
    WaitTimer {
        timer: TimerId,
        /// The state's output when the timer fires (its effective input in JSONPath, to
        /// which OutputPath still applies).
        effective: Value,
        /// What the state assigns when it leaves, computed on entry.
        #[serde(default)]
        assigned: Assigned,
    },
    RetryTimer {
        timer: TimerId,
    },
    Fanout(Box<Fanout>),
    /// Finished (its parent is notified); the slot is about to be freed.
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskWait {
    task: TaskId,
    kind: ResourceKind,
    timeout_timer: Option<TimerId>,
    heartbeat_timer: Option<TimerId>,
    heartbeat_seconds: Option<u64>,
    /// The task's result comes after its initial call is submitted (`.waitForTaskToken`,
    /// `.sync`).
    #[serde(default)]
    waits_for_submission: bool,
    #[serde(default)]
    started: bool,
    #[serde(default)]
    submitted: bool,
    /// A result that arrived before the submission it answers (a worker can answer a token
    /// while the call that handed it out is still returning); applied once submitted.
    #[serde(default)]
    early_result: Option<Box<Event>>,
    /// Who approved so far, for a task that needs several approvals ([`Event::TaskVote`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    approvals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fanout {
    is_map: bool,
    /// Inputs of the iterations/branches not started yet, by slot.
    pending: Vec<Option<Value>>,
    next_slot: usize,
    running: Vec<FrameId>,
    results: Vec<Value>,
    done: usize,
    failed: usize,
    max_concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    /// A `Continue` for this frame is already on the work stack.
    scheduled: bool,
    /// Set when every child has finished; the frame then completes the state.
    outcome: Option<Result<(), Failure>>,
}

/// How a Task's resource is reported in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ResourceKind {
    /// `arn:aws:states:::service:api[.pattern]`.
    Service { resource_type: String, resource: String },
    /// An activity ARN.
    Activity,
    /// A legacy Lambda function ARN.
    LambdaFunction,
}

impl ResourceKind {
    fn of(resource: &str) -> Self {
        if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
            let (ty, api) = match rest.strip_prefix("aws-sdk:") {
                Some(sdk) => match sdk.split_once(':') {
                    Some((svc, api)) => (format!("aws-sdk:{svc}"), api.to_owned()),
                    None => ("aws-sdk".to_owned(), sdk.to_owned()),
                },
                None => match rest.split_once(':') {
                    Some((svc, api)) => (svc.to_owned(), api.to_owned()),
                    None => (rest.to_owned(), String::new()),
                },
            };
            return ResourceKind::Service { resource_type: ty, resource: api };
        }
        let parts: Vec<&str> = resource.split(':').collect();
        match parts.get(2).copied() {
            Some("states") if parts.get(5) == Some(&"activity") => ResourceKind::Activity,
            Some("lambda") => ResourceKind::LambdaFunction,
            _ => ResourceKind::Service {
                resource_type: parts.get(2).copied().unwrap_or("unknown").to_owned(),
                resource: resource.to_owned(),
            },
        }
    }

    fn waits_for_token(resource: &str) -> bool {
        resource.ends_with(".waitForTaskToken") || matches!(ResourceKind::of(resource), ResourceKind::Activity)
    }
}

enum Work {
    Run(FrameId),
    Continue(FrameId),
}

/// What running a state's work led to.
enum Flow {
    /// The state finished with this output (and these assignments); go where its transition
    /// says.
    Exit(Value, Assigned),
    /// Leave to a chosen state (a Choice rule, or a catcher): the `*StateExited` event is
    /// written, then `next` is entered.
    Caught {
        output: Value,
        next: StateId,
        assigned: Assigned,
    },
    /// The frame waits for an event.
    Blocked,
    Fail(Failure),
    /// A Map iteration or Parallel branch failed and took the state down with it. AWS writes
    /// `MapStateFailed`/`ParallelStateFailed` only once no retrier runs the state again.
    ChildrenFailed(Failure),
    /// The frame ended without leaving its state normally (Succeed/Fail handled).
    Ended,
}

/// Start an execution: writes `ExecutionStarted` and runs until everything waits.
pub fn start(def: &Definition, info: ExecutionInfo, input: Value, env: &mut Env<'_>) -> (Execution, StepOutput) {
    let mut exec = Execution {
        info,
        input: input.clone(),
        status: Status::Running,
        frames: Vec::new(),
        free_frames: Vec::new(),
        next_event_id: 1,
        next_task: 1,
        next_timer: 1,
        tasks: BTreeMap::new(),
        timers: BTreeMap::new(),
        redrive_from: None,
        variable_bytes: 0,
    };
    let mut run = Run {
        def,
        exec: &mut exec,
        random: &mut *env.random,
        missing_activities: env.missing_activities,
        now: env.now,
        out: StepOutput::default(),
        work: Vec::new(),
    };
    let mut started_details = json!({
        "input": compact(&input),
        "inputDetails": {"truncated": false},
        "roleArn": run.exec.info.role_arn,
    });
    if let Some(alias) = &run.exec.info.state_machine_alias_arn {
        started_details["stateMachineAliasArn"] = json!(alias);
    }
    if let Some(version) = &run.exec.info.state_machine_version_arn {
        started_details["stateMachineVersionArn"] = json!(version);
    }
    let started = run.emit_raw(0, EventType::ExecutionStarted, Details::Fields(fields(started_details)));
    let _ = started;
    if let Some(t) = def.timeout_seconds {
        run.start_timer(TimerPurpose::ExecutionTimeout, t.saturating_mul(1000));
    }
    if payload_too_large(&input) {
        run.fail_execution(Failure {
            from_task_result: false,
            heartbeat: false,
            error: Some(names::DATA_LIMIT_EXCEEDED.into()),
            cause: Some("The input to the execution exceeds the maximum number of bytes service limit.".into()),
        });
    } else {
        // The first state's entry event points at 0, as AWS records it.
        let root = run.new_frame(0, None, input, 0);
        run.work.push(Work::Run(root));
        run.drain();
    }
    let out = run.out;
    (exec, out)
}

/// Feed one event to a running execution.
pub fn step(def: &Definition, exec: &mut Execution, event: Event, env: &mut Env<'_>) -> StepOutput {
    if exec.status.is_terminal() {
        return StepOutput::default();
    }
    let mut run = Run {
        def,
        exec,
        random: &mut *env.random,
        missing_activities: env.missing_activities,
        now: env.now,
        out: StepOutput::default(),
        work: Vec::new(),
    };
    run.handle(event);
    run.drain();
    run.out
}

/// Redrive an execution that failed, timed out or was aborted: it resumes at the top-level
/// state it ended in, with that state's input (`ExecutionRedriven` first). `None` when the
/// execution cannot be redriven (it succeeded, is running, or never entered a state).
pub fn redrive(def: &Definition, exec: &mut Execution, env: &mut Env<'_>) -> Option<StepOutput> {
    if !matches!(exec.status, Status::Failed { .. } | Status::TimedOut { .. } | Status::Aborted { .. }) {
        return None;
    }
    let (state, input) = exec.redrive_from.take()?;
    exec.status = Status::Running;
    exec.info.redrive_count += 1;
    let redrive_count = exec.info.redrive_count;
    let mut run = Run {
        def,
        exec,
        random: &mut *env.random,
        missing_activities: env.missing_activities,
        now: env.now,
        out: StepOutput::default(),
        work: Vec::new(),
    };
    let prev = run.exec.next_event_id - 1;
    run.emit_raw(prev, EventType::ExecutionRedriven, Details::Fields(fields(json!({"redriveCount": redrive_count}))));
    if let Some(t) = def.timeout_seconds {
        run.start_timer(TimerPurpose::ExecutionTimeout, t.saturating_mul(1000));
    }
    let root = run.new_frame(0, None, input, prev + 1);
    run.frame_mut(root).state = state;
    run.work.push(Work::Run(root));
    run.drain();
    Some(run.out)
}

struct Run<'a> {
    def: &'a Definition,
    exec: &'a mut Execution,
    random: &'a mut dyn Randomness,
    missing_activities: &'a [String],
    now: Millis,
    out: StepOutput,
    work: Vec<Work>,
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn payload_too_large(v: &Value) -> bool {
    // Cheap bound first: most payloads are tiny.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_PAYLOAD_BYTES {
                return Err(std::io::Error::other("limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
        _ => serde_json::to_writer(Counter(0), v).is_err(),
    }
}

impl<'a> Run<'a> {
    fn frame(&self, id: FrameId) -> &Frame {
        self.exec.frames[id].as_ref().expect("frame ids on the work stack refer to live frames")
    }

    fn frame_mut(&mut self, id: FrameId) -> &mut Frame {
        self.exec.frames[id].as_mut().expect("frame ids on the work stack refer to live frames")
    }

    fn live(&self, id: FrameId) -> bool {
        self.exec.frames.get(id).is_some_and(Option::is_some)
    }

    fn state_of(&self, id: FrameId) -> &'a State {
        let f = self.frame(id);
        let def: &'a Definition = self.def;
        def.state(f.graph, f.state)
    }

    fn new_frame(&mut self, graph: GraphId, parent: Option<Parent>, input: Value, last_event: u64) -> FrameId {
        let start = self.def.graph(graph).start_at;
        let silent = parent.as_ref().is_some_and(|p| {
            let pf = self.frame(p.frame);
            pf.silent || matches!(&self.def.state(pf.graph, pf.state).kind, StateKind::Map(m) if m.distributed)
        });
        let frame = Frame {
            graph,
            parent,
            state: start,
            input,
            entered_event: 0,
            entered_time: self.now,
            last_event,
            retry_counts: Vec::new(),
            retry_total: 0,
            phase: Phase::Entering,
            silent,
            vars: None,
        };
        match self.exec.free_frames.pop() {
            Some(id) => {
                self.exec.frames[id] = Some(frame);
                id
            }
            None => {
                self.exec.frames.push(Some(frame));
                self.exec.frames.len() - 1
            }
        }
    }

    fn free_frame(&mut self, id: FrameId) {
        if let Some(vars) = self.exec.frames.get(id).and_then(Option::as_ref).and_then(|f| f.vars.as_ref()) {
            let size: usize = vars.values().map(|v| compact(v).len()).sum();
            self.exec.variable_bytes = self.exec.variable_bytes.saturating_sub(size);
        }
        if self.live(id) {
            self.exec.frames[id] = None;
            self.exec.free_frames.push(id);
        }
    }

    // ----- events and commands -------------------------------------------------------------

    fn emit_raw(&mut self, previous: u64, event_type: EventType, details: Details) -> u64 {
        let id = self.exec.next_event_id;
        self.exec.next_event_id += 1;
        self.out.events.push(HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: self.now,
            event_type,
            details,
        });
        id
    }

    /// Write an event in a frame's lineage.
    fn emit(&mut self, frame: FrameId, event_type: EventType, details: Details) -> u64 {
        if self.frame(frame).silent {
            return self.frame(frame).last_event;
        }
        let prev = self.frame(frame).last_event;
        let id = self.emit_raw(prev, event_type, details);
        self.frame_mut(frame).last_event = id;
        id
    }

    fn start_timer(&mut self, purpose: TimerPurpose, delay_ms: u64) -> TimerId {
        let id = self.exec.next_timer;
        self.exec.next_timer += 1;
        self.exec.timers.insert(id, purpose);
        let fire_at = self.now.saturating_add(i64::try_from(delay_ms).unwrap_or(i64::MAX));
        self.out.commands.push(Command::StartTimer { timer: id, fire_at });
        id
    }

    fn cancel_timer(&mut self, id: Option<TimerId>) {
        if let Some(id) = id {
            if self.exec.timers.remove(&id).is_some() {
                self.out.commands.push(Command::CancelTimer { timer: id });
            }
        }
    }

    // ----- the work loop -------------------------------------------------------------------

    fn drain(&mut self) {
        while let Some(w) = self.work.pop() {
            if self.exec.status.is_terminal() {
                break;
            }
            match w {
                Work::Run(f) => {
                    if self.live(f) {
                        self.run_frame(f);
                    }
                }
                Work::Continue(f) => {
                    if self.live(f) {
                        self.continue_fanout(f);
                    }
                }
            }
        }
        if self.exec.status.is_terminal() {
            self.work.clear();
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::TaskStarted { task, worker_name } => {
                let Some(f) = self.task_frame(task) else { return };
                // A re-dispatched invocation (its node died) reports its start again.
                match &mut self.frame_mut(f).phase {
                    Phase::Task(w) if w.started => return,
                    Phase::Task(w) => w.started = true,
                    _ => return,
                }
                let kind = self.task_kind(f);
                let (ty, details) = match &kind {
                    ResourceKind::Service { resource_type, resource } => (
                        EventType::TaskStarted,
                        Details::Fields(fields(json!({"resourceType": resource_type, "resource": resource}))),
                    ),
                    ResourceKind::Activity => {
                        let mut d = Map::new();
                        if let Some(w) = worker_name {
                            d.insert("workerName".into(), Value::String(w));
                        }
                        (EventType::ActivityStarted, Details::Fields(d))
                    }
                    ResourceKind::LambdaFunction => (EventType::LambdaFunctionStarted, Details::None),
                };
                self.emit(f, ty, details);
            }
            Event::TaskSubmitted { task, output } => {
                let Some(f) = self.task_frame(task) else { return };
                let early = match &mut self.frame_mut(f).phase {
                    Phase::Task(w) if w.submitted => return,
                    Phase::Task(w) => {
                        w.submitted = true;
                        w.early_result.take()
                    }
                    _ => return,
                };
                if let ResourceKind::Service { resource_type, resource } = self.task_kind(f) {
                    self.emit(
                        f,
                        EventType::TaskSubmitted,
                        Details::Fields(fields(json!({
                            "resourceType": resource_type,
                            "resource": resource,
                            "output": compact(&output),
                            "outputDetails": {"truncated": false},
                        }))),
                    );
                }
                if let Some(result) = early {
                    self.handle(*result);
                }
            }
            Event::TaskHeartbeat { task } => {
                let Some(f) = self.task_frame(task) else { return };
                if let Phase::Task(w) = &self.frame(f).phase {
                    if let (Some(old), Some(secs)) = (w.heartbeat_timer, w.heartbeat_seconds) {
                        self.cancel_timer(Some(old));
                        let new = self.start_timer(TimerPurpose::TaskHeartbeat(f), secs * 1000);
                        if let Phase::Task(w) = &mut self.frame_mut(f).phase {
                            w.heartbeat_timer = Some(new);
                        }
                    }
                }
            }
            Event::TaskSucceeded { task, output } => {
                let Some(f) = self.task_frame(task) else { return };
                if let Phase::Task(w) = &mut self.frame_mut(f).phase {
                    if w.waits_for_submission && !w.submitted {
                        if w.early_result.is_none() {
                            w.early_result = Some(Box::new(Event::TaskSucceeded { task, output }));
                        }
                        return;
                    }
                }
                let kind = self.finish_task(f, task);
                let (ty, details) = match &kind {
                    ResourceKind::Service { resource_type, resource } => {
                        (EventType::TaskSucceeded, fields(json!({"resourceType": resource_type, "resource": resource})))
                    }
                    ResourceKind::Activity => (EventType::ActivitySucceeded, Map::new()),
                    ResourceKind::LambdaFunction => (EventType::LambdaFunctionSucceeded, Map::new()),
                };
                let mut details = details;
                details.insert("output".into(), Value::String(compact(&output)));
                details.insert("outputDetails".into(), json!({"truncated": false}));
                self.emit(f, ty, Details::Fields(details));
                let flow = if payload_too_large(&output) {
                    Flow::Fail(Failure { from_task_result: true, ..self.data_limit(f) })
                } else {
                    self.after_result(f, output)
                };
                self.frame_mut(f).phase = Phase::Running;
                self.follow(f, flow);
                self.work.push(Work::Run(f));
            }
            Event::TaskFailed { task, error, cause } => {
                let Some(f) = self.task_frame(task) else { return };
                let kind = self.finish_task(f, task);
                self.emit_task_failure(f, &kind, false, error.as_deref(), cause.as_deref());
                self.frame_mut(f).phase = Phase::Running;
                self.follow(f, Flow::Fail(Failure { error, cause, from_task_result: true, heartbeat: false }));
                self.work.push(Work::Run(f));
            }
            Event::TimerFired { timer } => {
                let Some(purpose) = self.exec.timers.remove(&timer) else { return };
                self.timer_fired(timer, purpose);
            }
            Event::TaskAnswered { audit, answer } => {
                let Some(task) = answer.ending_task() else { return };
                let Some(f) = self.task_frame(task) else { return };
                if let Phase::Task(w) = &mut self.frame_mut(f).phase {
                    if w.waits_for_submission && !w.submitted {
                        if w.early_result.is_none() {
                            w.early_result = Some(Box::new(Event::TaskAnswered { audit, answer }));
                        }
                        return;
                    }
                }
                self.emit(f, EventType::TaskAnswerRecorded, Details::Fields(audit));
                self.handle(*answer);
            }
            Event::TaskVote { task, by, approve, needed, mut audit } => {
                let Some(f) = self.task_frame(task) else { return };
                let Phase::Task(w) = &mut self.frame_mut(f).phase else { return };
                if w.approvals.contains(&by) {
                    return;
                }
                if approve {
                    w.approvals.push(by.clone());
                }
                let approvals = w.approvals.clone();
                audit.insert("approvals".into(), Value::from(approvals.len()));
                audit.insert("approvalsNeeded".into(), Value::from(needed));
                self.emit(f, EventType::TaskAnswerRecorded, Details::Fields(audit));
                let decided = if !approve {
                    Some(json!({"approved": false, "approvals": approvals, "rejectedBy": by}))
                } else if approvals.len() >= needed as usize {
                    Some(json!({"approved": true, "approvals": approvals}))
                } else {
                    None
                };
                if let Some(output) = decided {
                    self.handle(Event::TaskSucceeded { task, output });
                }
            }
            Event::Stop { error, cause } => {
                let mut d = Map::new();
                if let Some(e) = &error {
                    d.insert("error".into(), Value::String(e.clone()));
                }
                if let Some(c) = &cause {
                    d.insert("cause".into(), Value::String(c.clone()));
                }
                self.end_execution(
                    Status::Aborted { error, cause },
                    EventType::ExecutionAborted,
                    Details::Fields(d),
                    true,
                );
            }
        }
    }

    fn timer_fired(&mut self, timer: TimerId, purpose: TimerPurpose) {
        match purpose {
            TimerPurpose::ExecutionTimeout => {
                self.end_execution(
                    Status::TimedOut { error: Some(names::TIMEOUT.into()), cause: None },
                    EventType::ExecutionTimedOut,
                    Details::Fields(fields(json!({"error": names::TIMEOUT}))),
                    true,
                );
            }
            TimerPurpose::Wait(f) => {
                if !self.live(f) {
                    return;
                }
                let Phase::WaitTimer { timer: t, .. } = &self.frame(f).phase else { return };
                if *t != timer {
                    return;
                }
                let Phase::WaitTimer { effective, assigned, .. } =
                    std::mem::replace(&mut self.frame_mut(f).phase, Phase::Running)
                else {
                    return;
                };
                let flow = match self.output_path(f, effective) {
                    Flow::Exit(output, _) => Flow::Exit(output, assigned),
                    other => other,
                };
                self.follow(f, flow);
                self.work.push(Work::Run(f));
            }
            TimerPurpose::RetryBackoff(f) => {
                if !self.live(f) {
                    return;
                }
                if matches!(self.frame(f).phase, Phase::RetryTimer { timer: t } if t == timer) {
                    self.frame_mut(f).phase = Phase::Running;
                    self.work.push(Work::Run(f));
                }
            }
            TimerPurpose::TaskTimeout(f) | TimerPurpose::TaskHeartbeat(f) => {
                if !self.live(f) {
                    return;
                }
                let Phase::Task(w) = &self.frame(f).phase else { return };
                let is_heartbeat = w.heartbeat_timer == Some(timer);
                if w.timeout_timer != Some(timer) && !is_heartbeat {
                    return;
                }
                let task = w.task;
                let kind = self.finish_task(f, task);
                self.out.commands.push(Command::CancelTask { task });
                // A missed heartbeat is recorded as States.Timeout, as AWS records it.
                let error = names::TIMEOUT;
                self.emit_task_failure(f, &kind, true, Some(error), None);
                self.frame_mut(f).phase = Phase::Running;
                let failure = Failure {
                    error: Some(error.into()),
                    cause: None,
                    from_task_result: false,
                    heartbeat: is_heartbeat,
                };
                self.follow(f, Flow::Fail(failure));
                self.work.push(Work::Run(f));
            }
        }
    }

    fn task_frame(&self, task: TaskId) -> Option<FrameId> {
        let f = *self.exec.tasks.get(&task)?;
        match &self.exec.frames.get(f)?.as_ref()?.phase {
            Phase::Task(w) if w.task == task => Some(f),
            _ => None,
        }
    }

    fn task_kind(&self, f: FrameId) -> ResourceKind {
        match &self.frame(f).phase {
            Phase::Task(w) => w.kind.clone(),
            _ => ResourceKind::Activity,
        }
    }

    /// The task's wait is over: forget it and its timers.
    fn finish_task(&mut self, f: FrameId, task: TaskId) -> ResourceKind {
        self.exec.tasks.remove(&task);
        let phase = std::mem::replace(&mut self.frame_mut(f).phase, Phase::Running);
        match phase {
            Phase::Task(w) => {
                self.cancel_timer(w.timeout_timer);
                self.cancel_timer(w.heartbeat_timer);
                w.kind
            }
            _ => ResourceKind::Activity,
        }
    }

    fn emit_task_failure(
        &mut self,
        f: FrameId,
        kind: &ResourceKind,
        timed_out: bool,
        error: Option<&str>,
        cause: Option<&str>,
    ) {
        let mut d = Map::new();
        let ty = match (kind, timed_out) {
            (ResourceKind::Service { resource_type, resource }, t) => {
                d.insert("resourceType".into(), Value::String(resource_type.clone()));
                d.insert("resource".into(), Value::String(resource.clone()));
                if t {
                    EventType::TaskTimedOut
                } else {
                    EventType::TaskFailed
                }
            }
            (ResourceKind::Activity, true) => EventType::ActivityTimedOut,
            (ResourceKind::Activity, false) => EventType::ActivityFailed,
            (ResourceKind::LambdaFunction, true) => EventType::LambdaFunctionTimedOut,
            (ResourceKind::LambdaFunction, false) => EventType::LambdaFunctionFailed,
        };
        if let Some(e) = error {
            d.insert("error".into(), Value::String(e.to_owned()));
        }
        if let Some(c) = cause {
            d.insert("cause".into(), Value::String(c.to_owned()));
        }
        self.emit(f, ty, Details::Fields(d));
    }

    // ----- running a frame -----------------------------------------------------------------

    fn run_frame(&mut self, f: FrameId) {
        loop {
            if self.exec.status.is_terminal() || !self.live(f) {
                return;
            }
            let flow = match &self.frame(f).phase {
                Phase::Entering => {
                    self.enter_state(f);
                    continue;
                }
                Phase::Running => self.run_state(f),
                Phase::Fanout(fan) if fan.outcome.is_some() => self.finish_fanout(f),
                // Waiting for something outside, or finished.
                _ => return,
            };
            match self.follow(f, flow) {
                Some(()) => continue,
                None => return,
            }
        }
    }

    fn enter_state(&mut self, f: FrameId) {
        if self.exec.next_event_id >= MAX_HISTORY_EVENTS {
            self.fail_execution(Failure {
                from_task_result: false,
                heartbeat: false,
                error: Some(names::RUNTIME.into()),
                cause: Some(format!(
                    "The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
                )),
            });
            return;
        }
        let state = self.state_of(f);
        let ty = EventType::state_entered(state.kind.type_name());
        let name = state.name.clone();
        let input = self.frame(f).input.clone();
        let id = self.emit(f, ty, Details::StateEntered { name, input });
        let now = self.now;
        let fr = self.frame_mut(f);
        fr.entered_event = id;
        fr.entered_time = now;
        fr.retry_counts.clear();
        fr.retry_total = 0;
        fr.phase = Phase::Running;
    }

    /// Apply a flow to the frame. `Some(())` means the frame can keep running.
    fn follow(&mut self, f: FrameId, flow: Flow) -> Option<()> {
        if !self.live(f) || self.exec.status.is_terminal() {
            return None;
        }
        match flow {
            Flow::Blocked | Flow::Ended => None,
            Flow::Exit(output, assigned) => {
                if payload_too_large(&output) {
                    let failure = self.data_limit(f);
                    return self.follow(f, Flow::Fail(failure));
                }
                let assigned_variables = match self.apply_assigned(f, assigned) {
                    Ok(a) => a,
                    Err(failure) => return self.follow(f, Flow::Fail(failure)),
                };
                let state = self.state_of(f);
                let transition = crate::definition::transition_of(&state.kind).unwrap_or(Transition::End);
                let ty = EventType::state_exited(state.kind.type_name());
                let name = state.name.clone();
                self.emit(f, ty, Details::StateExited { name, output: output.clone(), assigned_variables });
                match transition {
                    Transition::Next(next) => {
                        self.move_to(f, next, output);
                        Some(())
                    }
                    Transition::End => {
                        self.complete_frame(f, Ok(output));
                        None
                    }
                }
            }
            Flow::Caught { output, next, assigned } => {
                let assigned_variables = match self.apply_assigned(f, assigned) {
                    Ok(a) => a,
                    Err(failure) => return self.follow(f, Flow::Fail(failure)),
                };
                let state = self.state_of(f);
                let ty = EventType::state_exited(state.kind.type_name());
                let name = state.name.clone();
                self.emit(f, ty, Details::StateExited { name, output: output.clone(), assigned_variables });
                self.move_to(f, next, output);
                Some(())
            }
            Flow::ChildrenFailed(failure) => {
                let flow = self.handle_failure(f, failure, true);
                match flow {
                    Flow::Fail(failure) => {
                        self.complete_frame(f, Err(failure));
                        None
                    }
                    other => self.follow(f, other),
                }
            }
            Flow::Fail(failure) => {
                let flow = self.handle_failure(f, failure, false);
                match flow {
                    Flow::Fail(failure) => {
                        if failure.from_task_result && self.in_parallel_branch(f) {
                            // AWS ends a Task whose failure fails its Parallel branch with
                            // TaskStateAborted, before the Parallel state's failure.
                            if matches!(self.state_of(f).kind, StateKind::Task(_)) {
                                self.emit(f, EventType::TaskStateAborted, Details::None);
                            }
                        }
                        self.complete_frame(f, Err(failure));
                        None
                    }
                    other => self.follow(f, other),
                }
            }
        }
    }

    /// Whether frame `f` runs a branch of a Parallel state.
    fn in_parallel_branch(&self, f: FrameId) -> bool {
        self.frame(f).parent.as_ref().is_some_and(|p| matches!(self.state_of(p.frame).kind, StateKind::Parallel(_)))
    }

    fn move_to(&mut self, f: FrameId, next: StateId, input: Value) {
        let fr = self.frame_mut(f);
        fr.state = next;
        fr.input = input;
        fr.phase = Phase::Entering;
    }

    fn data_limit(&self, f: FrameId) -> Failure {
        Failure {
            from_task_result: false,
            heartbeat: false,
            error: Some(names::DATA_LIMIT_EXCEEDED.into()),
            cause: Some(format!(
                "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                self.state_of(f).name
            )),
        }
    }

    fn eval_failure(&self, f: FrameId, e: EvalFailure) -> Failure {
        eval_failure(self.def, self.exec, f, e)
    }

    /// InputPath, then (when given) a payload template over the result.
    fn effective_input(
        &mut self,
        f: FrameId,
        template: Option<&Template>,
        token: Option<&str>,
    ) -> Result<Value, Failure> {
        let state = self.state_of(f);
        let raw = &live_frame(self.exec, f).input;
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, token);
        let scope = Scope::new(raw, &ctx).with_variables(&vars);
        let selected = io::select(&state.input_path, &scope).map_err(|e| eval_failure(self.def, self.exec, f, e))?;
        match template {
            None => Ok(selected),
            Some(t) => {
                let scope = scope.with_input(&selected);
                let result = t.eval(&scope, &mut *self.random);
                result.map_err(|e| eval_failure(self.def, self.exec, f, e))
            }
        }
    }

    /// After a Task/Parallel/Map produced `result`: `Assign` (reading the raw result), then
    /// ResultSelector, ResultPath and OutputPath; in JSONata, `Output` and `Assign`.
    fn after_result(&mut self, f: FrameId, result: Value) -> Flow {
        let state = self.state_of(f);
        if state.query_language == QueryLanguage::Jsonata {
            let raw = self.frame(f).input.clone();
            return match self.jsonata_exit(f, state.output.as_ref(), state.assign.as_ref(), &raw, Some(&result), None) {
                Ok((output, assigned)) => Flow::Exit(output.unwrap_or(result), assigned),
                Err(q) => self.query_flow(f, q),
            };
        }
        let (selector, result_path) = match &state.kind {
            StateKind::Task(t) => (t.result_selector.as_ref(), &t.result_path),
            StateKind::Parallel(p) => (p.result_selector.as_ref(), &p.result_path),
            StateKind::Map(m) => (m.result_selector.as_ref(), &m.result_path),
            _ => return Flow::Exit(result, None),
        };
        let assigned = match self.assign_path(f, state.assign.as_ref(), &result) {
            Ok(a) => a,
            Err(failure) => return Flow::Fail(failure),
        };
        let selected = match selector {
            None => result,
            Some(t) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(&result, &ctx).with_variables(&vars);
                match t.eval(&scope, &mut *self.random) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(self.eval_failure(f, e)),
                }
            }
        };
        match io::merge_result(result_path, &self.frame(f).input, selected) {
            Ok(v) => with_assigned(self.output_path(f, v), assigned),
            Err(e) => Flow::Fail(self.eval_failure(f, e)),
        }
    }

    fn output_path(&mut self, f: FrameId, value: Value) -> Flow {
        let state = self.state_of(f);
        if matches!(state.output_path, crate::definition::DataPath::Whole) {
            return Flow::Exit(value, None);
        }
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, None);
        let scope = Scope::new(&value, &ctx).with_variables(&vars);
        match io::select(&state.output_path, &scope) {
            Ok(v) => Flow::Exit(v, None),
            Err(e) => Flow::Fail(self.eval_failure(f, e)),
        }
    }

    fn run_state(&mut self, f: FrameId) -> Flow {
        let def: &Definition = self.def;
        let fr = self.frame(f);
        let state = def.state(fr.graph, fr.state);
        if state.query_language == QueryLanguage::Jsonata {
            return self.run_jsonata_state(f, state);
        }
        match &state.kind {
            StateKind::Pass(p) => {
                let effective = match self.effective_input(f, p.parameters.as_ref(), None) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(e),
                };
                let result = match &p.result {
                    Some(r) => r.clone(),
                    None => effective,
                };
                let assigned = match self.assign_path(f, state.assign.as_ref(), &result) {
                    Ok(a) => a,
                    Err(failure) => return Flow::Fail(failure),
                };
                match io::merge_result(&p.result_path, &self.frame(f).input, result) {
                    Ok(v) => with_assigned(self.output_path(f, v), assigned),
                    Err(e) => Flow::Fail(self.eval_failure(f, e)),
                }
            }
            StateKind::Succeed => {
                let effective = match self.effective_input(f, None, None) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(e),
                };
                self.output_path(f, effective)
            }
            StateKind::Choice(c) => {
                let effective = match self.effective_input(f, None, None) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(e),
                };
                let chosen = {
                    let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                    let ctx = state_context(self.def, self.exec, f, None);
                    let scope = Scope::new(&effective, &ctx).with_variables(&vars);
                    let mut chosen = None;
                    for branch in &c.rules {
                        let holds = match &branch.test {
                            ChoiceTest::Rule(condition) => condition.eval(&scope),
                            ChoiceTest::Constant(b) => Ok(*b),
                            // A JSONPath state never holds JSONata conditions (the parser
                            // reads `Condition` only in JSONata states).
                            ChoiceTest::Jsonata(_) => Ok(false),
                        };
                        match holds {
                            Ok(true) => {
                                chosen = Some(branch);
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => return Flow::Fail(self.eval_failure(f, e)),
                        }
                    }
                    chosen
                };
                let (next, assign) = match (chosen, c.default) {
                    (Some(branch), _) => (branch.next, branch.assign.as_ref()),
                    (None, Some(default)) => (default, state.assign.as_ref()),
                    (None, None) => return Flow::Fail(no_choice_matched(state)),
                };
                let assigned = match self.assign_path(f, assign, &effective) {
                    Ok(a) => a,
                    Err(failure) => return Flow::Fail(failure),
                };
                match self.output_path(f, effective) {
                    Flow::Exit(output, _) => Flow::Caught { output, next, assigned },
                    other => other,
                }
            }
            StateKind::Wait(w) => {
                let effective = match self.effective_input(f, None, None) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(e),
                };
                let fire_at = match self.wait_until(f, &w.wait_for, &effective) {
                    Ok(t) => t,
                    Err(e) => return self.fail_flow(f, e),
                };
                let assigned = match self.assign_path(f, state.assign.as_ref(), &effective) {
                    Ok(a) => a,
                    Err(failure) => return Flow::Fail(failure),
                };
                self.wait_or_exit(f, fire_at, effective, assigned, true)
            }
            StateKind::Fail(fail) => {
                let resolve = |run: &mut Self,
                               field: &Option<FailField>,
                               name: &str|
                 -> Result<Option<String>, Failure> {
                    match field {
                        None => Ok(None),
                        Some(FailField::Literal(s)) => Ok(Some(s.clone())),
                        Some(FailField::Dynamic(d)) => {
                            let raw = live_frame(run.exec, f).input.clone();
                            let vars = FrameVars { def: run.def, exec: run.exec, frame: f };
                            let ctx = state_context(run.def, run.exec, f, None);
                            let scope = Scope::new(&raw, &ctx).with_variables(&vars);
                            let v = match d {
                                crate::template::DynamicValue::Path(p) => scope.eval(p).map_err(|_| {
                                    EvalFailure::runtime(format!(
                                        "The JSONPath '{}' specified for the field '{name}' could not be found in the input '{}'",
                                        p.as_str(),
                                        compact(&raw)
                                    ))
                                }),
                                other => other.eval(&scope, &mut *run.random, name),
                            };
                            match v {
                                Ok(Value::String(s)) => Ok(Some(s)),
                                Ok(other) => Ok(Some(compact(&other))),
                                Err(e) => Err(run.eval_failure(f, e)),
                            }
                        }
                        // A JSONPath state never holds JSONata fields.
                        Some(FailField::Jsonata(_)) => Ok(None),
                    }
                };
                let error = match resolve(self, &fail.error, "ErrorPath") {
                    Ok(e) => e,
                    Err(failure) => return self.fail_frame_now(f, failure),
                };
                let cause = match resolve(self, &fail.cause, "CausePath") {
                    Ok(c) => c,
                    Err(failure) => return self.fail_frame_now(f, failure),
                };
                self.complete_frame(f, Err(Failure { error, cause, from_task_result: false, heartbeat: false }));
                Flow::Ended
            }
            StateKind::Task(t) => self.run_task(f, t),
            StateKind::Parallel(p) => {
                let effective = match self.effective_input(f, p.parameters.as_ref(), None) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(e),
                };
                self.start_parallel(f, p.branches.len(), effective)
            }
            StateKind::Map(m) => self.run_map(f, m),
        }
    }

    /// A state in JSONata mode: `Arguments`, `Output`, `Assign` and `{% %}` fields read
    /// `$states` and variables; there are no path stages.
    fn run_jsonata_state(&mut self, f: FrameId, state: &'a State) -> Flow {
        let raw = self.frame(f).input.clone();
        match &state.kind {
            StateKind::Pass(_) | StateKind::Succeed => {
                let assign = if matches!(state.kind, StateKind::Succeed) { None } else { state.assign.as_ref() };
                match self.jsonata_exit(f, state.output.as_ref(), assign, &raw, None, None) {
                    Ok((output, assigned)) => Flow::Exit(output.unwrap_or(raw), assigned),
                    Err(q) => self.query_flow(f, q),
                }
            }
            StateKind::Choice(c) => {
                let mut chosen = None;
                for branch in &c.rules {
                    let holds = match &branch.test {
                        ChoiceTest::Constant(b) => *b,
                        ChoiceTest::Jsonata(e) => match self.jsonata_value(f, e, &raw, "Condition", None) {
                            Ok(Value::Bool(b)) => b,
                            Ok(other) => {
                                return self
                                    .query_flow(f, QueryFailure::unexpected_type(e, "Condition", "boolean", &other))
                            }
                            Err(q) => return self.query_flow(f, q),
                        },
                        // A JSONata state never holds JSONPath rules.
                        ChoiceTest::Rule(_) => false,
                    };
                    if holds {
                        chosen = Some(branch);
                        break;
                    }
                }
                let (next, output, assign) = match (chosen, c.default) {
                    (Some(b), _) => (b.next, b.output.as_ref(), b.assign.as_ref()),
                    (None, Some(default)) => (default, state.output.as_ref(), state.assign.as_ref()),
                    (None, None) => return Flow::Fail(no_choice_matched(state)),
                };
                match self.jsonata_exit(f, output, assign, &raw, None, None) {
                    Ok((output, assigned)) => Flow::Caught { output: output.unwrap_or(raw), next, assigned },
                    Err(q) => self.query_flow(f, q),
                }
            }
            StateKind::Wait(w) => {
                let fire_at = match self.wait_until(f, &w.wait_for, &raw) {
                    Ok(t) => t,
                    Err(e) => return self.fail_flow(f, e),
                };
                match self.jsonata_exit(f, state.output.as_ref(), state.assign.as_ref(), &raw, None, None) {
                    Ok((output, assigned)) => {
                        let output = output.unwrap_or(raw);
                        self.wait_or_exit(f, fire_at, output, assigned, false)
                    }
                    Err(q) => self.query_flow(f, q),
                }
            }
            StateKind::Fail(fail) => {
                let mut resolved = [None, None];
                for (slot, (field, name)) in [(&fail.error, "Error"), (&fail.cause, "Cause")].into_iter().enumerate() {
                    resolved[slot] = match field {
                        None => None,
                        Some(FailField::Literal(s)) => Some(s.clone()),
                        Some(FailField::Jsonata(e)) => match self.jsonata_value(f, e, &raw, name, None) {
                            Ok(Value::String(s)) => Some(s),
                            Ok(other) => Some(compact(&other)),
                            Err(q) => {
                                let failure = self.query_failure(f, q);
                                return self.fail_frame_now(f, failure);
                            }
                        },
                        // A JSONata state never holds JSONPath fields.
                        Some(FailField::Dynamic(_)) => None,
                    };
                }
                let [error, cause] = resolved;
                self.complete_frame(f, Err(Failure { error, cause, from_task_result: false, heartbeat: false }));
                Flow::Ended
            }
            StateKind::Task(t) => self.run_task(f, t),
            StateKind::Parallel(p) => {
                let effective = match &p.arguments {
                    None => raw,
                    Some(args) => match self.jsonata_template(f, args, &raw, "Arguments", None) {
                        Ok(v) => v,
                        Err(q) => return self.query_flow(f, q),
                    },
                };
                self.start_parallel(f, p.branches.len(), effective)
            }
            StateKind::Map(m) => self.run_map(f, m),
        }
    }

    /// Arm the Wait state's timer, or leave at once when the time has come.
    fn wait_or_exit(&mut self, f: FrameId, fire_at: Millis, effective: Value, assigned: Assigned, path: bool) -> Flow {
        let delay = fire_at.saturating_sub(self.now);
        if delay <= 0 {
            let flow = if path { self.output_path(f, effective) } else { Flow::Exit(effective, None) };
            return with_assigned(flow, assigned);
        }
        let timer = self.start_timer(TimerPurpose::Wait(f), delay as u64);
        self.frame_mut(f).phase = Phase::WaitTimer { timer, effective, assigned };
        Flow::Blocked
    }

    fn start_parallel(&mut self, f: FrameId, n: usize, effective: Value) -> Flow {
        self.emit(f, EventType::ParallelStateStarted, Details::None);
        let fan = Fanout {
            is_map: false,
            pending: (0..n).map(|_| Some(effective.clone())).collect(),
            next_slot: 0,
            running: Vec::new(),
            results: vec![Value::Null; n],
            done: 0,
            failed: 0,
            max_concurrency: 0,
            tolerated_count: None,
            tolerated_percentage: None,
            scheduled: true,
            outcome: None,
        };
        self.frame_mut(f).phase = Phase::Fanout(Box::new(fan));
        self.work.push(Work::Continue(f));
        Flow::Blocked
    }

    // ----- variables and JSONata fields ----------------------------------------------------

    /// A JSONPath `Assign` block, with `$` reading `doc` (the result, the effective input or
    /// the error output, by where the block is).
    fn assign_path(&mut self, f: FrameId, assign: Option<&Assign>, doc: &Value) -> Result<Assigned, Failure> {
        let Some(Assign::Path(template)) = assign else { return Ok(None) };
        let value = {
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let ctx = state_context(self.def, self.exec, f, None);
            let scope = Scope::new(doc, &ctx).with_variables(&vars);
            template.eval(&scope, &mut *self.random)
        };
        match value {
            Ok(Value::Object(map)) => Ok(Some(Box::new(map))),
            Ok(_) => Ok(None),
            Err(e) => Err(self.eval_failure(f, e)),
        }
    }

    /// A JSONata state's way out: its `Assign` and its `Output` (`None`: the default output),
    /// both reading the documents as they are when the state leaves, so neither sees what
    /// the other produces.
    fn jsonata_exit(
        &mut self,
        f: FrameId,
        output: Option<&JsonataTemplate>,
        assign: Option<&Assign>,
        input: &Value,
        result: Option<&Value>,
        error_output: Option<&Value>,
    ) -> Result<(Option<Value>, Assigned), QueryFailure> {
        if output.is_none() && assign.is_none() {
            return Ok((None, None));
        }
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, None);
        let mut docs = Documents::new(input, &ctx, self.now).with_variables(&vars);
        if let Some(r) = result {
            docs = docs.with_result(r);
        }
        if let Some(e) = error_output {
            docs = docs.with_error_output(e);
        }
        let assigned = match assign {
            Some(Assign::Jsonata(t)) => match t.eval(&docs, "Assign", &mut *self.random)? {
                Value::Object(map) => Some(Box::new(map)),
                _ => None,
            },
            _ => None,
        };
        let output = match output {
            Some(t) => Some(t.eval(&docs, "Output", &mut *self.random)?),
            None => None,
        };
        Ok((output, assigned))
    }

    /// One JSONata field (`Arguments`, `Items`, `ItemSelector`, `Credentials`), reading the
    /// state's input; `item` is the Map item for `$states.context.Map.Item`.
    fn jsonata_template(
        &mut self,
        f: FrameId,
        template: &JsonataTemplate,
        input: &Value,
        field: &str,
        item: Option<(usize, &Value)>,
    ) -> Result<Value, QueryFailure> {
        self.jsonata_template_with_token(f, template, input, field, item, None)
    }

    fn jsonata_template_with_token(
        &mut self,
        f: FrameId,
        template: &JsonataTemplate,
        input: &Value,
        field: &str,
        item: Option<(usize, &Value)>,
        token: Option<&str>,
    ) -> Result<Value, QueryFailure> {
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let mut ctx = state_context(self.def, self.exec, f, token);
        ctx.map_item = item;
        let docs = Documents::new(input, &ctx, self.now).with_variables(&vars);
        template.eval(&docs, field, &mut *self.random)
    }

    /// One `{% %}` expression of a field that takes a single one.
    fn jsonata_value(
        &mut self,
        f: FrameId,
        expression: &Expression,
        input: &Value,
        field: &str,
        token: Option<&str>,
    ) -> Result<Value, QueryFailure> {
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, token);
        let docs = Documents::new(input, &ctx, self.now).with_variables(&vars);
        docs.eval(expression, field, &mut *self.random)
    }

    /// A whole number of at least `min` from a JSONata field.
    fn jsonata_count(
        &mut self,
        f: FrameId,
        expression: &Expression,
        input: &Value,
        field: &str,
        min: u64,
    ) -> Result<u64, QueryFailure> {
        let value = self.jsonata_value(f, expression, input, field, None)?;
        match whole_number(&value) {
            Some(n) if n >= min => Ok(n),
            _ => Err(QueryFailure::unexpected_type(
                expression,
                field,
                if min > 0 { "positive integer" } else { "non-negative integer" },
                &value,
            )),
        }
    }

    /// `States.QueryEvaluationError`: the `EvaluationFailed` event, and the failure.
    fn query_failure(&mut self, f: FrameId, q: QueryFailure) -> Failure {
        let failure = self.eval_failure(f, EvalFailure::new(names::QUERY_EVALUATION_ERROR, q.message));
        let mut d = Map::new();
        d.insert("error".into(), Value::String(names::QUERY_EVALUATION_ERROR.into()));
        if let Some(c) = &failure.cause {
            d.insert("cause".into(), Value::String(c.clone()));
        }
        if !q.location.is_empty() {
            d.insert("location".into(), Value::String(q.location));
        }
        d.insert("state".into(), Value::String(self.state_of(f).name.clone()));
        self.emit(f, EventType::EvaluationFailed, Details::Fields(d));
        failure
    }

    /// A JSONata field failed: Map and Parallel report their own failure event too, once no
    /// retrier runs them again.
    fn query_flow(&mut self, f: FrameId, q: QueryFailure) -> Flow {
        let failure = self.query_failure(f, q);
        match self.state_of(f).kind {
            StateKind::Map(_) | StateKind::Parallel(_) => Flow::ChildrenFailed(failure),
            _ => Flow::Fail(failure),
        }
    }

    fn fail_flow(&mut self, f: FrameId, e: StepError) -> Flow {
        match e {
            StepError::Eval(e) => Flow::Fail(self.eval_failure(f, e)),
            StepError::Query(q) => self.query_flow(f, q),
        }
    }

    /// Set what a state assigned in its frame's scope, checking AWS's rules: a nested scope
    /// cannot assign an outer scope's variable, and values have size limits. Returns the
    /// `assignedVariables` of the exit event.
    fn apply_assigned(&mut self, f: FrameId, assigned: Assigned) -> Result<Assigned, Failure> {
        let Some(assigned) = assigned else { return Ok(None) };
        let state_name = self.state_of(f).name.clone();
        let limit = |cause: String| Failure {
            error: Some(names::DATA_LIMIT_EXCEEDED.into()),
            cause: Some(cause),
            from_task_result: false,
            heartbeat: false,
        };
        let mut texts = Map::with_capacity(assigned.len());
        let mut total = 0usize;
        {
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            for (name, value) in assigned.iter() {
                let text = compact(value);
                if text.len() > MAX_VARIABLE_BYTES {
                    return Err(limit(format!(
                        "The value assigned to the variable '{name}' by the state '{state_name}' exceeds the maximum size of {MAX_VARIABLE_BYTES} bytes."
                    )));
                }
                if vars.scopes().skip(1).any(|scope| scope.vars.as_ref().is_some_and(|v| v.contains_key(name))) {
                    return Err(self.eval_failure(
                        f,
                        EvalFailure::runtime(format!(
                            "The variable '{name}' belongs to an outer scope: a Parallel branch or Map iteration can read it but not assign it."
                        )),
                    ));
                }
                total += text.len();
                texts.insert(name.clone(), Value::String(text));
            }
        }
        if total > MAX_VARIABLE_BYTES {
            return Err(limit(format!(
                "The variables assigned by the state '{state_name}' exceed the maximum total size of {MAX_VARIABLE_BYTES} bytes."
            )));
        }
        let mut replaced = 0usize;
        let vars = self.frame_mut(f).vars.get_or_insert_with(Default::default);
        for (name, value) in *assigned {
            if let Some(old) = vars.insert(name, value) {
                replaced += compact(&old).len();
            }
        }
        self.exec.variable_bytes = (self.exec.variable_bytes + total).saturating_sub(replaced);
        if self.exec.variable_bytes > MAX_EXECUTION_VARIABLE_BYTES {
            return Err(limit(format!(
                "The variables of the execution exceed the maximum total size of {MAX_EXECUTION_VARIABLE_BYTES} bytes."
            )));
        }
        Ok(Some(Box::new(texts)))
    }

    /// A failure in a state whose errors no retrier or catcher may see (Fail state's own
    /// path errors): the frame fails as it stands.
    fn fail_frame_now(&mut self, f: FrameId, failure: Failure) -> Flow {
        self.complete_frame(f, Err(failure));
        Flow::Ended
    }

    fn wait_until(&mut self, f: FrameId, wait_for: &WaitFor, effective: &Value) -> Result<Millis, StepError> {
        let now = self.now;
        let read = |run: &Self, p: &PathRef| -> Result<Value, EvalFailure> {
            let vars = FrameVars { def: run.def, exec: run.exec, frame: f };
            let ctx = state_context(run.def, run.exec, f, None);
            let scope = Scope::new(effective, &ctx).with_variables(&vars);
            scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))
        };
        let too_long = || EvalFailure::runtime("Wait state delay is too long.");
        let seconds_to_fire = |secs: i64| -> Result<Millis, EvalFailure> {
            if secs > i64::from(i32::MAX) {
                return Err(too_long());
            }
            Ok(now + secs.max(0) * 1000)
        };
        let until = |t: Millis| -> Result<Millis, EvalFailure> {
            if (t - now) / 1000 > i64::from(i32::MAX) {
                return Err(too_long());
            }
            Ok(t)
        };
        Ok(match wait_for {
            WaitFor::Seconds(s) => seconds_to_fire(*s as i64)?,
            WaitFor::Timestamp(t) => until(*t)?,
            WaitFor::SecondsPath(p) => {
                let v = read(self, p)?;
                match v.as_i64() {
                    Some(s) if s >= 0 => seconds_to_fire(s)?,
                    Some(_) => {
                        return Err(EvalFailure::runtime(format!(
                            "The SecondsPath parameter does not reference a non-negative integer value: {} == {}",
                            p.as_str(),
                            compact(&v)
                        ))
                        .into())
                    }
                    None => {
                        return Err(EvalFailure::runtime(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                            p.as_str(),
                            compact(&v)
                        ))
                        .into())
                    }
                }
            }
            WaitFor::TimestampPath(p) => {
                let v = read(self, p)?;
                match v.as_str().and_then(timestamp::parse) {
                    Some(t) => until(t)?,
                    None => return Err(EvalFailure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        p.as_str(),
                        v.as_str().map_or_else(|| compact(&v), str::to_owned)
                    ))
                    .into()),
                }
            }
            WaitFor::SecondsJsonata(e) => {
                let secs = self.jsonata_count(f, e, effective, "Seconds", 0)?;
                seconds_to_fire(i64::try_from(secs).unwrap_or(i64::MAX))?
            }
            WaitFor::TimestampJsonata(e) => {
                let v = self.jsonata_value(f, e, effective, "Timestamp", None)?;
                match v.as_str().and_then(timestamp::parse) {
                    Some(t) => until(t)?,
                    None => {
                        return Err(QueryFailure::new(
                            "Timestamp",
                            format!(
                                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                                v.as_str().map_or_else(|| compact(&v), str::to_owned)
                            ),
                        )
                        .into())
                    }
                }
            }
        })
    }

    fn resolve_seconds(
        &mut self,
        f: FrameId,
        d: &Option<Dynamic<u64>>,
        field: &str,
        input: &Value,
    ) -> Result<Option<u64>, StepError> {
        match d {
            None => Ok(None),
            Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
            Some(Dynamic::Jsonata(e)) => Ok(Some(self.jsonata_count(f, e, input, field, 1)?)),
            Some(Dynamic::Path(p)) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(input, &ctx).with_variables(&vars);
                let v =
                    scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?;
                match integer_value(&v) {
                    Some(n) if n > 0 => Ok(Some(n)),
                    _ => Err(EvalFailure::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid positive integer: {}",
                        compact(&v),
                        p.as_str()
                    ))
                    .into()),
                }
            }
        }
    }

    fn run_task(&mut self, f: FrameId, t: &crate::definition::Task) -> Flow {
        if self.missing_activities.contains(&t.resource) {
            let e = EvalFailure::runtime(format!("The activity {} does not exist.", t.resource));
            return Flow::Fail(self.eval_failure(f, e));
        }
        let jsonata = self.state_of(f).query_language == QueryLanguage::Jsonata;
        let token = if ResourceKind::waits_for_token(&t.resource) { Some(new_token(&mut *self.random)) } else { None };
        let raw = self.frame(f).input.clone();
        let effective = if jsonata {
            match &t.arguments {
                None => raw.clone(),
                Some(args) => {
                    match self.jsonata_template_with_token(f, args, &raw, "Arguments", None, token.as_deref()) {
                        Ok(v) => v,
                        Err(q) => return self.query_flow(f, q),
                    }
                }
            }
        } else {
            match self.effective_input(f, t.parameters.as_ref(), token.as_deref()) {
                Ok(v) => v,
                Err(e) => return Flow::Fail(e),
            }
        };
        let timeouts = self
            .resolve_seconds(f, &t.timeout_seconds, "TimeoutSeconds", &raw)
            .and_then(|tm| Ok((tm, self.resolve_seconds(f, &t.heartbeat_seconds, "HeartbeatSeconds", &raw)?)));
        let (timeout, heartbeat) = match timeouts {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        let credentials = match &t.credentials {
            None => None,
            Some(Payload::Path(tpl)) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(&raw, &ctx).with_variables(&vars);
                match tpl.eval(&scope, &mut *self.random) {
                    Ok(v) => Some(v),
                    Err(e) => return Flow::Fail(self.eval_failure(f, e)),
                }
            }
            Some(Payload::Jsonata(tpl)) => match self.jsonata_template(f, tpl, &raw, "Credentials", None) {
                Ok(v) => Some(v),
                Err(q) => return self.query_flow(f, q),
            },
        };
        let task = self.exec.next_task;
        self.exec.next_task += 1;
        let kind = ResourceKind::of(&t.resource);
        let region = self.exec.info.execution_arn.split(':').nth(3).unwrap_or("us-east-1").to_owned();
        let (ty, mut details) = match &kind {
            ResourceKind::Service { resource_type, resource } => (
                EventType::TaskScheduled,
                fields(json!({
                    "resourceType": resource_type,
                    "resource": resource,
                    "region": region,
                    "parameters": compact(&effective),
                })),
            ),
            ResourceKind::Activity => (
                EventType::ActivityScheduled,
                fields(
                    json!({"resource": t.resource, "input": compact(&effective), "inputDetails": {"truncated": false}}),
                ),
            ),
            ResourceKind::LambdaFunction => (
                EventType::LambdaFunctionScheduled,
                fields(
                    json!({"resource": t.resource, "input": compact(&effective), "inputDetails": {"truncated": false}}),
                ),
            ),
        };
        let effective_timeout = timeout.or(match kind {
            ResourceKind::Activity | ResourceKind::Service { .. } => {
                Some(crate::definition::DEFAULT_TASK_TIMEOUT_SECONDS)
            }
            ResourceKind::LambdaFunction => None,
        });
        if let Some(tm) = timeout.or(effective_timeout.filter(|_| token.is_some())) {
            details.insert("timeoutInSeconds".into(), tm.into());
        }
        if let Some(hb) = heartbeat {
            details.insert("heartbeatInSeconds".into(), hb.into());
        }
        if let Some(Value::Object(c)) = &credentials {
            if let Some(role) = c.get("RoleArn") {
                details.insert("taskCredentials".into(), json!({"roleArn": role}));
            }
        }
        self.emit(f, ty, Details::Fields(details));
        let timeout_timer = effective_timeout
            .filter(|s| *s < crate::definition::DEFAULT_TASK_TIMEOUT_SECONDS || timeout.is_some())
            .map(|s| self.start_timer(TimerPurpose::TaskTimeout(f), s * 1000));
        let heartbeat_timer = heartbeat.map(|s| self.start_timer(TimerPurpose::TaskHeartbeat(f), s * 1000));
        self.exec.tasks.insert(task, f);
        let waits_for_submission = t.resource.ends_with(".waitForTaskToken")
            || t.resource.ends_with(".sync")
            || t.resource.ends_with(".sync:2");
        self.frame_mut(f).phase = Phase::Task(Box::new(TaskWait {
            task,
            kind,
            timeout_timer,
            heartbeat_timer,
            heartbeat_seconds: heartbeat,
            waits_for_submission,
            started: false,
            submitted: false,
            early_result: None,
            approvals: Vec::new(),
        }));
        self.out.commands.push(Command::InvokeTask(Box::new(TaskRequest {
            task,
            state_name: self.state_of(f).name.clone(),
            resource: t.resource.clone(),
            input: effective,
            token,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            credentials,
        })));
        Flow::Blocked
    }

    fn run_map(&mut self, f: FrameId, m: &MapState) -> Flow {
        let raw = self.frame(f).input.clone();
        let selected = if self.state_of(f).query_language == QueryLanguage::Jsonata {
            raw
        } else {
            let state = self.state_of(f);
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let ctx = state_context(self.def, self.exec, f, None);
            let scope = Scope::new(&raw, &ctx).with_variables(&vars);
            match io::select(&state.input_path, &scope) {
                Ok(v) => v,
                Err(e) => return Flow::Fail(self.eval_failure(f, e)),
            }
        };
        let prepared = self.map_setup(f, m, &selected);
        let (items, max_concurrency) = match prepared {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        self.emit(f, EventType::MapStateStarted, Details::Fields(fields(json!({"length": items.len()}))));
        // AWS reads the tolerance after the state has started (the Map Run's settings).
        let (tolerated_count, tolerated_percentage) = match self.map_tolerance(f, m, &selected) {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        if m.distributed {
            let run_arn = format!(
                "{}/{}:{}",
                self.exec.info.state_machine_arn.replacen(":stateMachine:", ":mapRun:", 1),
                m.label.clone().unwrap_or_else(|| self.state_of(f).name.clone()),
                &mut *self.random.uuid_v4()
            );
            self.emit(f, EventType::MapRunStarted, Details::Fields(fields(json!({"mapRunArn": run_arn}))));
        }
        let n = items.len();
        let fan = Fanout {
            is_map: true,
            pending: items.into_iter().map(Some).collect(),
            next_slot: 0,
            running: Vec::new(),
            results: vec![Value::Null; n],
            done: 0,
            failed: 0,
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
            scheduled: true,
            outcome: None,
        };
        self.frame_mut(f).phase = Phase::Fanout(Box::new(fan));
        self.work.push(Work::Continue(f));
        Flow::Blocked
    }

    /// The items of a Map state (JSONata's `Items`, else ItemsPath or the input).
    fn map_items(&mut self, f: FrameId, m: &MapState, selected: &Value) -> Result<Vec<Value>, StepError> {
        if self.state_of(f).query_language == QueryLanguage::Jsonata {
            return match &m.items {
                None => match selected {
                    Value::Array(items) => Ok(items.clone()),
                    other => Err(QueryFailure::new(
                        "",
                        format!("Map state input must be an array but was: {}", compact(other)),
                    )
                    .into()),
                },
                Some(template) => match self.jsonata_template(f, template, selected, "Items", None)? {
                    Value::Array(items) => Ok(items),
                    other => Err(match template {
                        JsonataTemplate::Expression(e) => QueryFailure::unexpected_type(e, "Items", "array", &other),
                        _ => QueryFailure::new(
                            "Items",
                            format!("The value of the field 'Items' must be an array but was: {}", compact(&other)),
                        ),
                    }
                    .into()),
                },
            };
        }
        let items_value = match &m.items_path {
            None => selected.clone(),
            Some(p) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(selected, &ctx).with_variables(&vars);
                scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?
            }
        };
        match items_value {
            Value::Array(items) => Ok(items),
            other => Err(EvalFailure::runtime(format!(
                "Item selection failed: the value at '{}' is not a JSON array: {}",
                m.items_path.as_ref().map_or_else(|| "$".to_owned(), PathRef::as_str),
                compact(&other)
            ))
            .into()),
        }
    }

    /// A count field of a Map state (`MaxConcurrency`, `ToleratedFailureCount`).
    fn map_count(&mut self, f: FrameId, field: &str, d: &Dynamic<u64>, selected: &Value) -> Result<u64, StepError> {
        match d {
            Dynamic::Fixed(n) => Ok(*n),
            Dynamic::Jsonata(e) => Ok(self.jsonata_count(f, e, selected, field, 0)?),
            Dynamic::Path(p) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(selected, &ctx).with_variables(&vars);
                let v =
                    scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?;
                integer_value(&v).ok_or_else(|| {
                    EvalFailure::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid integer: {}",
                        json_value_text(&v),
                        p.as_str()
                    ))
                    .into()
                })
            }
        }
    }

    /// Items (after ItemSelector) and concurrency of a Map state.
    fn map_setup(&mut self, f: FrameId, m: &MapState, selected: &Value) -> Result<(Vec<Value>, usize), StepError> {
        let items = self.map_items(f, m, selected)?;
        let max_concurrency = self.map_count(f, "MaxConcurrency", &m.max_concurrency, selected)?;
        let selected_items = match &m.item_selector {
            None => items,
            Some(Payload::Path(tpl)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                    let mut ctx = state_context(self.def, self.exec, f, None);
                    ctx.map_item = Some((i, item));
                    let scope = Scope::new(selected, &ctx).with_variables(&vars);
                    out.push(tpl.eval(&scope, &mut *self.random)?);
                }
                out
            }
            Some(Payload::Jsonata(tpl)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.jsonata_template(f, tpl, selected, "ItemSelector", Some((i, item)))?);
                }
                out
            }
        };
        Ok((selected_items, usize::try_from(max_concurrency).unwrap_or(usize::MAX)))
    }

    /// ToleratedFailureCount and ToleratedFailurePercentage, read from the input when given
    /// as paths or expressions.
    fn map_tolerance(
        &mut self,
        f: FrameId,
        m: &MapState,
        selected: &Value,
    ) -> Result<(Option<u64>, Option<f64>), StepError> {
        let tolerated_count = match &m.tolerated_failure_count {
            None => None,
            Some(d) => Some(self.map_count(f, "ToleratedFailureCount", d, selected)?),
        };
        let tolerated_percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(Dynamic::Fixed(p)) => Some(*p),
            Some(Dynamic::Jsonata(e)) => {
                let v = self.jsonata_value(f, e, selected, "ToleratedFailurePercentage", None)?;
                match v.as_f64() {
                    Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                    _ => {
                        return Err(QueryFailure::unexpected_type(e, "ToleratedFailurePercentage", "number", &v).into())
                    }
                }
            }
            Some(Dynamic::Path(p)) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(selected, &ctx).with_variables(&vars);
                let v =
                    scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?;
                let pct = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok())).ok_or_else(|| {
                    EvalFailure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                        json_value_text(&v),
                        p.as_str()
                    ))
                })?;
                if !(0.0..=100.0).contains(&pct) {
                    return Err(EvalFailure::runtime("ToleratedFailurePercentage must be between 0 and 100.").into());
                }
                Some(pct)
            }
        };
        Ok((tolerated_count, tolerated_percentage))
    }

    /// Start children of a Map/Parallel while the concurrency limit allows, one at a time so
    /// each runs as far as it can before the next starts.
    fn continue_fanout(&mut self, f: FrameId) {
        let Phase::Fanout(fan) = &mut self.frame_mut(f).phase else { return };
        fan.scheduled = false;
        if fan.outcome.is_some() {
            self.work.push(Work::Run(f));
            return;
        }
        let limit = if fan.max_concurrency == 0 { usize::MAX } else { fan.max_concurrency };
        let total = fan.pending.len();
        if fan.next_slot < total && fan.running.len() < limit {
            let slot = fan.next_slot;
            fan.next_slot += 1;
            let input = fan.pending[slot].take().unwrap_or(Value::Null);
            let is_map = fan.is_map;
            fan.scheduled = true;
            let (graph, distributed) = match &self.state_of(f).kind {
                StateKind::Map(m) => (m.processor, m.distributed),
                StateKind::Parallel(p) => (p.branches[slot], false),
                _ => return,
            };
            let anchor = if is_map && !distributed {
                let name = self.state_of(f).name.clone();
                self.emit(
                    f,
                    EventType::MapIterationStarted,
                    Details::Fields(fields(json!({"name": name, "index": slot}))),
                )
            } else {
                self.frame(f).last_event
            };
            let child = self.new_frame(graph, Some(Parent { frame: f, slot }), input, anchor);
            if let Phase::Fanout(fan) = &mut self.frame_mut(f).phase {
                fan.running.push(child);
            }
            self.work.push(Work::Continue(f));
            self.work.push(Work::Run(child));
        } else if fan.running.is_empty() && fan.next_slot >= total {
            fan.outcome = Some(Ok(()));
            self.work.push(Work::Run(f));
        }
    }

    /// A frame reached its end (success or an uncaught failure).
    fn complete_frame(&mut self, f: FrameId, result: Result<Value, Failure>) {
        let parent = self.frame(f).parent.clone();
        self.frame_mut(f).phase = Phase::Done;
        let Some(Parent { frame: p, slot }) = parent else {
            match result {
                Ok(output) => {
                    let prev = self.frame(f).last_event;
                    self.free_frame(f);
                    self.end_execution_with_prev(
                        Status::Succeeded { output: output.clone() },
                        EventType::ExecutionSucceeded,
                        Details::Fields(fields(
                            json!({"output": compact(&output), "outputDetails": {"truncated": false}}),
                        )),
                        prev,
                    );
                }
                Err(failure) => {
                    let prev = self.frame(f).last_event;
                    self.fail_execution_with_prev(failure, prev);
                }
            }
            return;
        };
        // The iteration's closing event follows the iteration's own last event.
        let child_last = self.frame(f).last_event;
        self.free_frame(f);
        if !self.live(p) {
            return;
        }
        if !self.frame(p).silent {
            self.frame_mut(p).last_event = child_last;
        }
        let (is_map, distributed, name) = match &self.state_of(p).kind {
            StateKind::Map(m) => (true, m.distributed, self.state_of(p).name.clone()),
            _ => (false, false, String::new()),
        };
        let Phase::Fanout(fan) = &mut self.frame_mut(p).phase else { return };
        fan.running.retain(|c| *c != f);
        match result {
            Ok(output) => {
                fan.results[slot] = output;
                fan.done += 1;
                if is_map && !distributed {
                    self.emit(
                        p,
                        EventType::MapIterationSucceeded,
                        Details::Fields(fields(json!({"name": name, "index": slot}))),
                    );
                }
            }
            Err(failure) => {
                fan.failed += 1;
                fan.done += 1;
                let total = fan.pending.len();
                let tolerated = is_map && {
                    let within_count = fan.tolerated_count.is_some_and(|c| fan.failed as u64 <= c);
                    let within_pct = fan
                        .tolerated_percentage
                        .is_some_and(|pct| total > 0 && (fan.failed as f64 * 100.0 / total as f64) <= pct);
                    within_count || within_pct
                };
                let has_tolerance = fan.tolerated_count.is_some() || fan.tolerated_percentage.is_some();
                if is_map && !distributed {
                    self.emit(
                        p,
                        EventType::MapIterationFailed,
                        Details::Fields(fields(json!({"name": name, "index": slot}))),
                    );
                }
                if !tolerated {
                    let failure = if is_map && has_tolerance {
                        Failure {
                            from_task_result: false,
                            heartbeat: false,
                            error: Some(names::EXCEED_TOLERATED_FAILURE_THRESHOLD.into()),
                            cause: Some("The specified tolerated failure threshold was exceeded".into()),
                        }
                    } else {
                        failure
                    };
                    self.abort_children(p);
                    if let Phase::Fanout(fan) = &mut self.frame_mut(p).phase {
                        fan.outcome = Some(Err(failure));
                    }
                    self.work.push(Work::Run(p));
                    return;
                }
                if let Phase::Fanout(fan) = &mut self.frame_mut(p).phase {
                    fan.results[slot] = Value::Null;
                }
            }
        }
        if let Phase::Fanout(fan) = &mut self.frame_mut(p).phase {
            if !fan.scheduled {
                fan.scheduled = true;
                self.work.push(Work::Continue(p));
            }
        }
    }

    /// Stop every running child of a fan-out (a sibling failed, or the execution ends).
    fn abort_children(&mut self, p: FrameId) {
        let (children, is_map, distributed, name) = {
            let (is_map, distributed, name) = match &self.state_of(p).kind {
                StateKind::Map(m) => (true, m.distributed, self.state_of(p).name.clone()),
                _ => (false, false, String::new()),
            };
            let Phase::Fanout(fan) = &mut self.frame_mut(p).phase else { return };
            (std::mem::take(&mut fan.running), is_map, distributed, name)
        };
        for child in children {
            let slot = self.frame(child).parent.as_ref().map_or(0, |pp| pp.slot);
            self.abort_frame(child);
            if is_map && !distributed {
                self.emit(
                    p,
                    EventType::MapIterationAborted,
                    Details::Fields(fields(json!({"name": name, "index": slot}))),
                );
            }
        }
    }

    /// Abort a frame and everything under it, cancelling what it waits on.
    fn abort_frame(&mut self, f: FrameId) {
        if !self.live(f) {
            return;
        }
        let phase = std::mem::replace(&mut self.frame_mut(f).phase, Phase::Done);
        match phase {
            Phase::Task(w) => {
                self.exec.tasks.remove(&w.task);
                self.cancel_timer(w.timeout_timer);
                self.cancel_timer(w.heartbeat_timer);
                self.out.commands.push(Command::CancelTask { task: w.task });
                self.emit(f, EventType::TaskStateAborted, Details::None);
            }
            Phase::WaitTimer { timer, .. } => {
                self.cancel_timer(Some(timer));
                self.emit(f, EventType::WaitStateAborted, Details::None);
            }
            Phase::RetryTimer { timer } => self.cancel_timer(Some(timer)),
            Phase::Fanout(fan) => {
                let is_map = fan.is_map;
                self.frame_mut(f).phase = Phase::Fanout(fan);
                self.abort_children(f);
                self.emit(
                    f,
                    if is_map { EventType::MapStateAborted } else { EventType::ParallelStateAborted },
                    Details::None,
                );
            }
            Phase::Entering | Phase::Running | Phase::Done => {}
        }
        self.free_frame(f);
    }

    /// Every child of a Map/Parallel has finished (or one failed): complete the state.
    fn finish_fanout(&mut self, f: FrameId) -> Flow {
        let phase = std::mem::replace(&mut self.frame_mut(f).phase, Phase::Running);
        let Phase::Fanout(fan) = phase else { return Flow::Blocked };
        let distributed = matches!(&self.state_of(f).kind, StateKind::Map(m) if m.distributed);
        match fan.outcome {
            Some(Ok(())) => {
                if fan.is_map {
                    if distributed {
                        self.emit(f, EventType::MapRunSucceeded, Details::None);
                    }
                    self.emit(f, EventType::MapStateSucceeded, Details::None);
                }
                let results = Value::Array(fan.results);
                if payload_too_large(&results) {
                    return Flow::Fail(self.data_limit(f));
                }
                self.after_result(f, results)
            }
            Some(Err(failure)) => {
                if fan.is_map && distributed {
                    let mut d = Map::new();
                    if let Some(e) = &failure.error {
                        d.insert("error".into(), Value::String(e.clone()));
                    }
                    if let Some(c) = &failure.cause {
                        d.insert("cause".into(), Value::String(c.clone()));
                    }
                    self.emit(f, EventType::MapRunFailed, Details::Fields(d));
                }
                Flow::ChildrenFailed(failure)
            }
            None => Flow::Blocked,
        }
    }

    // ----- Retry and Catch -----------------------------------------------------------------

    /// Retry (re-running the state after a backoff) or Catch (leaving to the catcher's
    /// state); a failure neither handles comes back as `Flow::Fail`.
    fn handle_failure(&mut self, f: FrameId, failure: Failure, children_failed: bool) -> Flow {
        let state = self.state_of(f);
        let (retriers, catchers): (&[Retrier], &[Catcher]) = match &state.kind {
            StateKind::Task(t) => (&t.retry, &t.catch),
            StateKind::Parallel(p) => (&p.retry, &p.catch),
            StateKind::Map(m) => (&m.retry, &m.catch),
            _ => (&[], &[]),
        };
        let error = failure.error_name().to_owned();
        // A task result over the size limit is terminal elsewhere, but a catcher or retrier
        // for States.ALL (or for the error by name) sees it, as AWS records.
        let catchable_limit = failure.from_task_result && error == names::DATA_LIMIT_EXCEEDED;
        let terminal = failure.is_terminal() && !catchable_limit;
        let heartbeat = failure.heartbeat;
        let matches = |list: &[String]| {
            error_matches(list, &error)
                || (catchable_limit && list.iter().any(|e| e == names::ALL))
                || (heartbeat && list.iter().any(|e| e == names::HEARTBEAT_TIMEOUT))
        };
        if !terminal {
            if let Some((i, r)) = retriers.iter().enumerate().find(|(_, r)| matches(&r.error_equals)) {
                let fr = self.frame_mut(f);
                if fr.retry_counts.len() < retriers.len() {
                    fr.retry_counts.resize(retriers.len(), 0);
                }
                let attempt = fr.retry_counts[i];
                if attempt < r.max_attempts {
                    fr.retry_counts[i] += 1;
                    fr.retry_total += 1;
                    let delay_ms = retry_delay_ms(r, attempt, &mut *self.random);
                    let timer = self.start_timer(TimerPurpose::RetryBackoff(f), delay_ms);
                    self.frame_mut(f).phase = Phase::RetryTimer { timer };
                    return Flow::Blocked;
                }
            }
        }
        if children_failed {
            let ty = if matches!(state.kind, StateKind::Map(_)) {
                EventType::MapStateFailed
            } else {
                EventType::ParallelStateFailed
            };
            self.emit(f, ty, Details::None);
        }
        if terminal {
            return Flow::Fail(failure);
        }
        if let Some(c) = catchers.iter().find(|c| matches(&c.error_equals)) {
            let raw = self.frame(f).input.clone();
            let error_output = failure.error_output();
            // A catcher that fails itself ends the frame: catching its own failure again
            // would loop.
            if state.query_language == QueryLanguage::Jsonata {
                return match self.jsonata_exit(f, c.output.as_ref(), c.assign.as_ref(), &raw, None, Some(&error_output))
                {
                    Ok((output, assigned)) => {
                        Flow::Caught { output: output.unwrap_or(error_output), next: c.next, assigned }
                    }
                    Err(q) => {
                        let failure = self.query_failure(f, q);
                        self.fail_frame_now(f, failure)
                    }
                };
            }
            let assigned = match self.assign_path(f, c.assign.as_ref(), &error_output) {
                Ok(a) => a,
                Err(failure) => return self.fail_frame_now(f, failure),
            };
            return match io::merge_result(&c.result_path, &raw, error_output) {
                Ok(output) => Flow::Caught { output, next: c.next, assigned },
                Err(e) => Flow::Fail(self.eval_failure(f, e)),
            };
        }
        Flow::Fail(failure)
    }

    // ----- ending the execution ------------------------------------------------------------

    fn fail_execution(&mut self, failure: Failure) {
        let prev = self.exec.next_event_id - 1;
        self.fail_execution_with_prev(failure, prev);
    }

    fn fail_execution_with_prev(&mut self, failure: Failure, prev: u64) {
        let mut d = Map::new();
        if let Some(e) = &failure.error {
            d.insert("error".into(), Value::String(e.clone()));
        }
        if let Some(c) = &failure.cause {
            d.insert("cause".into(), Value::String(c.clone()));
        }
        self.end_execution_with_prev(
            Status::Failed { error: failure.error, cause: failure.cause },
            EventType::ExecutionFailed,
            Details::Fields(d),
            prev,
        );
    }

    fn end_execution(&mut self, status: Status, ty: EventType, details: Details, previous_zero: bool) {
        let prev = if previous_zero { 0 } else { self.exec.next_event_id - 1 };
        self.end_execution_with_prev(status, ty, details, prev);
    }

    /// Write the terminal event and cancel everything still waiting.
    fn end_execution_with_prev(&mut self, status: Status, ty: EventType, details: Details, prev: u64) {
        if self.exec.status.is_terminal() {
            return;
        }
        for (task, _) in std::mem::take(&mut self.exec.tasks) {
            self.out.commands.push(Command::CancelTask { task });
        }
        for (timer, _) in std::mem::take(&mut self.exec.timers) {
            self.out.commands.push(Command::CancelTimer { timer });
        }
        if !matches!(status, Status::Succeeded { .. }) {
            self.exec.redrive_from =
                self.exec.frames.iter().flatten().find(|fr| fr.parent.is_none()).map(|fr| (fr.state, fr.input.clone()));
        }
        self.exec.frames.clear();
        self.exec.free_frames.clear();
        self.emit_raw(prev, ty, details);
        self.exec.status = status;
    }
}

fn live_frame(exec: &Execution, f: FrameId) -> &Frame {
    exec.frames[f].as_ref().expect("frame ids on the work stack refer to live frames")
}

/// A failure from evaluating the state's own fields, with AWS's location prefix.
fn eval_failure(def: &Definition, exec: &Execution, f: FrameId, e: EvalFailure) -> Failure {
    let fr = live_frame(exec, f);
    Failure {
        from_task_result: false,
        heartbeat: false,
        error: Some(e.error),
        cause: Some(format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
            def.state(fr.graph, fr.state).name,
            fr.entered_event,
            e.message
        )),
    }
}

/// The context object for the state frame `f` is in.
fn state_context<'s>(
    def: &'s Definition,
    exec: &'s Execution,
    f: FrameId,
    task_token: Option<&'s str>,
) -> StateContext<'s> {
    let fr = live_frame(exec, f);
    let state = def.state(fr.graph, fr.state);
    let retries = matches!(state.kind, StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_));
    StateContext {
        execution: &exec.info,
        execution_input: &exec.input,
        state_name: &state.name,
        entered_time: fr.entered_time,
        retry_count: retries.then_some(fr.retry_total),
        task_token,
        map_item: None,
    }
}

/// Does `error` match an `ErrorEquals` list? `States.ALL` matches everything but the
/// terminal errors; `States.TaskFailed` matches everything but timeouts.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| match e.as_str() {
        names::ALL => !matches!(error, names::RUNTIME | names::DATA_LIMIT_EXCEEDED),
        names::TASK_FAILED => {
            !matches!(error, names::TIMEOUT | names::HEARTBEAT_TIMEOUT | names::RUNTIME | names::DATA_LIMIT_EXCEEDED)
        }
        names::TIMEOUT => error == names::TIMEOUT || error == names::HEARTBEAT_TIMEOUT,
        other => other == error,
    })
}

/// The backoff before retry number `attempt + 1`: IntervalSeconds × BackoffRate^attempt,
/// capped by MaxDelaySeconds, then jittered when asked.
pub fn retry_delay_ms(r: &Retrier, attempt: u64, random: &mut dyn Randomness) -> u64 {
    let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut secs = r.interval_seconds as f64 * r.backoff_rate.powi(exp);
    if let Some(max) = r.max_delay_seconds {
        secs = secs.min(max as f64);
    }
    secs = secs.min(99_999_999.0);
    let ms = (secs * 1000.0) as u64;
    match r.jitter {
        Jitter::None => ms,
        Jitter::Full => {
            if ms == 0 {
                0
            } else {
                random.next_u64() % (ms + 1)
            }
        }
    }
}

/// A task token: 256 random bits, URL-safe text.
fn new_token(random: &mut dyn Randomness) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&random.next_u64().to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Why a state's work failed: a JSONPath/intrinsic failure, or a JSONata field's
/// (`States.QueryEvaluationError`, which also writes an `EvaluationFailed` event).
enum StepError {
    Eval(EvalFailure),
    Query(QueryFailure),
}

impl From<EvalFailure> for StepError {
    fn from(e: EvalFailure) -> Self {
        StepError::Eval(e)
    }
}

impl From<QueryFailure> for StepError {
    fn from(q: QueryFailure) -> Self {
        StepError::Query(q)
    }
}

/// Attach a state's assignments to the way it leaves.
fn with_assigned(flow: Flow, assigned: Assigned) -> Flow {
    match flow {
        Flow::Exit(output, _) => Flow::Exit(output, assigned),
        Flow::Caught { output, next, .. } => Flow::Caught { output, next, assigned },
        other => other,
    }
}

fn no_choice_matched(state: &State) -> Failure {
    Failure {
        from_task_result: false,
        heartbeat: false,
        error: Some(names::NO_CHOICE_MATCHED.into()),
        cause: Some(format!("No Matches! in state '{}'", state.name)),
    }
}

/// A non-negative whole number, however JSON wrote it (`3`, `3.0`).
fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n < 9.0e15).map(|n| n as u64))
}

/// A non-negative integer from a path: a number, or a string holding one (as a variable
/// assigned `"1"` gives).
fn integer_value(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<u64>().ok()))
}

/// A value as AWS quotes it in messages: strings bare, the rest as JSON.
fn json_value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => compact(other),
    }
}
