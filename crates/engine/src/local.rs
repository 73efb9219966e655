//! The in-process runner: one execution, start to end, in memory. Backs `baton run` and the
//! conformance tests.
//!
//! Tasks go through the same [`Integrations`] as `baton serve`'s Standard executions (by
//! default the functions, HTTP Task and AWS services of the configuration; `baton serve`
//! hands in all of its own for Express executions), each call awaited before the execution
//! goes on; timers sleep on the real clock, or,
//! with `fast_forward`, jump a virtual clock to the next timer so a workflow that waits a day
//! finishes in milliseconds while its history still shows the virtual times.

use std::collections::{BTreeMap, VecDeque};

use asl::context::ExecutionInfo;
use asl::eval::Randomness;
use asl::history::HistoryEvent;
use asl::interpreter::{self, Command, Env, Event, Execution, Status, StepOutput, TimerId};
use asl::timestamp::Millis;
use asl::Definition;
use serde_json::Value;

use crate::clock::{Clock, RunClock};
use crate::config::Config;
use crate::integrations::Integrations;
use crate::mocks::TestCaseRef;
use crate::random::OsRandomness;
use crate::task::UNSUPPORTED_RESOURCE;
use crate::task::{Outcome, TaskCall};

/// Called with each batch of new history events as the execution runs.
pub type EventSink = Box<dyn FnMut(&[HistoryEvent])>;

pub struct LocalOptions {
    pub config: Config,
    /// What Tasks reach; `None`: the configuration's functions, HTTP Task and AWS services.
    pub integrations: Option<Integrations>,
    pub fast_forward: bool,
    pub state_machine_name: String,
    pub execution_name: String,
    /// Randomness for tokens, UUIDs and jitter; the OS generator when `None`.
    pub random: Option<Box<dyn Randomness>>,
    pub on_events: Option<EventSink>,
    /// The mock test case the execution runs with (`stateMachineArn#TestCase`); its mocked
    /// responses come from the `integrations`' MockConfigFile.
    pub mock: Option<TestCaseRef>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            integrations: None,
            fast_forward: false,
            state_machine_name: "local".into(),
            execution_name: "local-execution".into(),
            random: None,
            on_events: None,
            mock: None,
        }
    }
}

/// A finished local execution.
pub struct LocalRun {
    pub execution: Execution,
    pub history: Vec<HistoryEvent>,
}

impl LocalRun {
    pub fn status(&self) -> &Status {
        &self.execution.status
    }
}

/// Where the integrations' calls are awaited: the runtime of the caller (a blocking thread of
/// `baton serve`'s runtime), or one of our own when called from plain code (`baton run`,
/// tests).
pub(crate) enum Calls {
    Caller(tokio::runtime::Handle),
    Own(tokio::runtime::Runtime),
}

impl Calls {
    pub(crate) fn new() -> Self {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => Calls::Caller(handle),
            Err(_) => Calls::Own(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds on any platform Baton runs on"),
            ),
        }
    }

    pub(crate) fn run(&self, integrations: &Integrations, call: TaskCall) -> Outcome {
        match self {
            Calls::Caller(handle) => handle.block_on(integrations.call(call)),
            Calls::Own(runtime) => runtime.block_on(integrations.call(call)),
        }
    }
}

/// Run `definition` with `input` to its end. Blocks: call it from a blocking thread (e.g.
/// `spawn_blocking`), never from an async task.
pub fn run_local(definition: &Definition, input: Value, mut options: LocalOptions) -> LocalRun {
    let mut random: Box<dyn Randomness> = options.random.take().unwrap_or_else(|| Box::new(OsRandomness::new()));
    let mut clock = RunClock::new(options.fast_forward);
    let info = ExecutionInfo::local(&options.state_machine_name, &options.execution_name, clock.now());
    let execution_arn = info.execution_arn.clone();
    let integrations =
        options.integrations.take().unwrap_or_else(|| Integrations::with_functions(options.config.clone()));
    let calls = Calls::new();
    let mock = options.mock.take();
    let (mut execution, first) = {
        let mut env = Env { now: clock.now(), random: random.as_mut(), missing_activities: &[] };
        interpreter::start(definition, info, input, &mut env)
    };
    let mut history = Vec::new();
    let mut timers: BTreeMap<TimerId, Millis> = BTreeMap::new();
    let mut events: VecDeque<Event> = VecDeque::new();
    let mut absorb = |out: StepOutput,
                      history: &mut Vec<HistoryEvent>,
                      timers: &mut BTreeMap<TimerId, Millis>,
                      events: &mut VecDeque<Event>| {
        if let Some(cb) = options.on_events.as_mut() {
            cb(&out.events);
        }
        history.extend(out.events);
        for cmd in out.commands {
            match cmd {
                Command::InvokeTask(req) => {
                    events.push_back(Event::TaskStarted { task: req.task, worker_name: None });
                    let call = TaskCall::of(&req, &execution_arn, req.input.clone()).with_mock(mock.clone());
                    let (error, cause) = match calls.run(&integrations, call) {
                        Outcome::Succeeded(output) => {
                            events.push_back(Event::TaskSucceeded { task: req.task, output });
                            continue;
                        }
                        Outcome::SubmittedAndEnded { submitted, end } => {
                            events.push_back(Event::TaskSubmitted { task: req.task, output: submitted });
                            match end {
                                Ok(output) => {
                                    events.push_back(Event::TaskSucceeded { task: req.task, output });
                                    continue;
                                }
                                Err(failure) => failure,
                            }
                        }
                        Outcome::Failed { error, cause } => (error, cause),
                        // Nothing can answer a token or report a child's end here.
                        Outcome::Submitted(_) => (
                            UNSUPPORTED_RESOURCE.to_owned(),
                            format!(
                                "Resource '{}': it waits for a callback or for work it started, which only baton serve's Standard executions can receive",
                                req.resource
                            ),
                        ),
                    };
                    events.push_back(Event::TaskFailed { task: req.task, error: Some(error), cause: Some(cause) });
                }
                // Tasks here finish synchronously, so there is nothing left to cancel.
                Command::CancelTask { .. } => {}
                Command::StartTimer { timer, fire_at } => {
                    timers.insert(timer, fire_at);
                }
                Command::CancelTimer { timer } => {
                    timers.remove(&timer);
                }
            }
        }
    };
    absorb(first, &mut history, &mut timers, &mut events);
    while !execution.status.is_terminal() {
        let event = match events.pop_front() {
            Some(e) => e,
            None => {
                // Earliest timer; ties fire in the order they were armed.
                let Some((&timer, &at)) = timers.iter().min_by_key(|(id, at)| (**at, **id)) else {
                    break;
                };
                clock.wait_until(at);
                timers.remove(&timer);
                Event::TimerFired { timer }
            }
        };
        let out = {
            let mut env = Env { now: clock.now(), random: random.as_mut(), missing_activities: &[] };
            interpreter::step(definition, &mut execution, event, &mut env)
        };
        absorb(out, &mut history, &mut timers, &mut events);
    }
    integrations.execution_ended(&execution_arn);
    LocalRun { execution, history }
}
