//! Task states: the call a Task makes (its resource, effective input, timeouts, credentials
//! and token), the events that report its progress, and its timeouts and heartbeats.
//!
//! A Task waits in [`Phase::Task`] until its result comes as an [`Event`]; a result that
//! comes before the call that hands out its token is submitted waits until it is.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    fields, integer_value, payload_too_large, state_context, Command, Event, Failure, Flow, FrameId, FrameVars, Phase,
    Run, Stage, TaskId, TaskRequest, TimerId, TimerPurpose, Work,
};
use crate::definition::{Dynamic, Fields, JsonataDynamic, Task, TaskJsonata, TaskPath, DEFAULT_TASK_TIMEOUT_SECONDS};
use crate::error::{names, EvalFailure};
use crate::eval::{Randomness, Scope};
use crate::history::{Details, EventType};
use crate::jsonata::QueryFailure;
use crate::template::compact;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct TaskWait {
    pub(super) task: TaskId,
    pub(super) kind: ResourceKind,
    pub(super) timeout_timer: Option<TimerId>,
    pub(super) heartbeat_timer: Option<TimerId>,
    pub(super) heartbeat_seconds: Option<u64>,
    /// The task's result comes after its initial call is submitted (`.waitForTaskToken`,
    /// `.sync`).
    #[serde(default)]
    pub(super) waits_for_submission: bool,
    #[serde(default)]
    pub(super) started: bool,
    #[serde(default)]
    pub(super) submitted: bool,
    /// A result that arrived before the submission it answers (a worker can answer a token
    /// while the call that handed it out is still returning); applied once submitted.
    #[serde(default)]
    pub(super) early_result: Option<Box<Event>>,
    /// Who approved so far, for a task that needs several approvals ([`Event::TaskVote`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) approvals: Vec<String>,
}

/// What a Task calls its resource with, in either language.
struct TaskCall {
    effective: Value,
    timeout: Option<u64>,
    heartbeat: Option<u64>,
    credentials: Option<Value>,
}

/// How a Task's resource is reported in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum ResourceKind {
    /// `arn:aws:states:::service:api[.pattern]`.
    Service { resource_type: String, resource: String },
    /// An activity ARN.
    Activity,
    /// A legacy Lambda function ARN.
    LambdaFunction,
}

impl ResourceKind {
    pub(super) fn of(resource: &str) -> Self {
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

    pub(super) fn waits_for_token(resource: &str) -> bool {
        resource.ends_with(".waitForTaskToken") || matches!(ResourceKind::of(resource), ResourceKind::Activity)
    }
}

impl<'a> Run<'a, '_> {
    /// `TimeoutSeconds`/`HeartbeatSeconds` (or their `*Path` forms) as a number.
    fn path_seconds(
        &mut self,
        f: FrameId,
        d: &Option<Dynamic<u64>>,
        field: &str,
        input: &Value,
    ) -> Result<Option<u64>, EvalFailure> {
        match d {
            None => Ok(None),
            Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
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
                    ))),
                }
            }
        }
    }

    /// A JSONata `TimeoutSeconds`/`HeartbeatSeconds` as a number.
    fn jsonata_seconds(
        &mut self,
        f: FrameId,
        d: &Option<JsonataDynamic<u64>>,
        field: &str,
        input: &Value,
    ) -> Result<Option<u64>, QueryFailure> {
        match d {
            None => Ok(None),
            Some(JsonataDynamic::Fixed(n)) => Ok(Some(*n)),
            Some(JsonataDynamic::Expression(e)) => Ok(Some(self.jsonata_count(f, e, input, field, 1)?)),
        }
    }

    /// What a JSONPath Task calls with: InputPath and Parameters, its timeouts and credentials.
    fn path_task_call(
        &mut self,
        f: FrameId,
        t: &TaskPath,
        raw: &Value,
        token: Option<&str>,
    ) -> Result<TaskCall, Failure> {
        let effective = self.effective_input(f, &t.io.input_path, t.parameters.as_ref(), token)?;
        let timeouts = self
            .path_seconds(f, &t.timeout_seconds, "TimeoutSeconds", raw)
            .and_then(|tm| Ok((tm, self.path_seconds(f, &t.heartbeat_seconds, "HeartbeatSeconds", raw)?)));
        let (timeout, heartbeat) = timeouts.map_err(|e| self.eval_failure(f, e))?;
        let credentials = match &t.credentials {
            None => None,
            Some(tpl) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(raw, &ctx).with_variables(&vars);
                Some(tpl.eval(&scope, &mut *self.random).map_err(|e| self.eval_failure(f, e))?)
            }
        };
        Ok(TaskCall { effective, timeout, heartbeat, credentials })
    }

    /// What a JSONata Task calls with: `Arguments`, its timeouts and credentials.
    fn jsonata_task_call(
        &mut self,
        f: FrameId,
        t: &TaskJsonata,
        raw: &Value,
        token: Option<&str>,
    ) -> Result<TaskCall, QueryFailure> {
        let effective = match &t.arguments {
            None => raw.clone(),
            Some(args) => {
                let v = self.jsonata_template_with_token(f, args, raw, "Arguments", None, token)?;
                self.observe(f, Stage::AfterArguments, &v);
                v
            }
        };
        let timeout = self.jsonata_seconds(f, &t.timeout_seconds, "TimeoutSeconds", raw)?;
        let heartbeat = self.jsonata_seconds(f, &t.heartbeat_seconds, "HeartbeatSeconds", raw)?;
        let credentials = match &t.credentials {
            None => None,
            Some(tpl) => Some(self.jsonata_template(f, tpl, raw, "Credentials", None)?),
        };
        Ok(TaskCall { effective, timeout, heartbeat, credentials })
    }

    /// Schedule the task: its effective input, timeouts and credentials, the `*Scheduled`
    /// event, and the call the shell makes.
    pub(super) fn run_task(&mut self, f: FrameId, t: &'a Task) -> Flow {
        if self.missing_activities.contains(&t.resource) {
            let e = EvalFailure::runtime(format!("The activity {} does not exist.", t.resource));
            return Flow::Fail(self.eval_failure(f, e));
        }
        let token = if ResourceKind::waits_for_token(&t.resource) { Some(new_token(&mut *self.random)) } else { None };
        let raw = self.frame(f).input.clone();
        let call = match &t.fields {
            Fields::JsonPath(fields) => self.path_task_call(f, fields, &raw, token.as_deref()).map_err(Flow::Fail),
            Fields::Jsonata(fields) => {
                self.jsonata_task_call(f, fields, &raw, token.as_deref()).map_err(|q| self.query_flow(f, q))
            }
        };
        let TaskCall { effective, timeout, heartbeat, credentials } = match call {
            Ok(call) => call,
            Err(flow) => return flow,
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
            ResourceKind::Activity | ResourceKind::Service { .. } => Some(DEFAULT_TASK_TIMEOUT_SECONDS),
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
            .filter(|s| *s < DEFAULT_TASK_TIMEOUT_SECONDS || timeout.is_some())
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

    /// A worker or integration picked the task up.
    pub(super) fn task_started(&mut self, task: TaskId, worker_name: Option<String>) {
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

    /// The call that hands out the task's token succeeded; a result that came first is applied now.
    pub(super) fn task_submitted(&mut self, task: TaskId, output: Value) {
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

    /// `SendTaskHeartbeat`: the heartbeat clock starts again.
    pub(super) fn task_heartbeat(&mut self, task: TaskId) {
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

    /// The task's result: the state goes on with it (ResultSelector, ResultPath, ...).
    pub(super) fn task_succeeded(&mut self, task: TaskId, output: Value) {
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

    /// The task failed: the state handles the failure (Retry, Catch) as its own.
    pub(super) fn task_failed(&mut self, task: TaskId, error: Option<String>, cause: Option<String>) {
        let Some(f) = self.task_frame(task) else { return };
        let kind = self.finish_task(f, task);
        self.emit_task_failure(f, &kind, false, error.as_deref(), cause.as_deref());
        self.frame_mut(f).phase = Phase::Running;
        self.follow(f, Flow::Fail(Failure { error, cause, from_task_result: true, heartbeat: false }));
        self.work.push(Work::Run(f));
    }

    /// The task's timeout or heartbeat timer fired: the task times out.
    pub(super) fn task_timer_fired(&mut self, f: FrameId, timer: TimerId) {
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
        let failure =
            Failure { error: Some(error.into()), cause: None, from_task_result: false, heartbeat: is_heartbeat };
        self.follow(f, Flow::Fail(failure));
        self.work.push(Work::Run(f));
    }

    /// The frame waiting on `task`, if it still does.
    pub(super) fn task_frame(&self, task: TaskId) -> Option<FrameId> {
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
    pub(super) fn finish_task(&mut self, f: FrameId, task: TaskId) -> ResourceKind {
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
