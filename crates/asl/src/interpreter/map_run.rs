//! A distributed Map's Map Run: reading its items (`ItemReader`), grouping them into
//! batches (`ItemBatcher`), and writing the children's results (`ResultWriter`).
//!
//! Reading is I/O, so the interpreter asks for it as data: a task with Baton's own resource
//! [`ITEM_READER_RESOURCE`], whose input is the reader's evaluated request (resource,
//! arguments, `ReaderConfig` with `MaxItems` resolved) and whose result is the items. The
//! task runs through the shell's one integration router, durably, but shows no events in the
//! history (AWS's shows none for the read either): the Map state waits in
//! [`Phase::MapRead`], and the read's end comes back as the task's result. Writing the
//! results to S3 is the same: a task with [`RESULT_WRITER_RESOURCE`] whose input is every
//! child's record as AWS writes it (built here, so the shell only files them) and whose
//! result is the Map's (`MapRunArn`, `ResultWriterDetails`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::fanout::Tolerance;
use super::map_handover::{
    Batching, ItemSource, MapRunEnd, MapRunOutcome, MapRunRedrive, MapRunSpec, MAP_RUN_RESOURCE,
};
use super::map_writer::WriterLog;
use super::{
    fields, payload_too_large, state_context, Command, Failure, Flow, FrameId, FrameVars, Phase, Run, Stage, StepError,
    TaskId, TaskRequest, Work,
};
use crate::definition::{
    Dynamic, Fields, ItemBatcher, ItemReader, JsonataDynamic, MapState, StateKind, MAX_ITEMS_LIMIT,
};
use crate::error::{names, EvalFailure};
use crate::eval::Scope;
use crate::history::{Details, EventType};
use crate::jsonata::JsonataTemplate;
use crate::template::compact;
use crate::template::Template;
use crate::timestamp::Millis;

/// The resource of the task that reads a Map Run's items. The shell serves it; it is never
/// shown in the history.
pub const ITEM_READER_RESOURCE: &str = "arn:aws:states:::baton:itemReader";
/// The resource of the task that writes a Map Run's results to S3; never shown either.
pub const RESULT_WRITER_RESOURCE: &str = "arn:aws:states:::baton:resultWriter";

/// A distributed Map waiting for its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct MapRead {
    pub(super) task: TaskId,
    /// The state's input after InputPath: what ItemSelector and BatchInput read.
    selected: Value,
    max_concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    /// The Map Run's ARN.
    #[serde(default)]
    run_arn: String,
    /// The task writes the results (rather than reading the items).
    #[serde(default)]
    writing: bool,
    /// When writing: the children's counts, for the Map Run's end.
    #[serde(default)]
    pub(super) counts: [u64; 4],
    /// When writing a batched run's results: its items' counts (absent: as `counts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item_counts: Option<[u64; 4]>,
    /// When writing a failed run's results: why it failed, for the Map once they are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<Box<Failure>>,
    /// The task runs the whole Map Run as child executions ([`MAP_RUN_RESOURCE`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    driven: bool,
}

impl RunCounts {
    const NONE: Self = Self { executions: [0; 4], items: [0; 4] };
}

impl MapRead {
    /// The wait for a Map Run's results to be written (`RESULT_WRITER_RESOURCE`).
    pub(super) fn writing(run_arn: String, counts: RunCounts, failure: Option<Failure>) -> Self {
        Self {
            task: 0,
            selected: Value::Null,
            max_concurrency: 0,
            tolerated_count: None,
            tolerated_percentage: None,
            run_arn,
            writing: true,
            counts: counts.executions,
            item_counts: (counts.items != counts.executions).then_some(counts.items),
            failure: failure.map(Box::new),
            driven: false,
        }
    }

    pub(super) fn run_counts(&self) -> RunCounts {
        RunCounts { executions: self.counts, items: self.item_counts.unwrap_or(self.counts) }
    }
}

/// A Map Run's child executions and items by status (pending, running, succeeded, failed):
/// with an `ItemBatcher` each child holds several items.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RunCounts {
    pub(super) executions: [u64; 4],
    pub(super) items: [u64; 4],
}

/// One Map Run as DescribeMapRun tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRun {
    pub arn: String,
    pub state_name: String,
    /// RUNNING, SUCCEEDED, FAILED or ABORTED.
    pub status: String,
    pub start: Millis,
    pub stop: Option<Millis>,
    pub max_concurrency: u64,
    pub tolerated_failure_count: u64,
    pub tolerated_failure_percentage: f64,
    /// The items by status.
    pub counts: ItemCounts,
    /// The child executions by status, when they are not the items (an `ItemBatcher`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_counts: Option<ItemCounts>,
    /// The frame of the Map state while the run is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) frame: Option<FrameId>,
    /// How often a redrive of the parent took the run up again, and when it last did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redrive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_date: Option<Millis>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A Map Run's items, or its child executions, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCounts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub aborted: u64,
    pub total: u64,
    /// Finished children (or their items) whose results the `ResultWriter` wrote to S3.
    #[serde(default)]
    pub results_written: u64,
}

impl ItemCounts {
    /// Counts by status: pending, running, succeeded, failed.
    pub fn of([pending, running, succeeded, failed]: [u64; 4]) -> Self {
        Self {
            pending,
            running,
            succeeded,
            failed,
            aborted: 0,
            total: pending + running + succeeded + failed,
            results_written: 0,
        }
    }

    /// The counts of a run that ended: what had not finished was aborted with it.
    pub fn closed(counts: [u64; 4]) -> Self {
        let mut c = Self::of(counts);
        c.aborted = c.pending + c.running;
        c.pending = 0;
        c.running = 0;
        c
    }
}

/// A template of a distributed Map's `ItemReader`, `ItemBatcher` or `ResultWriter`, evaluated
/// against the state's input in the Map's query language.
pub(super) trait MapPayload {
    fn evaluate(&self, run: &mut Run<'_, '_>, f: FrameId, selected: &Value, field: &str) -> Result<Value, StepError>;
}

impl MapPayload for Template {
    fn evaluate(&self, run: &mut Run<'_, '_>, f: FrameId, selected: &Value, _field: &str) -> Result<Value, StepError> {
        let vars = FrameVars { def: run.def, exec: run.exec, frame: f };
        let ctx = state_context(run.def, run.exec, f, None);
        let scope = Scope::new(selected, &ctx).with_variables(&vars);
        Ok(self.eval(&scope, &mut *run.random)?)
    }
}

impl MapPayload for JsonataTemplate {
    fn evaluate(&self, run: &mut Run<'_, '_>, f: FrameId, selected: &Value, field: &str) -> Result<Value, StepError> {
        Ok(run.jsonata_template(f, self, selected, field, None)?)
    }
}

/// A count of those fields (`MaxItems`, `MaxItemsPerBatch`...): fixed, or read from the input.
pub(super) trait MapCount {
    /// `min` bounds a JSONata expression's value; a path's value is checked by the caller.
    fn evaluate(
        &self,
        run: &mut Run<'_, '_>,
        f: FrameId,
        selected: &Value,
        field: &str,
        min: u64,
    ) -> Result<u64, StepError>;
}

impl MapCount for Dynamic<u64> {
    fn evaluate(
        &self,
        run: &mut Run<'_, '_>,
        f: FrameId,
        selected: &Value,
        field: &str,
        _min: u64,
    ) -> Result<u64, StepError> {
        Ok(run.path_map_count(f, field, self, selected)?)
    }
}

impl MapCount for JsonataDynamic<u64> {
    fn evaluate(
        &self,
        run: &mut Run<'_, '_>,
        f: FrameId,
        selected: &Value,
        field: &str,
        min: u64,
    ) -> Result<u64, StepError> {
        Ok(match self {
            JsonataDynamic::Fixed(n) => *n,
            JsonataDynamic::Expression(e) => run.jsonata_count(f, e, selected, field, min)?,
        })
    }
}

impl<'a> Run<'a, '_> {
    /// Start a distributed Map whose items an `ItemReader` reads: the Map Run starts, and the
    /// read is asked of the shell.
    pub(super) fn start_item_read<A: MapPayload, N: MapCount>(
        &mut self,
        f: FrameId,
        m: &MapState,
        reader: &ItemReader<A, N>,
        selected: Value,
    ) -> Flow {
        let request = match self.reader_request(f, reader, &selected) {
            Ok(r) => r,
            Err(e) => return self.fail_flow(f, e),
        };
        let max_concurrency = match self.map_max_concurrency(f, m, &selected) {
            Ok(n) => n,
            Err(e) => return self.fail_flow(f, e),
        };
        if self.observer.is_some() {
            self.observe(f, Stage::MaxConcurrency, &json!(max_concurrency));
        }
        self.emit(f, EventType::MapStateStarted, Details::None);
        let (tolerated_count, tolerated_percentage) = match self.map_tolerance(f, m, &selected) {
            Ok(t) => (t.count, t.percentage),
            Err(e) => return self.fail_flow(f, e),
        };
        let run_arn = self.emit_map_run_started(f, m, max_concurrency, (tolerated_count, tolerated_percentage));
        if self.exec.info.child_executions && self.observer.is_none() {
            let tolerance = Tolerance { count: tolerated_count, percentage: tolerated_percentage };
            return self.hand_over(f, m, ItemSource::Reader(request), (max_concurrency, tolerance), run_arn, selected);
        }
        let read = MapRead {
            task: 0,
            selected,
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
            run_arn,
            writing: false,
            counts: [0; 4],
            item_counts: None,
            failure: None,
            driven: false,
        };
        self.ask_shell(f, read, ITEM_READER_RESOURCE, request)
    }

    /// Hand the whole Map Run to the shell, which runs the children as executions of their
    /// own: one task on [`MAP_RUN_RESOURCE`] whose input is the run's [`MapRunSpec`]. The
    /// batcher's and writer's fields are evaluated here, now; a failure fails the run.
    pub(super) fn hand_over(
        &mut self,
        f: FrameId,
        m: &MapState,
        source: ItemSource,
        (max_concurrency, tolerance): (usize, Tolerance),
        run_arn: String,
        selected: Value,
    ) -> Flow {
        let fail = |me: &mut Self, e: StepError| -> Flow {
            let failure = match e {
                StepError::Eval(e) => me.eval_failure(f, e),
                StepError::Query(q) => me.query_failure(f, q),
            };
            me.close_map_run(f, "FAILED", RunCounts::NONE);
            me.emit_map_run_failed(f, &failure);
            Flow::ChildrenFailed(failure)
        };
        let reading = matches!(source, ItemSource::Reader(_));
        let batching = if reading {
            match self.batching(f, m, &selected) {
                Ok(b) => b,
                Err(e) => return fail(self, e),
            }
        } else {
            None
        };
        let writer = match self.writer_request(f, m, &selected) {
            Ok(w) => w,
            Err(e) => return fail(self, e),
        };
        let has_selector = match &m.fields {
            Fields::JsonPath(p) => p.item_selector.is_some(),
            Fields::Jsonata(j) => j.item_selector.is_some(),
        };
        let selector = (reading && has_selector).then(|| self.selection(f, &selected));
        let Some(child) = &m.child else {
            let failure = reader_failure("The Map has no child machine to run".into());
            self.close_map_run(f, "FAILED", RunCounts::NONE);
            self.emit_map_run_failed(f, &failure);
            return Flow::ChildrenFailed(failure);
        };
        let spec = MapRunSpec {
            run_arn: run_arn.clone(),
            state_name: self.state_of(f).name.clone(),
            entered_event: self.frame(f).entered_event,
            definition: child.definition.clone(),
            express: child.express,
            role_arn: self.exec.info.role_arn.clone(),
            source,
            batching,
            batched: m.has_item_batcher(),
            max_concurrency: max_concurrency as u64,
            tolerated_failure_count: tolerance.count,
            tolerated_failure_percentage: tolerance.percentage,
            writer,
            selector,
            redrive: self
                .exec
                .map_runs
                .iter()
                .rev()
                .find(|r| r.arn == run_arn && r.redrive_count > 0)
                .map(|r| MapRunRedrive { count: r.redrive_count, date: r.redrive_date.unwrap_or(self.now) }),
        };
        let read = MapRead {
            task: 0,
            selected: Value::Null,
            max_concurrency,
            tolerated_count: tolerance.count,
            tolerated_percentage: tolerance.percentage,
            run_arn,
            writing: false,
            counts: [0; 4],
            item_counts: None,
            failure: None,
            driven: true,
        };
        let mut read = read;
        if let ItemSource::Inputs(inputs) = &spec.source {
            // The children are known now: pending until the shell starts them.
            let items = if spec.batched {
                inputs.iter().map(|i| i.get("Items").and_then(Value::as_array).map_or(1, |a| a.len() as u64)).sum()
            } else {
                inputs.len() as u64
            };
            read.counts = [inputs.len() as u64, 0, 0, 0];
            read.item_counts = spec.batched.then_some([items, 0, 0, 0]);
            let counts = read.run_counts();
            if let Some(run) = self.exec.map_runs.iter_mut().rev().find(|r| r.frame == Some(f) && r.status == "RUNNING")
            {
                run.counts = ItemCounts::of(counts.items);
                run.execution_counts = Some(ItemCounts::of(counts.executions));
            }
        }
        let input = serde_json::to_value(&spec).unwrap_or(Value::Null);
        self.ask_shell(f, read, MAP_RUN_RESOURCE, input)
    }

    /// A Map's `ItemBatcher`, evaluated.
    fn batching(&mut self, f: FrameId, m: &MapState, selected: &Value) -> Result<Option<Batching>, StepError> {
        match &m.fields {
            Fields::JsonPath(p) => match &p.item_batcher {
                Some(b) => self.batching_of(f, b, selected).map(Some),
                None => Ok(None),
            },
            Fields::Jsonata(j) => match &j.item_batcher {
                Some(b) => self.batching_of(f, b, selected).map(Some),
                None => Ok(None),
            },
        }
    }

    /// The shell ran the Map Run handed to it: the Map's result, or its failure.
    fn map_run_ended(&mut self, f: FrameId, result: Result<Value, Failure>) -> Flow {
        let outcome = result.and_then(|v| {
            serde_json::from_value::<MapRunOutcome>(v).map_err(|e| Failure {
                error: Some(names::RUNTIME.into()),
                cause: Some(format!("The Map Run's outcome is not readable: {e}")),
                from_task_result: false,
                heartbeat: false,
            })
        });
        let o = match outcome {
            Ok(o) => o,
            Err(failure) => {
                self.close_map_run(f, "FAILED", RunCounts::NONE);
                self.emit_map_run_failed(f, &failure);
                return Flow::ChildrenFailed(failure);
            }
        };
        let counts = RunCounts { executions: o.executions, items: o.items };
        let written = o.results_written;
        let mark = |run: Option<&mut MapRun>| {
            if let (true, Some(run)) = (written, run) {
                for c in std::iter::once(&mut run.counts).chain(run.execution_counts.as_mut()) {
                    c.results_written = c.succeeded + c.failed;
                }
            }
        };
        let has_writer = matches!(&self.state_of(f).kind, StateKind::Map(m) if m.has_result_writer());
        match o.end {
            MapRunEnd::Output(output) => {
                mark(self.close_map_run(f, "SUCCEEDED", counts));
                self.emit(f, EventType::MapRunSucceeded, Details::None);
                self.emit(f, EventType::MapStateSucceeded, Details::None);
                if !has_writer && payload_too_large(&output) {
                    return Flow::Fail(self.data_limit(f));
                }
                self.after_result(f, output)
            }
            MapRunEnd::TooLarge => {
                mark(self.close_map_run(f, "SUCCEEDED", counts));
                self.emit(f, EventType::MapRunSucceeded, Details::None);
                self.emit(f, EventType::MapStateSucceeded, Details::None);
                Flow::Fail(self.data_limit(f))
            }
            MapRunEnd::Failed(fl) => {
                let failure = Failure { error: fl.error, cause: fl.cause, from_task_result: false, heartbeat: false };
                if let Some(location) = fl.evaluation {
                    let mut d = Map::new();
                    d.insert("error".into(), Value::String(names::QUERY_EVALUATION_ERROR.into()));
                    if let Some(c) = &failure.cause {
                        d.insert("cause".into(), Value::String(c.clone()));
                    }
                    if !location.is_empty() {
                        d.insert("location".into(), Value::String(location));
                    }
                    d.insert("state".into(), Value::String(self.state_of(f).name.clone()));
                    self.emit(f, EventType::EvaluationFailed, Details::Fields(d));
                }
                mark(self.close_map_run(f, "FAILED", counts));
                self.emit_map_run_failed(f, &failure);
                Flow::ChildrenFailed(failure)
            }
        }
    }

    /// `MapRunStarted` with the Map Run's ARN, as AWS forms it.
    pub(super) fn emit_map_run_started(
        &mut self,
        f: FrameId,
        m: &MapState,
        max_concurrency: usize,
        (tolerated_count, tolerated_percentage): (Option<u64>, Option<f64>),
    ) -> String {
        if let Some(arn) = self.redrive_map_run(f) {
            return arn;
        }
        let run_arn = format!(
            "{}/{}:{}",
            self.exec.info.state_machine_arn.replacen(":stateMachine:", ":mapRun:", 1),
            m.label.clone().unwrap_or_else(|| self.state_of(f).name.clone()),
            &mut *self.random.uuid_v4()
        );
        self.emit(f, EventType::MapRunStarted, Details::Fields(fields(json!({"mapRunArn": run_arn}))));
        self.exec.map_runs.push(MapRun {
            arn: run_arn.clone(),
            state_name: self.state_of(f).name.clone(),
            status: "RUNNING".into(),
            start: self.now,
            stop: None,
            max_concurrency: max_concurrency as u64,
            tolerated_failure_count: tolerated_count.unwrap_or(0),
            tolerated_failure_percentage: tolerated_percentage.unwrap_or(0.0),
            counts: ItemCounts::default(),
            execution_counts: None,
            frame: Some(f),
            redrive_count: 0,
            redrive_date: None,
        });
        run_arn
    }

    /// A redrive re-enters a distributed Map whose Map Run failed: the same run is taken up
    /// again (`MapRunRedriven`), and its driver re-runs only the children that did not
    /// succeed. Only the first distributed Map the redrive enters, only when its children
    /// run as executions of their own, and only a run that failed.
    fn redrive_map_run(&mut self, f: FrameId) -> Option<String> {
        if !self.redriving_map_run || !self.exec.info.child_executions || self.observer.is_some() {
            return None;
        }
        self.redriving_map_run = false;
        let now = self.now;
        let name = self.state_of(f).name.clone();
        let run = self.exec.map_runs.iter_mut().rev().find(|r| r.state_name == name && r.frame.is_none())?;
        if run.status != "FAILED" {
            return None;
        }
        run.status = "RUNNING".into();
        run.stop = None;
        run.frame = Some(f);
        run.redrive_count += 1;
        run.redrive_date = Some(now);
        let (arn, count) = (run.arn.clone(), run.redrive_count);
        self.emit(
            f,
            EventType::MapRunRedriven,
            Details::Fields(fields(json!({"mapRunArn": arn, "redriveCount": count}))),
        );
        Some(arn)
    }

    /// The Map Run of the Map state in frame `f` ended with `status` and these counts.
    pub(super) fn close_map_run(&mut self, f: FrameId, status: &str, counts: RunCounts) -> Option<&mut MapRun> {
        let now = self.now;
        let run = self.exec.map_runs.iter_mut().rev().find(|r| r.frame == Some(f) && r.status == "RUNNING")?;
        run.status = status.to_owned();
        run.stop = Some(now);
        run.counts = ItemCounts::closed(counts.items);
        run.execution_counts = (counts.executions != counts.items).then(|| ItemCounts::closed(counts.executions));
        run.frame = None;
        Some(run)
    }

    /// The execution ends with Map Runs still running: they are aborted as they stand.
    pub(super) fn abort_map_runs(&mut self) {
        let running: Vec<(FrameId, RunCounts)> = self
            .exec
            .map_runs
            .iter()
            .filter(|r| r.status == "RUNNING")
            .filter_map(|r| {
                let f = r.frame?;
                let counts = match &self.exec.frames.get(f)?.as_ref()?.phase {
                    Phase::Fanout(fan) => fan.run_counts(),
                    Phase::MapRead(read) => read.run_counts(),
                    _ => RunCounts::NONE,
                };
                Some((f, counts))
            })
            .collect();
        for (f, counts) in running {
            self.close_map_run(f, "ABORTED", counts);
        }
    }

    /// `UpdateMapRun`: the run's new limits, for the children still to start.
    pub(super) fn update_map_run(
        &mut self,
        arn: &str,
        max_concurrency: Option<u64>,
        tolerated_count: Option<u64>,
        tolerated_percentage: Option<f64>,
    ) {
        let Some(run) = self.exec.map_runs.iter_mut().find(|r| r.arn == arn && r.status == "RUNNING") else { return };
        if let Some(n) = max_concurrency {
            run.max_concurrency = n;
        }
        if let Some(n) = tolerated_count {
            run.tolerated_failure_count = n;
        }
        if let Some(p) = tolerated_percentage {
            run.tolerated_failure_percentage = p;
        }
        let Some(f) = run.frame else { return };
        if !self.live(f) {
            return;
        }
        let limit = max_concurrency.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        match &mut self.frame_mut(f).phase {
            Phase::Fanout(fan) => {
                fan.set_limits(limit, tolerated_count, tolerated_percentage);
                if fan.wants_continue() {
                    self.work.push(Work::Continue(f));
                }
            }
            Phase::MapRead(read) => {
                if let Some(n) = limit {
                    read.max_concurrency = n;
                }
                if tolerated_count.is_some() {
                    read.tolerated_count = tolerated_count;
                }
                if tolerated_percentage.is_some() {
                    read.tolerated_percentage = tolerated_percentage;
                }
            }
            _ => {}
        }
    }

    /// The reader's request: `{"Resource", "Arguments", "ReaderConfig"}` with the arguments
    /// evaluated and `MaxItems` resolved (0: no limit).
    fn reader_request<A: MapPayload, N: MapCount>(
        &mut self,
        f: FrameId,
        reader: &ItemReader<A, N>,
        selected: &Value,
    ) -> Result<Value, StepError> {
        let arguments = match &reader.arguments {
            None => json!({}),
            Some(a) => a.evaluate(self, f, selected, "Arguments")?,
        };
        let max_items = match &reader.max_items {
            None => 0,
            Some(n) => n.evaluate(self, f, selected, "MaxItems", 0)?,
        };
        let mut config = reader.config.clone();
        config.insert("MaxItems".into(), json!(max_items.min(MAX_ITEMS_LIMIT)));
        Ok(json!({"Resource": reader.resource, "Arguments": arguments, "ReaderConfig": config}))
    }

    /// The frame waiting on the item read `task`, if it still does.
    pub(super) fn map_read_frame(&self, task: TaskId) -> Option<FrameId> {
        let f = *self.exec.tasks.get(&task)?;
        match &self.exec.frames.get(f)?.as_ref()?.phase {
            Phase::MapRead(r) if r.task == task => Some(f),
            _ => None,
        }
    }

    /// The read ended: run the items (batched, each through ItemSelector), or fail the Map Run.
    pub(super) fn map_read_ended(&mut self, f: FrameId, task: TaskId, result: Result<Value, Failure>) {
        self.exec.tasks.remove(&task);
        let phase = std::mem::replace(&mut self.frame_mut(f).phase, Phase::Running);
        let Phase::MapRead(read) = phase else { return };
        if read.driven {
            let flow = self.map_run_ended(f, result);
            self.follow(f, flow);
            self.work.push(Work::Run(f));
            return;
        }
        let StateKind::Map(m) = &self.state_of(f).kind else { return };
        if let (true, Some(run_failure)) = (read.writing, &read.failure) {
            let written = result.is_ok();
            if let Some(run) = self.close_map_run(f, "FAILED", read.run_counts()) {
                if written {
                    for c in std::iter::once(&mut run.counts).chain(run.execution_counts.as_mut()) {
                        c.results_written = c.succeeded + c.failed;
                    }
                }
            }
            let failure = (**run_failure).clone();
            self.emit_map_run_failed(f, &failure);
            self.follow(f, Flow::ChildrenFailed(failure));
            self.work.push(Work::Run(f));
            return;
        }
        if read.writing {
            let flow = match result {
                Ok(output) => {
                    if let Some(run) = self.close_map_run(f, "SUCCEEDED", read.run_counts()) {
                        for c in std::iter::once(&mut run.counts).chain(run.execution_counts.as_mut()) {
                            c.results_written = c.succeeded + c.failed;
                        }
                    }
                    self.emit(f, EventType::MapRunSucceeded, Details::None);
                    self.emit(f, EventType::MapStateSucceeded, Details::None);
                    self.after_result(f, output)
                }
                Err(failure) => {
                    self.close_map_run(f, "FAILED", read.run_counts());
                    self.emit_map_run_failed(f, &failure);
                    Flow::ChildrenFailed(failure)
                }
            };
            self.follow(f, flow);
            self.work.push(Work::Run(f));
            return;
        }
        let started = match result {
            Ok(Value::Array(items)) => self.run_read_items(f, m, items, &read),
            Ok(other) => Err(reader_failure(format!("The items read are not a JSON array: {}", compact(&other)))),
            Err(failure) => Err(failure),
        };
        match started {
            Ok(flow) => {
                self.follow(f, flow);
            }
            Err(failure) => {
                self.close_map_run(f, "FAILED", RunCounts::NONE);
                self.emit_map_run_failed(f, &failure);
                self.follow(f, Flow::ChildrenFailed(failure));
            }
        }
        self.work.push(Work::Run(f));
    }

    pub(super) fn emit_map_run_failed(&mut self, f: FrameId, failure: &Failure) {
        let mut d = Map::new();
        if let Some(e) = &failure.error {
            d.insert("error".into(), Value::String(e.clone()));
        }
        if let Some(c) = &failure.cause {
            d.insert("cause".into(), Value::String(c.clone()));
        }
        self.emit(f, EventType::MapRunFailed, Details::Fields(d));
    }

    /// Run a Map's children, keeping what its ResultWriter will need.
    pub(super) fn start_map_children(
        &mut self,
        f: FrameId,
        m: &MapState,
        inputs: Vec<Value>,
        (max_concurrency, tolerance): (usize, Tolerance),
        run_arn: Option<String>,
        selected: &Value,
    ) -> Flow {
        let log = match (m.has_result_writer(), run_arn) {
            (true, Some(run_arn)) => {
                Some(Box::new(WriterLog::new(run_arn, selected.clone(), inputs.clone(), self.now)))
            }
            _ => None,
        };
        let batch_sizes: Vec<u64> = if m.has_item_batcher() {
            let size = |input: &Value| input.get("Items").and_then(Value::as_array).map_or(1, |a| a.len() as u64);
            inputs.iter().map(size).collect()
        } else {
            Vec::new()
        };
        let flow = self.start_fanout(f, inputs, max_concurrency, tolerance);
        if let Phase::Fanout(fan) = &mut self.frame_mut(f).phase {
            if fan.outcome.is_none() {
                fan.writer = log;
                fan.batch_sizes = batch_sizes;
            }
        }
        flow
    }

    /// Hand a Map Run's read or write to the shell as a task on one of Baton's own resources
    /// (never in the history); the frame waits in `Phase::MapRead` for its end.
    pub(super) fn ask_shell(&mut self, f: FrameId, mut read: MapRead, resource: &str, input: Value) -> Flow {
        let task = self.exec.next_task;
        self.exec.next_task += 1;
        self.exec.tasks.insert(task, f);
        read.task = task;
        self.frame_mut(f).phase = Phase::MapRead(Box::new(read));
        self.out.commands.push(Command::InvokeTask(Box::new(TaskRequest {
            task,
            state_name: self.state_of(f).name.clone(),
            resource: resource.to_owned(),
            input,
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            credentials: None,
        })));
        Flow::Blocked
    }

    fn run_read_items(&mut self, f: FrameId, m: &MapState, items: Vec<Value>, read: &MapRead) -> Result<Flow, Failure> {
        let step = |me: &mut Self, e: StepError| match e {
            StepError::Eval(e) => me.eval_failure(f, e),
            StepError::Query(q) => me.query_failure(f, q),
        };
        let selected_items = self.select_items(f, m, items, &read.selected).map_err(|e| step(self, e))?;
        let inputs = self.map_batches(f, m, selected_items, &read.selected).map_err(|e| step(self, e))?;
        let tolerance = Tolerance { count: read.tolerated_count, percentage: read.tolerated_percentage };
        let run_arn = Some(read.run_arn.clone());
        Ok(self.start_map_children(f, m, inputs, (read.max_concurrency, tolerance), run_arn, &read.selected))
    }

    /// The children's inputs: the items, or their batches when the Map has an `ItemBatcher`.
    pub(super) fn map_batches(
        &mut self,
        f: FrameId,
        m: &MapState,
        items: Vec<Value>,
        selected: &Value,
    ) -> Result<Vec<Value>, StepError> {
        match &m.fields {
            Fields::JsonPath(p) => match &p.item_batcher {
                Some(b) => self.batches(f, b, items, selected),
                None => Ok(items),
            },
            Fields::Jsonata(j) => match &j.item_batcher {
                Some(b) => self.batches(f, b, items, selected),
                None => Ok(items),
            },
        }
    }

    /// Group items into the children's inputs: `{"BatchInput": ..., "Items": [...]}`, at
    /// most `MaxItemsPerBatch` items and `MaxInputBytesPerBatch` bytes each.
    fn batches<A: MapPayload, N: MapCount>(
        &mut self,
        f: FrameId,
        b: &ItemBatcher<A, N>,
        items: Vec<Value>,
        selected: &Value,
    ) -> Result<Vec<Value>, StepError> {
        let plan = self.batching_of(f, b, selected)?;
        plan.group(items).map_err(StepError::Eval)
    }

    /// An `ItemBatcher`'s limits and `BatchInput`, evaluated.
    fn batching_of<A: MapPayload, N: MapCount>(
        &mut self,
        f: FrameId,
        b: &ItemBatcher<A, N>,
        selected: &Value,
    ) -> Result<Batching, StepError> {
        let max_items = match &b.max_items_per_batch {
            None => None,
            Some(d) => Some(self.batch_limit(f, "MaxItemsPerBatch", d, selected)?),
        };
        let max_bytes = match &b.max_input_bytes_per_batch {
            None => None,
            Some(d) => Some(self.batch_limit(f, "MaxInputBytesPerBatch", d, selected)?),
        };
        let batch_input = match &b.batch_input {
            None => None,
            Some(tpl) => Some(tpl.evaluate(self, f, selected, "BatchInput")?),
        };
        Ok(Batching { max_items, max_bytes, batch_input })
    }

    fn batch_limit<N: MapCount>(&mut self, f: FrameId, field: &str, d: &N, selected: &Value) -> Result<u64, StepError> {
        let n = d.evaluate(self, f, selected, field, 1)?;
        if n == 0 {
            return Err(EvalFailure::runtime(format!("The value of {field} must be a positive integer")).into());
        }
        Ok(n)
    }
}

/// A failure of the read itself (the items could not be had).
fn reader_failure(cause: String) -> Failure {
    Failure {
        error: Some(names::ITEM_READER_FAILED.into()),
        cause: Some(cause),
        from_task_result: false,
        heartbeat: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(max_items: Option<u64>, max_bytes: Option<u64>, batch_input: Option<Value>) -> Batching {
        Batching { max_items, max_bytes, batch_input }
    }

    #[test]
    fn batches_hold_at_most_max_items_per_batch() {
        let items: Vec<Value> = (1..=5).map(|i| json!(i)).collect();
        let out = plan(Some(2), None, None).group(items).unwrap();
        assert_eq!(out, vec![json!({"Items": [1, 2]}), json!({"Items": [3, 4]}), json!({"Items": [5]})]);
    }

    #[test]
    fn batches_fit_max_input_bytes_with_their_batch_input() {
        // {"BatchInput":{"a":1},"Items":[1,2]} is 35 bytes; a third item makes 37.
        let items: Vec<Value> = (1..=4).map(|i| json!(i)).collect();
        let out = plan(None, Some(36), Some(json!({"a": 1}))).group(items).unwrap();
        assert_eq!(
            out,
            vec![json!({"BatchInput": {"a": 1}, "Items": [1, 2]}), json!({"BatchInput": {"a": 1}, "Items": [3, 4]})]
        );
        for b in &out {
            assert!(compact(b).len() <= 36);
        }
    }

    #[test]
    fn an_item_larger_than_a_batch_fails_the_run() {
        let err = plan(None, Some(15), None).group(vec![json!("a long string item")]).unwrap_err();
        assert!(err.to_string().contains("MaxInputBytesPerBatch"), "{err}");
    }
}
