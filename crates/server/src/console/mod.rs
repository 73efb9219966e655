//! The web console at `/`: server-rendered pages for state machines, executions and the
//! inbox of tasks waiting for a person. Pages read through the engine's read-only
//! [`engine::ConsoleView`]; everything that changes
//! an execution goes through the engine by the same paths as the API (StartExecution,
//! StopExecution and RedriveExecution are called by the page's script on `POST /`; answers
//! from the inbox reach the engine as SendTaskSuccess/SendTaskFailure would).
//!
//! Lists page by keyset (the last row's key), never by offset, so a page costs the same with
//! a hundred executions or a hundred thousand.

pub mod access;
pub mod form;
pub mod graph;
pub mod html;
pub mod inbox;
pub mod links;
pub mod mail;
mod map_runs;
pub mod origin;
pub mod status;
pub mod timeline;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use engine::console_view::{ExecutionRow, StateMachineRow};
use engine::ExecutionStatus;
use serde::Deserialize;
use serde_json::Value;

use crate::SharedState;
use html::{badge, date, error_page, escape, json_block, page, url};

/// Rows per list page.
const PAGE: usize = 50;
/// History events shown on an execution's page.
const HISTORY_SHOWN: usize = 2000;

/// The paths the console serves (signed links are under [`LINKS`]): no trigger may take them.
pub const PATHS: [&str; 10] =
    ["/", "/machine", "/executions", "/execution", "/map-run", "/inbox", "/inbox/answer", "/mail", "/login", "/logout"];
/// Signed task links are `LINKS` followed by the signed claim.
pub const LINKS: &str = "/link/";

/// The console's routes. Pages and the inbox need a signed-in person when users are
/// configured; signed links and the sign-in page do not.
pub fn routes(state: SharedState) -> Router<SharedState> {
    let pages = Router::new()
        .route("/", get(machines))
        .route("/machine", get(machine))
        .route("/executions", get(executions))
        .route("/execution", get(execution))
        .route("/map-run", get(map_runs::show))
        .route("/inbox", get(inbox::list))
        .route("/inbox/answer", post(inbox::answer))
        .route("/mail", get(mail::list))
        .route_layer(axum::middleware::from_fn_with_state(state, access::require_user));
    Router::new()
        .merge(pages)
        .route("/login", get(access::login_form).post(access::login))
        .route("/logout", post(access::logout))
        .route("/link/{signed}", get(links::show).post(links::act))
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "console: store read failed");
    error_page(StatusCode::INTERNAL_SERVER_ERROR, "Storage error", &e.to_string())
}

#[derive(Deserialize)]
struct After {
    after: Option<String>,
}

async fn machines(State(state): State<SharedState>, Query(q): Query<After>) -> Response {
    let rows = match state.engine.console_view().state_machines(q.after.as_deref(), PAGE + 1).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let mut body = String::from("<h1>State machines</h1>");
    if rows.is_empty() && q.after.is_none() {
        body.push_str(
            "<p class=\"muted\">No state machines yet. Create one with <code>aws stepfunctions \
             create-state-machine --endpoint-url …</code> or any AWS SDK.</p>",
        );
        return page("State machines", &body);
    }
    body.push_str("<table><tr><th>Name</th><th>Type</th><th>Created</th><th>Updated</th><th></th></tr>");
    for m in rows.iter().take(PAGE) {
        body.push_str(&format!(
            "<tr><td><a href=\"/machine?arn={u}\">{n}</a></td><td>{k}</td><td>{c}</td><td>{up}</td>\
             <td><a href=\"/executions?machine={u}\">executions</a></td></tr>",
            u = url(&m.arn),
            n = escape(&m.name),
            k = escape(m.kind.as_str()),
            c = date(m.created),
            up = date(m.updated),
        ));
    }
    body.push_str("</table>");
    body.push_str(&pager(rows.len() > PAGE, rows.get(PAGE - 1).map(|m| format!("/?after={}", url(&m.arn)))));
    page("State machines", &body)
}

fn pager(more: bool, next: Option<String>) -> String {
    match (more, next) {
        (true, Some(href)) => format!("<div class=\"pager\"><a href=\"{}\">Next page →</a></div>", escape(&href)),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
struct ArnQuery {
    arn: String,
}

async fn load_machine(state: &SharedState, arn: &str) -> Result<StateMachineRow, Response> {
    match state.engine.console_view().state_machine(arn).await {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(error_page(
            StatusCode::NOT_FOUND,
            "StateMachineDoesNotExist",
            &format!("State Machine Does Not Exist: '{arn}'"),
        )),
        Err(e) => Err(store_error(e)),
    }
}

async fn machine(State(state): State<SharedState>, Query(q): Query<ArnQuery>) -> Response {
    let m = match load_machine(&state, &q.arn).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let recent = match state.engine.console_view().executions(&m.arn, None, None, 10).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let mut body = format!(
        "<h1>{n}</h1><p class=\"muted\">{arn} · {k} · created {c}</p>",
        n = escape(&m.name),
        arn = escape(&m.arn),
        k = escape(m.kind.as_str()),
        c = date(m.created),
    );
    body.push_str("<div class=\"row\"><div>");
    body.push_str(&legend());
    body.push_str(&graph::render(&m.definition, &Default::default()));
    body.push_str("</div><div class=\"card\" style=\"flex:1;min-width:320px\"><h2>Start an execution</h2>");
    body.push_str(&format!(
        "<form class=\"start\" data-machine=\"{arn}\"><div class=\"field\"><label for=\"name\">Name (optional)</label>\
         <input type=\"text\" id=\"name\" name=\"name\" maxlength=\"80\" size=\"40\"></div>\
         <div class=\"field\"><label for=\"input\">Input (JSON)</label><textarea id=\"input\" name=\"input\" rows=\"10\">{{\n}}</textarea></div>\
         <p class=\"status\"></p><button class=\"primary\" type=\"submit\">Start execution</button></form>",
        arn = escape(&m.arn)
    ));
    body.push_str("</div></div>");
    body.push_str(&format!(
        "<h2>Recent executions <a href=\"/executions?machine={}\" style=\"font-size:13px\">all →</a></h2>",
        url(&m.arn)
    ));
    body.push_str(&executions_table(&recent));
    body.push_str("<h2>Definition</h2>");
    body.push_str(&json_block(&m.definition));
    page(&m.name, &body)
}

fn legend() -> String {
    let items = [
        graph::StateStatus::Succeeded,
        graph::StateStatus::Failed,
        graph::StateStatus::Caught,
        graph::StateStatus::InProgress,
        graph::StateStatus::Waiting,
    ];
    let mut out = String::from("<p class=\"legend\">");
    for s in items {
        out.push_str(&format!("<span><i class=\"{}\"></i>{}</span>", s.class(), s.label()));
    }
    out.push_str("<span style=\"color:#c0392b\">- - - Catch</span></p>");
    out
}

fn executions_table(rows: &[ExecutionRow]) -> String {
    if rows.is_empty() {
        return "<p class=\"muted\">No executions.</p>".into();
    }
    let mut out = String::from("<table><tr><th>Name</th><th>Status</th><th>Started</th><th>Ended</th></tr>");
    for e in rows {
        out.push_str(&format!(
            "<tr><td><a href=\"/execution?arn={u}\">{n}</a></td><td>{s}</td><td>{st}</td><td>{en}</td></tr>",
            u = url(&e.arn),
            n = escape(&e.name),
            s = badge(e.status.as_str()),
            st = date(e.start),
            en = e.stop.map(date).unwrap_or_default(),
        ));
    }
    out.push_str("</table>");
    out
}

#[derive(Deserialize)]
struct ExecutionsQuery {
    machine: String,
    status: Option<String>,
    name: Option<String>,
    after: Option<String>,
}

const STATUSES: [&str; 6] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

async fn executions(State(state): State<SharedState>, Query(q): Query<ExecutionsQuery>) -> Response {
    let m = match load_machine(&state, &q.machine).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return error_page(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("status: '{s}' is not one of {}", STATUSES.join(", ")),
            );
        }
    }
    let name = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let found = match name {
        // An execution's ARN is its machine's plus its name: names starting with the search
        // are a range of ARNs, in name order.
        Some(n) => {
            let prefix = state.arns.execution(&m.name, n).into_string();
            state.engine.console_view().executions_by_prefix(&prefix, status, q.after.as_deref(), PAGE + 1).await
        }
        None => state.engine.console_view().executions(&m.arn, status, q.after.as_deref(), PAGE + 1).await,
    };
    let (rows, more) = match found {
        Ok(mut rows) => {
            let more = rows.len() > PAGE;
            rows.truncate(PAGE);
            (rows, more)
        }
        Err(e) => return store_error(e),
    };
    let mut body = format!(
        "<h1>Executions of <a href=\"/machine?arn={u}\">{n}</a></h1>\
         <form class=\"filters\" method=\"get\" action=\"/executions\"><input type=\"hidden\" name=\"machine\" value=\"{a}\">\
         <label>Status <select name=\"status\"><option value=\"\">any</option>",
        u = url(&m.arn),
        n = escape(&m.name),
        a = escape(&m.arn),
    );
    for s in STATUSES {
        let selected = if status == Some(s) { " selected" } else { "" };
        body.push_str(&format!("<option{selected}>{s}</option>"));
    }
    body.push_str(&format!(
        "</select></label><label>Name <input type=\"text\" name=\"name\" value=\"{}\" placeholder=\"name starts with\"></label>\
         <button type=\"submit\">Filter</button></form>",
        escape(name.unwrap_or_default())
    ));
    body.push_str(&executions_table(&rows));
    let next = rows.last().map(|last| {
        let mut href = format!("/executions?machine={}&after={}", url(&m.arn), url(&last.arn));
        if let Some(s) = status {
            href.push_str(&format!("&status={}", url(s)));
        }
        if let Some(n) = name {
            href.push_str(&format!("&name={}", url(n)));
        }
        href
    });
    body.push_str(&pager(more, next));
    page("Executions", &body)
}

async fn execution(
    State(state): State<SharedState>,
    user: Option<axum::Extension<access::User>>,
    Query(q): Query<ArnQuery>,
) -> Response {
    let view = state.engine.console_view();
    let e = match view.execution(&q.arn).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "ExecutionDoesNotExist",
                &format!("Execution Does Not Exist: '{}'", q.arn),
            )
        }
        Err(e) => return store_error(e),
    };
    let history = match view.history(&e.arn, None, HISTORY_SHOWN, false).await {
        Ok(h) => h,
        Err(err) => return store_error(err),
    };
    let tasks = match view.open_tasks(Some(&e.arn), 100).await {
        Ok(t) => t,
        Err(err) => return store_error(err),
    };
    let events: Vec<Value> = history.iter().filter_map(|(_, text)| serde_json::from_str(text).ok()).collect();
    let waiting: Vec<&str> = tasks.iter().map(|t| t.state_name.as_str()).collect();
    let statuses = status::of_states(&events, e.status.as_str(), &waiting);
    let machine_name = e.state_machine_arn.rsplit(':').next().unwrap_or_default();

    let mut body = format!(
        "<h1>{n}</h1><p class=\"muted\">{arn} · <a href=\"/machine?arn={mu}\">{mn}</a></p>",
        n = escape(&e.name),
        arn = escape(&e.arn),
        mu = url(&e.state_machine_arn),
        mn = escape(machine_name),
    );
    body.push_str(&format!("<div id=\"live\" data-status=\"{}\">", escape(e.status.as_str())));
    body.push_str(&format!(
        "<p>{b} · started {s}{by}{mock}{end}{redrives}</p>",
        b = badge(e.status.as_str()),
        s = date(e.start),
        by = e.started_by.as_deref().map(|p| format!(" by {}", escape(p))).unwrap_or_default(),
        mock = e
            .mock_test_case
            .as_deref()
            .map(|c| format!(" · mock test case <b class=\"mock-test-case\">{}</b>", escape(c)))
            .unwrap_or_default(),
        end = e.stop.map(|t| format!(" · ended {}", date(t))).unwrap_or_default(),
        redrives =
            if e.redrive_count > 0 { format!(" · redriven {} time(s)", e.redrive_count) } else { String::new() },
    ));
    let arn_attr = escape(&e.arn);
    body.push_str("<p>");
    if e.status == ExecutionStatus::Running {
        body.push_str(&format!(
            "<button class=\"danger\" data-action=\"StopExecution\" data-arn=\"{arn_attr}\">Stop</button> "
        ));
    }
    if matches!(e.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        body.push_str(&format!("<button data-action=\"RedriveExecution\" data-arn=\"{arn_attr}\">Redrive</button> "));
    }
    body.push_str("<span id=\"action-status\"></span></p>");
    if let Some(err) = &e.error {
        body.push_str(&format!(
            "<p class=\"error\"><b>{}</b> {}</p>",
            escape(err),
            escape(e.cause.as_deref().unwrap_or_default())
        ));
    }
    if !tasks.is_empty() {
        body.push_str(&format!(
            "<p>Waiting for an answer in {}: <a href=\"/inbox\">answer it in the inbox</a></p>",
            tasks.iter().map(|t| escape(&t.state_name)).collect::<Vec<_>>().join(", ")
        ));
    }
    body.push_str(&legend());
    body.push_str(&graph::render(&e.definition, &statuses));
    body.push_str("<div class=\"row\"><div style=\"flex:1;min-width:300px\"><h2>Input</h2>");
    body.push_str(&json_block(&e.input));
    body.push_str("</div><div style=\"flex:1;min-width:300px\">");
    body.push_str(&outcome(&e));
    body.push_str("</div></div>");
    body.push_str(&answers_table(&events));
    body.push_str(&map_runs::section(&state, &e.arn).await);
    let end = e.stop.unwrap_or_else(|| {
        let last = events.iter().filter_map(|ev| ev.get("timestamp").and_then(Value::as_f64)).fold(0.0, f64::max);
        engine::clock::now_ms().max((last * 1000.0) as i64)
    });
    body.push_str("<h2 id=\"timeline\">Timeline</h2>");
    body.push_str(&timeline::render(&events, e.start, end, e.status == ExecutionStatus::Running));
    body.push_str("<h2>States</h2>");
    body.push_str(&status::states_table(&events));
    body.push_str("<h2>Event history</h2>");
    body.push_str(&status::history_table(&events, e.start));
    if history.len() == HISTORY_SHOWN {
        body.push_str(&format!(
            "<p class=\"muted\">The first {HISTORY_SHOWN} events; GetExecutionHistory pages through all of them.</p>"
        ));
    }
    body.push_str("</div>");
    // With users, a task's token shows only to people who may answer the task.
    if let Some(axum::Extension(user)) = user {
        body = access::hide_tokens(&state, &user, body).await;
    }
    page(&e.name, &body)
}

/// What an execution ended with: its output, or its error and cause when it failed, timed
/// out or was stopped; while it runs, that it has none yet.
fn outcome(e: &ExecutionRow) -> String {
    match (&e.output, &e.error) {
        (Some(output), _) => format!("<h2>Output</h2>{}", json_block(output)),
        (None, Some(error)) => format!(
            "<h2>Error</h2><p class=\"error\"><b>{}</b></p>{}",
            escape(error),
            e.cause.as_deref().map(json_block).unwrap_or_default()
        ),
        (None, None) if e.status == ExecutionStatus::Running => {
            "<h2>Output</h2><p class=\"muted\">None yet.</p>".into()
        }
        (None, None) => {
            format!("<h2>Output</h2><p class=\"muted\">None: the execution ended {}.</p>", escape(e.status.as_str()))
        }
    }
}

/// The audit records of people's answers (`TaskAnswerRecorded` events): who, when, via what,
/// from where, what they saw and answered. Nothing when nobody answered.
fn answers_table(events: &[Value]) -> String {
    let answers: Vec<&Value> =
        events.iter().filter(|e| e.get("type").and_then(Value::as_str) == Some("TaskAnswerRecorded")).collect();
    if answers.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Answers</h2><table class=\"answers\"><tr><th>When</th><th>Who</th><th>Via</th><th>From</th>\
         <th>State</th><th>They saw</th><th>They answered</th></tr>",
    );
    for e in answers {
        let d = &e["taskAnswerRecordedEventDetails"];
        let text = |k: &str| d.get(k).and_then(Value::as_str).map(escape).unwrap_or_else(|| "—".into());
        let json = |k: &str| json_block(d.get(k).and_then(Value::as_str).unwrap_or_default());
        let mut answered = json("answer");
        if let (Some(n), Some(of)) = (d["approvals"].as_u64(), d["approvalsNeeded"].as_u64()) {
            answered = format!("<p>{}: {n} of {of} approvals</p>{answered}", text("decision"));
        }
        let at = e["timestamp"].as_f64().map(|t| (t * 1000.0) as i64).unwrap_or_default();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{answered}</td></tr>",
            date(at),
            text("answeredBy"),
            text("via"),
            text("sourceIp"),
            text("stateName"),
            json("shown"),
        ));
    }
    out.push_str("</table>");
    out
}
