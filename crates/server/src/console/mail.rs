//! The Mail page (`/mail`): the mail Baton sent, newest first (recipient, subject, when, the
//! text with its links made clickable), read from [`engine::sent_mail`]. With it an approval
//! flow can be tried without a mail server: without `[smtp]` the mail is kept here only. With
//! console users, each person sees only the mail sent to their own address, since its links
//! act in the recipient's name.

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use engine::sent_mail::{Mail, KEEP};

use super::access::User;
use super::html::{date, escape, page};
use super::store_error;
use crate::SharedState;

pub async fn list(State(state): State<SharedState>, user: Option<Extension<User>>) -> Response {
    let user = user.map(|Extension(u)| u);
    let mail = match state.topics.sent_mail().newest(KEEP).await {
        Ok(m) => m,
        Err(e) => return store_error(e),
    };
    let shown: Vec<&Mail> = mail.iter().filter(|m| user.as_ref().is_none_or(|u| addressed_to(m, u))).collect();
    let mut body = format!(
        "<h1>Mail</h1><p class=\"muted\">The newest {KEEP} emails Baton sent: topics' email subscriptions and \
         tasks' reminders{}. Without <code>[smtp]</code> in baton.toml they are kept here and not sent.</p>",
        if user.is_some() { ", those sent to your address" } else { "" }
    );
    if shown.is_empty() {
        body.push_str("<p class=\"muted\">No mail yet.</p>");
        return page("Mail", &body);
    }
    for m in shown {
        body.push_str(&format!(
            "<div class=\"card mail\"><p><b>{subject}</b></p><p class=\"muted\">To {to} · {at}{topic} · {how}</p>\
             <pre class=\"mail-text\">{text}</pre></div>",
            subject = escape(&m.subject),
            to = escape(&m.to),
            at = date(m.at),
            topic = m.topic.as_deref().map(|t| format!(" · topic {}", escape(t))).unwrap_or_default(),
            how = if m.through_smtp { "sent through [smtp]" } else { "kept here (no [smtp])" },
            text = linked(&m.text),
        ));
    }
    page("Mail", &body)
}

/// Whether a mail went to this person: their email address is its recipient (`Name
/// <address>` too), whatever the letter case.
fn addressed_to(mail: &Mail, user: &User) -> bool {
    let to = mail.to.rsplit_once('<').map_or(mail.to.as_str(), |(_, a)| a.trim_end_matches('>')).trim();
    user.email.as_deref().is_some_and(|mine| mine.trim().eq_ignore_ascii_case(to))
}

/// Text made safe for HTML, with every `http://` and `https://` address a link (trailing
/// punctuation of the sentence around it left out).
fn linked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://"].iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&escape(&rest[..start]));
        let tail = &rest[start..];
        let end = tail.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"')).unwrap_or(tail.len());
        let address = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        out.push_str(&format!("<a href=\"{a}\">{a}</a>", a = escape(address)));
        rest = &tail[address.len()..];
    }
    out.push_str(&escape(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_made_clickable_and_the_rest_escaped() {
        assert_eq!(
            linked("Approve: http://h:1/link/a.b?x=1&y=2. <b>"),
            "Approve: <a href=\"http://h:1/link/a.b?x=1&amp;y=2\">http://h:1/link/a.b?x=1&amp;y=2</a>. &lt;b&gt;"
        );
        assert_eq!(linked("(see https://x.org/a)"), "(see <a href=\"https://x.org/a\">https://x.org/a</a>)");
        assert_eq!(linked("no links"), "no links");
    }

    #[test]
    fn a_person_sees_the_mail_sent_to_their_address() {
        let mail = |to: &str| Mail {
            to: to.into(),
            subject: "s".into(),
            text: "t".into(),
            at: 0,
            topic: None,
            through_smtp: false,
        };
        let ana = User { name: "ana".into(), email: Some("Ana@Example.com".into()), groups: vec![] };
        assert!(addressed_to(&mail("ana@example.com"), &ana));
        assert!(addressed_to(&mail("Ana <ana@example.com>"), &ana));
        assert!(!addressed_to(&mail("bob@example.com"), &ana));
        assert!(!addressed_to(&mail("ana@example.com"), &User { email: None, ..ana }));
    }
}
