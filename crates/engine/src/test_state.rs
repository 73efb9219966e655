//! TestState's shell: runs the one-state machine of [`asl::test_state`] to the point where
//! the state under test has left, failed, or waits for a retry.
//!
//! A Task reaches the same [`Integrations`] as an execution's (functions, HTTP Task, queues,
//! topics, AWS endpoints), through [`TaskCall::of`]; a mocked Task is answered with its mock
//! instead, once the mock passed the field validation AWS applies ([`mock_shapes`]).
//! Timers do not wait: the run keeps a virtual clock, so a Wait state or a retrier's backoff
//! (`stateConfiguration.retrierRetryCount` replays that many retries first) takes no time.

use std::collections::{BTreeMap, VecDeque};

use asl::context::ExecutionInfo;
use asl::interpreter::{self, Command, Env, Event, Execution, StepOutput, TimerId};
use asl::test_state::{
    prepare, InspectionLevel, Inspector, Mock, Retrying, StateConfiguration, TestRun, TestStateError, STATE_NAME,
};
use asl::timestamp::Millis;
use serde_json::{Map, Value};

use crate::clock::{Clock, RunClock};
use crate::config::HttpTaskConfig;
use crate::http_task;
use crate::integrations::Integrations;
use crate::local::Calls;
use crate::random::OsRandomness;
use crate::task::{Outcome, Pattern, TaskCall};

pub mod http_trace;
pub mod mock_shapes;

pub use mock_shapes::FieldValidationMode;

/// A TestState request, parsed.
#[derive(Debug, Clone)]
pub struct TestStateRequest {
    pub definition: String,
    pub state_name: Option<String>,
    pub input: Value,
    pub level: InspectionLevel,
    pub variables: Option<Map<String, Value>>,
    /// The context object the state sees, when given: it replaces the computed one whole.
    pub context: Option<Map<String, Value>>,
    pub mock: Option<Mock>,
    pub field_validation: FieldValidationMode,
    pub configuration: StateConfiguration,
    /// TRACE shows the headers an HTTP Task's connection adds.
    pub reveal_secrets: bool,
}

/// Run a TestState request. `info` names the execution the state runs in (an Express
/// execution's identity). Blocks: call it from a blocking thread.
pub fn test_state(
    request: TestStateRequest,
    mut info: ExecutionInfo,
    integrations: &Integrations,
    http: &HttpTaskConfig,
) -> Result<Value, TestStateError> {
    let run = prepare(&request.definition, request.state_name.as_deref())?;
    run.check_configuration(&request.configuration)?;
    match &request.mock {
        None => run.check_needs_mock()?,
        Some(mock) => run.check_mock(mock, &request.configuration)?,
    }
    if let Some(mock) = &request.mock {
        if let (Mock::Result(result), Some(resource)) = (mock, run.resource()) {
            mock_shapes::check(resource, result, request.field_validation).map_err(TestStateError::Validation)?;
        }
    }
    info.express = true;
    info.context = request.context.clone().map(Value::Object);
    let mut inspector = Inspector::new(&run, request.mock.as_ref(), &request.configuration);
    let mut random = OsRandomness::new();
    let mut clock = RunClock::virtual_from(info.start_time);
    let execution_arn = info.execution_arn.clone();
    let (mut execution, first) = {
        let mut env = Env { now: clock.now(), random: &mut random, missing_activities: &[] };
        interpreter::start_seeded(
            &run.definition,
            info,
            request.input.clone(),
            &mut env,
            Some(&mut inspector),
            request.variables.clone(),
        )
    };
    let calls = Calls::new();
    let mut shell = Shell {
        run: &run,
        mock: request.mock.as_ref(),
        integrations,
        calls: &calls,
        execution_arn: &execution_arn,
        events: VecDeque::new(),
        timers: BTreeMap::new(),
        trace: (request.level == InspectionLevel::Trace).then_some((http, request.reveal_secrets)),
        http_exchange: None,
        reader_data: request.configuration.map_item_reader_data.as_ref(),
    };
    shell.absorb(first);
    // Retries past what any retrier makes change nothing: the retrier is spent.
    let retries_to_replay = request.configuration.retrier_retry_count.min(run.most_retries());
    let mut retries_made = 0;
    let mut retrying = None;
    while !inspector.exited() && !execution.status.is_terminal() {
        let event = match shell.events.pop_front() {
            Some(e) => e,
            None => {
                let Some((&timer, &at)) = shell.timers.iter().min_by_key(|(id, at)| (**at, **id)) else { break };
                if inspector.failed() {
                    // The state failed and a retrier waits to run it again.
                    if retries_made >= retries_to_replay {
                        retrying = Some(Retrying { backoff_ms: u64::try_from(at - clock.now()).unwrap_or(0) });
                        break;
                    }
                    retries_made += 1;
                }
                shell.timers.remove(&timer);
                clock.wait_until(at);
                Event::TimerFired { timer }
            }
        };
        let out = step(&run, &mut execution, event, clock.now(), &mut random, &mut inspector);
        shell.absorb(out);
    }
    let mut answer = inspector.response(&run, &execution.status, retrying, request.level, request.variables.as_ref());
    if let (Some((sent, got)), Some(Value::Object(data))) = (shell.http_exchange, answer.get_mut("inspectionData")) {
        data.insert("request".into(), sent);
        data.insert("response".into(), got);
    }
    Ok(answer)
}

fn step(
    run: &TestRun,
    execution: &mut Execution,
    event: Event,
    now: Millis,
    random: &mut OsRandomness,
    inspector: &mut Inspector,
) -> StepOutput {
    let mut env = Env { now, random, missing_activities: &[] };
    interpreter::step_observed(&run.definition, execution, event, &mut env, Some(inspector))
}

/// Carries out what the interpreter asks for during a test run.
struct Shell<'a> {
    run: &'a TestRun,
    mock: Option<&'a Mock>,
    integrations: &'a Integrations,
    calls: &'a Calls,
    execution_arn: &'a str,
    events: VecDeque<Event>,
    timers: BTreeMap<TimerId, Millis>,
    /// At TRACE: the HTTP Task settings, and whether connection headers show.
    trace: Option<(&'a HttpTaskConfig, bool)>,
    /// The last HTTP Task call of the state under test: request and response.
    http_exchange: Option<(Value, Value)>,
    /// `stateConfiguration.mapItemReaderData`: what the Map's ItemReader reads.
    reader_data: Option<&'a Value>,
}

impl Shell<'_> {
    fn absorb(&mut self, out: StepOutput) {
        for command in out.commands {
            match command {
                Command::InvokeTask(req) => {
                    if let (true, Some(items)) =
                        (req.resource == asl::interpreter::ITEM_READER_RESOURCE, self.reader_data)
                    {
                        self.events.push_back(Event::TaskSucceeded { task: req.task, output: items.clone() });
                        continue;
                    }
                    self.events.push_back(Event::TaskStarted { task: req.task, worker_name: None });
                    let mocked = (req.state_name == STATE_NAME && self.run.type_name() == "Task").then_some(self.mock);
                    let (_, pattern) = Pattern::split(&req.resource);
                    if mocked.flatten().is_some() && pattern != Pattern::RequestResponse {
                        // The mock is what the callback or the started work gives; the
                        // initial call went out.
                        self.events
                            .push_back(Event::TaskSubmitted { task: req.task, output: Value::Object(Map::new()) });
                    }
                    let outcome = match mocked.flatten() {
                        Some(Mock::Result(v)) => Outcome::Succeeded(v.clone()),
                        Some(Mock::Error { error, cause }) => {
                            let event =
                                Event::TaskFailed { task: req.task, error: error.clone(), cause: cause.clone() };
                            self.events.push_back(event);
                            continue;
                        }
                        None => {
                            let call = TaskCall::of(&req, self.execution_arn, req.input.clone());
                            let outcome = self.calls.run(self.integrations, call);
                            if let (Some((http, reveal)), true) =
                                (self.trace, req.state_name == STATE_NAME && req.resource == http_task::RESOURCE)
                            {
                                self.http_exchange = Some((
                                    http_trace::request(&req.input, http, reveal),
                                    http_trace::response(&req.input, &outcome),
                                ));
                            }
                            outcome
                        }
                    };
                    let event = match outcome {
                        // Tasks that wait for more run only mocked (`check_needs_mock`); an
                        // initial call's response is all a test run can show.
                        Outcome::Succeeded(output)
                        | Outcome::Submitted(output)
                        | Outcome::SubmittedAndEnded { end: Ok(output), .. } => {
                            Event::TaskSucceeded { task: req.task, output }
                        }
                        Outcome::SubmittedAndEnded { end: Err((error, cause)), .. }
                        | Outcome::Failed { error, cause } => {
                            Event::TaskFailed { task: req.task, error: Some(error), cause: Some(cause) }
                        }
                    };
                    self.events.push_back(event);
                }
                Command::CancelTask { .. } => {}
                Command::StartTimer { timer, fire_at } => {
                    self.timers.insert(timer, fire_at);
                }
                Command::CancelTimer { timer } => {
                    self.timers.remove(&timer);
                }
            }
        }
    }
}
