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
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use engine::clock::now_ms;
use engine::config::ConsoleUser;
use engine::links::{pbkdf2_sha256, same};
use engine::people::{find_member as find, names};
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

/// When `name` last signed out (kept by the engine, so a sign-out holds across restarts and on
/// every node); `Err` when the store cannot say (then no session is trusted).
async fn signed_out_at(state: &SharedState, name: &str) -> Result<Option<i64>, engine::EngineError> {
    state.engine.console_view().signed_out_at(name).await
}

/// The person a session cookie names, if it is signed, unexpired, and was issued after their
/// last sign-out.
pub async fn session_user(state: &SharedState, headers: &HeaderMap) -> Option<User> {
    let signer = state.engine.config().links.as_ref()?;
    let cookie = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        c.split(';').map(str::trim).find_map(|kv| kv.strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')))
    })?;
    let (body, sig) = cookie.rsplit_once('.')?;
    if !signer.check_mac(&format!("session:{body}"), sig) {
        return None;
    }
    let (name, expires) = body.rsplit_once('.')?;
    let expires = expires.parse::<i64>().ok()?;
    if expires <= now_ms() {
        return None;
    }
    let u = users(state).get(name)?;
    let issued = expires - SESSION_MS;
    match signed_out_at(state, name).await {
        Ok(Some(signed_out)) if issued <= signed_out => return None,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot read sign-outs; the session is not trusted");
            return None;
        }
    }
    Some(User { name: name.to_owned(), email: u.email.clone(), groups: u.groups.clone() })
}

/// Who makes an API request: the signed-in console user (the console's own calls), else the
/// user whose `access_keys` hold the request's access key id, else that key id.
pub async fn caller(state: &SharedState, headers: &HeaderMap) -> Option<String> {
    if let Some(user) = session_user(state, headers).await {
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
    match session_user(&state, req.headers()).await {
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

/// Only paths on this site: never send a person elsewhere after signing in.
fn safe_next(next: Option<&String>) -> String {
    next.filter(|n| same_site_path(n)).cloned().unwrap_or_else(|| "/".into())
}

/// Whether `next` is a path on this site however a browser reads it: one leading `/`, no
/// second `/` or `\` after it (`//host`, `/\host` are other sites), no backslash anywhere
/// (browsers read it as `/`), only visible ASCII (browsers drop tabs and newlines; anything
/// else is percent-encoded by a real link), and the same once percent-decoded, in case
/// something decodes it again.
pub fn same_site_path(next: &str) -> bool {
    let local = |p: &str| p.strip_prefix('/').is_some_and(|r| !r.starts_with('/')) && !p.contains('\\');
    let decoded = percent_encoding::percent_decode_str(next).decode_utf8_lossy();
    local(next)
        && next.bytes().all(|b| b.is_ascii_graphic())
        && local(&decoded)
        && !decoded.chars().any(char::is_control)
}

pub async fn login_form(axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>) -> Response {
    login_page(StatusCode::OK, &safe_next(q.get("next")), None)
}

/// Failed sign-ins counted per user name and per client address; past a limit within the
/// window, sign-in is refused without looking at the password until the window has passed.
/// Bounded: at most [`THROTTLE_KEYS`] names and addresses are remembered.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

/// How long a failed sign-in counts.
const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed sign-ins within the window after which a user name is refused.
const FAILURES_PER_NAME: usize = 5;
/// Failed sign-ins within the window after which a client address is refused.
const FAILURES_PER_ADDRESS: usize = 20;
/// Names and addresses remembered at most (the oldest are forgotten first).
const THROTTLE_KEYS: usize = 10_000;

impl SignInThrottle {
    /// When the first of `keys` (with their limits) may try again, if any is over its limit.
    fn blocked_until(&self, keys: &[(String, usize)], now: i64) -> Option<i64> {
        let failures = self.failures.lock().expect("sign-in throttle lock");
        keys.iter()
            .filter_map(|(key, limit)| {
                let times = failures.get(key)?;
                let recent: Vec<i64> = times.iter().copied().filter(|t| now - t < THROTTLE_WINDOW_MS).collect();
                (recent.len() >= *limit).then(|| recent[recent.len() - limit] + THROTTLE_WINDOW_MS)
            })
            .max()
    }

    fn failed(&self, keys: &[(String, usize)], now: i64) {
        let mut failures = self.failures.lock().expect("sign-in throttle lock");
        if failures.len() >= THROTTLE_KEYS {
            failures.retain(|_, times| times.last().is_some_and(|t| now - t < THROTTLE_WINDOW_MS));
            while failures.len() >= THROTTLE_KEYS {
                let oldest = failures.iter().min_by_key(|(_, t)| t.last().copied()).map(|(k, _)| k.clone());
                match oldest {
                    Some(key) => failures.remove(&key),
                    None => break,
                };
            }
        }
        for (key, limit) in keys {
            let times = failures.entry(key.clone()).or_default();
            times.retain(|t| now - t < THROTTLE_WINDOW_MS);
            times.push(now);
            let keep = times.len().saturating_sub(*limit);
            times.drain(..keep);
        }
    }

    fn succeeded(&self, name_key: &str) {
        self.failures.lock().expect("sign-in throttle lock").remove(name_key);
    }
}

/// A hash no password matches, costing what the configured users' hashes cost: an unknown
/// name takes as long to refuse as a wrong password, so names do not leak by timing.
fn dummy_hash(state: &SharedState) -> String {
    let iterations = users(state)
        .values()
        .filter_map(|u| u.password.split('$').nth(1).and_then(|i| i.parse::<u32>().ok()))
        .max()
        .unwrap_or(1);
    format!("pbkdf2-sha256${iterations}$00000000000000000000000000000000${}", "00".repeat(32))
}

pub async fn login(
    State(state): State<SharedState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let next = safe_next(f.get("next"));
    let name = f.get("user").map(|s| s.trim()).unwrap_or_default().to_owned();
    let password = f.get("password").cloned().unwrap_or_default();
    let address = peer.map(|p| p.0 .0.ip().to_string()).unwrap_or_default();
    let name_key = format!("user:{name}");
    let keys = [(name_key.clone(), FAILURES_PER_NAME), (format!("address:{address}"), FAILURES_PER_ADDRESS)];
    let now = now_ms();
    if let Some(until) = state.sign_ins.blocked_until(&keys, now) {
        tracing::info!(user = name, address, "console sign-in refused: too many failed attempts");
        let minutes = (until - now).max(0) / 60_000 + 1;
        let message = format!("Too many failed sign-ins. Try again in {minutes} minute(s).");
        return login_page(StatusCode::TOO_MANY_REQUESTS, &next, Some(&message));
    }
    let Some(signer) = state.engine.config().links.as_ref() else {
        return login_page(StatusCode::UNAUTHORIZED, &next, Some("Unknown user or wrong password."));
    };
    let user = users(&state).get(&name);
    // The same work for a known and an unknown name, off the async workers (PBKDF2 takes
    // as long as its iteration count makes it).
    let hash = user.map_or_else(|| dummy_hash(&state), |u| u.password.clone());
    let matches = tokio::task::spawn_blocking(move || password_matches(&hash, &password)).await.unwrap_or(false);
    if user.is_none() || !matches {
        state.sign_ins.failed(&keys, now);
        let why = if user.is_none() { "unknown user" } else { "wrong password" };
        tracing::info!(user = name, address, "console sign-in refused: {why}");
        return login_page(StatusCode::UNAUTHORIZED, &next, Some("Unknown user or wrong password."));
    }
    state.sign_ins.succeeded(&name_key);
    let name = name.as_str();
    let body = format!("{name}.{}", now_ms() + SESSION_MS);
    let cookie = format!(
        "{COOKIE}={body}.{}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        signer.mac(&format!("session:{body}")),
        SESSION_MS / 1000
    );
    tracing::info!(user = name, "signed in to the console");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

/// Sign out: the person's sessions end in the store, so a copy of the cookie is refused too
/// (every session of theirs, on every device, ends).
pub async fn logout(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if let Some(user) = session_user(&state, &headers).await {
        if let Err(e) = state.engine.record_sign_out(&user.name, now_ms()).await {
            tracing::warn!(error = %e, user = user.name, "cannot record a sign-out");
            return super::html::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Storage error",
                "The sign-out could not be recorded; try again.",
            );
        }
        tracing::info!(user = user.name, "signed out of the console");
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

/// `html` with the task tokens of tasks `user` may not answer replaced by a mark: a token
/// answers its task through the API, so a page must not hand it to people the task keeps
/// out. A token is 43 base64url characters (32 random bytes); every such run on the page is
/// looked up by its hash, so tokens are found wherever they show (history, inputs, outputs).
pub async fn hide_tokens(state: &SharedState, user: &User, html: String) -> String {
    let mut hidden = Vec::new();
    for candidate in token_candidates(&html) {
        // Text of a token's length that no token can be is no token.
        let Ok(token) = engine::TaskToken::parse(&candidate) else { continue };
        let task = match state.engine.console_view().task_by_token(&token).await {
            Ok(Some(task)) => task,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "looking up a task token; hiding it");
                hidden.push(candidate);
                continue;
            }
        };
        let waiting = super::inbox::describe(state, task).await;
        if !may_answer(Some(user), &waiting.message, waiting.started_by.as_deref()) {
            hidden.push(candidate);
        }
    }
    hidden.iter().fold(html, |page, token| page.replace(token.as_str(), "[task token hidden]"))
}

/// Runs of exactly 43 base64url characters: what a task token looks like.
fn token_candidates(text: &str) -> std::collections::BTreeSet<String> {
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = text.as_bytes();
    let mut found = std::collections::BTreeSet::new();
    let mut start = 0;
    for i in 0..=bytes.len() {
        if i < bytes.len() && is_b64(bytes[i]) {
            continue;
        }
        if i - start == 43 {
            found.insert(text[start..i].to_owned());
        }
        start = i + 1;
    }
    found
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
    fn token_candidates_are_whole_43_character_runs() {
        let token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
        assert_eq!(token.len(), 43);
        let page = format!("<td>&quot;{token}&quot;</td> {token}x {token}");
        assert_eq!(token_candidates(&page).into_iter().collect::<Vec<_>>(), vec![token.to_owned()]);
        assert!(token_candidates(&format!("{token}a")).is_empty());
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
