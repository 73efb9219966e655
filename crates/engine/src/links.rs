//! Signed links for answering a task without the token: approve, reject, or open its answer
//! page. A Task asks for them with marker strings anywhere in what it sends (its Parameters,
//! an SNS Message, a Lambda Payload, an activity's input):
//!
//! - `baton:link:approve`, `baton:link:reject`, `baton:link:answer`
//! - `baton:link:approve:PERSON` (and the others): a link for one person (a user name or an
//!   email address), who is then the one answering: their own vote when the task needs
//!   several approvals (`BatonApprovals`), and refused if the task excludes them.
//!
//! They are plain strings, so a definition stays valid for AWS too, and they work inside
//! `States.Format`. When the engine hands the task out (the initial call, or an activity
//! worker's poll) it replaces each marker with a URL signed for that execution and task. The
//! history keeps the markers, never the URLs.
//!
//! A link is `BASE/link/PAYLOAD.SIGNATURE`: the payload (execution, task, action, expiry) in
//! base64url, the signature HMAC-SHA256 over it with a key kept in the data folder. A link
//! expires with its task's `TimeoutSeconds`, and is single use because the task is answered
//! once (the answer goes through the same path as SendTaskSuccess).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a link may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAction {
    Approve,
    Reject,
    /// Open the task's answer page (its form, or approve and reject).
    Answer,
}

impl LinkAction {
    pub const ALL: [LinkAction; 3] = [LinkAction::Approve, LinkAction::Reject, LinkAction::Answer];

    pub fn marker(self) -> &'static str {
        match self {
            LinkAction::Approve => "baton:link:approve",
            LinkAction::Reject => "baton:link:reject",
            LinkAction::Answer => "baton:link:answer",
        }
    }
}

/// What a valid link names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaim {
    #[serde(rename = "e")]
    pub execution_arn: String,
    #[serde(rename = "t")]
    pub task_id: i64,
    #[serde(rename = "a")]
    pub action: LinkAction,
    /// Milliseconds since the epoch.
    #[serde(rename = "x")]
    pub expires: i64,
    /// The person the link was made for, if any.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not valid: it was changed or was not made by this server")]
    Tampered,
    #[error("the link expired at {0}")]
    Expired(i64),
}

/// Makes and checks signed links.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
    /// The server's URL as people reach it, without a trailing slash.
    base_url: String,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Equal without leaking where they differ through timing.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl LinkSigner {
    pub fn new(key: Vec<u8>, base_url: &str) -> Self {
        Self { key, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    /// The server's URL as people reach it, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A signature of `text` with this server's key (sign-in cookies use it too).
    pub fn mac(&self, text: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac(&self.key, text.as_bytes()))
    }

    /// Whether `signature` is [`LinkSigner::mac`] of `text`.
    pub fn check_mac(&self, text: &str, signature: &str) -> bool {
        URL_SAFE_NO_PAD.decode(signature).is_ok_and(|given| same(&given, &hmac(&self.key, text.as_bytes())))
    }

    /// The signed part of a link (after `/link/`).
    pub fn sign(&self, claim: &LinkClaim) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claim).expect("a claim serializes"));
        let signature = URL_SAFE_NO_PAD.encode(hmac(&self.key, payload.as_bytes()));
        format!("{payload}.{signature}")
    }

    pub fn url(&self, claim: &LinkClaim) -> String {
        format!("{}/link/{}", self.base_url, self.sign(claim))
    }

    /// The claim of a link made by this server, if it has not expired at `now`.
    pub fn verify(&self, signed: &str, now: i64) -> Result<LinkClaim, LinkError> {
        let (payload, signature) = signed.split_once('.').ok_or(LinkError::Tampered)?;
        let given = URL_SAFE_NO_PAD.decode(signature).map_err(|_| LinkError::Tampered)?;
        if !same(&given, &hmac(&self.key, payload.as_bytes())) {
            return Err(LinkError::Tampered);
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Tampered)?;
        let claim: LinkClaim = serde_json::from_slice(&bytes).map_err(|_| LinkError::Tampered)?;
        if now >= claim.expires {
            return Err(LinkError::Expired(claim.expires));
        }
        Ok(claim)
    }

    /// Replace the link markers in every string of `value` with links to this task.
    pub fn fill(&self, value: &mut Value, execution_arn: &str, task_id: i64, expires: i64) {
        match value {
            Value::String(s) if s.contains(MARKER) => {
                *s = replace_markers(s, |action, who| {
                    let claim = LinkClaim {
                        execution_arn: execution_arn.to_owned(),
                        task_id,
                        action,
                        expires,
                        who: who.map(str::to_owned),
                    };
                    self.url(&claim)
                });
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.fill(v, execution_arn, task_id, expires)),
            Value::Object(map) => map.values_mut().for_each(|v| self.fill(v, execution_arn, task_id, expires)),
            _ => {}
        }
    }
}

const MARKER: &str = "baton:link:";

/// `text` with every `baton:link:ACTION[:PERSON]` marker replaced by `link(action, person)`.
/// A person is a user name or an email address (letters, digits and `@._+-`, without a
/// trailing `.`, so a marker may end a sentence). Unknown actions are left as they are.
fn replace_markers(text: &str, mut link: impl FnMut(LinkAction, Option<&str>) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 128);
    let mut rest = text;
    while let Some(at) = rest.find(MARKER) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARKER.len()..];
        let Some(action) = LinkAction::ALL.into_iter().find(|a| after.starts_with(&a.marker()[MARKER.len()..])) else {
            out.push_str(MARKER);
            rest = after;
            continue;
        };
        let mut tail = &after[action.marker().len() - MARKER.len()..];
        let mut who = None;
        if let Some(person) = tail.strip_prefix(':') {
            let len =
                person.find(|c: char| !(c.is_ascii_alphanumeric() || "@._+-".contains(c))).unwrap_or(person.len());
            let name = person[..len].trim_end_matches('.');
            if !name.is_empty() {
                who = Some(name);
                tail = &person[name.len()..];
            }
        }
        out.push_str(&link(action, who));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// PBKDF2-HMAC-SHA256 (RFC 8018), one 32-byte block: password hashes for console users.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &first);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// How long a link lives when its task has no TimeoutSeconds: it still dies with the task.
pub const DEFAULT_LINK_LIFETIME_MS: i64 = 365 * 24 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn pbkdf2_matches_rfc_7914_vector() {
        let out = pbkdf2_sha256(b"passwd", b"salt", 1);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    }

    #[test]
    fn links_verify_and_refuse_changes_and_age() {
        let s = LinkSigner::new(b"k".to_vec(), "http://h/");
        let claim = LinkClaim {
            execution_arn: "arn:e".into(),
            task_id: 3,
            action: LinkAction::Approve,
            expires: 100,
            who: None,
        };
        let signed = s.sign(&claim);
        assert_eq!(s.verify(&signed, 99), Ok(claim.clone()));
        assert_eq!(s.verify(&signed, 100), Err(LinkError::Expired(100)));
        let other = LinkSigner::new(b"other".to_vec(), "http://h");
        assert_eq!(other.verify(&signed, 0), Err(LinkError::Tampered));
        // Change the payload (approve → reject) and keep the signature.
        let forged = LinkClaim { action: LinkAction::Reject, ..claim };
        let (_, sig) = signed.split_once('.').expect("signed");
        let (payload, _) = s.sign(&forged).split_once('.').map(|(p, x)| (p.to_owned(), x.to_owned())).expect("signed");
        assert_eq!(s.verify(&format!("{payload}.{sig}"), 0), Err(LinkError::Tampered));
        assert_eq!(s.verify("nonsense", 0), Err(LinkError::Tampered));
    }

    #[test]
    fn markers_become_links_everywhere() {
        let s = LinkSigner::new(b"k".to_vec(), "http://h");
        let mut v = json!({"Message": "Approve: baton:link:approve or reject: baton:link:reject", "x": ["baton:link:answer", 1]});
        s.fill(&mut v, "arn:e", 1, 100);
        let text = v.to_string();
        assert!(!text.contains("baton:link:"));
        assert_eq!(text.matches("http://h/link/").count(), 3);
    }

    #[test]
    fn person_markers_make_links_for_that_person() {
        let mut seen = Vec::new();
        let text = replace_markers(
            "Ana: baton:link:approve:ana@example.com. Bob: baton:link:reject:bob, all: baton:link:answer; odd: baton:link:nope",
            |action, who| {
                seen.push((action, who.map(str::to_owned)));
                "URL".into()
            },
        );
        assert_eq!(text, "Ana: URL. Bob: URL, all: URL; odd: baton:link:nope");
        assert_eq!(
            seen,
            [
                (LinkAction::Approve, Some("ana@example.com".to_owned())),
                (LinkAction::Reject, Some("bob".to_owned())),
                (LinkAction::Answer, None),
            ]
        );
        let s = LinkSigner::new(b"k".to_vec(), "http://h");
        let mut v = json!("baton:link:approve:ana");
        s.fill(&mut v, "arn:e", 1, 100);
        let signed = v.as_str().and_then(|u| u.strip_prefix("http://h/link/")).expect("a link");
        assert_eq!(s.verify(signed, 0).expect("valid").who.as_deref(), Some("ana"));
    }
}
