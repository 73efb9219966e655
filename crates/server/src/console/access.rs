//! Who uses the console. With `[console.users.NAME]` in baton.toml, every console page needs a
//! signed-in person (a cookie signed with the server's key, for 12 hours); without users the
//! console is open, as the API is. A task can name who may answer it, in what it sends:
//! `"BatonAssignee"` (a user name or email address, or a list) and `"BatonGroup"` (a group or a
//! list), and `"BatonExclude"` who may not, and `"BatonExcludeStarter": true` keeps out
//! whoever started the execution (separation of duties); the inbox shows a person only the
//! tasks they may answer and refuses the others. Who started an execution is known when they
//! started it from the console, or through the API with an access key listed in their
//! `access_keys`.
//! Signed links need no sign-in: the link itself is the permission. A link made for one
//! person (`baton:link:approve:PERSON`) is that person's answer, and is refused when the task
//! excludes them.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use engine::functions::ConsoleUser;
use engine::links::{pbkdf2_sha256, same};
use engine::people::{find_member as find, names};
use engine::service::now_ms;
use serde_json::Value;

use super::html::{escape, page_with_status};
use crate::SharedState;

const COOKIE: &str = "baton_session";
const SESSION_MS: i64 = 12 * 3600 * 1000;

/// The signed-in person.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

fn users(state: &SharedState) -> &std::collections::BTreeMap<String, ConsoleUser> {
    &state.engine.config().functions.console.users
}

/// Whether `password` matches a `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` hash.
pub fn password_matches(hash: &str, password: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let [scheme, iterations, salt, expected] = parts[..] else { return false };
    let hex = |s: &str| -> Option<Vec<u8>> {
        (s.len().is_multiple_of(2))
            .then(|| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect())
            .flatten()
    };
    let (Ok(iterations), Some(salt), Some(expected)) = (iterations.parse::<u32>(), hex(salt), hex(expected)) else {
        return false;
    };
    scheme == "pbkdf2-sha256"
        && (1..=10_000_000).contains(&iterations)
        && same(&pbkdf2_sha256(password.as_bytes(), &salt, iterations), &expected)
}

fn session_user(state: &SharedState, headers: &HeaderMap) -> Option<User> {
    let signer = state.engine.config().links.as_ref()?;
    let cookie = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        c.split(';').map(str::trim).find_map(|kv| kv.strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')))
    })?;
    let (body, sig) = cookie.rsplit_once('.')?;
    if !signer.check_mac(&format!("session:{body}"), sig) {
        return None;
    }
    let (name, expires) = body.rsplit_once('.')?;
    if expires.parse::<i64>().ok()? <= now_ms() {
        return None;
    }
    let u = users(state).get(name)?;
    Some(User { name: name.to_owned(), email: u.email.clone(), groups: u.groups.clone() })
}

/// Who makes an API request: the signed-in console user (the console's own calls), else the
/// user whose `access_keys` hold the request's access key id, else that key id.
pub fn caller(state: &SharedState, headers: &HeaderMap) -> Option<String> {
    if let Some(user) = session_user(state, headers) {
        return Some(user.name);
    }
    let key = crate::api::access_key_id(headers)?;
    let owner = users(state).iter().find(|(_, u)| u.access_keys.iter().any(|k| k == key)).map(|(name, _)| name.clone());
    Some(owner.unwrap_or_else(|| key.to_owned()))
}

/// Console pages need a signed-in person when users are configured.
pub async fn require_user(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    if users(&state).is_empty() {
        return next.run(req).await;
    }
    match session_user(&state, req.headers()) {
        Some(user) => {
            let name = user.name.clone();
            req.extensions_mut().insert(user);
            super::html::as_signed_in(name, next.run(req)).await
        }
        None if req.method() == axum::http::Method::GET => {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            Redirect::to(&format!("/login?next={}", super::html::url(target))).into_response()
        }
        None => page_with_status(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            "<h1>Sign in first</h1><p><a href=\"/login\">Sign in</a></p>",
        ),
    }
}

fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    page_with_status(
        status,
        "Sign in",
        &format!(
            "<h1>Sign in</h1>{e}<form method=\"post\" action=\"/login\" class=\"card\" style=\"max-width:360px\">\
             <input type=\"hidden\" name=\"next\" value=\"{n}\">\
             <div class=\"field\"><label for=\"user\">User</label><input type=\"text\" id=\"user\" name=\"user\" autocomplete=\"username\"></div>\
             <div class=\"field\"><label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\"></div>\
             <button class=\"primary\" type=\"submit\">Sign in</button></form>",
            e = error.map(|m| format!("<p class=\"error\">{}</p>", escape(m))).unwrap_or_default(),
            n = escape(next),
        ),
    )
}

/// Only local paths: never send a person elsewhere after signing in.
fn safe_next(next: Option<&String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//")).cloned().unwrap_or_else(|| "/".into())
}

pub async fn login_form(axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>) -> Response {
    login_page(StatusCode::OK, &safe_next(q.get("next")), None)
}

pub async fn login(State(state): State<SharedState>, Form(f): Form<HashMap<String, String>>) -> Response {
    let next = safe_next(f.get("next"));
    let name = f.get("user").map(|s| s.trim()).unwrap_or_default();
    let password = f.get("password").map(String::as_str).unwrap_or_default();
    let (Some(user), Some(signer)) = (users(&state).get(name), state.engine.config().links.as_ref()) else {
        tracing::info!(user = name, "console sign-in refused: unknown user");
        return login_page(StatusCode::UNAUTHORIZED, &next, Some("Unknown user or wrong password."));
    };
    if !password_matches(&user.password, password) {
        tracing::info!(user = name, "console sign-in refused: wrong password");
        return login_page(StatusCode::UNAUTHORIZED, &next, Some("Unknown user or wrong password."));
    }
    let body = format!("{name}.{}", now_ms() + SESSION_MS);
    let cookie = format!(
        "{COOKIE}={body}.{}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        signer.mac(&format!("session:{body}")),
        SESSION_MS / 1000
    );
    tracing::info!(user = name, "signed in to the console");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

pub async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

/// Who a task's message says may answer it: (people, groups); both empty means anyone.
pub fn assignment(message: &Value) -> (Vec<String>, Vec<String>) {
    (names(message, "BatonAssignee"), names(message, "BatonGroup"))
}

/// The person a name stands for: the configured user with that name or email address, else
/// someone known only by it.
pub fn person(state: &SharedState, name: &str) -> User {
    let users = users(state);
    let found = users.get_key_value(name).or_else(|| users.iter().find(|(_, u)| u.email.as_deref() == Some(name)));
    match found {
        Some((n, u)) => User { name: n.clone(), email: u.email.clone(), groups: u.groups.clone() },
        None => User { name: name.to_owned(), email: name.contains('@').then(|| name.to_owned()), groups: Vec::new() },
    }
}

/// How many approvals a task needs (`"BatonApprovals": N` in its message), if it counts them.
pub fn approvals_needed(message: &Value) -> Option<u32> {
    find(message, "BatonApprovals").and_then(Value::as_u64).map(|n| n.clamp(1, 1000) as u32)
}

/// Whether the task keeps `user` out: `"BatonExclude"` (a user name or address, or a list)
/// names them, or `"BatonExcludeStarter": true` and they started the execution. Exclusion
/// wins over assignment: separation of duties, e.g. the requester may not approve their own
/// request.
pub fn excluded(user: &User, message: &Value, started_by: Option<&str>) -> bool {
    let is = |p: &str| p == user.name || user.email.as_deref() == Some(p);
    names(message, "BatonExclude").iter().any(|p| is(p))
        || (find(message, "BatonExcludeStarter") == Some(&Value::Bool(true)) && started_by.is_some_and(is))
}

/// Whether `user` may answer a task with this message, of an execution `started_by` started.
/// Anyone may when nobody signs in.
pub fn may_answer(user: Option<&User>, message: &str, started_by: Option<&str>) -> bool {
    let Some(user) = user else { return true };
    let message: Value = serde_json::from_str(message).unwrap_or(Value::Null);
    let is = |p: &String| *p == user.name || user.email.as_deref() == Some(p.as_str());
    if excluded(user, &message, started_by) {
        return false;
    }
    let (people, groups) = assignment(&message);
    if people.is_empty() && groups.is_empty() {
        return true;
    }
    people.iter().any(is) || groups.iter().any(|g| user.groups.contains(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_check_against_pbkdf2_hashes() {
        // python3 -c "import hashlib;print(hashlib.pbkdf2_hmac('sha256',b'secret',bytes.fromhex('0011'),1000).hex())"
        let hash = "pbkdf2-sha256$1000$0011$e50ec0e1a5e8a8ac7db96c0a1a8d0b4e2e9e0f9b8c4d5b0f3a1c9e2d7b6a5f40";
        assert!(!password_matches(hash, "wrong"));
        assert!(!password_matches("plain", "plain"));
        let salt = [0u8, 0x11];
        let real: String = pbkdf2_sha256(b"secret", &salt, 1000).iter().map(|b| format!("{b:02x}")).collect();
        assert!(password_matches(&format!("pbkdf2-sha256$1000$0011${real}"), "secret"));
    }

    #[test]
    fn tasks_limit_who_answers() {
        let ana = User { name: "ana".into(), email: Some("ana@example.com".into()), groups: vec!["teachers".into()] };
        let bob = User { name: "bob".into(), email: None, groups: vec![] };
        let to_ana = r#"{"Payload": {"BatonAssignee": "ana@example.com"}}"#;
        let to_teachers = r#"{"BatonGroup": ["teachers"]}"#;
        assert!(may_answer(Some(&ana), to_ana, None) && may_answer(Some(&ana), to_teachers, None));
        assert!(!may_answer(Some(&bob), to_ana, None) && !may_answer(Some(&bob), to_teachers, None));
        assert!(may_answer(Some(&bob), "{}", None));
        assert!(may_answer(None, to_ana, None));
        let not_by_ana = r#"{"BatonGroup": "teachers", "BatonExclude": ["ana"]}"#;
        assert!(!may_answer(Some(&ana), not_by_ana, None));
        assert!(!may_answer(Some(&ana), r#"{"BatonExclude": "ana@example.com"}"#, None));
        assert!(may_answer(Some(&bob), r#"{"BatonExclude": "ana"}"#, None));
    }

    #[test]
    fn the_starter_may_be_kept_out() {
        let ana = User { name: "ana".into(), email: Some("ana@example.com".into()), groups: vec!["teachers".into()] };
        let task = r#"{"BatonGroup": "teachers", "BatonExcludeStarter": true}"#;
        assert!(!may_answer(Some(&ana), task, Some("ana")));
        assert!(!may_answer(Some(&ana), task, Some("ana@example.com")));
        assert!(may_answer(Some(&ana), task, Some("bob")));
        assert!(may_answer(Some(&ana), task, None));
        assert!(may_answer(Some(&ana), r#"{"BatonExcludeStarter": false}"#, Some("ana")));
        assert_eq!(approvals_needed(&serde_json::json!({"Payload": {"BatonApprovals": 2}})), Some(2));
        assert_eq!(approvals_needed(&serde_json::json!({"BatonApprovals": "2"})), None);
    }
}
