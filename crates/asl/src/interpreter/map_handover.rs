//! A distributed Map's iteration handed to the shell whole, when the shell runs the children
//! as executions of their own (`ExecutionInfo::child_executions`).
//!
//! The interpreter still owns the Map state's semantics and every event of the parent's
//! history (`MapStateStarted`, `MapRunStarted`, `MapRunSucceeded`/`MapRunFailed`, the
//! state's own). What it hands over is one durable request, a task on Baton's own resource
//! [`MAP_RUN_RESOURCE`] whose input is a [`MapRunSpec`]: the run's ARN, the child machine,
//! where the items come from (the reader's evaluated request, or the inputs an `ItemsPath`
//! selected), the batching, what `ItemSelector` needs, the limits and the writer's evaluated
//! request. The task's result is a [`MapRunOutcome`]: the Map's result or its failure, with
//! the run's final counts. The Map waits in `Phase::MapRead` meanwhile, as for a read.
//!
//! Also the pure parts the shell's driver calls per item: [`ChildInputs`] (one child's
//! input from its item and index, through `ItemSelector`), [`Batching`] (`ItemBatcher`'s
//! grouping as a stream), [`exceeds_tolerance`] and the records a `ResultWriter` files.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::execution::{Frame, Phase};
use super::variables::FrameVars;
use super::{eval_failure, Env, Execution, FrameId, Run, Status, StepError};
use crate::context::ExecutionInfo;
use crate::definition::{Definition, GraphId, StateId, StateKind};
use crate::error::{names, EvalFailure};
use crate::eval::Randomness;
use crate::template::compact;
use crate::timestamp::{self, Millis};

/// The resource of the task that runs a whole Map Run as child executions. The shell serves
/// it; it is never shown in the history.
pub const MAP_RUN_RESOURCE: &str = "arn:aws:states:::baton:mapRun";

/// A distributed Map's iteration as the shell runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunSpec {
    pub run_arn: String,
    /// The Map state's name, and the id of the event that entered it (for failure causes).
    pub state_name: String,
    pub entered_event: u64,
    /// The child machine: the `ItemProcessor` as a definition of its own.
    pub definition: String,
    /// `ExecutionType` EXPRESS (else STANDARD).
    pub express: bool,
    /// The role the parent runs with, which its children run with too.
    pub role_arn: String,
    pub source: ItemSource,
    /// `ItemBatcher`, evaluated: how the items are grouped into children's inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching: Option<Batching>,
    /// Each child's input is a batch (`{"Items": [...]}`): its items count one each.
    #[serde(default)]
    pub batched: bool,
    pub max_concurrency: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<WriterRequest>,
    /// What `ItemSelector` reads besides the item; `None` when the items are the inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selection>,
    /// The run is taken up again by a redrive of the parent: its children that succeeded
    /// stay, the others run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive: Option<MapRunRedrive>,
}

/// A Map Run's redrive: how many there were, and when this one began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRunRedrive {
    pub count: u32,
    pub date: Millis,
}

/// Where a Map Run's items come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ItemSource {
    /// The `ItemReader`'s evaluated request: `{"Resource", "Arguments", "ReaderConfig"}`.
    Reader(Value),
    /// The children's inputs, already selected and batched (an `ItemsPath` Map).
    Inputs(Vec<Value>),
}

/// A `ResultWriter` with its fields evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriterRequest {
    /// `Arguments`/`Parameters` (`Bucket`, `Prefix`): the results go to S3. `None`: only
    /// `WriterConfig` shapes the Map's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// `WriterConfig` with its defaults when the results go to S3.
    pub config: Value,
    /// `Transformation` of the output when nothing is written (COMPACT by default).
    pub transformation: String,
}

/// What evaluating `ItemSelector` needs of the parent: the Map state, its input, the
/// variables it sees and the context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    graph: GraphId,
    state: StateId,
    selected: Value,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    variables: Map<String, Value>,
    entered_time: Millis,
    retry_total: u32,
    info: ExecutionInfo,
    execution_input: Value,
}

/// How the run ended, as the shell reports it: the task's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunOutcome {
    pub end: MapRunEnd,
    /// Children and items by status: pending, running, succeeded, failed.
    pub executions: [u64; 4],
    pub items: [u64; 4],
    /// The `ResultWriter` wrote the results to S3.
    #[serde(default)]
    pub results_written: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MapRunEnd {
    /// The Map's result: the children's outputs by index, or the writer's answer.
    Output(Value),
    /// The outputs exceed the payload limit.
    TooLarge,
    Failed(MapRunFailure),
}

/// Why a Map Run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunFailure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// A JSONata field failed (`States.QueryEvaluationError`): the history shows an
    /// `EvaluationFailed` event with this location first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<String>,
}

impl MapRunFailure {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        Self { error: Some(error.to_owned()), cause: Some(cause.into()), evaluation: None }
    }

    /// More children failed than the Map tolerates.
    pub fn tolerance_exceeded() -> Self {
        Self::new(names::EXCEED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded")
    }

    /// The items could not be read.
    pub fn reader(cause: impl Into<String>) -> Self {
        Self::new(names::ITEM_READER_FAILED, cause)
    }
}

impl MapRunSpec {
    /// A failure of the Map state's own evaluation (an `ItemBatcher` limit), with AWS's
    /// location prefix.
    pub fn state_failure(&self, e: EvalFailure) -> MapRunFailure {
        MapRunFailure {
            error: Some(e.error),
            cause: Some(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                self.state_name, self.entered_event, e.message
            )),
            evaluation: None,
        }
    }
}

/// Whether `failed` failed children exceed what the Map tolerates out of `total` (`None`:
/// not known yet; a percentage is then not decided, and this answers `None`).
pub fn exceeds_tolerance(count: Option<u64>, percentage: Option<f64>, failed: u64, total: Option<u64>) -> Option<bool> {
    if count.is_some_and(|c| failed <= c) {
        return Some(false);
    }
    match (percentage, total) {
        (None, _) => Some(true),
        (Some(_), None) => None,
        (Some(pct), Some(total)) => Some(!(total > 0 && (failed as f64 * 100.0 / total as f64) <= pct)),
    }
}

/// Each child's input, from its item and index: the item through `ItemSelector` (the item as
/// `$$.Map.Item.Value`, the Map's input as `$`, the variables it sees), as the interpreter
/// evaluates it for an inline Map.
pub struct ChildInputs<'d> {
    def: &'d Definition,
    /// A stand-in execution whose one frame is the Map state, as it was when the run began.
    exec: Option<Execution>,
}

impl<'d> ChildInputs<'d> {
    pub fn new(def: &'d Definition, spec: &MapRunSpec) -> Self {
        let exec = spec.selector.as_ref().map(|s| Execution {
            info: s.info.clone(),
            input: s.execution_input.clone(),
            status: Status::Running,
            frames: vec![Some(Frame {
                graph: s.graph,
                parent: None,
                state: s.state,
                input: s.selected.clone(),
                entered_event: spec.entered_event,
                entered_time: s.entered_time,
                last_event: 0,
                retry_counts: Vec::new(),
                retry_total: s.retry_total,
                phase: Phase::Running,
                silent: true,
                vars: (!s.variables.is_empty()).then(|| Box::new(s.variables.clone())),
            })],
            free_frames: Vec::new(),
            next_event_id: spec.entered_event + 1,
            next_task: 1,
            next_timer: 1,
            tasks: Default::default(),
            timers: Default::default(),
            redrive_from: None,
            variable_bytes: 0,
            map_runs: Vec::new(),
        });
        Self { def, exec }
    }

    /// Child `index`'s input from its item, at time `now`.
    pub fn input(
        &mut self,
        item: Value,
        index: usize,
        now: Millis,
        random: &mut dyn Randomness,
    ) -> Result<Value, MapRunFailure> {
        let Some(exec) = self.exec.as_mut() else { return Ok(item) };
        let def = self.def;
        let StateKind::Map(m) = &def.state(exec_frame(exec).graph, exec_frame(exec).state).kind else {
            return Ok(item);
        };
        let selected = exec_frame(exec).input.clone();
        let mut env = Env { now, random, missing_activities: &[] };
        let mut run = Run::new(def, exec, &mut env, None);
        match run.select_items_from(0, m, vec![item], index, &selected) {
            Ok(mut inputs) => Ok(inputs.pop().unwrap_or(Value::Null)),
            Err(StepError::Eval(e)) => Err(failure_of(eval_failure(def, exec, 0, e))),
            Err(StepError::Query(q)) => {
                let f = eval_failure(def, exec, 0, EvalFailure::new(names::QUERY_EVALUATION_ERROR, q.message));
                let mut failure = failure_of(f);
                failure.evaluation = Some(q.location);
                Err(failure)
            }
        }
    }
}

fn exec_frame(exec: &Execution) -> &Frame {
    exec.frames[0].as_ref().expect("the stand-in execution has its one frame")
}

fn failure_of(f: super::Failure) -> MapRunFailure {
    MapRunFailure { error: f.error, cause: f.cause, evaluation: None }
}

/// `ItemBatcher`'s grouping, evaluated: at most `MaxItemsPerBatch` items and
/// `MaxInputBytesPerBatch` bytes per child, each child's input `{"BatchInput", "Items"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batching {
    pub max_items: Option<u64>,
    pub max_bytes: Option<u64>,
    pub batch_input: Option<Value>,
}

impl Batching {
    /// Group every item at once.
    pub(super) fn group(self, items: Vec<Value>) -> Result<Vec<Value>, EvalFailure> {
        let mut batcher = Batcher::new(self);
        let mut batches = Vec::new();
        for item in items {
            batches.extend(batcher.push(item)?);
        }
        batches.extend(batcher.finish());
        Ok(batches)
    }
}

/// [`Batching`] over a stream: items go in one at a time, batches come out when full.
pub struct Batcher {
    plan: Batching,
    /// The bytes every batch has before its items (`{"BatchInput":...,"Items":[]}`).
    base: u64,
    current: Vec<Value>,
    bytes: u64,
}

impl Batcher {
    pub fn new(plan: Batching) -> Self {
        let base = match &plan.batch_input {
            Some(b) => compact(b).len() + r#"{"BatchInput":,"Items":[]}"#.len(),
            None => r#"{"Items":[]}"#.len(),
        } as u64;
        Self { plan, base, current: Vec::new(), bytes: base }
    }

    /// Add an item; the batch it closed, if it did not fit in the one being filled.
    pub fn push(&mut self, item: Value) -> Result<Option<Value>, EvalFailure> {
        let size = if self.plan.max_bytes.is_some() { compact(&item).len() as u64 } else { 0 };
        let separator = u64::from(!self.current.is_empty());
        let full_count = self.plan.max_items.is_some_and(|n| self.current.len() as u64 >= n);
        let full_bytes = self.plan.max_bytes.is_some_and(|n| self.bytes + size + separator > n);
        let mut closed = None;
        if !self.current.is_empty() && (full_count || full_bytes) {
            let items = std::mem::take(&mut self.current);
            closed = Some(self.batch(items));
            self.bytes = self.base;
        }
        if let Some(limit) = self.plan.max_bytes {
            if self.base + size > limit {
                return Err(EvalFailure::runtime(format!(
                    "An item of {size} bytes does not fit in a batch of MaxInputBytesPerBatch {limit} bytes"
                )));
            }
        }
        self.bytes += size + u64::from(!self.current.is_empty());
        self.current.push(item);
        Ok(closed)
    }

    /// The last batch, if any item is left.
    pub fn finish(&mut self) -> Option<Value> {
        if self.current.is_empty() {
            return None;
        }
        let items = std::mem::take(&mut self.current);
        self.bytes = self.base;
        Some(self.batch(items))
    }

    fn batch(&self, items: Vec<Value>) -> Value {
        let mut m = Map::new();
        if let Some(b) = &self.plan.batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(items));
        Value::Object(m)
    }
}

/// One child as a Map Run's result files record it.
pub struct ChildRecord<'a> {
    pub execution_arn: &'a str,
    pub name: &'a str,
    /// JSON text.
    pub input: &'a str,
    pub state_machine_arn: &'a str,
    /// SUCCEEDED, FAILED, or PENDING (not started, or stopped with the run).
    pub status: &'a str,
    /// JSON text, when it succeeded.
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub cause: Option<&'a str>,
    pub start: Millis,
    pub stop: Millis,
}

/// A child's record as AWS writes it in `SUCCEEDED_n`/`FAILED_n`/`PENDING_n`.
pub fn child_record(c: &ChildRecord<'_>) -> Value {
    let mut r = Map::new();
    if c.status == "PENDING" {
        r.insert("Input".into(), json!(c.input));
        r.insert("InputDetails".into(), json!({"Included": true}));
        r.insert("StateMachineArn".into(), json!(c.state_machine_arn));
        r.insert("Status".into(), json!("PENDING"));
        return Value::Object(r);
    }
    r.insert("ExecutionArn".into(), json!(c.execution_arn));
    r.insert("Input".into(), json!(c.input));
    r.insert("InputDetails".into(), json!({"Included": true}));
    r.insert("Name".into(), json!(c.name));
    if c.status == "SUCCEEDED" {
        r.insert("Output".into(), json!(c.output.unwrap_or("null")));
        r.insert("OutputDetails".into(), json!({"Included": true}));
        r.insert("RedriveCount".into(), json!(0));
        r.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        r.insert("RedriveStatusReason".into(), json!("Execution is SUCCEEDED and cannot be redriven"));
    } else {
        if let Some(e) = c.error {
            r.insert("Error".into(), json!(e));
        }
        if let Some(cause) = c.cause {
            r.insert("Cause".into(), json!(cause));
        }
        r.insert("RedriveCount".into(), json!(0));
        r.insert("RedriveStatus".into(), json!("REDRIVABLE"));
    }
    r.insert("StartDate".into(), json!(timestamp::format(c.start)));
    r.insert("StateMachineArn".into(), json!(c.state_machine_arn));
    r.insert("Status".into(), json!(c.status));
    r.insert("StopDate".into(), json!(timestamp::format(c.stop)));
    Value::Object(r)
}

impl<'a> Run<'a, '_> {
    /// What `ItemSelector` needs of frame `f` (the Map state) to be evaluated outside.
    pub(super) fn selection(&self, f: FrameId, selected: &Value) -> Selection {
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let scopes: Vec<&Frame> = vars.scopes().collect();
        let mut variables = Map::new();
        for scope in scopes.into_iter().rev() {
            if let Some(v) = &scope.vars {
                for (k, val) in v.iter() {
                    variables.insert(k.clone(), val.clone());
                }
            }
        }
        let frame = self.frame(f);
        Selection {
            graph: frame.graph,
            state: frame.state,
            selected: selected.clone(),
            variables,
            entered_time: frame.entered_time,
            retry_total: frame.retry_total,
            info: self.exec.info.clone(),
            execution_input: self.exec.input.clone(),
        }
    }
}
