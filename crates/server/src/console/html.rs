//! HTML building blocks for the console: escaping, the page frame, dates, JSON blocks. The
//! stylesheet and script are compiled into the binary, so the console needs no build step
//! and no files next to it.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

const CSS: &str = include_str!("console.css");
const JS: &str = include_str!("console.js");

tokio::task_local! {
    /// Who is signed in while a page is made; unset when the console has no users (then
    /// nobody signs in or out).
    static SIGNED_IN: String;
}

/// Make a page (run a handler) for the signed-in `person`: its header names them and offers
/// "Sign out".
pub async fn as_signed_in<F: std::future::Future>(person: String, handler: F) -> F::Output {
    SIGNED_IN.scope(person, handler).await
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query-string component.
pub fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A whole page: header with the console's sections, then `body`.
pub fn page(title: &str, body: &str) -> Response {
    page_with_status(StatusCode::OK, title, body)
}

pub fn page_with_status(status: StatusCode, title: &str, body: &str) -> Response {
    let account = SIGNED_IN
        .try_with(|person| {
            format!(
                "<span class=\"account\">{}</span><form method=\"post\" action=\"/logout\">\
                 <button type=\"submit\" style=\"padding:2px 10px\">Sign out</button></form>",
                escape(person)
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Baton</title><style>{CSS}</style><script>{JS}</script></head><body>\
         <header><a class=\"brand\" href=\"/\">Baton</a><a href=\"/\">State machines</a>\
         <a href=\"/inbox\">Inbox</a><a href=\"/mail\">Mail</a>{account}</header><main>{body}</main></body></html>",
        t = escape(title),
    );
    (status, [("cache-control", "no-store")], Html(html)).into_response()
}

/// A page that says what went wrong, with a status code to match.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page_with_status(status, title, &format!("<h1>{}</h1><p class=\"error\">{}</p>", escape(title), escape(message)))
}

/// Milliseconds since the epoch as a UTC date a person reads.
pub fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A duration in the largest unit that fits.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

/// JSON text pretty-printed in a `<pre>` (as is when it does not parse).
pub fn json_block(text: &str) -> String {
    let pretty = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned());
    format!("<pre>{}</pre>", escape(&pretty))
}

pub fn badge(status: &str) -> String {
    format!("<span class=\"badge {s}\">{s}</span>", s = escape(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(url("arn:aws:states:x/y z"), "arn%3Aaws%3Astates%3Ax%2Fy%20z");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5_000), "5s");
        assert_eq!(age(125_000), "2m 5s");
        assert_eq!(age(7_380_000), "2h 3m");
        assert_eq!(age(90_000_000), "1d 1h");
    }
}
