//! The iteration model Parallel and Map share: a state that runs child frames (a Parallel's
//! branches, a Map's iterations) and collects their outputs by slot.
//!
//! One model serves a Parallel state, an inline Map and a distributed Map; they differ only
//! in what the history shows: an inline Map records each iteration (`MapIteration*`), a
//! distributed Map's iterations run as silent child frames (its history shows a Map Run),
//! and a Parallel's branches have no events of their own. Children start one at a time, each
//! running as far as it can before the next starts, up to `MaxConcurrency`. Owns
//! `ToleratedFailureCount`/`ToleratedFailurePercentage` and aborting siblings.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::map_run::RunCounts;
use super::{fields, payload_too_large, ChildrenOutcome, Failure, Flow, FrameId, Parent, Phase, Run, Work};
use crate::definition::StateKind;
use crate::error::names;
use crate::history::{Details, EventType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Fanout {
    pub(super) is_map: bool,
    /// Inputs of the iterations/branches not started yet, by slot.
    pending: Vec<Option<Value>>,
    next_slot: usize,
    pub(super) running: Vec<FrameId>,
    results: Vec<Value>,
    done: usize,
    failed: usize,
    max_concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    /// A `Continue` for this frame is already on the work stack.
    scheduled: bool,
    /// Set when every child has finished; the frame then completes the state.
    pub(super) outcome: Option<Result<(), Failure>>,
    /// What a distributed Map's ResultWriter needs of its children besides their outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) writer: Option<Box<super::map_writer::WriterLog>>,
    /// A batched distributed Map: how many items each child (slot) holds. Empty: one each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) batch_sizes: Vec<u64>,
    /// Items of the succeeded and failed children, when batched.
    #[serde(default)]
    items_succeeded: u64,
    #[serde(default)]
    items_failed: u64,
}

impl Fanout {
    /// Children not started yet, running, succeeded and failed.
    pub(super) fn counts(&self) -> [u64; 4] {
        let started = self.next_slot as u64;
        let failed = self.failed as u64;
        [self.pending.len() as u64 - started, self.running.len() as u64, self.done as u64 - failed, failed]
    }

    /// Children and items by status: they differ when an `ItemBatcher` groups the items.
    pub(super) fn run_counts(&self) -> RunCounts {
        let executions = self.counts();
        if self.batch_sizes.is_empty() {
            return RunCounts { executions, items: executions };
        }
        let total: u64 = self.batch_sizes.iter().sum();
        let pending: u64 = self.batch_sizes.iter().skip(self.next_slot).sum();
        let running = total.saturating_sub(pending + self.items_succeeded + self.items_failed);
        RunCounts { executions, items: [pending, running, self.items_succeeded, self.items_failed] }
    }

    fn batch_size(&self, slot: usize) -> u64 {
        self.batch_sizes.get(slot).copied().unwrap_or(1)
    }

    /// UpdateMapRun: new limits for the children still to come.
    pub(super) fn set_limits(&mut self, max_concurrency: Option<usize>, count: Option<u64>, percentage: Option<f64>) {
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

    /// Whether a `Continue` must be scheduled to start more children now.
    pub(super) fn wants_continue(&mut self) -> bool {
        if self.scheduled || self.outcome.is_some() {
            return false;
        }
        self.scheduled = true;
        true
    }
}

/// How many failed children a Map tolerates (`None`: none).
pub(super) struct Tolerance {
    pub(super) count: Option<u64>,
    pub(super) percentage: Option<f64>,
}

impl<'a> Run<'a, '_> {
    /// Run `inputs` as children of the state in frame `f`, `max_concurrency` at a time (0: no
    /// limit). The frame blocks until they have all finished or one failed.
    pub(super) fn start_fanout(
        &mut self,
        f: FrameId,
        inputs: Vec<Value>,
        max_concurrency: usize,
        tolerance: Tolerance,
    ) -> Flow {
        if let Some(outcome) = self.children_outcome(f) {
            let (results, outcome) = match outcome {
                ChildrenOutcome::Results(results) => (results, Ok(())),
                ChildrenOutcome::Failed { error, cause } => {
                    (Vec::new(), Err(Failure { error, cause, from_task_result: false, heartbeat: false }))
                }
            };
            let fan = Fanout {
                is_map: matches!(self.state_of(f).kind, StateKind::Map(_)),
                pending: Vec::new(),
                next_slot: 0,
                running: Vec::new(),
                results,
                done: 0,
                failed: 0,
                max_concurrency,
                tolerated_count: tolerance.count,
                tolerated_percentage: tolerance.percentage,
                scheduled: false,
                outcome: Some(outcome),
                writer: None,
                batch_sizes: Vec::new(),
                items_succeeded: 0,
                items_failed: 0,
            };
            self.frame_mut(f).phase = Phase::Fanout(Box::new(fan));
            self.work.push(Work::Run(f));
            return Flow::Blocked;
        }
        let n = inputs.len();
        let fan = Fanout {
            is_map: matches!(self.state_of(f).kind, StateKind::Map(_)),
            pending: inputs.into_iter().map(Some).collect(),
            next_slot: 0,
            running: Vec::new(),
            results: vec![Value::Null; n],
            done: 0,
            failed: 0,
            max_concurrency,
            tolerated_count: tolerance.count,
            tolerated_percentage: tolerance.percentage,
            scheduled: true,
            outcome: None,
            writer: None,
            batch_sizes: Vec::new(),
            items_succeeded: 0,
            items_failed: 0,
        };
        self.frame_mut(f).phase = Phase::Fanout(Box::new(fan));
        self.work.push(Work::Continue(f));
        Flow::Blocked
    }

    /// The children's outcome, when the observer stands in for them.
    fn children_outcome(&mut self, f: FrameId) -> Option<ChildrenOutcome> {
        self.observer.as_ref()?;
        let name = &self.state_of(f).name;
        self.observer.as_deref_mut().and_then(|o| o.children_outcome(name))
    }

    /// The name under which the state in frame `p` records its iterations in this history:
    /// an inline Map's; a distributed Map and a Parallel record none.
    #[inline]
    fn recorded_iterations(&self, p: FrameId) -> Option<&'a str> {
        let state = self.state_of(p);
        match &state.kind {
            StateKind::Map(m) if !m.distributed => Some(&state.name),
            _ => None,
        }
    }

    /// `MapIterationStarted` and its kin for iteration `slot`; the event's id, when written.
    #[inline]
    fn emit_iteration(&mut self, p: FrameId, event_type: EventType, slot: usize) -> Option<u64> {
        let name = self.recorded_iterations(p)?;
        Some(self.emit(p, event_type, Details::Fields(fields(json!({"name": name, "index": slot})))))
    }

    /// Start children of a Map/Parallel while the concurrency limit allows, one at a time so
    /// each runs as far as it can before the next starts.
    pub(super) fn continue_fanout(&mut self, f: FrameId) {
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
            fan.scheduled = true;
            let graph = match &self.state_of(f).kind {
                StateKind::Map(m) => m.processor,
                StateKind::Parallel(p) => p.branches[slot],
                _ => return,
            };
            let anchor = match self.emit_iteration(f, EventType::MapIterationStarted, slot) {
                Some(id) => id,
                None => self.frame(f).last_event,
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

    /// Child frame `f` (slot `slot` of the Parallel or Map state running in `p`) ended.
    pub(super) fn child_finished(&mut self, f: FrameId, parent: Parent, result: Result<Value, Failure>) {
        let Parent { frame: p, slot } = parent;
        // The iteration's closing event follows the iteration's own last event.
        let child_last = self.frame(f).last_event;
        self.free_frame(f);
        if !self.live(p) {
            return;
        }
        if !self.frame(p).silent {
            self.frame_mut(p).last_event = child_last;
        }
        let is_map = matches!(self.state_of(p).kind, StateKind::Map(_));
        let Phase::Fanout(fan) = &mut self.frame_mut(p).phase else { return };
        fan.running.retain(|c| *c != f);
        match result {
            Ok(output) => {
                fan.results[slot] = output;
                fan.done += 1;
                fan.items_succeeded += fan.batch_size(slot);
                if let Some(w) = &mut fan.writer {
                    w.succeeded(slot);
                }
                self.emit_iteration(p, EventType::MapIterationSucceeded, slot);
            }
            Err(failure) => {
                if let Some(w) = &mut fan.writer {
                    w.failed(slot, &failure);
                }
                fan.failed += 1;
                fan.done += 1;
                fan.items_failed += fan.batch_size(slot);
                let total = fan.pending.len();
                let tolerated = is_map && {
                    let within_count = fan.tolerated_count.is_some_and(|c| fan.failed as u64 <= c);
                    let within_pct = fan
                        .tolerated_percentage
                        .is_some_and(|pct| total > 0 && (fan.failed as f64 * 100.0 / total as f64) <= pct);
                    within_count || within_pct
                };
                let has_tolerance = fan.tolerated_count.is_some() || fan.tolerated_percentage.is_some();
                self.emit_iteration(p, EventType::MapIterationFailed, slot);
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
    pub(super) fn abort_children(&mut self, p: FrameId) {
        let Phase::Fanout(fan) = &mut self.frame_mut(p).phase else { return };
        let children = std::mem::take(&mut fan.running);
        for child in children {
            let slot = self.frame(child).parent.as_ref().map_or(0, |pp| pp.slot);
            self.abort_frame(child);
            self.emit_iteration(p, EventType::MapIterationAborted, slot);
        }
    }

    /// Every child of a Map/Parallel has finished (or one failed): complete the state.
    pub(super) fn finish_fanout(&mut self, f: FrameId) -> Flow {
        let phase = std::mem::replace(&mut self.frame_mut(f).phase, Phase::Running);
        let Phase::Fanout(fan) = phase else { return Flow::Blocked };
        let distributed = matches!(&self.state_of(f).kind, StateKind::Map(m) if m.distributed);
        let counts = fan.run_counts();
        match fan.outcome {
            Some(Ok(())) => {
                if let (true, Some(writer)) = (distributed, fan.writer) {
                    return self.start_result_write(f, fan.results, *writer, counts, None);
                }
                if fan.is_map {
                    if distributed {
                        self.close_map_run(f, "SUCCEEDED", counts);
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
                if let (true, Some(writer)) = (fan.is_map && distributed, fan.writer) {
                    return self.start_result_write(f, fan.results, *writer, counts, Some(failure));
                }
                if fan.is_map && distributed {
                    self.close_map_run(f, "FAILED", counts);
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
}
