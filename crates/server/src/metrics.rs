//! `/metrics` in Prometheus text format: executions started and finished, state
//! transitions, open tasks, activity queue depth, pending timers, and request latency per
//! action. Label values come from fixed sets (actions Baton serves, statuses), never from
//! what a client sends, so the page stays valid and its size bounded; they are escaped all
//! the same.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::SharedState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    errors: u64,
}

/// Request latency by action.
#[derive(Default)]
pub struct RequestMetrics {
    by_action: Mutex<BTreeMap<String, Histogram>>,
}

impl RequestMetrics {
    pub fn observe(&self, action: &str, elapsed: Duration, ok: bool) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.by_action.lock().expect("metrics lock");
        let h = map.entry(action.to_owned()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
        if !ok {
            h.errors += 1;
        }
    }
}

/// The label for a request: `prefix` and the action when it is one of `known`, else
/// `prefix` and `unknown` (one bucket for every name a client makes up).
pub fn action_label(prefix: &str, known: &[&str], action: &str) -> String {
    let action = if known.contains(&action) { action } else { "unknown" };
    format!("{prefix}{action}")
}

/// A label value in Prometheus' text format: backslash, double quote and newline escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub async fn render(State(state): State<SharedState>) -> impl IntoResponse {
    let mut out = String::new();
    let m = state.engine.metrics();
    let _ = writeln!(out, "# HELP baton_executions_started_total Executions started.");
    let _ = writeln!(out, "# TYPE baton_executions_started_total counter");
    let _ = writeln!(out, "baton_executions_started_total {}", m.executions_started.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP baton_executions_finished_total Executions that ended, by status.");
    let _ = writeln!(out, "# TYPE baton_executions_finished_total counter");
    for (status, n) in m.executions_finished.lock().expect("metrics lock").iter() {
        let _ = writeln!(out, "baton_executions_finished_total{{status=\"{}\"}} {n}", label(status));
    }
    let _ = writeln!(out, "# HELP baton_state_transitions_total States entered.");
    let _ = writeln!(out, "# TYPE baton_state_transitions_total counter");
    let _ = writeln!(out, "baton_state_transitions_total {}", m.transitions.load(Ordering::Relaxed));
    let _ = writeln!(
        out,
        "# HELP baton_callbacks_answered_total Task tokens answered with SendTaskSuccess or SendTaskFailure."
    );
    let _ = writeln!(out, "# TYPE baton_callbacks_answered_total counter");
    let _ = writeln!(out, "baton_callbacks_answered_total {}", m.callbacks_answered.load(Ordering::Relaxed));
    let _ = writeln!(
        out,
        "# HELP baton_task_reminders_total Reminder and escalation emails queued for tasks waiting on people."
    );
    let _ = writeln!(out, "# TYPE baton_task_reminders_total counter");
    let _ = writeln!(out, "baton_task_reminders_total{{kind=\"remind\"}} {}", m.reminders_sent.load(Ordering::Relaxed));
    let _ =
        writeln!(out, "baton_task_reminders_total{{kind=\"escalate\"}} {}", m.escalations_sent.load(Ordering::Relaxed));
    let _ = writeln!(
        out,
        "# HELP baton_topic_deliveries_total Deliveries of topic messages, by kind and outcome (retried counts failed attempts that will be tried again)."
    );
    let _ = writeln!(out, "# TYPE baton_topic_deliveries_total counter");
    for (kind, outcome, n) in state.topics.metrics.counts() {
        let _ = writeln!(
            out,
            "baton_topic_deliveries_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
            label(kind),
            label(outcome)
        );
    }
    match state.engine.console_view().gauges().await {
        Ok(g) => {
            let _ = writeln!(out, "# HELP baton_executions Executions in the store, by status.");
            let _ = writeln!(out, "# TYPE baton_executions gauge");
            for (status, n) in &g.executions_by_status {
                let _ = writeln!(out, "baton_executions{{status=\"{}\"}} {n}", label(status.as_str()));
            }
            let _ = writeln!(out, "# HELP baton_open_tasks Tasks waiting for a result, a callback or a worker.");
            let _ = writeln!(out, "# TYPE baton_open_tasks gauge");
            let _ = writeln!(out, "baton_open_tasks {}", g.open_tasks);
            let _ = writeln!(out, "# HELP baton_activity_queue_depth Activity tasks no worker has taken yet.");
            let _ = writeln!(out, "# TYPE baton_activity_queue_depth gauge");
            let _ = writeln!(out, "baton_activity_queue_depth {}", g.queued_activity_tasks);
            let _ = writeln!(out, "# HELP baton_pending_timers Armed timers (waits, retries, timeouts).");
            let _ = writeln!(out, "# TYPE baton_pending_timers gauge");
            let _ = writeln!(out, "baton_pending_timers {}", g.pending_timers);
        }
        Err(e) => tracing::warn!(error = %e, "reading gauges for /metrics"),
    }
    let _ = writeln!(out, "# HELP baton_request_duration_seconds API request latency by action.");
    let _ = writeln!(out, "# TYPE baton_request_duration_seconds histogram");
    for (action, h) in state.metrics.by_action.lock().expect("metrics lock").iter() {
        let action = label(action);
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "baton_request_duration_seconds_bucket{{action=\"{action}\",le=\"{bound}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(out, "baton_request_duration_seconds_bucket{{action=\"{action}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "baton_request_duration_seconds_sum{{action=\"{action}\"}} {}", h.sum);
        let _ = writeln!(out, "baton_request_duration_seconds_count{{action=\"{action}\"}} {}", h.count);
        let _ = writeln!(out, "baton_request_errors_total{{action=\"{action}\"}} {}", h.errors);
    }
    (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], out)
}
