//! What a scenario found, as JSON (`--json`) and as the table printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::procstat::ServerUsage;
use crate::stats::Summary;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The scenario ran; see errors and execution counts for how well.
    Ok,
    /// The endpoint lacks an action the scenario needs.
    Unsupported,
    /// Setting the scenario up failed for another reason.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    /// A variant of the scenario (e.g. `MaxConcurrency=10`).
    pub variant: Option<String>,
    pub status: Outcome,
    /// Why a scenario is unsupported or failed.
    pub note: Option<String>,
    pub endpoints: Vec<String>,
    pub concurrency: usize,
    /// Executions started successfully.
    pub started: u64,
    pub succeeded: u64,
    /// Executions that ended otherwise (FAILED, TIMED_OUT, ABORTED).
    pub failed: u64,
    /// Executions still running when the scenario ended (idle-waiters: all of them).
    pub running: u64,
    pub elapsed_s: f64,
    /// What `throughput_per_s` counts (`executions`, `starts`, `sync executions`).
    pub throughput_unit: String,
    pub throughput_per_s: f64,
    /// State transitions per second (states entered), where the workflow's count is fixed.
    pub transitions_per_s: Option<f64>,
    /// Latency summaries by what was measured (`start`, `execution`, `resume`, ...).
    pub latency: BTreeMap<String, Summary>,
    /// Failed calls by AWS error name (`Transport` when there was no answer).
    pub errors: BTreeMap<String, u64>,
    pub server: Option<ServerUsage>,
    /// Scenario-specific figures (idle-waiters' checkpoints, how latencies were taken).
    pub extra: BTreeMap<String, Value>,
}

impl Report {
    pub fn new(scenario: &str, endpoints: &[String], concurrency: usize) -> Report {
        Report {
            scenario: scenario.to_owned(),
            variant: None,
            status: Outcome::Ok,
            note: None,
            endpoints: endpoints.to_vec(),
            concurrency,
            started: 0,
            succeeded: 0,
            failed: 0,
            running: 0,
            elapsed_s: 0.0,
            throughput_unit: "executions".into(),
            throughput_per_s: 0.0,
            transitions_per_s: None,
            latency: BTreeMap::new(),
            errors: BTreeMap::new(),
            server: None,
            extra: BTreeMap::new(),
        }
    }

    pub fn title(&self) -> String {
        match &self.variant {
            Some(v) => format!("{} ({v})", self.scenario),
            None => self.scenario.clone(),
        }
    }
}

/// The summary table: one block per scenario, one line per latency measured.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(out, "== {}: {}", r.title(), status_text(r));
        if r.status != Outcome::Ok {
            continue;
        }
        let _ = writeln!(
            out,
            "   executions: {} started, {} succeeded, {} failed, {} running; {:.2} s; concurrency {}",
            r.started, r.succeeded, r.failed, r.running, r.elapsed_s, r.concurrency
        );
        let _ = write!(out, "   throughput: {:.1} {}/s", r.throughput_per_s, r.throughput_unit);
        if let Some(t) = r.transitions_per_s {
            let _ = write!(out, ", {t:.0} transitions/s");
        }
        out.push('\n');
        if !r.latency.is_empty() {
            let _ = writeln!(
                out,
                "   {:<22} {:>8} {:>10} {:>10} {:>10} {:>10}",
                "latency (ms)", "count", "p50", "p90", "p99", "max"
            );
            for (name, s) in &r.latency {
                let _ = writeln!(
                    out,
                    "   {:<22} {:>8} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
                    name, s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
                );
            }
        }
        if r.errors.is_empty() {
            let _ = writeln!(out, "   errors: none");
        } else {
            let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(out, "   errors: {}", list.join(", "));
        }
        if let Some(s) = &r.server {
            let _ = writeln!(
                out,
                "   server: RSS {:.1} MiB at start, {:.1} at end, {:.1} max; CPU {:.2} s ({:.2} cores)",
                s.rss_start_mib, s.rss_end_mib, s.rss_max_mib, s.cpu_seconds, s.cpu_cores
            );
        }
        for (k, v) in &r.extra {
            let _ = writeln!(out, "   {k}: {v}");
        }
    }
    out
}

fn status_text(r: &Report) -> String {
    match (&r.status, &r.note) {
        (Outcome::Ok, _) => "ok".into(),
        (Outcome::Unsupported, Some(n)) => format!("unsupported ({n})"),
        (Outcome::Unsupported, None) => "unsupported".into(),
        (Outcome::Failed, Some(n)) => format!("failed ({n})"),
        (Outcome::Failed, None) => "failed".into(),
    }
}
