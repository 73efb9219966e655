//! The inbox: every task waiting for a callback or an activity worker, and answering it. An
//! answer reaches the engine as SendTaskSuccess/SendTaskFailure would, by the task's token
//! hash, so a task is answered at most once however many people try.
//!
//! What a task shows a person is kept with the task itself (its store row, written when the
//! task is scheduled): its message (the parameters or input it was sent, the token left
//! out), with the restrictions it names (assignees, exclusions, approvals, a form, see
//! [`super::form`]), and its deadline (`TimeoutSeconds`). A task is always named by its own
//! identity (execution and task id), never by its state name, which many tasks of a Map or
//! Parallel share.
//!
//! Every answer is audited in the execution's history as a `TaskAnswerRecorded` event (who,
//! via what, from where, what they were shown and what they answered), written with the
//! answer itself. A task whose message says `"BatonApprovals": N` needs N people to approve:
//! each approve or reject is a vote, counted by the interpreter in order (one vote per
//! person; the first rejection or the Nth approval decides), so two people answering at once
//! cannot both decide or both be lost.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use engine::clock::now_ms;
use engine::console_view::{TaskKind, TaskRow};
use engine::service::{TaskAnswer, Vote};
use engine::{EngineError, ExecutionArn};
use serde_json::{json, Map, Value};

use super::access::{self, User};
use super::form::{self, Field};
use super::html::{age, date, error_page, escape, json_block, page, url};
use crate::SharedState;

/// Tasks listed at most.
const INBOX_LIMIT: usize = 500;
/// History events read backwards to find the votes on a task (and, for a task scheduled
/// before tasks kept their message, what it was sent).
const SCAN: usize = 400;

/// A task waiting for a person, with what it was sent.
pub struct Waiting {
    pub task: TaskRow,
    /// The parameters (service tasks) or input (activities) it was sent, as JSON text.
    pub message: String,
    pub scheduled_at: Option<i64>,
    pub deadline: Option<i64>,
    pub fields: Vec<Field>,
    /// Who started the execution, when known.
    pub started_by: Option<String>,
    /// `BatonApprovals`: how many approvals the task needs, if it counts votes.
    pub approvals_needed: Option<u32>,
    /// The votes so far (person, approved), oldest first.
    pub votes: Vec<(String, bool)>,
}

/// What a person is shown of an open task: its message, restrictions and deadline kept with
/// the task itself (so they are the task's own, whatever its state name, and however long
/// the history is), and the votes cast on it so far.
pub async fn describe(state: &SharedState, task: TaskRow) -> Waiting {
    let mut votes = Vec::new();
    if let Ok(events) = state.engine.console_view().history(&task.execution_arn, Some(i64::MAX), SCAN, true).await {
        for (_, text) in events {
            let Ok(event) = serde_json::from_str::<Value>(&text) else { continue };
            if event.get("type").and_then(Value::as_str) == Some("TaskAnswerRecorded") {
                let d = &event["taskAnswerRecordedEventDetails"];
                if d["taskId"].as_i64() == Some(task.task_id) && d.get("approvals").is_some() {
                    let by = d["answeredBy"].as_str().unwrap_or_default().to_owned();
                    votes.push((by, d["decision"].as_str() == Some("approve")));
                }
            }
        }
    }
    let (message, scheduled_at, deadline) = match &task.message {
        Some(m) => (m.clone(), Some(task.created), task.deadline),
        None => scheduled_before_upgrade(state, &task).await,
    };
    let parsed = serde_json::from_str::<Value>(&message).unwrap_or(Value::Null);
    let fields = form::find(&parsed);
    let approvals_needed = access::approvals_needed(&parsed);
    let started_by = match state.engine.console_view().execution(&task.execution_arn).await {
        Ok(Some(row)) => row.started_by,
        _ => None,
    };
    votes.reverse();
    Waiting { task, message, scheduled_at, deadline, fields, started_by, approvals_needed, votes }
}

/// A task scheduled before tasks kept their message: (message, scheduled at, deadline) from
/// the newest `*Scheduled` event of its state in the last [`SCAN`] events. Such a task has
/// nothing else to go by; every task scheduled since carries its own.
async fn scheduled_before_upgrade(state: &SharedState, task: &TaskRow) -> (String, Option<i64>, Option<i64>) {
    let mut found: Option<Value> = None;
    let mut pending: Option<Value> = None;
    if let Ok(events) = state.engine.console_view().history(&task.execution_arn, Some(i64::MAX), SCAN, true).await {
        for (_, text) in events {
            let Ok(event) = serde_json::from_str::<Value>(&text) else { continue };
            let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
            if kind.ends_with("Scheduled") {
                pending = Some(event);
            } else if event
                .get("stateEnteredEventDetails")
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
                .is_some_and(|n| n == task.state_name)
            {
                found = pending.take();
                break;
            }
        }
    }
    let details = found
        .as_ref()
        .and_then(|e| e.as_object())
        .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v.clone()))
        .unwrap_or(Value::Null);
    let message =
        details.get("parameters").or_else(|| details.get("input")).and_then(Value::as_str).unwrap_or("{}").to_owned();
    let scheduled_at =
        found.as_ref().and_then(|e| e.get("timestamp")).and_then(Value::as_f64).map(|t| (t * 1000.0) as i64);
    let deadline = details
        .get("timeoutInSeconds")
        .and_then(Value::as_i64)
        .zip(scheduled_at.or(Some(task.created)))
        .map(|(s, at)| at + s * 1000);
    (message, scheduled_at, deadline)
}

impl Waiting {
    /// Whether `person` has voted on this task already.
    pub fn voted(&self, person: &str) -> bool {
        self.votes.iter().any(|(by, _)| by == person)
    }

    /// "1 of 2 approvals (ana)" for a task that counts them.
    pub fn approvals_line(&self) -> Option<String> {
        let needed = self.approvals_needed?;
        let approvers: Vec<&str> = self.votes.iter().filter(|(_, yes)| *yes).map(|(by, _)| by.as_str()).collect();
        Some(format!(
            "{} of {needed} approvals{}",
            approvers.len(),
            if approvers.is_empty() { String::new() } else { format!(" ({})", approvers.join(", ")) }
        ))
    }
}

pub async fn list(State(state): State<SharedState>, user: Option<Extension<User>>) -> Response {
    let user = user.map(|Extension(u)| u);
    let tasks = match state.engine.console_view().open_tasks(None, INBOX_LIMIT).await {
        Ok(t) => t,
        Err(e) => return super::store_error(e),
    };
    let now = now_ms();
    let mut body = String::from("<h1>Inbox</h1>");
    if tasks.is_empty() {
        body.push_str("<p class=\"muted\">Nothing is waiting for an answer.</p>");
        return page("Inbox", &body);
    }
    let mut cards = Vec::new();
    for task in tasks {
        let w = describe(&state, task).await;
        // A person sees only what they may answer.
        if access::may_answer(user.as_ref(), &w.message, w.started_by.as_deref()) {
            cards.push(card(&w, user.as_ref(), now));
        }
    }
    body.push_str(&format!("<p class=\"muted\">{} task(s) waiting, oldest first.</p>", cards.len()));
    body.push_str(&cards.concat());
    page("Inbox", &body)
}

fn execution_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn card(w: &Waiting, user: Option<&User>, now: i64) -> String {
    let t = &w.task;
    let kind = match t.kind {
        TaskKind::Activity => "activity",
        TaskKind::Invoke => "callback",
    };
    let deadline = match w.deadline {
        Some(d) => format!("{} (in {})", date(d), age(d - now)),
        None => "none".into(),
    };
    let mut out = format!(
        "<div class=\"card task\" data-execution=\"{ea}\" data-task=\"{tid}\" data-state=\"{sn}\" style=\"margin-bottom:14px\">\
         <p><b>{sn}</b> in <a href=\"/execution?arn={eu}\">{en}</a> · {kind} · waiting {age} · deadline {deadline}</p>\
         <details open><summary>Message</summary>{msg}</details>",
        ea = escape(&t.execution_arn),
        sn = escape(&t.state_name),
        tid = t.task_id,
        eu = url(&t.execution_arn),
        en = escape(execution_name(&t.execution_arn)),
        age = age(now - w.scheduled_at.unwrap_or(t.created)),
        msg = json_block(&w.message),
    );
    if let Some(line) = w.approvals_line() {
        out.push_str(&format!("<p class=\"approvals\">{}</p>", escape(&line)));
    }
    if user.is_some_and(|u| w.voted(&u.name)) {
        out.push_str("<p class=\"muted\">You have answered; the others' answers are awaited.</p>");
    } else {
        out.push_str(&answer_form("/inbox/answer", &t.execution_arn, t.task_id, &w.fields, &[]));
    }
    out.push_str("</div>");
    out
}

/// The answer controls: a form when the task describes one, else approve/reject with a
/// comment, and a JSON answer for anything else. `hidden` adds fields (a signed link's).
pub fn answer_form(action: &str, execution: &str, task: i64, fields: &[Field], hidden: &[(&str, &str)]) -> String {
    let mut keep = format!(
        "<input type=\"hidden\" name=\"execution\" value=\"{}\"><input type=\"hidden\" name=\"task\" value=\"{task}\">",
        escape(execution)
    );
    for (k, v) in hidden {
        keep.push_str(&format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)));
    }
    let mut out = String::from("<div class=\"answer\">");
    if !fields.is_empty() {
        out.push_str(&format!(
            "<form method=\"post\" action=\"{action}\" class=\"answer-form\">{keep}\
             <input type=\"hidden\" name=\"decision\" value=\"form\">{}\
             <button class=\"primary\" type=\"submit\">Submit</button></form>",
            form::render(fields)
        ));
    } else {
        out.push_str(&format!(
            "<form method=\"post\" action=\"{action}\" class=\"decide\">{keep}\
             <div class=\"field\"><label>Comment <input type=\"text\" name=\"comment\" size=\"50\"></label></div>\
             <button class=\"primary\" name=\"decision\" value=\"approve\" type=\"submit\">Approve</button> \
             <button class=\"danger\" name=\"decision\" value=\"reject\" type=\"submit\">Reject</button></form>"
        ));
    }
    out.push_str(&format!(
        "<details><summary>Answer with JSON</summary><form method=\"post\" action=\"{action}\" class=\"json-answer\">{keep}\
         <input type=\"hidden\" name=\"decision\" value=\"json\">\
         <textarea name=\"output\" rows=\"4\">{{}}</textarea>\
         <button type=\"submit\">Send task success</button></form></details></div>"
    ));
    out
}

/// Why an answer was not taken.
pub enum Refusal {
    /// The input does not fit (a form field, the JSON): say which.
    Invalid(String),
    /// Nobody waits for this answer any more (answered, timed out, execution ended).
    Gone,
    /// This person has answered the task already (a vote counts once).
    AlreadyAnswered,
    Failed(String),
}

/// The task's output for a submitted answer, checked against its form.
pub fn decide(params: &HashMap<String, String>, fields: &[Field]) -> Result<TaskAnswer, Refusal> {
    let comment = params.get("comment").map(|c| c.trim()).filter(|c| !c.is_empty());
    let with_comment = |mut out: Map<String, Value>| {
        if let Some(c) = comment {
            out.insert("comment".into(), json!(c));
        }
        TaskAnswer::Success(Value::Object(out))
    };
    match params.get("decision").map(String::as_str) {
        Some("approve") => Ok(with_comment(Map::from_iter([("approved".to_owned(), json!(true))]))),
        Some("reject") => Ok(with_comment(Map::from_iter([("approved".to_owned(), json!(false))]))),
        Some("json") => {
            let text = params.get("output").map(String::as_str).unwrap_or("{}");
            if text.len() > 256 * 1024 {
                return Err(Refusal::Invalid("output: the output exceeds the maximum size of 262144 bytes".into()));
            }
            serde_json::from_str(text)
                .map(TaskAnswer::Success)
                .map_err(|e| Refusal::Invalid(format!("output: not valid JSON ({e})")))
        }
        Some("form") => form::validate(fields, params).map(TaskAnswer::Success).map_err(Refusal::Invalid),
        other => {
            Err(Refusal::Invalid(format!("decision: '{}' is not approve, reject, json or form", other.unwrap_or(""))))
        }
    }
}

/// Who answered, and from where: for the audit record.
pub struct Answerer {
    /// The signed-in user, or the person a signed link was made for; `None` when nobody
    /// signs in and the link names nobody.
    pub person: Option<String>,
    /// `inbox` or `link`.
    pub via: &'static str,
    pub from: Option<String>,
}

/// What became of an answer.
pub enum Delivered {
    /// It answered the task.
    Answered,
    /// It is a vote on a task that needs several approvals; the votes decide it in order.
    Voted,
}

/// Give the answer to the engine with its audit record (who, from where, what they saw, what
/// they answered), which the history keeps as `TaskAnswerRecorded`. `vote` is the decision of
/// an approve or reject: on a task with `BatonApprovals` it is counted as this person's vote.
pub async fn deliver(
    state: &SharedState,
    waiting: &Waiting,
    answer: TaskAnswer,
    vote: Option<bool>,
    who: Answerer,
) -> Result<Delivered, Refusal> {
    let t = &waiting.task;
    // Only Standard executions keep tasks, so a task's execution ARN always parses.
    let execution = ExecutionArn::parse(&t.execution_arn).map_err(|_| Refusal::Gone)?;
    let answered = match &answer {
        TaskAnswer::Success(output) => json!({"output": output}),
        TaskAnswer::Failure { error, cause } => json!({"error": error, "cause": cause}),
    };
    let mut audit = Map::new();
    audit.insert("answeredBy".into(), who.person.clone().map_or(Value::Null, Value::String));
    audit.insert("via".into(), json!(who.via));
    audit.insert("sourceIp".into(), who.from.clone().map_or(Value::Null, Value::String));
    audit.insert("stateName".into(), json!(t.state_name));
    audit.insert("taskId".into(), json!(t.task_id));
    audit.insert("shown".into(), json!(waiting.message));
    audit.insert("answer".into(), json!(answered.to_string()));
    if let Some(approve) = vote {
        audit.insert("decision".into(), json!(if approve { "approve" } else { "reject" }));
    }
    let result = match (waiting.approvals_needed, vote) {
        (Some(needed), Some(approve)) => {
            // Without a name every anonymous vote would be the same person's: one vote.
            let by = who.person.clone().unwrap_or_else(|| format!("anonymous ({})", who.via));
            audit.insert("answeredBy".into(), json!(by));
            match state.engine.vote_on_task(&execution, t.task_id, &by, approve, needed, audit).await {
                Ok(Vote::Counted | Vote::Queued) => Ok(Delivered::Voted),
                Ok(Vote::AlreadyVoted) => return Err(Refusal::AlreadyAnswered),
                Ok(Vote::NotWaiting) => return Err(Refusal::Gone),
                Err(e) => Err(e),
            }
        }
        _ => state.engine.answer_open_task(&execution, t.task_id, answer, audit).await.map(|()| Delivered::Answered),
    };
    match result {
        Ok(d) => Ok(d),
        Err(EngineError::TaskTimedOut) => Err(Refusal::Gone),
        Err(e) => Err(Refusal::Failed(e.to_string())),
    }
}

/// The decision of an approve or reject answer, for votes.
pub fn vote_of(params: &HashMap<String, String>) -> Option<bool> {
    match params.get("decision").map(String::as_str) {
        Some("approve") => Some(true),
        Some("reject") => Some(false),
        _ => None,
    }
}

/// The peer's address, when the server was started with connection info.
pub struct Peer(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let connected =
            parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
        let forwarded =
            parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).map(|f| format!(" (forwarded for {f})"));
        Ok(Peer(connected.map(|c| c + forwarded.as_deref().unwrap_or_default())))
    }
}

pub fn refusal_page(r: Refusal) -> Response {
    match r {
        Refusal::Invalid(m) => error_page(StatusCode::BAD_REQUEST, "The answer was not accepted", &m),
        Refusal::Gone => error_page(
            StatusCode::CONFLICT,
            "This task is no longer waiting",
            "It was answered already, timed out, or its execution ended. Nothing was changed.",
        ),
        Refusal::AlreadyAnswered => error_page(
            StatusCode::CONFLICT,
            "You have answered already",
            "Each person answers once. Nothing was changed.",
        ),
        Refusal::Failed(m) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "The answer could not be delivered", &m),
    }
}

pub async fn answer(
    State(state): State<SharedState>,
    Peer(from): Peer,
    user: Option<Extension<User>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let user = user.map(|Extension(u)| u);
    let execution = params.get("execution").cloned().unwrap_or_default();
    let Some(task_id) = params.get("task").and_then(|t| t.parse::<i64>().ok()) else {
        return refusal_page(Refusal::Invalid("task: missing or not a number".into()));
    };
    let task = match state.engine.console_view().task(&execution, task_id).await {
        Ok(Some(t)) if t.token_hash.is_some() => t,
        Ok(_) => return refusal_page(Refusal::Gone),
        Err(e) => return super::store_error(e),
    };
    let waiting = describe(&state, task).await;
    if !access::may_answer(user.as_ref(), &waiting.message, waiting.started_by.as_deref()) {
        tracing::warn!(execution, user = user.as_ref().map(|u| u.name.as_str()), "answer refused: not an assignee");
        return error_page(
            StatusCode::FORBIDDEN,
            "You may not answer this task",
            "It is assigned to someone else. Nothing was changed.",
        );
    }
    let answer = match decide(&params, &waiting.fields) {
        Ok(a) => a,
        Err(r) => return refusal_page(r),
    };
    if user.as_ref().is_some_and(|u| waiting.approvals_needed.is_some() && waiting.voted(&u.name)) {
        return refusal_page(Refusal::AlreadyAnswered);
    }
    let who = Answerer { person: user.as_ref().map(|u| u.name.clone()), via: "inbox", from };
    let delivered = match deliver(&state, &waiting, answer, vote_of(&params), who).await {
        Ok(d) => d,
        Err(r) => return refusal_page(r),
    };
    tracing::info!(
        execution,
        state = waiting.task.state_name,
        user = user.as_ref().map(|u| u.name.as_str()),
        "task answered from the inbox"
    );
    let sent = match delivered {
        Delivered::Answered => "was sent",
        Delivered::Voted => "was recorded; the task goes on once enough people have answered",
    };
    page(
        "Answered",
        &format!(
            "<h1>Answered</h1><p class=\"ok\">Your answer to <b>{}</b> {sent}.</p>\
             <p><a href=\"/execution?arn={}\">See the execution</a> · <a href=\"/inbox\">Back to the inbox</a></p>",
            escape(&waiting.task.state_name),
            url(&execution)
        ),
    )
}
