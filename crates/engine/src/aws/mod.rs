//! Baton as an AWS client: Tasks that call AWS services at any AWS-compatible endpoint (AWS
//! itself, LocalStack, DynamoDB Local, MinIO, moto), SigV4-signed.
//!
//! - [`config`]: `[aws]` in `baton.toml`, the SDKs' environment variables and shared files:
//!   endpoints, region, credentials.
//! - [`services`]: the table of service facts (names, endpoint prefix, signing name,
//!   protocol, JSON target, member-name casing, error prefixes).
//! - [`client`]: signed HTTP requests.
//! - [`json`]: the JSON protocol (`X-Amz-Target`), for every JSON service in the table.
//! - [`s3`]: an S3 client (REST-XML), reusable beyond Tasks (ItemReader, ResultWriter).
//! - [`lambda`]: Lambda's Invoke at an endpoint.
//! - [`tasks`]: what Task resources reach here, with AWS's request and result shapes.
//! - [`errors`]: AWS's error names for Retry and Catch.
//!
//! Knows nothing of executions: a resource and its input in, a [`TaskOutcome`] out. Blocking
//! (ureq): the engine runs calls off its async runtime.

pub mod client;
pub mod config;
pub mod errors;
pub mod json;
pub mod lambda;
pub mod s3;
pub mod services;
pub mod tasks;

use std::sync::Arc;

pub use config::{AwsConfig, AwsConfigError, Environment};

use client::Client;
use config::{Endpoint, Resolved};
use services::Service;

/// The error of a Task whose service nobody configured.
pub const NOT_CONFIGURED: &str = "Baton.AwsNotConfigured";

/// What this Baton's AWS calls use: the resolved settings and the signing client. Shared
/// (cheap to clone) by every Task.
#[derive(Debug, Clone)]
pub struct Aws {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Resolved,
    client: Arc<Client>,
    /// Baton's own S3 (`baton serve` answers the S3 API), used when no endpoint is
    /// configured for S3: its URL and the key Baton signs with there.
    builtin_s3: Option<(String, config::Credentials)>,
}

impl Aws {
    /// Resolve `[aws]` (or its absence) in `env`. `default_region` is the server's own.
    pub fn new(config: Option<&AwsConfig>, env: &Environment, default_region: &str) -> Result<Self, AwsConfigError> {
        Ok(Self::from_settings(Resolved::new(config, env, default_region)?))
    }

    pub fn from_settings(settings: Resolved) -> Self {
        let client = Arc::new(Client::new(settings.credentials.clone()));
        Self { inner: Arc::new(Inner { settings, client, builtin_s3: None }) }
    }

    /// Serve S3 calls from the built-in S3 at `url` (signing with `credentials`) unless an
    /// endpoint is configured for S3 (its own, or a global one).
    pub fn with_builtin_s3(self, url: impl Into<String>, credentials: config::Credentials) -> Self {
        let inner = Inner {
            settings: self.inner.settings.clone(),
            client: self.inner.client.clone(),
            builtin_s3: Some((url.into(), credentials)),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Whether S3 calls go to the built-in S3.
    pub fn uses_builtin_s3(&self) -> bool {
        self.inner.builtin_s3.is_some() && !self.s3_configured()
    }

    fn s3_configured(&self) -> bool {
        services::by_sdk_name("s3").is_some_and(|s| self.inner.settings.endpoint(s, self.region()).is_some())
    }

    /// Nothing configured: every AWS Task fails with [`NOT_CONFIGURED`].
    pub fn unconfigured() -> Self {
        Self::default()
    }
}

impl Default for Aws {
    fn default() -> Self {
        let settings = Resolved::new(None, &Environment::default(), "us-east-1");
        Self::from_settings(settings.expect("an empty environment and no [aws] have nothing to refuse"))
    }
}

impl Aws {
    pub fn settings(&self) -> &Resolved {
        &self.inner.settings
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The region of a call that names none.
    pub fn region(&self) -> &str {
        &self.inner.settings.region
    }

    /// Where `service` is reached in `region`, or the failure that tells the user how to
    /// configure it.
    pub fn endpoint(&self, service: &Service, region: &str) -> Result<Endpoint, NotConfigured> {
        self.inner
            .settings
            .endpoint(service, region)
            .ok_or_else(|| NotConfigured { service: service.sdk_name, how: Resolved::how_to_configure(service) })
    }

    /// Whether `service` has an endpoint of its own, so a built-in stand-in gives way to it.
    pub fn has_own_endpoint(&self, sdk_name: &str) -> bool {
        services::by_sdk_name(sdk_name).is_some_and(|s| self.inner.settings.own_endpoint(s).is_some())
    }

    /// Whether `service` can be reached at all (an endpoint, or AWS itself).
    pub fn reaches(&self, sdk_name: &str) -> bool {
        (sdk_name == "s3" && self.uses_builtin_s3())
            || services::by_sdk_name(sdk_name).is_some_and(|s| self.inner.settings.endpoint(s, self.region()).is_some())
    }

    /// An S3 client for the configured S3 endpoint (or AWS's).
    pub fn s3(&self) -> Result<s3::Client, NotConfigured> {
        if let (Some((url, credentials)), false) = (&self.inner.builtin_s3, self.s3_configured()) {
            return Ok(s3::Client::new(url.clone(), self.region().to_owned(), credentials.clone()));
        }
        let service = services::by_sdk_name("s3").unwrap_or_else(|| unreachable!("s3 is in the table"));
        let endpoint = self.endpoint(service, self.region())?;
        let path_style = !endpoint.url.ends_with(".amazonaws.com");
        Ok(s3::Client::with_shared(self.clone(), endpoint.url, self.region().to_owned(), path_style))
    }
}

/// A service nobody configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("No endpoint for the AWS service '{service}': {how}")]
pub struct NotConfigured {
    pub service: &'static str,
    pub how: String,
}
