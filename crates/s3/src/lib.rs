//! Baton's built-in S3: the S3 REST API (path-style) over buckets and objects kept under the
//! data folder, served by `baton serve` on its own port beside the Step Functions API. The
//! protocol (routing, XML, errors, SigV4) is the `s3s` crate's; this crate owns the storage
//! ([`store`]) and the operations ([`api`]).
//!
//! Which requests are S3's: those signed for the service `s3` (the SigV4 credential scope, in
//! the `Authorization` header or a presigned URL's `X-Amz-Credential`), as other local
//! emulators tell services apart on one port. Without API credentials configured, requests are
//! not authenticated (as the rest of the API in open mode): their signature is dropped and
//! `aws-chunked` bodies are unframed here ([`chunked`]). With credentials, s3s checks every
//! signature, chunk signatures included, against the configured secrets.

pub mod api;
pub mod chunked;
pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use s3s::auth::SecretKey;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{s3_error, S3Result};

pub use api::BuiltinS3;
pub use store::{Store, StoreError};

/// The S3 endpoint: the operations behind s3s's protocol handling.
#[derive(Clone)]
pub struct Endpoint {
    service: S3Service,
    authenticated: bool,
}

/// Access keys and their secrets, for signed requests.
struct Keys(HashMap<String, String>);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.get(access_key) {
            Some(secret) => Ok(SecretKey::from(secret.as_str())),
            None => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
        }
    }
}

impl Endpoint {
    /// The built-in S3 on the folder `dir`. With `keys` (access key id → secret), every
    /// request must be signed by one of them; without, none is checked.
    pub fn open(dir: &Path, region: &str, keys: HashMap<String, String>) -> Result<Self, StoreError> {
        let store = Arc::new(Store::open(dir)?);
        let mut builder = S3ServiceBuilder::new(BuiltinS3::new(store, region));
        let authenticated = !keys.is_empty();
        if authenticated {
            builder.set_auth(Keys(keys));
        }
        Ok(Self { service: builder.build(), authenticated })
    }

    /// Answer one S3 request.
    pub async fn call<B>(&self, req: Request<B>) -> Response<s3s::Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (mut parts, body) = req.into_parts();
        let body = if !self.authenticated && is_aws_chunked(&parts.headers) {
            // Unframe it, and say how long the object really is.
            if let Some(len) = parts.headers.get("x-amz-decoded-content-length").cloned() {
                parts.headers.insert(http::header::CONTENT_LENGTH, len);
            } else {
                parts.headers.remove(http::header::CONTENT_LENGTH);
            }
            strip_aws_chunked_encoding(&mut parts.headers);
            let decoded = chunked::decode(Box::pin(body.into_data_stream()));
            s3s::Body::http_body_unsync(StreamBody::new(decoded.map_ok(Frame::data)))
        } else {
            s3s::Body::http_body_unsync(body)
        };
        if !self.authenticated {
            for header in ["authorization", "x-amz-content-sha256", "x-amz-trailer"] {
                parts.headers.remove(header);
            }
        }
        match self.service.call(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(error = ?e, "the built-in S3 could not answer a request");
                let mut response = Response::new(s3s::Body::from("InternalError".to_owned()));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }
}

/// Whether a request is signed for S3 (so it is the built-in S3's, not Step Functions' or
/// SQS's, which share the port).
pub fn is_s3_request(parts: &http::request::Parts) -> bool {
    let header_scope = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or_default().to_owned());
    let query_scope = parts.uri.query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name == "X-Amz-Credential").then(|| value.replace("%2F", "/").replace("%2f", "/"))
        })
    });
    header_scope.or(query_scope).is_some_and(|credential| credential.split('/').nth(3) == Some("s3"))
}

fn is_aws_chunked(headers: &http::HeaderMap) -> bool {
    let streaming =
        headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("STREAMING-"));
    let encoded = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == "aws-chunked"));
    streaming || encoded
}

/// Remove `aws-chunked` from Content-Encoding, keeping any other encoding the object has.
fn strip_aws_chunked_encoding(headers: &mut http::HeaderMap) {
    let Some(value) = headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) else { return };
    let rest: Vec<&str> = value.split(',').map(str::trim).filter(|e| *e != "aws-chunked" && !e.is_empty()).collect();
    if rest.is_empty() {
        headers.remove(http::header::CONTENT_ENCODING);
    } else if let Ok(v) = HeaderValue::from_str(&rest.join(",")) {
        headers.insert(http::header::CONTENT_ENCODING, v);
    }
}
