//! The scenarios. Each creates its own state machine (and activity) through the API under a
//! name unique to the run, drives it with `concurrency` clients, and reports.
//!
//! Execution latency is the server's own account: `stopDate - startDate` from
//! ListExecutions. Callback resume latency is the client's clock when it sent
//! SendTaskSuccess to the timestamp of the next state's `*StateEntered` event in
//! GetExecutionHistory (same machine, so one clock; server timestamps have millisecond
//! resolution). Completion is detected by polling ListExecutions with `statusFilter: RUNNING`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::client::{CallError, Client};
use crate::procstat::{self, ServerUsage};
use crate::progress::{Counters, Progress};
use crate::report::{Outcome, Report};
use crate::stats::Samples;

/// Every scenario, in the order `all` runs them (idle-waiters last: it leaves its
/// executions waiting).
pub const SCENARIOS: &[&str] = &[
    "pass-chain",
    "choice-loop",
    "map-fanout",
    "parallel",
    "wait",
    "callback",
    "start-burst",
    "express",
    "idle-waiters",
];

#[derive(Debug, Clone)]
pub struct Options {
    /// `http://host:port` of each node; requests go to them in turn.
    pub endpoints: Vec<String>,
    pub executions: u64,
    pub concurrency: usize,
    /// Stop starting executions after this long.
    pub duration: Option<Duration>,
    /// Local server processes to sample (RSS, CPU) from `/proc`.
    pub pids: Vec<u32>,
    pub region: String,
    pub role_arn: String,
    pub progress: bool,
    /// How long to wait for started executions to finish.
    pub finish_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            endpoints: vec!["http://127.0.0.1:8083".into()],
            executions: 1000,
            concurrency: 32,
            duration: None,
            pids: Vec::new(),
            region: "us-east-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/baton-bench".into(),
            progress: true,
            finish_timeout: Duration::from_secs(600),
        }
    }
}

/// Run one scenario (or `all`, or a comma-separated list). An unknown name is an error;
/// everything else, including an endpoint that lacks an action, is in the reports.
pub async fn run(scenario: &str, opts: &Options) -> Result<Vec<Report>, String> {
    let names: Vec<&str> =
        if scenario == "all" { SCENARIOS.to_vec() } else { scenario.split(',').map(str::trim).collect() };
    for n in &names {
        if !SCENARIOS.contains(n) {
            return Err(format!("unknown scenario '{n}'; one of: all, {}", SCENARIOS.join(", ")));
        }
    }
    if opts.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let client = Arc::new(Client::new(&opts.endpoints, &opts.region)?);
    let mut reports = Vec::new();
    for name in names {
        let ctx = Ctx::new(client.clone(), opts.clone());
        let found = match name {
            "pass-chain" => vec![completing(&ctx, name, None, pass_chain(10), "STANDARD", Some(10)).await],
            "choice-loop" => vec![completing(&ctx, name, None, choice_loop(100), "STANDARD", Some(203)).await],
            "map-fanout" => {
                let mut v = Vec::new();
                for c in [0, 10] {
                    let variant = format!("MaxConcurrency={c}");
                    v.push(completing(&ctx, name, Some(variant), map_fanout(c), "STANDARD", Some(1001)).await);
                }
                v
            }
            "parallel" => vec![completing(&ctx, name, None, parallel(4), "STANDARD", Some(5)).await],
            "wait" => vec![completing(&ctx, name, None, wait_one_second(), "STANDARD", Some(1)).await],
            "callback" => vec![callback(&ctx).await],
            "idle-waiters" => vec![idle_waiters(&ctx).await],
            "start-burst" => vec![start_burst(&ctx).await],
            "express" => vec![express(&ctx).await],
            _ => unreachable!("names were checked against SCENARIOS"),
        };
        reports.extend(found);
    }
    Ok(reports)
}

// ---------------------------------------------------------------------------------------
// Definitions

fn pass_chain(n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 1..=n {
        let state = if i == n {
            json!({"Type": "Pass", "Result": {"step": i}, "ResultPath": "$.last", "End": true})
        } else {
            json!({"Type": "Pass", "Result": {"step": i}, "ResultPath": "$.last", "Next": format!("S{}", i + 1)})
        };
        states.insert(format!("S{i}"), state);
    }
    json!({"Comment": "baton bench: Pass states in a row", "StartAt": "S1", "States": states})
}

fn choice_loop(iterations: u64) -> Value {
    json!({
        "Comment": "baton bench: a counter loop through a Choice",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericLessThan": iterations, "Next": "Increment"}],
                "Default": "Done"
            },
            "Increment": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
            "Done": {"Type": "Succeed"}
        }
    })
}

fn map_fanout(max_concurrency: u64) -> Value {
    json!({
        "Comment": "baton bench: an inline Map over the input's items",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "End": true}}
                },
                "ResultPath": null,
                "End": true
            }
        }
    })
}

fn parallel(branches: usize) -> Value {
    let branches: Vec<Value> = (0..branches)
        .map(|b| json!({"StartAt": format!("B{b}"), "States": {format!("B{b}"): {"Type": "Pass", "Result": b, "End": true}}}))
        .collect();
    json!({
        "Comment": "baton bench: Parallel branches",
        "StartAt": "Fork",
        "States": {"Fork": {"Type": "Parallel", "Branches": branches, "End": true}}
    })
}

fn wait_one_second() -> Value {
    json!({
        "Comment": "baton bench: one Wait of 1 s",
        "StartAt": "Sleep",
        "States": {"Sleep": {"Type": "Wait", "Seconds": 1, "End": true}}
    })
}

fn activity_task(activity_arn: &str, then: bool) -> Value {
    let mut task = json!({"Type": "Task", "Resource": activity_arn});
    if then {
        task["Next"] = json!("Done");
        json!({
            "Comment": "baton bench: an activity answered by the tool's workers",
            "StartAt": "Work",
            "States": {"Work": task, "Done": {"Type": "Pass", "End": true}}
        })
    } else {
        task["End"] = json!(true);
        json!({
            "Comment": "baton bench: executions waiting on an activity nobody polls",
            "StartAt": "Work",
            "States": {"Work": task}
        })
    }
}

// ---------------------------------------------------------------------------------------
// Shared machinery

struct Ctx {
    client: Arc<Client>,
    opts: Options,
    tag: String,
    errors: Mutex<BTreeMap<String, u64>>,
    examples: Mutex<BTreeMap<String, String>>,
}

/// Why a scenario could not run.
enum SetupError {
    Unsupported(String),
    Failed(String),
}

impl From<CallError> for SetupError {
    fn from(e: CallError) -> Self {
        if e.is_unsupported() {
            SetupError::Unsupported(e.to_string())
        } else {
            SetupError::Failed(e.to_string())
        }
    }
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A timestamp as the API gives it: epoch seconds (JSON number) or an ISO 8601 string.
fn timestamp_ms(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| s * 1000.0),
        Value::String(s) => {
            chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_micros() as f64 / 1000.0).ok().or_else(|| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|t| t.and_utc().timestamp_micros() as f64 / 1000.0)
            })
        }
        _ => None,
    }
}

impl Ctx {
    fn new(client: Arc<Client>, opts: Options) -> Arc<Ctx> {
        let tag = format!("{:x}{:x}", now_ms() as u64, std::process::id() & 0xfff);
        Arc::new(Ctx { client, opts, tag, errors: Mutex::default(), examples: Mutex::default() })
    }

    /// Count a failed call, keeping the first message of each error name to explain it.
    fn count_error(&self, action: &str, e: &CallError) {
        *self.errors.lock().expect("error map lock is never poisoned").entry(e.name().to_owned()).or_default() += 1;
        let mut examples = self.examples.lock().expect("error map lock is never poisoned");
        examples.entry(e.name().to_owned()).or_insert_with(|| format!("{action}: {e}"));
    }

    async fn call(&self, action: &str, body: &Value) -> Result<Value, CallError> {
        let r = self.client.call(action, body).await;
        if let Err(e) = &r {
            self.count_error(action, e);
        }
        r
    }

    fn report(&self, scenario: &str, variant: Option<String>) -> Report {
        let mut r = Report::new(scenario, &self.opts.endpoints, self.opts.concurrency);
        r.variant = variant;
        r
    }

    fn finish(&self, mut r: Report, usage: Option<UsageMonitor>) -> Report {
        r.errors = std::mem::take(&mut *self.errors.lock().expect("error map lock is never poisoned"));
        let examples = std::mem::take(&mut *self.examples.lock().expect("error map lock is never poisoned"));
        if !examples.is_empty() {
            r.extra.insert("error_examples".into(), json!(examples));
        }
        r.server = usage.map(UsageMonitor::finish);
        r
    }

    fn setup_failed(&self, mut r: Report, e: SetupError) -> Report {
        match e {
            SetupError::Unsupported(n) => {
                r.status = Outcome::Unsupported;
                r.note = Some(n);
            }
            SetupError::Failed(n) => {
                r.status = Outcome::Failed;
                r.note = Some(n);
            }
        }
        self.finish(r, None)
    }

    fn name(&self, scenario: &str, variant: &str) -> String {
        let mut n = format!("bench-{scenario}{variant}-{}", self.tag);
        n.truncate(80);
        n
    }

    async fn create_machine(&self, name: &str, definition: &Value, kind: &str) -> Result<String, SetupError> {
        let body = json!({
            "name": name,
            "definition": definition.to_string(),
            "roleArn": self.opts.role_arn,
            "type": kind,
        });
        let out = self.call("CreateStateMachine", &body).await?;
        out.get("stateMachineArn")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SetupError::Failed(format!("CreateStateMachine answered without stateMachineArn: {out}")))
    }

    async fn create_activity(&self, name: &str) -> Result<String, SetupError> {
        let out = self.call("CreateActivity", &json!({"name": name})).await?;
        out.get("activityArn")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SetupError::Failed(format!("CreateActivity answered without activityArn: {out}")))
    }
}

/// Samples the server processes' RSS while a scenario runs.
struct UsageMonitor {
    pids: Vec<u32>,
    began: Instant,
    first: procstat::ProcSample,
    max_rss: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UsageMonitor {
    fn start(pids: &[u32]) -> Option<UsageMonitor> {
        if pids.is_empty() {
            return None;
        }
        let first = procstat::sample_all(pids)?;
        let max_rss = Arc::new(AtomicU64::new(first.rss_kib));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (pids, max_rss, stop) = (pids.to_vec(), max_rss.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(s) = procstat::sample_all(&pids) {
                        max_rss.fetch_max(s.rss_kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Some(UsageMonitor { pids: pids.to_vec(), began: Instant::now(), first, max_rss, stop, thread: Some(thread) })
    }

    fn finish(mut self) -> ServerUsage {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let last = procstat::sample_all(&self.pids).unwrap_or(self.first);
        let elapsed = self.began.elapsed().as_secs_f64().max(1e-9);
        let mib = |kib: u64| (kib as f64 / 1024.0 * 10.0).round() / 10.0;
        let cpu = last.cpu_s - self.first.cpu_s;
        ServerUsage {
            pids: self.pids.clone(),
            rss_start_mib: mib(self.first.rss_kib),
            rss_end_mib: mib(last.rss_kib),
            rss_max_mib: mib(self.max_rss.load(Ordering::Relaxed).max(last.rss_kib)),
            cpu_seconds: (cpu * 100.0).round() / 100.0,
            cpu_cores: (cpu / elapsed * 100.0).round() / 100.0,
        }
    }
}

type BodyFn = Arc<dyn Fn(u64) -> Value + Send + Sync>;
type OkFn = Arc<dyn Fn(u64, &Value) + Send + Sync>;

/// What a closed loop of `concurrency` clients calling one action saw.
struct Phase {
    ok: u64,
    latency: Samples,
    elapsed: Duration,
    /// Set when the endpoint does not implement the action.
    unsupported: Option<String>,
}

/// Call `action` for each index in `range` from `concurrency` clients, each waiting for its
/// answer before the next call; stops early at `--duration` or on an unsupported action.
async fn closed_loop(
    ctx: &Arc<Ctx>,
    counters: &Arc<Counters>,
    action: &'static str,
    range: std::ops::Range<u64>,
    body: BodyFn,
    on_ok: OkFn,
    gate: Option<Arc<Semaphore>>,
) -> Phase {
    let next = Arc::new(AtomicU64::new(range.start));
    let stop = Arc::new(AtomicBool::new(false));
    let unsupported = Arc::new(Mutex::new(None));
    let answered = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let deadline = ctx.opts.duration.map(|d| began + d);
    let mut handles = Vec::new();
    for _ in 0..ctx.opts.concurrency {
        let (ctx, counters, next, stop, unsupported, body, on_ok) = (
            ctx.clone(),
            counters.clone(),
            next.clone(),
            stop.clone(),
            unsupported.clone(),
            body.clone(),
            on_ok.clone(),
        );
        let answered = answered.clone();
        let gate = gate.clone();
        let end = range.end;
        handles.push(tokio::spawn(async move {
            let mut latency = Samples::default();
            let mut ok = 0u64;
            loop {
                if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                if let Some(g) = &gate {
                    match g.acquire().await {
                        Ok(permit) => permit.forget(),
                        Err(_) => break,
                    }
                }
                let sent = Instant::now();
                match ctx.call(action, &body(i)).await {
                    Ok(out) => {
                        latency.push(sent.elapsed().as_secs_f64() * 1000.0);
                        ok += 1;
                        answered.store(true, Ordering::Relaxed);
                        on_ok(i, &out);
                        counters.done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        // An action that answered before is implemented: this is a failure.
                        if e.is_unsupported() && !answered.load(Ordering::Relaxed) {
                            *unsupported.lock().expect("lock is never poisoned") = Some(format!("{action}: {e}"));
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            (ok, latency)
        }));
    }
    let mut phase = Phase { ok: 0, latency: Samples::default(), elapsed: Duration::ZERO, unsupported: None };
    for h in handles {
        if let Ok((ok, latency)) = h.await {
            phase.ok += ok;
            phase.latency.extend(latency);
        }
    }
    phase.elapsed = began.elapsed();
    phase.unsupported = unsupported.lock().expect("lock is never poisoned").take();
    phase
}

/// Poll until no execution of `machine` is RUNNING.
async fn wait_finished(ctx: &Ctx, machine: &str) -> Result<(), String> {
    let began = Instant::now();
    let body = json!({"stateMachineArn": machine, "statusFilter": "RUNNING", "maxResults": 1});
    loop {
        if let Ok(out) = ctx.call("ListExecutions", &body).await {
            if out.get("executions").and_then(Value::as_array).is_some_and(Vec::is_empty) {
                return Ok(());
            }
        }
        if began.elapsed() > ctx.opts.finish_timeout {
            return Err(format!("executions still running after {:?}", ctx.opts.finish_timeout));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Default)]
struct Finished {
    succeeded: u64,
    failed: u64,
    running: u64,
    /// stopDate - startDate of each finished execution.
    run_ms: Samples,
}

/// Every execution of `machine`, by status, with its run time.
async fn collect(ctx: &Ctx, machine: &str) -> Result<Finished, CallError> {
    let mut f = Finished::default();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"stateMachineArn": machine, "maxResults": 1000});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let out = ctx.call("ListExecutions", &body).await?;
        for e in out.get("executions").and_then(Value::as_array).into_iter().flatten() {
            match e.get("status").and_then(Value::as_str) {
                Some("SUCCEEDED") => f.succeeded += 1,
                Some("RUNNING") | Some("PENDING_REDRIVE") => f.running += 1,
                _ => f.failed += 1,
            }
            if let (Some(a), Some(b)) =
                (e.get("startDate").and_then(timestamp_ms), e.get("stopDate").and_then(timestamp_ms))
            {
                f.run_ms.push(b - a);
            }
        }
        token = out.get("nextToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(f);
        }
    }
}

/// StartExecution's body. The tool names each execution, `e<index>-<run tag>`: not every
/// server generates unique names.
fn start_body(ctx: &Ctx, machine: &str, input: Value) -> BodyFn {
    let machine = machine.to_owned();
    let input = input.to_string();
    let tag = ctx.tag.clone();
    Arc::new(move |i| json!({"stateMachineArn": machine, "input": input, "name": format!("e{i}-{tag}")}))
}

fn ignore() -> OkFn {
    Arc::new(|_, _| {})
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 {
        (count as f64 / s * 10.0).round() / 10.0
    } else {
        0.0
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// Start executions that run to the end on their own, wait for all, report throughput and
/// their run time.
async fn completing(
    ctx: &Arc<Ctx>,
    scenario: &str,
    variant: Option<String>,
    definition: Value,
    kind: &str,
    states_entered: Option<u64>,
) -> Report {
    let suffix =
        variant.as_deref().map(|v| format!("-c{}", v.trim_start_matches("MaxConcurrency="))).unwrap_or_default();
    let mut r = ctx.report(scenario, variant);
    let machine = match ctx.create_machine(&ctx.name(scenario, &suffix), &definition, kind).await {
        Ok(m) => m,
        Err(e) => return ctx.setup_failed(r, e),
    };
    let input = if scenario == "map-fanout" { json!({"items": (0..1000).collect::<Vec<u32>>()}) } else { json!({}) };
    let usage = UsageMonitor::start(&ctx.opts.pids);
    let progress = Progress::start(r.title(), ctx.opts.executions, ctx.opts.progress);
    progress.counters.set_phase("starting");
    let began = Instant::now();
    let body = start_body(ctx, &machine, input);
    let started =
        closed_loop(ctx, &progress.counters, "StartExecution", 0..ctx.opts.executions, body, ignore(), None).await;
    if let Some(n) = started.unsupported {
        drop(progress);
        return ctx.setup_failed(r, SetupError::Unsupported(n));
    }
    progress.counters.set_phase("finishing");
    let waited = wait_finished(ctx, &machine).await;
    let total = began.elapsed();
    drop(progress);
    r.started = started.ok;
    r.elapsed_s = round3(total.as_secs_f64());
    if let Err(e) = waited {
        r.note = Some(e);
    }
    match collect(ctx, &machine).await {
        Ok(f) => {
            r.succeeded = f.succeeded;
            r.failed = f.failed;
            r.running = f.running;
            r.throughput_per_s = per_second(f.succeeded + f.failed, total);
            r.transitions_per_s = states_entered.map(|s| (r.throughput_per_s * s as f64).round());
            if scenario == "wait" {
                // Run time beyond the 1 s the Wait asks for.
                if let Some(s) = f.run_ms.shifted(-1000.0).summary() {
                    r.latency.insert("timer-lateness".into(), s);
                }
            }
            if let Some(s) = f.run_ms.summary() {
                r.latency.insert("execution".into(), s);
            }
        }
        Err(e) => r.note = Some(format!("could not list executions: {e}")),
    }
    if let Some(s) = started.latency.summary() {
        r.latency.insert("start".into(), s);
    }
    r.extra.insert(
        "latency_source".into(),
        json!("execution: stopDate - startDate from ListExecutions; start: StartExecution round trip"),
    );
    ctx.finish(r, usage)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Executions whose Task is an activity; a pool of `concurrency` workers polls
/// GetActivityTask and answers with SendTaskSuccess. With several endpoints a worker answers
/// on another node than the one it polled, so resumes cross nodes.
async fn callback(ctx: &Arc<Ctx>) -> Report {
    let scenario = "callback";
    let mut r = ctx.report(scenario, None);
    let setup = async {
        let activity = ctx.create_activity(&ctx.name(scenario, "")).await?;
        let machine = ctx.create_machine(&ctx.name(scenario, ""), &activity_task(&activity, true), "STANDARD").await?;
        Ok::<_, SetupError>((activity, machine))
    };
    let (activity, machine) = match setup.await {
        Ok(x) => x,
        Err(e) => return ctx.setup_failed(r, e),
    };
    let n = ctx.opts.executions;
    let usage = UsageMonitor::start(&ctx.opts.pids);
    let progress = Progress::start(r.title(), n, ctx.opts.progress);
    progress.counters.set_phase("running");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // index -> client wall-clock ms when SendTaskSuccess was sent
    let answered: Arc<Mutex<BTreeMap<u64, f64>>> = Arc::default();
    let poll_unsupported: Arc<Mutex<Option<String>>> = Arc::default();
    let gate = Arc::new(Semaphore::new(ctx.opts.concurrency));
    let mut workers = Vec::new();
    let endpoints = ctx.client.endpoint_count();
    for w in 0..ctx.opts.concurrency {
        let (ctx, activity, answered, counters, mut stop_rx) =
            (ctx.clone(), activity.clone(), answered.clone(), progress.counters.clone(), stop_rx.clone());
        let poll_unsupported = poll_unsupported.clone();
        let gate = gate.clone();
        workers.push(tokio::spawn(async move {
            let mut poll_to_answer = Samples::default();
            let poll = json!({"activityArn": activity, "workerName": format!("bench-{w}")});
            loop {
                let got = tokio::select! {
                    r = ctx.client.call_on(w, "GetActivityTask", &poll) => r,
                    _ = stop_rx.changed() => break,
                };
                let task = match got {
                    Ok(t) => t,
                    Err(e) => {
                        ctx.count_error("GetActivityTask", &e);
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        if e.is_unsupported() {
                            gate.close();
                            poll_unsupported
                                .lock()
                                .expect("lock is never poisoned")
                                .get_or_insert(format!("GetActivityTask: {e}"));
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(token) = task.get("taskToken").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
                    continue;
                };
                let received = Instant::now();
                let index = task
                    .get("input")
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .and_then(|v| v.get("i").and_then(Value::as_u64));
                let sent_ms = now_ms();
                let answer = json!({"taskToken": token, "output": "{\"answered\":true}"});
                // Answer on the next endpoint: another node when there are several.
                let target = if endpoints > 1 { w + 1 } else { w };
                let result = ctx.client.call_on(target, "SendTaskSuccess", &answer).await;
                gate.add_permits(1);
                match result {
                    Ok(_) => {
                        poll_to_answer.push(received.elapsed().as_secs_f64() * 1000.0);
                        if let Some(i) = index {
                            answered.lock().expect("lock is never poisoned").insert(i, sent_ms);
                        }
                        counters.done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        ctx.count_error("SendTaskSuccess", &e);
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            poll_to_answer
        }));
    }
    let began = Instant::now();
    let arns: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
    let machine_for_body = machine.clone();
    let tag = ctx.tag.clone();
    let body: BodyFn = Arc::new(
        move |i| json!({"stateMachineArn": machine_for_body, "input": json!({"i": i}).to_string(), "name": format!("e{i}-{tag}")}),
    );
    let keep = {
        let arns = arns.clone();
        let stride = (n / 2000).max(1);
        Arc::new(move |i: u64, out: &Value| {
            if i.is_multiple_of(stride) {
                if let Some(a) = out.get("executionArn").and_then(Value::as_str) {
                    arns.lock().expect("lock is never poisoned").insert(i, a.to_owned());
                }
            }
        })
    };
    let counters = Arc::new(Counters::default());
    // At most `concurrency` executions wait for a worker at once: the figures are latency,
    // not the length of a queue that starts outrunning workers would build.
    let started = closed_loop(ctx, &counters, "StartExecution", 0..n, body, keep, Some(gate.clone())).await;
    let waited = if started.unsupported.is_none() { wait_finished(ctx, &machine).await } else { Ok(()) };
    let total = began.elapsed();
    let _ = stop_tx.send(true);
    let mut poll_to_answer = Samples::default();
    for w in workers {
        if let Ok(s) = w.await {
            poll_to_answer.extend(s);
        }
    }
    drop(progress);
    let poll_unsupported = poll_unsupported.lock().expect("lock is never poisoned").take();
    if let Some(n) = started.unsupported.or(poll_unsupported) {
        return ctx.setup_failed(r, SetupError::Unsupported(n));
    }
    r.started = started.ok;
    r.elapsed_s = round3(total.as_secs_f64());
    if let Err(e) = waited {
        r.note = Some(e);
    }
    if let Ok(f) = collect(ctx, &machine).await {
        r.succeeded = f.succeeded;
        r.failed = f.failed;
        r.running = f.running;
        r.throughput_per_s = per_second(f.succeeded + f.failed, total);
        r.transitions_per_s = Some((r.throughput_per_s * 2.0).round());
        if let Some(s) = f.run_ms.summary() {
            r.latency.insert("execution".into(), s);
        }
    }
    // Resume latency from the histories of (a sample of) the executions.
    let sample: Vec<(u64, String)> = arns.lock().expect("lock is never poisoned").clone().into_iter().collect();
    let answered = answered.lock().expect("lock is never poisoned").clone();
    let (resume, delivery) = histories(ctx, sample, &answered).await;
    if let Some(s) = resume.summary() {
        r.latency.insert("resume".into(), s);
    }
    if let Some(s) = delivery.summary() {
        r.latency.insert("task-delivery".into(), s);
    }
    if let Some(s) = poll_to_answer.summary() {
        r.latency.insert("poll-to-answer".into(), s);
    }
    if let Some(s) = started.latency.summary() {
        r.latency.insert("start".into(), s);
    }
    r.extra.insert(
        "latency_source".into(),
        json!(
            "resume: client clock at SendTaskSuccess sent -> timestamp of the next state's StateEntered event \
             (GetExecutionHistory); task-delivery: ActivityScheduled -> ActivityStarted event (task queued -> handed to a poller); \
             poll-to-answer: GetActivityTask answer received -> SendTaskSuccess answered"
        ),
    );
    r.extra.insert(
        "answered_on".into(),
        json!(if endpoints > 1 { "another endpoint than the one polled" } else { "the endpoint polled" }),
    );
    ctx.finish(r, usage)
}

/// Resume and delivery latency from each sampled execution's history.
async fn histories(ctx: &Arc<Ctx>, sample: Vec<(u64, String)>, answered: &BTreeMap<u64, f64>) -> (Samples, Samples) {
    let queue = Arc::new(Mutex::new(sample));
    let answered = Arc::new(answered.clone());
    let mut handles = Vec::new();
    for _ in 0..ctx.opts.concurrency.min(16) {
        let (ctx, queue, answered) = (ctx.clone(), queue.clone(), answered.clone());
        handles.push(tokio::spawn(async move {
            let (mut resume, mut delivery) = (Samples::default(), Samples::default());
            loop {
                let Some((i, arn)) = queue.lock().expect("lock is never poisoned").pop() else { break };
                let Ok(h) = ctx.call("GetExecutionHistory", &json!({"executionArn": arn, "maxResults": 100})).await
                else {
                    continue;
                };
                let events: &[Value] = h.get("events").and_then(Value::as_array).map_or(&[], Vec::as_slice);
                let at = |ty: &str| {
                    events
                        .iter()
                        .find(|e| e.get("type").and_then(Value::as_str) == Some(ty))
                        .and_then(|e| e.get("timestamp"))
                        .and_then(timestamp_ms)
                };
                let entered_done = events
                    .iter()
                    .find(|e| {
                        e.get("type").and_then(Value::as_str) == Some("PassStateEntered")
                            && e.pointer("/stateEnteredEventDetails/name").and_then(Value::as_str) == Some("Done")
                    })
                    .and_then(|e| e.get("timestamp"))
                    .and_then(timestamp_ms);
                if let (Some(sent), Some(entered)) = (answered.get(&i), entered_done) {
                    resume.push(entered - sent);
                }
                if let (Some(scheduled), Some(started)) = (at("ActivityScheduled"), at("ActivityStarted")) {
                    delivery.push(started - scheduled);
                }
            }
            (resume, delivery)
        }));
    }
    let (mut resume, mut delivery) = (Samples::default(), Samples::default());
    for h in handles {
        if let Ok((r, d)) = h.await {
            resume.extend(r);
            delivery.extend(d);
        }
    }
    (resume, delivery)
}

/// Start executions that wait on an activity task nobody polls; at 1,000, 10,000, 100,000
/// and 1,000,000 waiting (those not above `--executions`, and at `--executions`) measure the
/// server's RSS and the latency of DescribeExecution and ListExecutions. The executions are
/// left waiting.
async fn idle_waiters(ctx: &Arc<Ctx>) -> Report {
    let scenario = "idle-waiters";
    let mut r = ctx.report(scenario, None);
    r.throughput_unit = "starts".into();
    let setup = async {
        let activity = ctx.create_activity(&ctx.name(scenario, "")).await?;
        let machine = ctx.create_machine(&ctx.name(scenario, ""), &activity_task(&activity, false), "STANDARD").await?;
        Ok::<_, SetupError>(machine)
    };
    let machine = match setup.await {
        Ok(x) => x,
        Err(e) => return ctx.setup_failed(r, e),
    };
    let n = ctx.opts.executions;
    let mut checkpoints: Vec<u64> = [1_000, 10_000, 100_000, 1_000_000].into_iter().filter(|&c| c < n).collect();
    checkpoints.push(n);
    let stride = (n / 1000).max(1);
    let arns: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep: OkFn = {
        let arns = arns.clone();
        Arc::new(move |i, out| {
            if i.is_multiple_of(stride) {
                if let Some(a) = out.get("executionArn").and_then(Value::as_str) {
                    arns.lock().expect("lock is never poisoned").push(a.to_owned());
                }
            }
        })
    };
    let usage = UsageMonitor::start(&ctx.opts.pids);
    let progress = Progress::start(r.title(), n, ctx.opts.progress);
    progress.counters.set_phase("starting");
    let mut start_latency = Samples::default();
    let mut start_time = Duration::ZERO;
    let mut from = 0;
    let mut points = Vec::new();
    let (mut describe_all, mut list_all) = (Samples::default(), Samples::default());
    for &upto in &checkpoints {
        let body = start_body(ctx, &machine, json!({}));
        let phase = closed_loop(ctx, &progress.counters, "StartExecution", from..upto, body, keep.clone(), None).await;
        if let Some(note) = phase.unsupported {
            drop(progress);
            return ctx.setup_failed(r, SetupError::Unsupported(note));
        }
        r.started += phase.ok;
        start_latency.extend(phase.latency);
        start_time += phase.elapsed;
        from = upto;
        settle(&ctx.opts.pids).await;
        let usage_now = procstat::sample_all(&ctx.opts.pids);
        let mib = |kib: u64| (kib as f64 / 1024.0 * 10.0).round() / 10.0;
        let rss = usage_now.map(|s| mib(s.rss_kib));
        let rss_anon = usage_now.map(|s| mib(s.rss_anon_kib));
        let sample: Vec<String> =
            arns.lock().expect("lock is never poisoned").iter().rev().take(200).cloned().collect();
        let (mut describe, mut list) = (Samples::default(), Samples::default());
        let mut running = 0u64;
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        for arn in &sample {
            let t = Instant::now();
            if let Ok(d) = ctx.call("DescribeExecution", &json!({"executionArn": arn})).await {
                describe.push(t.elapsed().as_secs_f64() * 1000.0);
                let status = d.get("status").and_then(Value::as_str).unwrap_or("?");
                running += u64::from(status == "RUNNING");
                *statuses.entry(status.to_owned()).or_default() += 1;
            }
        }
        if running == 0 && !sample.is_empty() {
            // Nothing waits: the endpoint does not keep an activity task pending.
            drop(progress);
            let note = format!("executions did not stay waiting on an activity task; sampled statuses: {statuses:?}");
            return ctx.setup_failed(r, SetupError::Unsupported(note));
        }
        for _ in 0..20 {
            let t = Instant::now();
            if ctx.call("ListExecutions", &json!({"stateMachineArn": machine, "maxResults": 100})).await.is_ok() {
                list.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        points.push(json!({
            "waiting": r.started,
            "rss_mib": rss,
            "rss_anon_mib": rss_anon,
            "describe_sampled": sample.len(),
            "describe_running": running,
            "describe_p50_ms": describe.summary().map(|s| s.p50_ms),
            "describe_p99_ms": describe.summary().map(|s| s.p99_ms),
            "list_p50_ms": list.summary().map(|s| s.p50_ms),
            "list_p99_ms": list.summary().map(|s| s.p99_ms),
        }));
        if upto == n {
            // Estimated from the sample of up to 200 (exact for up to 200 executions).
            r.running = (running as f64 / sample.len().max(1) as f64 * r.started as f64).round() as u64;
            r.extra.insert("sampled_running".into(), json!(format!("{running} of {} sampled", sample.len())));
        }
        describe_all.extend(describe);
        list_all.extend(list);
        if ctx.opts.duration.is_some_and(|d| start_time >= d) {
            break;
        }
    }
    drop(progress);
    r.elapsed_s = round3(start_time.as_secs_f64());
    r.throughput_per_s = per_second(r.started, start_time);
    for (name, s) in
        [("start", start_latency), ("describe-while-waiting", describe_all), ("list-while-waiting", list_all)]
    {
        if let Some(s) = s.summary() {
            r.latency.insert(name.into(), s);
        }
    }
    r.extra.insert("checkpoints".into(), Value::Array(points));
    ctx.finish(r, usage)
}

/// Let a local server finish the work it queued (its CPU use drops below a tenth of a core
/// over half a second), at most 60 s; without `--pid`, a second.
async fn settle(pids: &[u32]) {
    let Some(mut last) = procstat::sample_all(pids) else {
        tokio::time::sleep(Duration::from_secs(1)).await;
        return;
    };
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(now) = procstat::sample_all(pids) else { return };
        if now.cpu_s - last.cpu_s < 0.05 {
            return;
        }
        last = now;
    }
}

/// StartExecution alone, as fast as `concurrency` clients can; the executions (one Pass
/// state) are then waited for, outside the measured time.
async fn start_burst(ctx: &Arc<Ctx>) -> Report {
    let scenario = "start-burst";
    let mut r = ctx.report(scenario, None);
    r.throughput_unit = "starts".into();
    let machine = match ctx.create_machine(&ctx.name(scenario, ""), &pass_chain(1), "STANDARD").await {
        Ok(m) => m,
        Err(e) => return ctx.setup_failed(r, e),
    };
    let usage = UsageMonitor::start(&ctx.opts.pids);
    let progress = Progress::start(r.title(), ctx.opts.executions, ctx.opts.progress);
    progress.counters.set_phase("starting");
    let phase = closed_loop(
        ctx,
        &progress.counters,
        "StartExecution",
        0..ctx.opts.executions,
        start_body(ctx, &machine, json!({})),
        ignore(),
        None,
    )
    .await;
    if let Some(n) = phase.unsupported {
        drop(progress);
        return ctx.setup_failed(r, SetupError::Unsupported(n));
    }
    let server = usage.map(UsageMonitor::finish);
    progress.counters.set_phase("finishing");
    let waited = wait_finished(ctx, &machine).await;
    drop(progress);
    r.started = phase.ok;
    r.elapsed_s = round3(phase.elapsed.as_secs_f64());
    r.throughput_per_s = per_second(phase.ok, phase.elapsed);
    if let Some(s) = phase.latency.summary() {
        r.latency.insert("start".into(), s);
    }
    if let Err(e) = waited {
        r.note = Some(e);
    }
    if let Ok(f) = collect(ctx, &machine).await {
        r.succeeded = f.succeeded;
        r.failed = f.failed;
        r.running = f.running;
    }
    let mut r = ctx.finish(r, None);
    r.server = server;
    r
}

/// StartSyncExecution round trips of an EXPRESS machine of 10 Pass states.
async fn express(ctx: &Arc<Ctx>) -> Report {
    let scenario = "express";
    let mut r = ctx.report(scenario, None);
    r.throughput_unit = "sync executions".into();
    let machine = match ctx.create_machine(&ctx.name(scenario, ""), &pass_chain(10), "EXPRESS").await {
        Ok(m) => m,
        Err(e) => return ctx.setup_failed(r, e),
    };
    let usage = UsageMonitor::start(&ctx.opts.pids);
    let progress = Progress::start(r.title(), ctx.opts.executions, ctx.opts.progress);
    progress.counters.set_phase("running");
    let (succeeded, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let tally: OkFn = {
        let (succeeded, failed) = (succeeded.clone(), failed.clone());
        Arc::new(move |_, out| {
            if out.get("status").and_then(Value::as_str) == Some("SUCCEEDED") {
                succeeded.fetch_add(1, Ordering::Relaxed);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let body = start_body(ctx, &machine, json!({}));
    let phase =
        closed_loop(ctx, &progress.counters, "StartSyncExecution", 0..ctx.opts.executions, body, tally, None).await;
    drop(progress);
    if let Some(n) = phase.unsupported {
        return ctx.setup_failed(r, SetupError::Unsupported(n));
    }
    r.started = phase.ok;
    r.succeeded = succeeded.load(Ordering::Relaxed);
    r.failed = failed.load(Ordering::Relaxed);
    r.elapsed_s = round3(phase.elapsed.as_secs_f64());
    r.throughput_per_s = per_second(phase.ok, phase.elapsed);
    r.transitions_per_s = Some((r.throughput_per_s * 10.0).round());
    if let Some(s) = phase.latency.summary() {
        r.latency.insert("sync-execution".into(), s);
    }
    ctx.finish(r, usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_both_wire_forms() {
        assert_eq!(timestamp_ms(&json!(1700000000.123)).map(f64::round), Some(1700000000123.0));
        assert_eq!(timestamp_ms(&json!("2023-11-14T22:13:20.123Z")).map(f64::round), Some(1700000000123.0));
        assert_eq!(timestamp_ms(&json!("2023-11-14T22:13:20.123000+00:00")).map(f64::round), Some(1700000000123.0));
        assert_eq!(timestamp_ms(&json!("2023-11-14T22:13:20.123")).map(f64::round), Some(1700000000123.0));
        assert_eq!(timestamp_ms(&json!(null)), None);
    }

    #[tokio::test]
    async fn unknown_scenario_is_an_error() {
        let e = run("nope", &Options::default()).await.unwrap_err();
        assert!(e.contains("unknown scenario 'nope'"), "{e}");
    }
}
