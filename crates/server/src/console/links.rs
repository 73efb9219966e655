//! The pages behind signed task links (`/link/SIGNED`, made by [`engine::links`]). GET only
//! shows what the link would do (mail scanners follow GET links); POST acts. A link that was
//! changed, has expired, or whose task is no longer waiting shows a page that says so and
//! changes nothing.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use engine::clock::now_ms;
use engine::links::{LinkAction, LinkClaim, LinkError};

use serde_json::Value;

use super::access;
use super::html::{date, error_page, escape, json_block, page};
use super::inbox::{self, Refusal, Waiting};
use crate::SharedState;

/// The link's claim and its task, or the page that explains why there is none.
async fn open(state: &SharedState, signed: &str) -> Result<(LinkClaim, Waiting), Response> {
    let Some(signer) = &state.engine.config().links else {
        return Err(error_page(StatusCode::NOT_FOUND, "Links are off", "This server does not sign task links."));
    };
    let claim = match signer.verify(signed, now_ms()) {
        Ok(c) => c,
        Err(LinkError::Tampered) => {
            tracing::warn!("a task link with a bad signature was refused");
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This link is not valid",
                "It was changed, or it was not made by this server. Nothing was changed.",
            ));
        }
        Err(LinkError::Expired(at)) => {
            return Err(error_page(
                StatusCode::GONE,
                "This link has expired",
                &format!("It was valid until {}. Nothing was changed.", date(at)),
            ))
        }
    };
    let task = match state.engine.console_view().task(&claim.execution_arn, claim.task_id).await {
        Ok(Some(t)) if t.token_hash.is_some() => t,
        Ok(_) => return Err(inbox::refusal_page(Refusal::Gone)),
        Err(e) => return Err(super::store_error(e)),
    };
    let waiting = inbox::describe(state, task).await;
    if let Some(person) = claim.who.as_deref().map(|w| access::person(state, w)) {
        let message: Value = serde_json::from_str(&waiting.message).unwrap_or(Value::Null);
        if access::excluded(&person, &message, waiting.started_by.as_deref()) {
            tracing::warn!(
                execution = claim.execution_arn,
                person = person.name,
                "a link for an excluded person was refused"
            );
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "You may not answer this task",
                "This task excludes you (separation of duties). Nothing was changed.",
            ));
        }
        if waiting.approvals_needed.is_some() && waiting.voted(&person.name) {
            return Err(inbox::refusal_page(Refusal::AlreadyAnswered));
        }
    }
    Ok((claim, waiting))
}

fn verb(action: LinkAction) -> &'static str {
    match action {
        LinkAction::Approve => "Approve",
        LinkAction::Reject => "Reject",
        LinkAction::Answer => "Answer",
    }
}

/// GET: what the link would do, and a button (or the task's form) that does it.
pub async fn show(State(state): State<SharedState>, Path(signed): Path<String>) -> Response {
    let (claim, w) = match open(&state, &signed).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let action = format!("/link/{}", escape(&signed));
    let mut body = format!(
        "<h1>{v}: {s}</h1><p class=\"muted\">Execution {e} · deadline {d}{f}</p>{a}\
         <details open><summary>Message</summary>{m}</details>",
        v = verb(claim.action),
        s = escape(&w.task.state_name),
        e = escape(&claim.execution_arn),
        d = w.deadline.map(date).unwrap_or_else(|| "none".into()),
        f = claim.who.as_deref().map(|p| format!(" · for {}", escape(p))).unwrap_or_default(),
        a = w.approvals_line().map(|l| format!("<p class=\"approvals\">{}</p>", escape(&l))).unwrap_or_default(),
        m = json_block(&w.message),
    );
    match claim.action {
        LinkAction::Answer => {
            body.push_str(&inbox::answer_form(&action, &claim.execution_arn, claim.task_id, &w.fields, &[]))
        }
        decided => {
            let (class, value) =
                if decided == LinkAction::Approve { ("primary", "approve") } else { ("danger", "reject") };
            body.push_str(&format!(
                "<form method=\"post\" action=\"{action}\" class=\"confirm\"><input type=\"hidden\" name=\"decision\" value=\"{value}\">\
                 <div class=\"field\"><label>Comment <input type=\"text\" name=\"comment\" size=\"50\"></label></div>\
                 <button class=\"{class}\" type=\"submit\">{v}</button></form>",
                v = verb(decided)
            ));
        }
    }
    page(verb(claim.action), &body)
}

/// POST: act, once. An approve or reject link only approves or rejects, whatever is posted.
pub async fn act(
    State(state): State<SharedState>,
    inbox::Peer(from): inbox::Peer,
    Path(signed): Path<String>,
    Form(mut params): Form<HashMap<String, String>>,
) -> Response {
    let (claim, w) = match open(&state, &signed).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    match claim.action {
        LinkAction::Approve => {
            params.insert("decision".into(), "approve".into());
        }
        LinkAction::Reject => {
            params.insert("decision".into(), "reject".into());
        }
        LinkAction::Answer => {}
    }
    let answer = match inbox::decide(&params, &w.fields) {
        Ok(a) => a,
        Err(r) => return inbox::refusal_page(r),
    };
    let person = claim.who.as_deref().map(|p| access::person(&state, p).name);
    let who = inbox::Answerer { person, via: "link", from };
    let delivered = match inbox::deliver(&state, &w, answer, inbox::vote_of(&params), who).await {
        Ok(d) => d,
        Err(r) => return inbox::refusal_page(r),
    };
    tracing::info!(execution = claim.execution_arn, state = w.task.state_name, "task answered through a signed link");
    let what = match delivered {
        inbox::Delivered::Answered => "was sent",
        inbox::Delivered::Voted => "was recorded; the task goes on once enough people have answered",
    };
    page(
        "Thank you",
        &format!("<h1>Thank you</h1><p class=\"ok\">Your answer to <b>{}</b> {what}.</p>", escape(&w.task.state_name)),
    )
}
