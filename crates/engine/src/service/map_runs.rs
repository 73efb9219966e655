//! Map Runs as the API shows them: kept in the store when they start, end or change (their
//! execution's state goes once it ends), read live from the execution's state while they run,
//! and changed (UpdateMapRun) by an event to their execution.

use asl::interpreter::{Event, Execution, ItemCounts, MapRun, StepOutput};
use store::{MapRunRow, StoreError};

use super::{Engine, EngineError};

/// Whether a step started, ended, aborted or changed a Map Run, so the store's copy must
/// follow.
pub(super) fn touches_map_runs(outs: &[StepOutput], events: &[Event]) -> bool {
    outs.iter().flat_map(|o| &o.events).any(|e| {
        let t = e.event_type.as_str();
        t.starts_with("MapRun")
            || matches!(t, "MapStateAborted" | "ExecutionAborted" | "ExecutionFailed" | "ExecutionTimedOut")
    }) || events.iter().any(|e| matches!(e, Event::MapRunUpdated { .. }))
}

impl Engine {
    /// Keep the execution's Map Runs in the store (after a step that touched them).
    pub(super) async fn save_map_runs(&self, execution_arn: &str, exec: &Execution) {
        let rows: Vec<MapRunRow> = exec
            .map_runs()
            .into_iter()
            .filter_map(|run| {
                Some(MapRunRow {
                    arn: run.arn.clone(),
                    execution_arn: execution_arn.to_owned(),
                    start: run.start,
                    record: serde_json::to_string(&run).ok()?,
                })
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        if let Err(e) = self.inner.store.put_map_runs(&rows).await {
            tracing::warn!(execution = %execution_arn, error = %e, "keeping the execution's map runs");
        }
    }

    /// The live Map Runs of a running execution (none once it has ended).
    async fn live_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRun>, EngineError> {
        let Some((_, Some(state))) = self.inner.store.load_execution(execution_arn).await? else {
            return Ok(Vec::new());
        };
        let exec: Execution = serde_json::from_str(&state).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(exec.map_runs())
    }

    /// One Map Run with the execution it belongs to, as it stands now.
    pub async fn map_run(&self, arn: &str) -> Result<(String, MapRun), EngineError> {
        let row =
            self.inner.store.get_map_run(arn).await?.ok_or_else(|| EngineError::ResourceNotFound(arn.to_owned()))?;
        let mut stored: MapRun = serde_json::from_str(&row.record).map_err(|e| StoreError::Backend(e.to_string()))?;
        if stored.status != "RUNNING" {
            self.driven_counts(&mut stored).await;
            return Ok((row.execution_arn, stored));
        }
        let live = self.live_map_runs(&row.execution_arn).await?.into_iter().find(|r| r.arn == arn);
        let mut run = live.unwrap_or(stored);
        self.driven_counts(&mut run).await;
        Ok((row.execution_arn, run))
    }

    /// An execution's Map Runs, oldest first.
    pub async fn map_runs(&self, execution_arn: &str) -> Result<Vec<MapRun>, EngineError> {
        let rows = self.inner.store.list_map_runs(execution_arn).await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            runs.push(serde_json::from_str::<MapRun>(&row.record).map_err(|e| StoreError::Backend(e.to_string()))?);
        }
        if runs.iter().any(|r| r.status == "RUNNING") {
            let live = self.live_map_runs(execution_arn).await?;
            for run in &mut runs {
                if let Some(l) = live.iter().find(|l| l.arn == run.arn) {
                    *run = l.clone();
                }
            }
        }
        for run in &mut runs {
            self.driven_counts(run).await;
        }
        Ok(runs)
    }

    /// The counts of a run whose children are executions, while it runs or once it was
    /// aborted with its parent: its driver's, which the parent's state does not have. (A run
    /// that ended otherwise has its final counts in its record.)
    async fn driven_counts(&self, run: &mut MapRun) {
        if !matches!(run.status.as_str(), "RUNNING" | "ABORTED") {
            return;
        }
        let Some(progress) = self.map_run_progress(&run.arn).await else { return };
        if run.status == "RUNNING" {
            run.counts = ItemCounts::of(progress.items);
            run.execution_counts = Some(ItemCounts::of(progress.executions));
        } else {
            run.counts = ItemCounts::closed(progress.items);
            run.execution_counts =
                (progress.executions != progress.items).then(|| ItemCounts::closed(progress.executions));
        }
    }

    /// UpdateMapRun: new limits for a running Map Run.
    pub async fn update_map_run(
        &self,
        arn: &str,
        max_concurrency: Option<u64>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
    ) -> Result<(), EngineError> {
        let (execution_arn, run) = self.map_run(arn).await?;
        if run.status != "RUNNING" {
            // AWS accepts the update of an ended run and changes nothing that runs.
            return Ok(());
        }
        let event = Event::MapRunUpdated {
            map_run_arn: arn.to_owned(),
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
        };
        self.push(&execution_arn, &event).await?;
        self.map_run_limits(arn, max_concurrency, tolerated_failure_count, tolerated_failure_percentage);
        Ok(())
    }
}
