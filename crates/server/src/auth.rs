//! Who may call the API. With `[credentials.NAME]` in baton.toml, every call on `POST /`
//! must be signed with SigV4 by one of those access keys, as AWS requires: the signature is
//! made again here (the `aws-sigv4` crate) from the request's method, path, the headers it
//! names as signed, its body and its date, with the key's secret, and compared. The date must
//! be within 15 minutes of the server's clock. The console's own calls carry its session
//! instead. Without credentials the API is open (loopback only unless asked, see
//! `serve.rs`). Knows nothing of actions: a request in, a caller or AWS's refusal out.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::http::{header, HeaderMap};
use engine::config::ApiCredential;

/// How far a request's date may be from the server's clock (AWS: 15 minutes).
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a call is refused, each with AWS's error name and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    BadSignature,
    #[error("{0}")]
    Incomplete(String),
    #[error("Signature expired: {date} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired { date: String, earliest: String, now: String },
    #[error("Signature not yet current: {date} is still later than {latest} ({now} + 15 min.)")]
    NotYetCurrent { date: String, latest: String, now: String },
}

impl Denied {
    /// AWS's error name on the JSON protocol.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::Missing => "MissingAuthenticationTokenException",
            Denied::UnknownKey => "UnrecognizedClientException",
            Denied::Incomplete(_) => "IncompleteSignatureException",
            Denied::BadSignature | Denied::Expired { .. } | Denied::NotYetCurrent { .. } => "InvalidSignatureException",
        }
    }

    /// The query-protocol code (SQS clients read it from `x-amzn-query-error`).
    pub fn query_code(&self) -> &'static str {
        match self {
            Denied::Missing => "MissingAuthenticationToken",
            Denied::UnknownKey => "InvalidClientTokenId",
            Denied::Incomplete(_) => "IncompleteSignature",
            Denied::BadSignature => "SignatureDoesNotMatch",
            Denied::Expired { .. } | Denied::NotYetCurrent { .. } => "RequestExpired",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Denied::Missing => 403,
            _ => 400,
        }
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
/// Signature=...`.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Denied> {
    let incomplete = |what: &str| Denied::Incomplete(format!("Authorization header requires '{what}' parameter."));
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| Denied::Incomplete("Only the AWS4-HMAC-SHA256 signing algorithm is supported.".into()))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(Denied::Incomplete(format!(
            "Credential should be scoped to a valid region and service, and end with aws4_request: '{credential}'."
        )));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed_headers.split(';').filter(|h| !h.is_empty()).collect(),
        signature,
    })
}

fn format_amz_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).format("%Y%m%dT%H%M%SZ").to_string()
}

/// Check a request's SigV4 signature against `credentials`: the credential that signed it.
pub fn verify<'c>(
    credentials: &'c BTreeMap<String, ApiCredential>,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<&'c ApiCredential, Denied> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Err(Denied::Missing) };
    let value = value.to_str().map_err(|_| Denied::Incomplete("The Authorization header is not ASCII.".into()))?;
    let auth = parse_authorization(value)?;
    let credential = credentials.values().find(|c| c.access_key_id == auth.access_key_id).ok_or(Denied::UnknownKey)?;
    let date_text = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or_else(|| {
        Denied::Incomplete("Authorization header requires existence of the X-Amz-Date header.".into())
    })?;
    let date = chrono::NaiveDateTime::parse_from_str(date_text, "%Y%m%dT%H%M%SZ")
        .map_err(|_| Denied::Incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{date_text}'.")))?
        .and_utc();
    let signed_at = SystemTime::from(date);
    if signed_at + MAX_SKEW < now {
        return Err(Denied::Expired {
            date: date_text.to_owned(),
            earliest: format_amz_date(now - MAX_SKEW),
            now: format_amz_date(now),
        });
    }
    if signed_at > now + MAX_SKEW {
        return Err(Denied::NotYetCurrent {
            date: date_text.to_owned(),
            latest: format_amz_date(now + MAX_SKEW),
            now: format_amz_date(now),
        });
    }
    if !date_text.starts_with(auth.date) {
        return Err(Denied::BadSignature);
    }
    if !auth.signed_headers.contains(&"host") {
        return Err(Denied::Incomplete("The host header must be signed.".into()));
    }
    // The headers the client signed, as it sent them; the signer adds host, date and token
    // from the same values.
    let mut signed: Vec<(&str, &str)> = Vec::new();
    for name in &auth.signed_headers {
        for v in headers.get_all(*name) {
            let v = v.to_str().map_err(|_| Denied::BadSignature)?;
            signed.push((*name, v));
        }
    }
    let token = headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let identity = aws_credential_types::Credentials::new(
        &credential.access_key_id,
        &credential.secret_access_key,
        token,
        None,
        "baton.toml",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Sign exactly what the client signed (it chose; the signature says whether it is right).
    settings.excluded_headers = Some(Vec::<Cow<'static, str>>::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|_| Denied::BadSignature)?
        .into();
    let signable = SignableRequest::new(method, path_and_query, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|_| Denied::BadSignature)?;
    let expected = sign(signable, &params).map_err(|_| Denied::BadSignature)?;
    if engine::links::same(expected.signature().as_bytes(), auth.signature.as_bytes()) {
        Ok(credential)
    } else {
        Err(Denied::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> BTreeMap<String, ApiCredential> {
        let key = ApiCredential {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            user: Some("ana".into()),
        };
        BTreeMap::from([("ana".to_owned(), key)])
    }

    /// Headers signed by the same crate as a client would (host, date, target, type).
    fn signed(secret: &str, body: &[u8], at: SystemTime) -> HeaderMap {
        let identity = aws_credential_types::Credentials::new("AKIDEXAMPLE", secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("states")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let base = [
            ("host", "127.0.0.1:8083"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AWSStepFunctions.ListStateMachines"),
        ];
        let signable =
            SignableRequest::new("POST", "http://127.0.0.1:8083/", base.into_iter(), SignableBody::Bytes(body))
                .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
        let mut headers = HeaderMap::new();
        for (k, v) in base {
            headers.insert(k, v.parse().expect("value"));
        }
        for (name, value) in instructions.headers() {
            let name = axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name");
            headers.insert(name, value.parse().expect("value"));
        }
        headers
    }

    #[test]
    fn a_right_signature_passes_and_anything_else_is_refused() {
        let creds = credentials();
        let now = SystemTime::now();
        let body = br#"{"maxResults": 1}"#;
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let ok = signed(secret, body, now);
        assert_eq!(verify(&creds, "POST", "/", &ok, body, now).map(|c| c.user.clone()), Ok(Some("ana".into())));
        assert_eq!(verify(&creds, "POST", "/", &ok, b"{}", now).err(), Some(Denied::BadSignature), "body changed");
        let wrong = signed("not-the-secret", body, now);
        assert_eq!(verify(&creds, "POST", "/", &wrong, body, now).err(), Some(Denied::BadSignature));
        let mut retargeted = ok.clone();
        retargeted.insert("x-amz-target", "AWSStepFunctions.DeleteStateMachine".parse().expect("value"));
        assert_eq!(verify(&creds, "POST", "/", &retargeted, body, now).err(), Some(Denied::BadSignature));
        assert_eq!(verify(&creds, "POST", "/", &HeaderMap::new(), body, now).err(), Some(Denied::Missing));
        let mut unknown = ok.clone();
        let auth = ok[header::AUTHORIZATION].to_str().expect("ascii").replace("AKIDEXAMPLE", "AKIDOTHER");
        unknown.insert(header::AUTHORIZATION, auth.parse().expect("value"));
        assert_eq!(verify(&creds, "POST", "/", &unknown, body, now).err(), Some(Denied::UnknownKey));
        let old = signed(secret, body, now - Duration::from_secs(16 * 60));
        assert!(matches!(verify(&creds, "POST", "/", &old, body, now), Err(Denied::Expired { .. })));
        let early = signed(secret, body, now + Duration::from_secs(16 * 60));
        assert!(matches!(verify(&creds, "POST", "/", &early, body, now), Err(Denied::NotYetCurrent { .. })));
        let mut garbled = ok.clone();
        garbled.insert(header::AUTHORIZATION, "AWS4-HMAC-SHA256 Credential=x".parse().expect("value"));
        assert!(matches!(verify(&creds, "POST", "/", &garbled, body, now), Err(Denied::Incomplete(_))));
    }
}
