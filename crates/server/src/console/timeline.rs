//! An execution's history as a timeline: one row per state, a bar for each time it ran, on
//! one time axis from the execution's start to its end (or now), with the time spent waiting
//! shaded inside the bars: for a person or a worker to answer a task token, for an activity
//! worker to take the task, for a Wait state's timer, for a retry. Reads AWS-shaped history
//! events only, as [`super::status`] does; draws with HTML and CSS, no script.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

use super::html::escape;

/// What a state was waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// A task token's answer (`.waitForTaskToken`): a person, a worker, a callback.
    Answer,
    /// An activity worker to take the task (or a person to answer it from the inbox).
    Worker,
    /// A Wait state's timer.
    Timer,
    /// The interval before a retry.
    Retry,
}

impl Waiting {
    fn label(self) -> &'static str {
        match self {
            Waiting::Answer => "waiting for an answer",
            Waiting::Worker => "waiting for a worker or an answer",
            Waiting::Timer => "waiting (Wait state)",
            Waiting::Retry => "waiting to retry",
        }
    }
}

/// One time a state ran, in milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub state: String,
    pub start: i64,
    /// `None` while it has not left the state.
    pub end: Option<i64>,
    pub failed: bool,
    pub waits: Vec<(Waiting, i64, Option<i64>)>,
}

fn millis(event: &Value) -> Option<i64> {
    event.get("timestamp").and_then(Value::as_f64).map(|t| (t * 1000.0).round() as i64)
}

/// The visits of every state, in the order they started. Each event belongs to the visit of
/// the event it follows (`previousEventId`), so states running side by side (Parallel
/// branches, Map iterations) keep their own events.
pub fn visits(events: &[Value]) -> Vec<Visit> {
    let mut visits: Vec<Visit> = Vec::new();
    let mut visit_of_event: HashMap<i64, usize> = HashMap::new();
    for event in events {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let id = event.get("id").and_then(Value::as_i64).unwrap_or_default();
        let previous = event.get("previousEventId").and_then(Value::as_i64).unwrap_or_default();
        let Some(at) = millis(event) else { continue };
        if let Some(name) = event.get("stateEnteredEventDetails").and_then(|d| d.get("name")).and_then(Value::as_str) {
            let waits = if kind == "WaitStateEntered" { vec![(Waiting::Timer, at, None)] } else { Vec::new() };
            visits.push(Visit { state: name.to_owned(), start: at, end: None, failed: false, waits });
            visit_of_event.insert(id, visits.len() - 1);
            continue;
        }
        if kind.starts_with("Execution") {
            continue;
        }
        let exited = event.get("stateExitedEventDetails").and_then(|d| d.get("name")).and_then(Value::as_str);
        // The visit this event belongs to: the one its predecessor belongs to, while open;
        // an exit belongs to the latest open visit of its state.
        let chained = visit_of_event.get(&previous).copied().filter(|&i| visits[i].end.is_none());
        let found = match exited {
            Some(name) => chained
                .filter(|&i| visits[i].state == name)
                .or_else(|| visits.iter().rposition(|v| v.state == name && v.end.is_none())),
            None => chained,
        };
        let Some(i) = found else { continue };
        visit_of_event.insert(id, i);
        let visit = &mut visits[i];
        let close_wait = |visit: &mut Visit| {
            if let Some(open) = visit.waits.iter_mut().find(|w| w.2.is_none()) {
                open.2 = Some(at);
            }
        };
        // The work of a state: its task, activity or function call, its branches or items.
        let work =
            ["Task", "Activity", "LambdaFunction", "ParallelState", "MapState"].iter().any(|p| kind.starts_with(p));
        match kind {
            "TaskSubmitted" => visit.waits.push((Waiting::Answer, at, None)),
            "ActivityScheduled" => {
                close_wait(visit);
                visit.failed = false;
                visit.waits.push((Waiting::Worker, at, None));
            }
            "TaskScheduled" | "LambdaFunctionScheduled" | "ParallelStateStarted" | "MapStateStarted" => {
                close_wait(visit);
                visit.failed = false;
            }
            "ActivityStarted" => close_wait(visit),
            _ if exited.is_some() || kind.ends_with("StateAborted") => {
                close_wait(visit);
                visit.end = Some(at);
                visit.failed |= kind.ends_with("StateAborted");
            }
            _ if work && (kind.ends_with("Failed") || kind.ends_with("TimedOut")) => {
                close_wait(visit);
                // Until the state retries or leaves, it waits; a failure that ends the
                // execution leaves it failed.
                visit.failed = true;
                visit.waits.push((Waiting::Retry, at, None));
            }
            _ if work && kind.ends_with("Succeeded") => {
                close_wait(visit);
                visit.failed = false;
            }
            _ => {}
        }
    }
    // A retry wait that no retry followed was not a wait: the state failed there.
    for v in &mut visits {
        if let Some(pos) = v.waits.iter().rposition(|w| w.0 == Waiting::Retry) {
            let retried = v.waits[pos].2.is_some() && !v.failed;
            if !retried {
                v.waits.remove(pos);
            }
        }
    }
    visits
}

/// A duration as a person reads it: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`, `3 d 4 h`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60),
        3_600_000..=86_399_999 => format!("{} h {:02} min", ms / 3_600_000, (ms / 60_000) % 60),
        _ => format!("{} d {} h", ms / 86_400_000, (ms / 3_600_000) % 24),
    }
}

/// The timeline from `start` to `end` (the execution's end, or now while it runs).
pub fn render(events: &[Value], start: i64, end: i64, running: bool) -> String {
    let visits = visits(events);
    if visits.is_empty() {
        return "<p class=\"muted\">No state entered yet.</p>".into();
    }
    let total = (end - start).max(1) as f64;
    let pct = |t: i64| ((t - start) as f64 / total * 100.0).clamp(0.0, 100.0);
    let mut rows: Vec<(&str, Vec<&Visit>)> = Vec::new();
    for v in &visits {
        match rows.iter_mut().find(|(name, _)| *name == v.state) {
            Some((_, list)) => list.push(v),
            None => rows.push((&v.state, vec![v])),
        }
    }
    let mut out = String::from(
        "<div class=\"timeline\"><div class=\"tl-row tl-axis\"><div class=\"tl-name\"></div><div class=\"tl-track\">",
    );
    for quarter in 0..=4 {
        let at = start + (end - start) * quarter / 4;
        let _ = write!(
            out,
            "<span style=\"left:{}%\">{}</span>",
            quarter * 25,
            if quarter == 0 { "0".to_owned() } else { duration(at - start) }
        );
    }
    out.push_str("</div></div>");
    for (name, list) in rows {
        let spent: i64 = list.iter().map(|v| v.end.unwrap_or(end) - v.start).sum();
        let waited: i64 = list.iter().flat_map(|v| &v.waits).map(|w| w.2.unwrap_or(end) - w.1).sum();
        let _ = write!(
            out,
            "<div class=\"tl-row\" data-state=\"{n}\"><div class=\"tl-name\" title=\"{n}\">{n} <span class=\"muted\">{d}{w}{x}</span></div><div class=\"tl-track\">",
            n = escape(name),
            d = duration(spent),
            w = if waited > 0 { format!(", {} waiting", duration(waited)) } else { String::new() },
            x = if list.len() > 1 { format!(" · {} visits", list.len()) } else { String::new() },
        );
        for v in list {
            let stop = v.end.unwrap_or(end);
            let class = match (v.end, v.failed) {
                (Some(_), false) => "tl-ok",
                (Some(_), true) => "tl-failed",
                (None, _) if running => "tl-open",
                (None, _) => "tl-failed",
            };
            let mut title = format!("{}: {}", v.state, duration(stop - v.start));
            for (kind, from, to) in &v.waits {
                let _ = write!(title, "; {} {}", kind.label(), duration(to.unwrap_or(stop) - from));
            }
            let _ = write!(
                out,
                "<div class=\"tl-bar {class}\" style=\"left:{:.3}%;width:{:.3}%\" title=\"{}\"></div>",
                pct(v.start),
                (pct(stop) - pct(v.start)).max(0.25),
                escape(&title)
            );
            for (kind, from, to) in &v.waits {
                let to = to.unwrap_or(stop);
                let _ = write!(
                    out,
                    "<div class=\"tl-wait\" style=\"left:{:.3}%;width:{:.3}%\" title=\"{}: {}\"></div>",
                    pct(*from),
                    (pct(to) - pct(*from)).max(0.25),
                    escape(kind.label()),
                    duration(to - from)
                );
            }
        }
        out.push_str("</div></div>");
    }
    out.push_str(
        "<p class=\"legend\"><span><i class=\"tl-ok\"></i>ran</span><span><i class=\"tl-failed\"></i>failed</span>\
         <span><i class=\"tl-open\"></i>running</span><span><i class=\"tl-wait\"></i>waiting (for an answer, a worker, \
         a timer or a retry)</span></p></div>",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: i64, prev: i64, t: f64, kind: &str, name: Option<&str>) -> Value {
        let mut e = json!({"id": id, "previousEventId": prev, "timestamp": t, "type": kind});
        if let Some(n) = name {
            let key = if kind.ends_with("Entered") { "stateEnteredEventDetails" } else { "stateExitedEventDetails" };
            e[key] = json!({"name": n});
        }
        e
    }

    #[test]
    fn a_callback_task_waits_from_submission_to_its_answer() {
        let events = vec![
            ev(1, 0, 100.0, "ExecutionStarted", None),
            ev(2, 1, 100.0, "TaskStateEntered", Some("Ask")),
            ev(3, 2, 100.1, "TaskScheduled", None),
            ev(4, 3, 100.2, "TaskStarted", None),
            ev(5, 4, 100.5, "TaskSubmitted", None),
            ev(6, 5, 130.5, "TaskSucceeded", None),
            ev(7, 6, 130.6, "TaskStateExited", Some("Ask")),
            ev(8, 7, 130.6, "WaitStateEntered", Some("Pause")),
            ev(9, 8, 140.6, "WaitStateExited", Some("Pause")),
        ];
        let v = visits(&events);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].start, v[0].end, v[0].failed), (100_000, Some(130_600), false));
        assert_eq!(v[0].waits, vec![(Waiting::Answer, 100_500, Some(130_500))]);
        assert_eq!(v[1].waits, vec![(Waiting::Timer, 130_600, Some(140_600))]);
        let html = render(&events, 100_000, 140_600, false);
        assert!(html.contains("data-state=\"Ask\""), "{html}");
        assert!(html.contains("30.0 s waiting"), "{html}");
        assert!(html.contains("title=\"waiting for an answer: 30.0 s\""), "{html}");
    }

    #[test]
    fn a_retry_waits_and_a_last_failure_is_failed() {
        let events = vec![
            ev(1, 0, 0.0, "TaskStateEntered", Some("Call")),
            ev(2, 1, 0.0, "TaskScheduled", None),
            ev(3, 2, 1.0, "TaskFailed", None),
            ev(4, 3, 3.0, "TaskScheduled", None),
            ev(5, 4, 4.0, "TaskFailed", None),
        ];
        let v = visits(&events);
        assert_eq!(v[0].waits, vec![(Waiting::Retry, 1_000, Some(3_000))]);
        assert!(v[0].failed && v[0].end.is_none());
        assert!(render(&events, 0, 4_000, false).contains("tl-bar tl-failed"));
    }

    #[test]
    fn parallel_branches_keep_their_own_events() {
        let events = vec![
            ev(1, 0, 0.0, "ParallelStateEntered", Some("Both")),
            ev(2, 1, 0.0, "TaskStateEntered", Some("A")),
            ev(3, 1, 0.0, "TaskStateEntered", Some("B")),
            ev(4, 2, 0.1, "TaskSubmitted", None),
            ev(5, 3, 0.2, "TaskSucceeded", None),
            ev(6, 5, 0.2, "TaskStateExited", Some("B")),
            ev(7, 4, 5.0, "TaskSucceeded", None),
            ev(8, 7, 5.0, "TaskStateExited", Some("A")),
        ];
        let v = visits(&events);
        let a = v.iter().find(|v| v.state == "A").unwrap();
        let b = v.iter().find(|v| v.state == "B").unwrap();
        assert_eq!(a.waits, vec![(Waiting::Answer, 100, Some(5_000))]);
        assert!(b.waits.is_empty() && b.end == Some(200));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
        assert_eq!(duration(7_380_000), "2 h 03 min");
        assert_eq!(duration(273_600_000), "3 d 4 h");
    }
}
