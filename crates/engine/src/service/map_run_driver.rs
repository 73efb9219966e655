//! A Map Run's driver: a distributed Map's children as ordinary durable executions.
//!
//! The interpreter hands a distributed Map's iteration over whole, as one invocation on
//! [`MAP_RUN_RESOURCE`] whose input is the run's [`MapRunSpec`]. The driver streams the items
//! (the reader hands them on one at a time, on a thread of its own, through a bounded
//! channel), turns each into a child's input with the interpreter's own pure functions
//! (`ItemSelector`, `ItemBatcher`), and starts up to `MaxConcurrency` children as executions
//! of the child machine, each with its own history. It answers the invocation with the Map's
//! result or failure ([`MapRunOutcome`]); the parent's history is the interpreter's.
//!
//! Durability. A child's name is made from the run and the child's index, so a child started
//! twice is refused the second time (`ExecutionAlreadyExists`) and never runs twice. Children
//! read but not started yet are written to the store (a `map_runs` row beside the run's,
//! `pending:<run>`, with how far the source was read) before any of them starts; a driver
//! that starts again (a restart takes the invocation back) reads that row, counts the
//! children that exist, starts the pending ones and reads on from where the source stopped.
//! The counts DescribeMapRun shows while the run goes on are another row, `progress:<run>`.
//!
//! A child's end reaches the driver at once when it runs on this node (the engine tells the
//! driver registered for the run), and through a look at the store every few seconds
//! otherwise. Results stay in the children's rows: at the end the driver pages through them
//! in index order (their ARNs sort so) for the Map's output or the `ResultWriter`'s files.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::interpreter::{
    child_record, exceeds_tolerance, transform_results, Batcher, ChildInputs, ChildRecord, Event, ItemSource, MapRun,
    MapRunEnd, MapRunFailure, MapRunOutcome, MapRunSpec, TaskRequest, MAX_PAYLOAD_BYTES,
};
use asl::Definition;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::{ExecutionRow, ExecutionStatus, MapRunRow, StoreError, TaskRow, Wake};
use tokio::sync::mpsc;

use super::{Engine, EngineError, ParentLink};
use crate::clock::now_ms;
use crate::page::Page;
use crate::random::OsRandomness;

pub use asl::interpreter::MAP_RUN_RESOURCE;

/// The most children read ahead of their start, and their inputs' bytes.
const WINDOW_CHILDREN: usize = 256;
const WINDOW_BYTES: usize = 4 << 20;
/// How often a driver looks at its parent (still waiting?) and at the run's limits.
const TICK: Duration = Duration::from_millis(500);
/// How often it reads the running children's rows, for ends it was not told of.
const POLL: Duration = Duration::from_secs(3);
/// Children's inputs the reader's thread makes ahead of the driver (it works while the
/// driver starts children).
const READ_AHEAD: usize = 16;
/// Children started at once (their commits share the store's syncs).
const PARALLEL_STARTS: usize = 16;
/// Children read from the store at a time at the end.
const PAGE: usize = 100;

/// What a driver hears from the rest of the engine.
#[derive(Debug)]
pub(super) enum DriverMsg {
    ChildEnded {
        index: u64,
        status: ExecutionStatus,
        error: Option<String>,
        cause: Option<String>,
    },
    /// A child ended on another node: read the running children's rows now.
    Look,
    Limits {
        max_concurrency: Option<u64>,
        count: Option<u64>,
        percentage: Option<f64>,
    },
}

/// The row keeping a run's children read but not started, and how far its source was read.
fn pending_key(run_arn: &str) -> String {
    format!("pending:{run_arn}")
}

/// The row keeping a run's counts while it goes on.
fn progress_key(run_arn: &str) -> String {
    format!("progress:{run_arn}")
}

/// The start of every child's ARN in a run: `arn:...:execution:MACHINE/LABEL:` and the part
/// of the name the run's children share (the first 24 characters of the run's id).
pub(super) fn child_prefix(run_arn: &str) -> String {
    let (head, id) = run_arn.rsplit_once(':').unwrap_or((run_arn, ""));
    let stem: String = id.chars().take(24).collect();
    format!("{}:{stem}", head.replacen(":mapRun:", ":execution:", 1))
}

/// A child's name: the run's stem and its index, as 12 hex digits (a UUID's shape, and the
/// ARNs sort by index).
fn child_name(prefix: &str, index: u64) -> String {
    let stem = prefix.rsplit_once(':').map_or("", |(_, s)| s);
    format!("{stem}{index:012x}")
}

fn child_index(name: &str) -> Option<u64> {
    let digits = name.get(name.len().checked_sub(12)?..)?;
    u64::from_str_radix(digits, 16).ok()
}

/// The items a child's input holds: a batch's `Items`, else one.
fn items_of(input: &str, batched: bool) -> u64 {
    #[derive(Deserialize)]
    struct Batch {
        #[serde(rename = "Items")]
        items: Vec<serde::de::IgnoredAny>,
    }
    if !batched {
        return 1;
    }
    serde_json::from_str::<Batch>(input).map_or(1, |b| b.items.len() as u64)
}

/// The items of a batch (a child's input of a batched run).
fn batch_items(batch: &Value) -> u64 {
    batch.get("Items").and_then(Value::as_array).map_or(1, |a| a.len() as u64)
}

/// The pending row.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pending {
    /// Units of the source consumed (items read, or inputs given) and children made of them.
    consumed: u64,
    children_read: u64,
    /// The items of those children.
    #[serde(default)]
    items_read: u64,
    reader_done: bool,
    /// Children read, not started: index, input (JSON text), items.
    children: VecDeque<(u64, String, u64)>,
}

/// The progress row: children and items by status (pending, running, succeeded, failed).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Progress {
    pub(super) executions: [u64; 4],
    pub(super) items: [u64; 4],
}

/// What the source's thread hands the driver.
enum Produced {
    Child { input: String, items: u64, consumed: u64 },
    Failed(MapRunFailure),
    Done,
}

struct Driver {
    engine: Engine,
    parent: String,
    task: u64,
    spec: MapRunSpec,
    prefix: String,
    machine_arn: String,
    machine_name: String,
    pending: Pending,
    pending_bytes: usize,
    /// Started and not ended: index to items.
    running: HashMap<u64, u64>,
    /// Children a driver before this one read and may have started (its pending row), and
    /// those of them known to have ended: started again, they are refused, never counted twice.
    resumed: HashSet<u64>,
    ended: HashSet<u64>,
    succeeded: u64,
    failed: u64,
    items_succeeded: u64,
    items_failed: u64,
    /// The first failed child's error and cause (the Map's, when it tolerates none).
    first_failure: Option<(Option<String>, Option<String>)>,
    /// Children and items in all, once known.
    total: Option<(u64, u64)>,
    max_concurrency: u64,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    failure: Option<MapRunFailure>,
    dirty: bool,
    /// The limits the run's record had when last read.
    seen_limits: Option<(u64, u64, f64)>,
    /// The parent's mock test case, which its children run with too.
    mock_test_case: Option<String>,
    /// Another node said a child ended: read the running children's rows.
    look: bool,
    /// A redriven run's children that ended unsuccessfully before the redrive, to redrive
    /// (index, items), in index order.
    to_redrive: VecDeque<(u64, u64)>,
}

impl Engine {
    /// Run the Map Run an invocation on [`MAP_RUN_RESOURCE`] asks for and answer it. A run
    /// this node drives already (its lease ran out while it runs) is left to that driver.
    pub(super) async fn drive_map_run(&self, task: &TaskRow, request: &TaskRequest) {
        let parent = task.execution_arn.clone();
        let spec: MapRunSpec = match serde_json::from_value(request.input.clone()) {
            Ok(s) => s,
            Err(e) => {
                let event = Event::TaskFailed {
                    task: request.task,
                    error: Some("States.Runtime".into()),
                    cause: Some(format!("The Map Run's request is not readable: {e}")),
                };
                if let Err(e) = self.push(&parent, &event).await {
                    tracing::warn!(execution = %parent, error = %e, "reporting an unreadable map run");
                }
                return;
            }
        };
        let run_arn = spec.run_arn.clone();
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut drivers = self.inner.drivers.lock().expect("drivers lock");
            if drivers.contains_key(&run_arn) {
                return;
            }
            drivers.insert(run_arn.clone(), tx);
        }
        let driver = Driver::new(self.clone(), parent.clone(), request.task, spec);
        let outcome = driver.run(rx).await;
        self.inner.drivers.lock().expect("drivers lock").remove(&run_arn);
        match outcome {
            Ok(Some(outcome)) => {
                let succeeded = !matches!(outcome.end, MapRunEnd::Failed(_));
                let output = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                if let Err(e) = self.push(&parent, &Event::TaskSucceeded { task: request.task, output }).await {
                    tracing::warn!(execution = %parent, error = %e, "reporting a map run's end");
                    return;
                }
                if !succeeded {
                    // A failed run keeps what it read but never started, for a redrive.
                    return;
                }
                // Every child ran: the inputs read ahead are not needed any more.
                let done = Pending { reader_done: true, ..Pending::default() };
                let row = MapRunRow {
                    arn: pending_key(&run_arn),
                    execution_arn: run_arn.clone(),
                    start: 0,
                    record: serde_json::to_string(&done).unwrap_or_default(),
                };
                if let Err(e) = self.inner.store.put_map_runs(&[row]).await {
                    tracing::warn!(map_run = %run_arn, error = %e, "clearing a map run's pending children");
                }
            }
            // The parent no longer waits (stopped, or ended otherwise).
            Ok(None) => {}
            // Left leased: once the lease runs out the run is taken up again from the store.
            Err(e) => tracing::warn!(execution = %parent, map_run = %run_arn, error = %e, "driving a map run"),
        }
    }

    /// A child of a Map Run ended: tell its driver if it runs here, else wake the node that
    /// drives it (engines sharing the store hear the run's ARN).
    pub(super) fn map_run_child_ended(
        &self,
        link: &ParentLink,
        status: ExecutionStatus,
        error: Option<&str>,
        cause: Option<&str>,
    ) {
        let (Some(run), Some(index)) = (&link.map_run_arn, link.index) else { return };
        let drivers = self.inner.drivers.lock().expect("drivers lock");
        match drivers.get(run) {
            Some(tx) => {
                let _ = tx.send(DriverMsg::ChildEnded {
                    index,
                    status,
                    error: error.map(str::to_owned),
                    cause: cause.map(str::to_owned),
                });
            }
            None => self.publish(Wake::Execution(run.clone())),
        }
    }

    /// A wake-up for `arn` from another engine: true when it is a Map Run driven here (told
    /// to look at its children), false when it is for an execution.
    pub(super) fn wake_driver(&self, arn: &str) -> bool {
        let drivers = self.inner.drivers.lock().expect("drivers lock");
        match drivers.get(arn) {
            Some(tx) => {
                let _ = tx.send(DriverMsg::Look);
                true
            }
            None => false,
        }
    }

    /// UpdateMapRun: new limits for the driver of the run, if it runs here (others read
    /// them from the run's record).
    pub(super) fn map_run_limits(
        &self,
        run: &str,
        max_concurrency: Option<u64>,
        count: Option<u64>,
        percentage: Option<f64>,
    ) {
        let drivers = self.inner.drivers.lock().expect("drivers lock");
        if let Some(tx) = drivers.get(run) {
            let _ = tx.send(DriverMsg::Limits { max_concurrency, count, percentage });
        }
    }

    /// A run's counts while it goes on, from its driver's progress row.
    pub(super) async fn map_run_progress(&self, run: &str) -> Option<Progress> {
        let row = self.inner.store.get_map_run(&progress_key(run)).await.ok()??;
        serde_json::from_str(&row.record).ok()
    }

    /// A Map Run's child executions, in index order, after the ARN `after`.
    pub async fn map_run_children(
        &self,
        run: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ExecutionRow>, EngineError> {
        let rows = self.inner.store.executions_by_prefix(&child_prefix(run), status, after, limit + 1).await?;
        Ok(Page::of_rows(rows, limit, |r| r.arn.clone()))
    }
}

impl Driver {
    fn new(engine: Engine, parent: String, task: u64, spec: MapRunSpec) -> Self {
        let prefix = child_prefix(&spec.run_arn);
        let head = spec.run_arn.rsplit_once(':').map_or(spec.run_arn.as_str(), |(h, _)| h);
        let machine_arn = head.replacen(":mapRun:", ":stateMachine:", 1);
        let machine_name = machine_arn.split_once(":stateMachine:").map_or("", |(_, n)| n).to_owned();
        let total = match &spec.source {
            ItemSource::Inputs(inputs) => {
                let items = inputs.iter().map(|i| if spec.batched { batch_items(i) } else { 1 }).sum();
                Some((inputs.len() as u64, items))
            }
            ItemSource::Reader(_) => None,
        };
        Self {
            max_concurrency: spec.max_concurrency,
            tolerated_count: spec.tolerated_failure_count,
            tolerated_percentage: spec.tolerated_failure_percentage,
            engine,
            parent,
            task,
            prefix,
            machine_arn,
            machine_name,
            pending: Pending::default(),
            pending_bytes: 0,
            running: HashMap::new(),
            resumed: HashSet::new(),
            ended: HashSet::new(),
            succeeded: 0,
            failed: 0,
            items_succeeded: 0,
            items_failed: 0,
            first_failure: None,
            total,
            failure: None,
            dirty: true,
            seen_limits: None,
            mock_test_case: None,
            look: false,
            to_redrive: VecDeque::new(),
            spec,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<DriverMsg>) -> Result<Option<MapRunOutcome>, EngineError> {
        let store = self.engine.inner.store.clone();
        let Some(parent) = store.get_execution(&self.parent).await? else { return Ok(None) };
        let def = self.engine.definition(&parent.definition)?;
        self.mock_test_case = parent.mock_test_case.clone();
        self.resume().await?;
        let (ptx, mut produced) = mpsc::channel::<Produced>(READ_AHEAD);
        if !self.pending.reader_done {
            let aws = self.engine.inner.config.functions.aws_client.clone();
            let (spec, skip) = (self.spec.clone(), self.pending.consumed);
            tokio::task::spawn_blocking(move || produce(&aws, &def, &spec, skip, &ptx));
        } else {
            drop(ptx);
        }
        let mut last_tick = Instant::now();
        let mut last_poll = Instant::now();
        loop {
            self.decide();
            self.start_children().await?;
            if self.failure.is_some()
                || (self.pending.reader_done
                    && self.pending.children.is_empty()
                    && self.to_redrive.is_empty()
                    && self.running.is_empty())
            {
                break;
            }
            let wants_items = !self.pending.reader_done && self.pending.children.is_empty();
            tokio::select! {
                msg = rx.recv() => {
                    if let Some(msg) = msg {
                        self.hear(msg);
                    }
                    while let Ok(msg) = rx.try_recv() {
                        self.hear(msg);
                    }
                }
                p = produced.recv(), if wants_items => {
                    self.take(p);
                    while self.window_open() && !self.pending.reader_done {
                        match produced.try_recv() {
                            Ok(p) => self.take(Some(p)),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => self.take(None),
                        }
                    }
                    // The window is durable before any child of it starts.
                    self.save_pending().await?;
                }
                _ = tokio::time::sleep(TICK) => {}
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                if !self.parent_waits().await? {
                    self.stop_children().await;
                    self.save_progress().await?;
                    return Ok(None);
                }
                self.read_limits().await;
                if self.dirty {
                    self.save_progress().await?;
                }
            }
            if !self.running.is_empty() && (self.look || last_poll.elapsed() >= POLL) {
                self.look = false;
                last_poll = Instant::now();
                self.poll_running().await?;
            }
        }
        if self.failure.is_some() {
            self.stop_children().await;
        }
        let outcome = self.finish(produced).await?;
        Ok(Some(outcome))
    }

    /// Where a run taken up again stands: its pending row, and the children that exist.
    async fn resume(&mut self) -> Result<(), EngineError> {
        let store = self.engine.inner.store.clone();
        if let Some(row) = store.get_map_run(&pending_key(&self.spec.run_arn)).await? {
            self.pending = serde_json::from_str(&row.record).map_err(|e| StoreError::Backend(e.to_string()))?;
            self.pending_bytes = self.pending.children.iter().map(|(_, i, _)| i.len()).sum();
            self.resumed = self.pending.children.iter().map(|(index, _, _)| *index).collect();
            if self.pending.reader_done && self.total.is_none() {
                self.total = Some((self.pending.children_read, self.pending.items_read));
            }
        }
        self.read_limits().await;
        let mut after: Option<String> = None;
        loop {
            let rows = store.executions_by_prefix(&self.prefix, None, after.as_deref(), PAGE).await?;
            for r in &rows {
                let Some(index) = child_index(&r.name) else { continue };
                let items = items_of(&r.input, self.spec.batched);
                if r.status == ExecutionStatus::Running {
                    self.running.insert(index, items);
                } else if self.redrives(r) {
                    self.to_redrive.push_back((index, items));
                } else {
                    self.count_end(index, items, r.status, r.error.clone(), r.cause.clone());
                }
            }
            if rows.len() < PAGE {
                break;
            }
            after = rows.last().map(|r| r.arn.clone());
        }
        if self.spec.redrive.is_some() {
            // A redrive: the children a failed run read and started stand as their rows say.
            let known: HashSet<u64> =
                self.running.keys().chain(self.to_redrive.iter().map(|c| &c.0)).copied().collect();
            self.pending.children.retain(|c| !known.contains(&c.0) && !self.ended.contains(&c.0));
            self.pending_bytes = self.pending.children.iter().map(|(_, i, _)| i.len()).sum();
        }
        Ok(())
    }

    /// Whether a child that ended is one a redrive of the run runs again: it did not
    /// succeed, and it neither started nor was redriven since the redrive began (a driver
    /// taken up again mid-redrive counts those as they stand).
    fn redrives(&self, r: &ExecutionRow) -> bool {
        let Some(redrive) = self.spec.redrive else { return false };
        r.status != ExecutionStatus::Succeeded
            && r.start < redrive.date
            && r.redrive_date.is_none_or(|d| d < redrive.date)
    }

    fn child_arn(&self, index: u64) -> String {
        let head = self.prefix.rsplit_once(':').map_or("", |(h, _)| h);
        format!("{head}:{}", child_name(&self.prefix, index))
    }

    fn window_open(&self) -> bool {
        self.pending.children.len() < WINDOW_CHILDREN && self.pending_bytes < WINDOW_BYTES
    }

    /// One thing the source's thread handed on (`None`: it ended).
    fn take(&mut self, p: Option<Produced>) {
        match p {
            Some(Produced::Child { input, items, consumed }) => {
                let index = self.pending.children_read;
                self.pending.children_read += 1;
                self.pending.consumed += consumed;
                self.pending.items_read += items;
                self.pending_bytes += input.len();
                self.pending.children.push_back((index, input, items));
            }
            Some(Produced::Failed(failure)) => {
                self.pending.reader_done = true;
                self.failure.get_or_insert(failure);
            }
            Some(Produced::Done) | None => {
                self.pending.reader_done = true;
                if self.total.is_none() {
                    self.total = Some((self.pending.children_read, self.pending.items_read));
                }
            }
        }
        self.dirty = true;
    }

    fn hear(&mut self, msg: DriverMsg) {
        match msg {
            DriverMsg::ChildEnded { index, status, error, cause } => {
                if let Some(items) = self.running.remove(&index) {
                    self.count_end(index, items, status, error, cause);
                }
            }
            DriverMsg::Look => self.look = true,
            DriverMsg::Limits { max_concurrency, count, percentage } => {
                if let Some(n) = max_concurrency {
                    self.max_concurrency = n;
                }
                if count.is_some() {
                    self.tolerated_count = count;
                }
                if percentage.is_some() {
                    self.tolerated_percentage = percentage;
                }
            }
        }
    }

    fn count_end(
        &mut self,
        index: u64,
        items: u64,
        status: ExecutionStatus,
        error: Option<String>,
        cause: Option<String>,
    ) {
        if self.resumed.contains(&index) && !self.ended.insert(index) {
            return;
        }
        if status == ExecutionStatus::Succeeded {
            self.succeeded += 1;
            self.items_succeeded += items;
        } else {
            self.failed += 1;
            self.items_failed += items;
            self.first_failure.get_or_insert((error, cause));
        }
        self.dirty = true;
    }

    /// Whether the failures so far fail the run (a percentage waits for the total).
    fn decide(&mut self) {
        if self.failure.is_some() || self.failed == 0 {
            return;
        }
        let total = self.total.map(|(children, _)| children);
        if exceeds_tolerance(self.tolerated_count, self.tolerated_percentage, self.failed, total) == Some(true) {
            let tolerates = self.tolerated_count.is_some() || self.tolerated_percentage.is_some();
            self.failure = Some(match (&self.first_failure, tolerates) {
                (Some((error, cause)), false) => {
                    MapRunFailure { error: error.clone(), cause: cause.clone(), evaluation: None }
                }
                _ => MapRunFailure::tolerance_exceeded(),
            });
        }
    }

    /// Start pending children while the concurrency allows.
    async fn start_children(&mut self) -> Result<(), EngineError> {
        let limit = if self.max_concurrency == 0 { u64::MAX } else { self.max_concurrency };
        if self.failure.is_some() {
            return Ok(());
        }
        let mut room = usize::try_from(limit.saturating_sub(self.running.len() as u64)).unwrap_or(usize::MAX);
        while room > 0 {
            let Some((index, items)) = self.to_redrive.pop_front() else { break };
            room -= 1;
            self.redrive_child(index, items).await?;
        }
        let starting = room.min(self.pending.children.len());
        if starting == 0 {
            return Ok(());
        }
        // Counted as running before they start, so whoever sees a child sees it counted.
        self.save_progress_with(starting).await?;
        let mut starts = tokio::task::JoinSet::new();
        let mut outcome = Ok(());
        for _ in 0..starting {
            let Some((index, input, items)) = self.pending.children.pop_front() else { break };
            self.pending_bytes = self.pending_bytes.saturating_sub(input.len());
            // Running before it starts: its end may be reported while it starts.
            self.running.insert(index, items);
            // The input was built from a value and kept as text; it is valid JSON.
            let value: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
            let row = self.child_row(index, input);
            let (engine, machine, role, express) =
                (self.engine.clone(), self.machine_name.clone(), self.spec.role_arn.clone(), self.spec.express);
            starts.spawn(async move {
                let arn = row.arn.clone();
                (index, items, arn, engine.run_new_execution_as(row, value, &machine, &role, express).await)
            });
            while starts.len() >= PARALLEL_STARTS {
                if let Some(done) = starts.join_next().await {
                    outcome = outcome.and(self.started(done).await);
                }
            }
        }
        while let Some(done) = starts.join_next().await {
            outcome = outcome.and(self.started(done).await);
        }
        outcome
    }

    /// Redrive a child that did not succeed, as RedriveExecution does (its history goes on,
    /// its `redriveCount` goes up): it keeps its name, so it cannot be started anew. A child
    /// that cannot be redriven (an EXPRESS one keeps no state) counts as failed again.
    async fn redrive_child(&mut self, index: u64, items: u64) -> Result<(), EngineError> {
        let arn = self.child_arn(index);
        // Running before it is redriven: its end may be reported while it is.
        self.running.insert(index, items);
        self.dirty = true;
        match self.engine.redrive(&arn).await {
            Ok(_) => Ok(()),
            Err(EngineError::ExecutionNotRedrivable(_) | EngineError::ExecutionDoesNotExist(_)) => {
                self.count_if_ended(&arn, index, items).await?;
                Ok(())
            }
            Err(e) => {
                self.running.remove(&index);
                Err(e)
            }
        }
    }

    /// A child's execution row, as its start creates it.
    fn child_row(&self, index: u64, input: String) -> ExecutionRow {
        let link = ParentLink {
            execution_arn: self.parent.clone(),
            task_id: self.task,
            pattern: "mapRun".into(),
            map_run_arn: Some(self.spec.run_arn.clone()),
            index: Some(index),
        };
        ExecutionRow {
            arn: self.child_arn(index),
            state_machine_arn: self.machine_arn.clone(),
            name: child_name(&self.prefix, index),
            status: ExecutionStatus::Running,
            input,
            output: None,
            error: None,
            cause: None,
            start: now_ms(),
            stop: None,
            version_arn: None,
            alias_arn: None,
            definition: self.spec.definition.clone(),
            redrive_count: 0,
            redrive_date: None,
            parent: serde_json::to_string(&link).ok(),
            version: 0,
            started_by: None,
            mock_test_case: self.mock_test_case.clone(),
        }
    }

    /// What became of a child's start.
    async fn started(
        &mut self,
        done: Result<(u64, u64, String, Result<(), EngineError>), tokio::task::JoinError>,
    ) -> Result<(), EngineError> {
        let (index, items, arn, started) =
            done.map_err(|e| StoreError::Backend(format!("starting a map run's child: {e}")))?;
        match started {
            Ok(_) => Ok(()),
            Err(EngineError::InvalidDefinition(cause)) => {
                // The child machine cannot run: the run fails, as a child's failure would.
                self.running.remove(&index);
                self.failure.get_or_insert(MapRunFailure::new("States.Runtime", cause));
                Ok(())
            }
            Err(EngineError::ExecutionAlreadyExists(_)) => {
                // Started by a driver before this one: as it stands now.
                if self.ended.contains(&index) {
                    self.running.remove(&index);
                    return Ok(());
                }
                self.count_if_ended(&arn, index, items).await?;
                Ok(())
            }
            Err(e) => {
                self.running.remove(&index);
                Err(e)
            }
        }
    }

    /// Whether the parent still waits for this run (a stop or the parent's end cancels it).
    async fn parent_waits(&self) -> Result<bool, EngineError> {
        Ok(self.engine.inner.store.get_task(&self.parent, self.task as i64).await?.is_some())
    }

    /// UpdateMapRun made on another node (or before a restart): the run's record has the
    /// new limits. Only a change of the record is applied, so a record not yet updated never
    /// undoes an update this node was told of directly.
    async fn read_limits(&mut self) {
        let Ok(Some(row)) = self.engine.inner.store.get_map_run(&self.spec.run_arn).await else { return };
        let Ok(run) = serde_json::from_str::<MapRun>(&row.record) else { return };
        let seen = (run.max_concurrency, run.tolerated_failure_count, run.tolerated_failure_percentage);
        let before = self.seen_limits.replace(seen);
        if before.map(|b| b.0) != Some(seen.0) {
            self.max_concurrency = seen.0;
        }
        if before.map(|b| b.1) != Some(seen.1) && seen.1 != self.tolerated_count.unwrap_or(0) {
            self.tolerated_count = Some(seen.1);
        }
        if before.map(|b| b.2) != Some(seen.2) && seen.2 != self.tolerated_percentage.unwrap_or(0.0) {
            self.tolerated_percentage = Some(seen.2);
        }
    }

    /// Count the end of child `index` if its execution has ended and it was still counted as
    /// running here.
    async fn count_if_ended(&mut self, arn: &str, index: u64, items: u64) -> Result<(), EngineError> {
        if let Some(r) = self.engine.inner.store.get_execution(arn).await? {
            if r.status != ExecutionStatus::Running && self.running.remove(&index).is_some() {
                self.count_end(index, items, r.status, r.error, r.cause);
            }
        }
        Ok(())
    }

    /// Ends of running children this driver was not told of (they ran on another node).
    async fn poll_running(&mut self) -> Result<(), EngineError> {
        let running: Vec<(u64, u64)> = self.running.iter().map(|(i, n)| (*i, *n)).collect();
        for (index, items) in running {
            let arn = self.child_arn(index);
            self.count_if_ended(&arn, index, items).await?;
        }
        Ok(())
    }

    /// The run failed or its parent stopped: stop the children still running.
    async fn stop_children(&mut self) {
        for index in self.running.keys() {
            let arn = self.child_arn(*index);
            if let Err(e) = self.engine.push(&arn, &Event::Stop { error: None, cause: None }).await {
                tracing::warn!(child = %arn, error = %e, "stopping a map run's child");
            }
        }
    }

    /// The counts as they stand, with the next `starting` pending children as running.
    fn counts(&self, starting: usize) -> Progress {
        let starting_items: u64 = self.pending.children.iter().take(starting).map(|c| c.2).sum();
        let not_started = (self.pending.children.len() - starting) as u64;
        let started = self.pending.children_read - not_started;
        let running = (self.running.len() + starting) as u64;
        let running_items: u64 = self.running.values().sum::<u64>() + starting_items;
        let waiting_items: u64 = self.pending.children.iter().skip(starting).map(|c| c.2).sum();
        let started_items = self.pending.items_read.saturating_sub(waiting_items);
        let (pending, pending_items) = match self.total {
            Some((children, items)) => (children.saturating_sub(started), items.saturating_sub(started_items)),
            None => (not_started, waiting_items),
        };
        // Children waiting for their redrive.
        let pending = pending + self.to_redrive.len() as u64;
        let pending_items = pending_items + self.to_redrive.iter().map(|c| c.1).sum::<u64>();
        Progress {
            executions: [pending, running, self.succeeded, self.failed],
            items: [pending_items, running_items, self.items_succeeded, self.items_failed],
        }
    }

    async fn save_pending(&mut self) -> Result<(), EngineError> {
        let record = serde_json::to_string(&self.pending).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.put(pending_key(&self.spec.run_arn), record).await
    }

    async fn save_progress(&mut self) -> Result<(), EngineError> {
        self.save_progress_with(0).await
    }

    async fn save_progress_with(&mut self, starting: usize) -> Result<(), EngineError> {
        self.dirty = false;
        let record = serde_json::to_string(&self.counts(starting)).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.put(progress_key(&self.spec.run_arn), record).await
    }

    async fn put(&self, arn: String, record: String) -> Result<(), EngineError> {
        let row = MapRunRow { arn, execution_arn: self.spec.run_arn.clone(), start: 0, record };
        Ok(self.engine.inner.store.put_map_runs(&[row]).await?)
    }

    /// The run is over (every child ended, or it failed): the Map's result from the
    /// children's rows, in index order, written by the `ResultWriter` if it has one.
    async fn finish(&mut self, mut produced: mpsc::Receiver<Produced>) -> Result<MapRunOutcome, EngineError> {
        let writes = self.spec.writer.as_ref().is_some_and(|w| w.arguments.is_some());
        let failed_run = self.failure.is_some();
        // Children never started: those read, and for a failed run the rest of the source.
        let mut not_started: Vec<(String, u64)> =
            self.pending.children.drain(..).map(|(_, input, items)| (input, items)).collect();
        if failed_run {
            while let Some(p) = produced.recv().await {
                match p {
                    Produced::Child { input, items, .. } => {
                        not_started.push((if writes { input } else { String::new() }, items))
                    }
                    Produced::Failed(_) | Produced::Done => break,
                }
            }
        }
        drop(produced);
        let keep_records = self.spec.writer.is_some();
        let mut records: Vec<Value> = Vec::new();
        let mut outputs = String::from("[");
        let mut too_large = false;
        let (mut executions, mut items) = ([0u64; 4], [0u64; 4]);
        let store = self.engine.inner.store.clone();
        let mut after: Option<String> = None;
        loop {
            let rows = store.executions_by_prefix(&self.prefix, None, after.as_deref(), PAGE).await?;
            for r in &rows {
                let n = items_of(&r.input, self.spec.batched);
                let slot = match r.status {
                    ExecutionStatus::Succeeded => 2,
                    // Stopped with the run (or about to be): aborted when the run closes.
                    ExecutionStatus::Running | ExecutionStatus::Aborted => 1,
                    _ => 3,
                };
                executions[slot] += 1;
                items[slot] += n;
                if !keep_records && !failed_run && !too_large {
                    let output = if slot == 2 { r.output.as_deref().unwrap_or("null") } else { "null" };
                    if outputs.len() > 1 {
                        outputs.push(',');
                    }
                    outputs.push_str(output);
                    too_large = outputs.len() > MAX_PAYLOAD_BYTES;
                }
                if keep_records {
                    let status = match slot {
                        2 => "SUCCEEDED",
                        3 => "FAILED",
                        _ => "PENDING",
                    };
                    records.push(child_record(&ChildRecord {
                        execution_arn: &r.arn,
                        name: &r.name,
                        input: &r.input,
                        state_machine_arn: &r.state_machine_arn,
                        status,
                        output: r.output.as_deref(),
                        error: r.error.as_deref(),
                        cause: r.cause.as_deref(),
                        start: r.start,
                        stop: r.stop.unwrap_or_else(now_ms),
                    }));
                }
            }
            if rows.len() < PAGE {
                break;
            }
            after = rows.last().map(|r| r.arn.clone());
        }
        for (input, n) in &not_started {
            executions[0] += 1;
            items[0] += n;
            if keep_records {
                records.push(child_record(&ChildRecord {
                    execution_arn: "",
                    name: "",
                    input,
                    state_machine_arn: &self.machine_arn,
                    status: "PENDING",
                    output: None,
                    error: None,
                    cause: None,
                    start: 0,
                    stop: 0,
                }));
            }
        }
        outputs.push(']');
        let mut results_written = false;
        let end = match (self.failure.take(), &self.spec.writer) {
            (Some(failure), Some(w)) if w.arguments.is_some() => {
                results_written = self.write(records, w.arguments.clone(), w.config.clone()).await.is_ok();
                MapRunEnd::Failed(failure)
            }
            (Some(failure), _) => MapRunEnd::Failed(failure),
            (None, Some(w)) if w.arguments.is_some() => {
                match self.write(records, w.arguments.clone(), w.config.clone()).await {
                    Ok(v) => {
                        results_written = true;
                        MapRunEnd::Output(v)
                    }
                    Err(cause) => MapRunEnd::Failed(MapRunFailure::new("States.ResultWriterFailed", cause)),
                }
            }
            (None, Some(w)) => MapRunEnd::Output(Value::Array(transform_results(records, &w.transformation))),
            (None, None) if too_large => MapRunEnd::TooLarge,
            (None, None) => MapRunEnd::Output(serde_json::from_str(&outputs).unwrap_or(Value::Null)),
        };
        Ok(MapRunOutcome { end, executions, items, results_written })
    }

    /// The records to S3, as the `ResultWriter` files them.
    async fn write(&self, records: Vec<Value>, arguments: Option<Value>, config: Value) -> Result<Value, String> {
        let request = json!({
            "Resource": asl::definition::PUT_OBJECT,
            "Arguments": arguments,
            "WriterConfig": config,
            "MapRunArn": self.spec.run_arn,
            "Records": records,
        });
        let aws = self.engine.inner.config.functions.aws_client.clone();
        let written = tokio::task::spawn_blocking(move || {
            let client = aws.s3().map_err(|e| e.to_string())?;
            crate::result_writer::write_results(&client, &request)
        })
        .await;
        written.map_err(|e| e.to_string())?
    }
}

/// The source of a run, on a thread of its own: each child's input as it is made (the items
/// read one at a time, through `ItemSelector` and `ItemBatcher`), after the first `skip`
/// units (items read, or inputs given) a driver before this one consumed. The channel is
/// bounded, so only a few children's inputs are ever held ahead of the driver.
fn produce(aws: &crate::aws::Aws, def: &Arc<Definition>, spec: &MapRunSpec, skip: u64, tx: &mpsc::Sender<Produced>) {
    let request = match &spec.source {
        ItemSource::Inputs(inputs) => {
            for input in inputs.iter().skip(usize::try_from(skip).unwrap_or(usize::MAX)) {
                let items = if spec.batched { batch_items(input) } else { 1 };
                if tx.blocking_send(Produced::Child { input: input.to_string(), items, consumed: 1 }).is_err() {
                    return;
                }
            }
            let _ = tx.blocking_send(Produced::Done);
            return;
        }
        ItemSource::Reader(request) => request,
    };
    let client = match aws.s3() {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.blocking_send(Produced::Failed(MapRunFailure::reader(e.to_string())));
            return;
        }
    };
    let mut inputs = ChildInputs::new(def, spec);
    let mut batcher = spec.batching.clone().map(Batcher::new);
    let mut random = OsRandomness::new();
    let mut index: u64 = 0;
    let mut stopped = false;
    let read = crate::item_reader::each_item(&client, request, &mut |item| {
        let i = index;
        index += 1;
        if i < skip {
            return true;
        }
        let input = match inputs.input(item, usize::try_from(i).unwrap_or(usize::MAX), now_ms(), &mut random) {
            Ok(v) => v,
            Err(f) => {
                let _ = tx.blocking_send(Produced::Failed(f));
                stopped = true;
                return false;
            }
        };
        let child = match &mut batcher {
            None => Some((input, 1)),
            Some(b) => match b.push(input) {
                Ok(closed) => closed.map(|batch| {
                    let n = batch_items(&batch);
                    (batch, n)
                }),
                Err(e) => {
                    let _ = tx.blocking_send(Produced::Failed(spec.state_failure(e)));
                    stopped = true;
                    return false;
                }
            },
        };
        if let Some((input, n)) = child {
            if tx.blocking_send(Produced::Child { input: input.to_string(), items: n, consumed: n }).is_err() {
                stopped = true;
                return false;
            }
        }
        true
    });
    if stopped {
        return;
    }
    match read {
        Ok(()) => {
            if let Some(batch) = batcher.as_mut().and_then(Batcher::finish) {
                let n = batch_items(&batch);
                if tx.blocking_send(Produced::Child { input: batch.to_string(), items: n, consumed: n }).is_err() {
                    return;
                }
            }
            let _ = tx.blocking_send(Produced::Done);
        }
        Err(cause) => {
            let _ = tx.blocking_send(Produced::Failed(MapRunFailure::reader(cause)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_named_by_run_and_index_so_their_arns_sort_by_index() {
        let run = "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:0b7e2b1c-1234-4abc-8def-0123456789ab";
        let prefix = child_prefix(run);
        assert_eq!(prefix, "arn:aws:states:us-east-1:123456789012:execution:m/Map:0b7e2b1c-1234-4abc-8def-");
        let name = child_name(&prefix, 26);
        assert_eq!(name, "0b7e2b1c-1234-4abc-8def-00000000001a");
        assert_eq!(child_index(&name), Some(26));
        assert!(child_name(&prefix, 9) < child_name(&prefix, 10));
    }

    #[test]
    fn a_batch_counts_its_items() {
        assert_eq!(items_of(r#"{"BatchInput":{},"Items":[1,{"a":2},[3]]}"#, true), 3);
        assert_eq!(items_of(r#"{"Items":[1]}"#, false), 1);
    }
}
