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

mod choice;
mod execution;
mod fail;
mod fanout;
mod map;
mod map_handover;
mod map_run;
mod map_writer;
mod messages;
mod parallel;
mod pass;
mod pipeline;
mod retry_catch;
mod succeed;
mod task;
mod variables;
mod votes;
mod wait;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::context::{ExecutionInfo, StateContext};
use crate::definition::{Definition, GraphId, State, StateId, StateKind, Transition};
use crate::error::{names, EvalFailure};
use crate::eval::Randomness;
use crate::history::{Details, EventType, HistoryEvent};
use crate::jsonata::QueryFailure;
use crate::template::compact;
use crate::timestamp::Millis;

pub use execution::{Execution, Failure, Status};
use execution::{Frame, Parent, Phase, TimerPurpose};
pub use map_handover::{
    child_record, exceeds_tolerance, Batcher, Batching, ChildInputs, ChildRecord, ItemSource, MapRunEnd, MapRunFailure,
    MapRunOutcome, MapRunRedrive, MapRunSpec, WriterRequest, MAP_RUN_RESOURCE,
};
pub use map_run::{ItemCounts, MapRun, ITEM_READER_RESOURCE, RESULT_WRITER_RESOURCE};
pub use map_writer::transform_results;
pub use messages::{Command, Event, StepOutput, TaskRequest};
pub use pipeline::{ChildrenOutcome, Stage, StageObserver};
pub use retry_catch::{error_matches, retry_delay_ms};
use variables::{Assigned, FrameVars};

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
    start_observed(def, info, input, env, None)
}

/// [`start`], reporting each state's processing stages to `observer`.
pub fn start_observed(
    def: &Definition,
    info: ExecutionInfo,
    input: Value,
    env: &mut Env<'_>,
    observer: Option<&mut dyn StageObserver>,
) -> (Execution, StepOutput) {
    start_seeded(def, info, input, env, observer, None)
}

/// [`start_observed`], with the top-level scope's variables set before the first state runs
/// (TestState's `variables`).
pub fn start_seeded(
    def: &Definition,
    info: ExecutionInfo,
    input: Value,
    env: &mut Env<'_>,
    observer: Option<&mut dyn StageObserver>,
    variables: Option<Map<String, Value>>,
) -> (Execution, StepOutput) {
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
        map_runs: Vec::new(),
    };
    let mut run = Run::new(def, &mut exec, env, observer);
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
        if let Some(vars) = variables.filter(|v| !v.is_empty()) {
            run.exec.variable_bytes += vars.values().map(|v| compact(v).len()).sum::<usize>();
            run.frame_mut(root).vars = Some(Box::new(vars));
        }
        run.work.push(Work::Run(root));
        run.drain();
    }
    let out = run.out;
    (exec, out)
}

/// Feed one event to a running execution.
pub fn step(def: &Definition, exec: &mut Execution, event: Event, env: &mut Env<'_>) -> StepOutput {
    step_observed(def, exec, event, env, None)
}

/// [`step`], reporting each state's processing stages to `observer`.
pub fn step_observed(
    def: &Definition,
    exec: &mut Execution,
    event: Event,
    env: &mut Env<'_>,
    observer: Option<&mut dyn StageObserver>,
) -> StepOutput {
    if exec.status.is_terminal() {
        return StepOutput::default();
    }
    let mut run = Run::new(def, exec, env, observer);
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
    let mut run = Run::new(def, exec, env, None);
    let prev = run.exec.next_event_id - 1;
    run.emit_raw(prev, EventType::ExecutionRedriven, Details::Fields(fields(json!({"redriveCount": redrive_count}))));
    run.redriving_map_run = true;
    if let Some(t) = def.timeout_seconds {
        run.start_timer(TimerPurpose::ExecutionTimeout, t.saturating_mul(1000));
    }
    let root = run.new_frame(0, None, input, prev + 1);
    run.frame_mut(root).state = state;
    run.work.push(Work::Run(root));
    run.drain();
    Some(run.out)
}

struct Run<'a, 'o> {
    def: &'a Definition,
    exec: &'a mut Execution,
    random: &'a mut dyn Randomness,
    missing_activities: &'a [String],
    now: Millis,
    out: StepOutput,
    work: Vec<Work>,
    /// Who sees each state's processing stages; `None` for ordinary runs.
    observer: Option<&'o mut dyn StageObserver>,
    /// A redrive began this step: the failed Map Run of the Map state it re-enters is taken
    /// up again rather than a new one started.
    redriving_map_run: bool,
}

impl<'a, 'o> Run<'a, 'o> {
    fn new(
        def: &'a Definition,
        exec: &'a mut Execution,
        env: &'a mut Env<'_>,
        observer: Option<&'o mut dyn StageObserver>,
    ) -> Self {
        Run {
            def,
            exec,
            random: &mut *env.random,
            missing_activities: env.missing_activities,
            now: env.now,
            out: StepOutput::default(),
            work: Vec::new(),
            observer,
            redriving_map_run: false,
        }
    }
}

#[inline]
fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[inline]
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

impl<'a> Run<'a, '_> {
    #[inline]
    fn frame(&self, id: FrameId) -> &Frame {
        self.exec.frames[id].as_ref().expect("frame ids on the work stack refer to live frames")
    }

    #[inline]
    fn frame_mut(&mut self, id: FrameId) -> &mut Frame {
        self.exec.frames[id].as_mut().expect("frame ids on the work stack refer to live frames")
    }

    #[inline]
    fn live(&self, id: FrameId) -> bool {
        self.exec.frames.get(id).is_some_and(Option::is_some)
    }

    #[inline]
    fn state_of(&self, id: FrameId) -> &'a State {
        let f = self.frame(id);
        let def: &'a Definition = self.def;
        def.state(f.graph, f.state)
    }

    #[inline]
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

    #[inline]
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

    #[inline]
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
    #[inline]
    fn emit(&mut self, frame: FrameId, event_type: EventType, details: Details) -> u64 {
        if self.frame(frame).silent {
            return self.frame(frame).last_event;
        }
        let prev = self.frame(frame).last_event;
        let id = self.emit_raw(prev, event_type, details);
        self.frame_mut(frame).last_event = id;
        id
    }

    #[inline]
    fn start_timer(&mut self, purpose: TimerPurpose, delay_ms: u64) -> TimerId {
        let id = self.exec.next_timer;
        self.exec.next_timer += 1;
        self.exec.timers.insert(id, purpose);
        let fire_at = self.now.saturating_add(i64::try_from(delay_ms).unwrap_or(i64::MAX));
        self.out.commands.push(Command::StartTimer { timer: id, fire_at });
        id
    }

    #[inline]
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
    /// The event loop's entry: one outside event, routed to the part of the interpreter that
    /// owns what it answers.
    fn handle(&mut self, event: Event) {
        match event {
            Event::TaskStarted { task, worker_name } => self.task_started(task, worker_name),
            Event::TaskSubmitted { task, output } => self.task_submitted(task, output),
            Event::TaskHeartbeat { task } => self.task_heartbeat(task),
            Event::TaskSucceeded { task, output } => match self.map_read_frame(task) {
                Some(f) => self.map_read_ended(f, task, Ok(output)),
                None => self.task_succeeded(task, output),
            },
            Event::TaskFailed { task, error, cause } => match self.map_read_frame(task) {
                Some(f) => {
                    let failure = Failure { error, cause, from_task_result: false, heartbeat: false };
                    self.map_read_ended(f, task, Err(failure));
                }
                None => self.task_failed(task, error, cause),
            },
            Event::TimerFired { timer } => {
                let Some(purpose) = self.exec.timers.remove(&timer) else { return };
                self.timer_fired(timer, purpose);
            }
            Event::TaskAnswered { audit, answer } => self.task_answered(audit, answer),
            Event::MapRunUpdated {
                map_run_arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
            } => self.update_map_run(
                &map_run_arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
            ),
            Event::TaskVote { task, by, approve, needed, audit } => self.task_vote(task, by, approve, needed, audit),
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
            TimerPurpose::Wait(f) => self.wait_timer_fired(f, timer),
            TimerPurpose::RetryBackoff(f) => self.retry_timer_fired(f, timer),
            TimerPurpose::TaskTimeout(f) | TimerPurpose::TaskHeartbeat(f) => self.task_timer_fired(f, timer),
        }
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
                if let Err(failure) = self.leave_state(f, &output, assigned) {
                    return self.follow(f, Flow::Fail(failure));
                }
                match crate::definition::transition_of(&self.state_of(f).kind).unwrap_or(Transition::End) {
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
                if let Err(failure) = self.leave_state(f, &output, assigned) {
                    return self.follow(f, Flow::Fail(failure));
                }
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

    /// The state leaves: its assignments are applied and its `*StateExited` event written; a
    /// failure to assign fails the state instead.
    #[inline]
    fn leave_state(&mut self, f: FrameId, output: &Value, assigned: Assigned) -> Result<(), Failure> {
        self.observe_variables(f, &assigned);
        let assigned_variables = self.apply_assigned(f, assigned)?;
        self.observe(f, Stage::Output, output);
        let state = self.state_of(f);
        let ty = EventType::state_exited(state.kind.type_name());
        let name = state.name.clone();
        self.emit(f, ty, Details::StateExited { name, output: output.clone(), assigned_variables });
        Ok(())
    }

    /// Whether frame `f` runs a branch of a Parallel state.
    fn in_parallel_branch(&self, f: FrameId) -> bool {
        self.frame(f).parent.as_ref().is_some_and(|p| matches!(self.state_of(p.frame).kind, StateKind::Parallel(_)))
    }

    #[inline]
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

    /// Run the current state's work: one dispatch per state type; each state's module reads
    /// its fields in the state's query language, which its type's `Fields` holds.
    fn run_state(&mut self, f: FrameId) -> Flow {
        if self.observer.is_some() {
            let input = self.frame(f).input.clone();
            self.observe(f, Stage::Input, &input);
        }
        let state = self.state_of(f);
        match &state.kind {
            StateKind::Pass(p) => self.run_pass(f, p),
            StateKind::Succeed(io) => self.run_succeed(f, io),
            StateKind::Choice(c) => self.run_choice(f, state, c),
            StateKind::Wait(w) => self.run_wait(f, w),
            StateKind::Fail(fail) => self.run_fail(f, fail),
            StateKind::Task(t) => self.run_task(f, t),
            StateKind::Parallel(p) => self.run_parallel(f, p),
            StateKind::Map(m) => self.run_map(f, m),
        }
    }

    /// A failure in a state whose errors no retrier or catcher may see (Fail state's own
    /// path errors): the frame fails as it stands.
    fn fail_frame_now(&mut self, f: FrameId, failure: Failure) -> Flow {
        self.complete_frame(f, Err(failure));
        Flow::Ended
    }

    /// A frame reached its end (success or an uncaught failure): the execution ends with the
    /// top-level frame; a child frame reports to its Parallel or Map state.
    fn complete_frame(&mut self, f: FrameId, result: Result<Value, Failure>) {
        let parent = self.frame(f).parent.clone();
        self.frame_mut(f).phase = Phase::Done;
        let Some(parent) = parent else {
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
        self.child_finished(f, parent, result);
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
            Phase::MapRead(read) => {
                self.exec.tasks.remove(&read.task);
                self.out.commands.push(Command::CancelTask { task: read.task });
                self.close_map_run(f, "ABORTED", read.run_counts());
                self.emit(f, EventType::MapStateAborted, Details::None);
            }
            Phase::Fanout(fan) => {
                let is_map = fan.is_map;
                self.close_map_run(f, "ABORTED", fan.run_counts());
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
        self.abort_map_runs();
        self.exec.frames.clear();
        self.exec.free_frames.clear();
        self.emit_raw(prev, ty, details);
        self.exec.status = status;
    }
}

#[inline]
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
#[inline]
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
#[inline]
fn with_assigned(flow: Flow, assigned: Assigned) -> Flow {
    match flow {
        Flow::Exit(output, _) => Flow::Exit(output, assigned),
        Flow::Caught { output, next, .. } => Flow::Caught { output, next, assigned },
        other => other,
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
