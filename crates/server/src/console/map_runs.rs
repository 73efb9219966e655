//! A distributed Map's Map Runs in the console: the list on an execution's page, and a page
//! per Map Run with its status, settings, its items and child executions counted by status
//! (what DescribeMapRun answers, read through the same engine call) and its child executions.

use asl::interpreter::{ItemCounts, MapRun};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use engine::EngineError;

use super::html::{badge, date, error_page, escape, page, url};
use super::{store_error, ArnQuery};
use crate::SharedState;

/// The Map Runs of an execution, as a table linking to each; nothing when it has none.
pub(super) async fn section(state: &SharedState, execution_arn: &str) -> String {
    let runs = match state.engine.map_runs(execution_arn).await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(error = %e, "console: map runs read failed");
            return "<h2>Map Runs</h2><p class=\"error\">The Map Runs could not be read.</p>".into();
        }
    };
    if runs.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Map Runs</h2><table class=\"map-runs\"><tr><th>Map Run</th><th>State</th><th>Status</th>\
         <th>Items succeeded</th><th>Started</th></tr>",
    );
    for run in &runs {
        let id = run.arn.rsplit(':').next().unwrap_or_default();
        out.push_str(&format!(
            "<tr><td><a href=\"/map-run?arn={u}\">{id}</a></td><td>{s}</td><td>{b}</td><td>{ok} of {total}</td>\
             <td>{start}</td></tr>",
            u = url(&run.arn),
            id = escape(id),
            s = escape(&run.state_name),
            b = badge(&run.status),
            ok = run.counts.succeeded,
            total = run.counts.total,
            start = date(run.start),
        ));
    }
    out.push_str("</table>");
    out
}

/// `/map-run?arn=`: one Map Run.
pub(super) async fn show(State(state): State<SharedState>, Query(q): Query<ArnQuery>) -> Response {
    let (execution_arn, run) = match state.engine.map_run(&q.arn).await {
        Ok(found) => found,
        Err(EngineError::ResourceNotFound(arn)) => {
            return error_page(StatusCode::NOT_FOUND, "ResourceNotFound", &format!("Resource not found: '{arn}'"))
        }
        Err(e) => return store_error(e),
    };
    let execution_name = execution_arn.rsplit(':').next().unwrap_or_default();
    let label = run.arn.rsplit(':').nth(1).and_then(|m| m.split_once('/')).map_or("", |(_, l)| l);
    let mut body = format!(
        "<h1>Map Run {l}</h1><p class=\"muted\">{arn} · state {s} of <a href=\"/execution?arn={eu}\">{en}</a></p>",
        l = escape(label),
        arn = escape(&run.arn),
        s = escape(&run.state_name),
        eu = url(&execution_arn),
        en = escape(execution_name),
    );
    body.push_str(&format!(
        "<p>{b} · started {s}{end}</p>",
        b = badge(&run.status),
        s = date(run.start),
        end = run.stop.map(|t| format!(" · ended {}", date(t))).unwrap_or_default(),
    ));
    body.push_str(&settings(&run));
    let executions = run.execution_counts.as_ref().unwrap_or(&run.counts);
    body.push_str("<h2>Outcome</h2>");
    body.push_str(&counts_table(&[("Items", &run.counts), ("Child executions", executions)]));
    body.push_str(&children(&state, &run.arn).await);
    page(&format!("Map Run {label}"), &body)
}

/// The run's child executions, the first [`CHILDREN_SHOWN`] in the order of their items.
async fn children(state: &SharedState, run_arn: &str) -> String {
    const CHILDREN_SHOWN: usize = 100;
    let rows = match state.engine.map_run_children(run_arn, None, None, CHILDREN_SHOWN).await {
        Ok(page) => page.items,
        Err(e) => {
            tracing::warn!(error = %e, "console: map run children read failed");
            return "<h2>Child executions</h2><p class=\"error\">The child executions could not be read.</p>".into();
        }
    };
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Child executions</h2><table class=\"map-run-children\"><tr><th>Name</th><th>Status</th>\
         <th>Started</th></tr>",
    );
    for r in &rows {
        out.push_str(&format!(
            "<tr><td><a href=\"/execution?arn={u}\">{n}</a></td><td>{b}</td><td>{s}</td></tr>",
            u = url(&r.arn),
            n = escape(&r.name),
            b = badge(r.status.as_str()),
            s = date(r.start),
        ));
    }
    out.push_str("</table>");
    if rows.len() == CHILDREN_SHOWN {
        out.push_str("<p class=\"muted\">The first 100 are shown; ListExecutions with the run's ARN lists all.</p>");
    }
    out
}

fn settings(run: &MapRun) -> String {
    let concurrency = match run.max_concurrency {
        0 => "no limit".to_owned(),
        n => n.to_string(),
    };
    format!(
        "<h2>Settings</h2><table class=\"map-run-settings\">\
         <tr><th>Max concurrency</th><td>{concurrency}</td></tr>\
         <tr><th>Tolerated failure count</th><td>{}</td></tr>\
         <tr><th>Tolerated failure percentage</th><td>{}</td></tr></table>",
        run.tolerated_failure_count, run.tolerated_failure_percentage,
    )
}

/// Counts by status, one row per kind (items, child executions).
fn counts_table(rows: &[(&str, &ItemCounts)]) -> String {
    let mut out = String::from(
        "<table class=\"map-run-counts\"><tr><th></th><th>Pending</th><th>Running</th><th>Succeeded</th>\
         <th>Failed</th><th>Aborted</th><th>Total</th><th>Results written</th></tr>",
    );
    for (what, c) in rows {
        out.push_str(&format!(
            "<tr data-counts=\"{what}\"><th>{what}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            c.pending, c.running, c.succeeded, c.failed, c.aborted, c.total, c.results_written,
        ));
    }
    out.push_str("</table>");
    out
}
