//! Signed HTTP requests to AWS services: SigV4 (the `aws-sigv4` crate) over pooled
//! connections (ureq, blocking: callers run off the async runtime), with credentials from the
//! resolved [`CredentialSource`]. Knows no service's protocol: a request in, the response (or
//! why there is none) out.

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use super::config::{CredentialSource, Credentials};

/// Response headers, in the order they came, names in lower case.
pub type Headers = Vec<(String, String)>;

/// How long a request may take unless its caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One request, before signing. The URL is already percent-encoded.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body<'a>,
    /// The service name in the credential scope.
    pub signing_name: &'static str,
    pub region: String,
    /// S3's signing rules: the payload hash in `x-amz-content-sha256`, paths encoded once.
    pub s3: bool,
    pub timeout: Duration,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    Bytes(&'a [u8]),
    /// A body read as it is sent (S3 uploads): signed as `UNSIGNED-PAYLOAD`, its length known.
    Stream {
        length: u64,
    },
}

/// A response whose body is still to be read (S3 downloads stream it).
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub reader: Box<dyn Read + Send + Sync + 'static>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The whole body (capped at `limit` bytes plus one, so a caller can tell it was more).
    pub fn read_body(self, limit: u64) -> Result<(u16, Headers, Vec<u8>), SendError> {
        let mut body = Vec::new();
        self.reader
            .take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| SendError::Transport(format!("reading the response: {e}")))?;
        Ok((self.status, self.headers, body))
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No credentials, or the credential process failed.
    #[error("{0}")]
    Credentials(String),
    /// Connection refused, a timeout, a bad URL: the SDKs' `SdkClientException`.
    #[error("{0}")]
    Transport(String),
}

/// Signs and sends requests; one per Baton, sharing connections.
pub struct Client {
    agent: ureq::Agent,
    credentials: CredentialSource,
    /// `credential_process` output, until it expires.
    cached: Mutex<Option<(Credentials, Option<SystemTime>)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("credentials", &self.credentials).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(credentials: CredentialSource) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .redirects(0)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent, credentials, cached: Mutex::new(None) }
    }

    /// The credentials to sign with now.
    pub fn credentials(&self) -> Result<Credentials, SendError> {
        match &self.credentials {
            CredentialSource::Static { credentials, .. } => Ok(credentials.clone()),
            CredentialSource::Missing => Err(SendError::Credentials(
                "No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with AWS_PROFILE or `profile` under [aws] in baton.toml".into(),
            )),
            CredentialSource::Process { command, profile } => {
                let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
                let fresh = |expiry: &Option<SystemTime>| {
                    expiry.is_none_or(|at| at > crate::clock::system_time() + Duration::from_secs(300))
                };
                if let Some((credentials, expiry)) = cached.as_ref() {
                    if fresh(expiry) {
                        return Ok(credentials.clone());
                    }
                }
                let got = run_credential_process(command)
                    .map_err(|e| SendError::Credentials(format!("credential_process of the profile '{profile}': {e}")))?;
                *cached = Some(got.clone());
                Ok(got.0)
            }
        }
    }

    /// Sign and send `request` with `payload` as its body (`Body::Bytes` must be the same
    /// bytes; a `Body::Stream` body is read from `payload`).
    pub fn send(
        &self,
        request: Request<'_>,
        payload: Option<Box<dyn Read + Send + '_>>,
    ) -> Result<Response, SendError> {
        let credentials = self.credentials()?;
        let mut headers = request.headers.clone();
        let length = match &request.body {
            Body::Bytes(b) => b.len() as u64,
            Body::Stream { length } => *length,
        };
        if request.method != "GET" && request.method != "HEAD" && request.method != "DELETE" || length > 0 {
            headers.push(("content-length".into(), length.to_string()));
        }
        let signed = signature_headers(&credentials, &request, &headers).map_err(SendError::Transport)?;
        let mut call = self.agent.request(request.method, &request.url).timeout(request.timeout);
        for (k, v) in headers.iter().chain(signed.iter()) {
            call = call.set(k, v);
        }
        let result = match (&request.body, payload) {
            (Body::Stream { .. }, Some(reader)) => call.send(reader),
            (Body::Bytes(bytes), _) => call.send_bytes(bytes),
            (Body::Stream { .. }, None) => call.send_bytes(&[]),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => {
                return Err(SendError::Transport(format!("Unable to execute HTTP request: {t}")));
            }
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .flat_map(|name| response.all(&name).into_iter().map(|v| (name.clone(), v.to_owned())).collect::<Vec<_>>())
            .collect();
        Ok(Response { status, headers, reader: Box::new(response.into_reader()) })
    }
}

/// The SigV4 headers (`authorization`, `x-amz-date`, the session token, and for S3
/// `x-amz-content-sha256`) for `request` with `headers`.
fn signature_headers(
    credentials: &Credentials,
    request: &Request<'_>,
    headers: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "baton",
    )
    .into();
    let mut settings = SigningSettings::default();
    if request.s3 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&request.region)
        .name(request.signing_name)
        .time(crate::clock::system_time())
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let body = match &request.body {
        Body::Bytes(b) => SignableBody::Bytes(b),
        Body::Stream { .. } => SignableBody::UnsignedPayload,
    };
    // The signer reads the host from the URL; content-length is left out as the SDKs do.
    let signable = SignableRequest::new(
        request.method,
        request.url.as_str(),
        headers.iter().filter(|(k, _)| k != "content-length").map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .map_err(|e| format!("cannot sign a request to {}: {e}", request.url))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| format!("cannot sign the request: {e}"))?.into_parts();
    let (signed, _) = instructions.into_parts();
    Ok(signed.into_iter().map(|h| (h.name().to_owned(), h.value().to_owned())).collect())
}

/// Run a `credential_process` and read the SDKs' JSON from its output.
fn run_credential_process(command: &str) -> Result<(Credentials, Option<SystemTime>), String> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run '{command}': {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "'{command}' exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("'{command}' printed no JSON: {e}"))?;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    let credentials = Credentials {
        access_key_id: field("AccessKeyId").ok_or("no AccessKeyId in its output")?,
        secret_access_key: field("SecretAccessKey").ok_or("no SecretAccessKey in its output")?,
        session_token: field("SessionToken"),
    };
    let expiry = field("Expiration")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    Ok((credentials, expiry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_name_the_key_the_scope_and_the_signed_headers() {
        let credentials = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: Some("tok".into()),
        };
        let request = Request {
            method: "POST",
            url: "http://127.0.0.1:4566/".into(),
            headers: vec![("x-amz-target".into(), "DynamoDB_20120810.GetItem".into())],
            body: Body::Bytes(b"{}"),
            signing_name: "dynamodb",
            region: "eu-west-1".into(),
            s3: false,
            timeout: DEFAULT_TIMEOUT,
        };
        let signed = signature_headers(&credentials, &request, &request.headers).unwrap();
        let get = |k: &str| signed.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let auth = get("authorization");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"), "{auth}");
        assert!(auth.contains("/eu-west-1/dynamodb/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token;x-amz-target"), "{auth}");
        assert_eq!(get("x-amz-security-token"), "tok");
        let s3 = Request { s3: true, signing_name: "s3", ..request };
        let signed = signature_headers(&credentials, &s3, &s3.headers).unwrap();
        assert!(signed.iter().any(|(k, v)| k == "x-amz-content-sha256" && v.len() == 64));
    }

    #[test]
    fn a_credential_process_gives_keys_and_an_expiry() {
        let command = r#"echo '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "2099-01-01T00:00:00Z"}'"#;
        let (c, expiry) = run_credential_process(command).unwrap();
        assert_eq!((c.access_key_id.as_str(), c.session_token.as_deref()), ("A", Some("T")));
        assert!(expiry.is_some());
        assert!(run_credential_process("exit 3").unwrap_err().contains("exited"));
    }
}
