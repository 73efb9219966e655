//! Where Baton's own AWS calls go and as whom, found the way the AWS SDKs find it: the
//! `[aws]` section of `baton.toml`, the SDKs' environment variables, and the shared config and
//! credentials files with their profiles.
//!
//! Endpoints, most specific first (a service's own endpoint always beats a global one; at the
//! same level the environment beats `baton.toml`, which beats the config file):
//! `AWS_ENDPOINT_URL_<SERVICE>`, `[aws.endpoints] <service>`, `AWS_ENDPOINT_URL`,
//! `[aws] endpoint_url`, the profile's `services` section, the profile's `endpoint_url`.
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` skips all of them but `baton.toml`. With none, AWS
//! itself (`https://<prefix>.<region>.amazonaws.com`) only when `baton.toml` has an `[aws]`
//! section: Baton never reaches an AWS account nobody pointed it at.
//!
//! Region: `AWS_REGION`, `[aws] region`, `AWS_DEFAULT_REGION`, the profile's `region`, then
//! the server's own region. Credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (`AWS_SESSION_TOKEN`), then the profile (`AWS_PROFILE`, `[aws] profile`, `default`) in
//! the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, `~/.aws/credentials`) and the config
//! file (`AWS_CONFIG_FILE`, `~/.aws/config`), keys or a `credential_process`.
//!
//! Everything is read once, from an [`Environment`] snapshot taken when Baton starts: the
//! variables Baton sets for the functions it runs are theirs, never read back here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::services::{self, Service};

/// `[aws]` in `baton.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region requests go to (and are signed for) when a resource names none.
    #[serde(default)]
    pub region: Option<String>,
    /// One endpoint for every service (as `AWS_ENDPOINT_URL`).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// An endpoint per service (as `AWS_ENDPOINT_URL_<SERVICE>`), keyed by any of a
    /// service's names: `dynamodb`, `events`/`eventbridge`, `secretsmanager`, `s3`, ...
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// The profile of the shared config and credentials files (as `AWS_PROFILE`).
    #[serde(default)]
    pub profile: Option<String>,
}

/// The variables and files the resolution reads: the process's own, or a test's.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: BTreeMap<String, String>,
    pub home: Option<PathBuf>,
}

impl Environment {
    /// This process's environment, as it was when Baton started.
    pub fn process() -> Self {
        Self { vars: std::env::vars().collect(), home: std::env::var_os("HOME").map(PathBuf::from) }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    fn file(&self, variable: &str, default: &str) -> Option<PathBuf> {
        match self.var(variable) {
            Some(path) => Some(PathBuf::from(path)),
            None => self.home.as_ref().map(|h| h.join(default)),
        }
    }
}

/// Static credentials (the SigV4 key pair and an optional session token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Where credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Static {
        credentials: Credentials,
        from: String,
    },
    /// `credential_process`: a command printing the SDKs' JSON; run when needed.
    Process {
        command: String,
        profile: String,
    },
    /// None found: what would give some.
    Missing,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AwsConfigError {
    #[error("[aws.endpoints] in baton.toml: '{0}' is no service Baton knows (e.g. dynamodb, events, secretsmanager, s3, lambda)")]
    UnknownService(String),
    #[error("{what}: '{url}' is not an http:// or https:// URL")]
    BadUrl { what: String, url: String },
    #[error("the profile '{profile}' has a credential_process but also keys; give one")]
    ProfileAmbiguous { profile: String },
}

/// An endpoint with where it was configured (for messages and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://host[:port]` and any base path, without a trailing `/`.
    pub url: String,
    pub from: String,
}

/// The resolved settings: what every AWS call of this Baton uses.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub region: String,
    /// Whether `baton.toml` has an `[aws]` section (AWS itself may be reached).
    pub aws_enabled: bool,
    global: Option<Endpoint>,
    per_service: BTreeMap<&'static str, Endpoint>,
    pub credentials: CredentialSource,
}

fn check_url(what: String, url: &str) -> Result<String, AwsConfigError> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_owned())
    } else {
        Err(AwsConfigError::BadUrl { what, url: url.to_owned() })
    }
}

impl Resolved {
    /// Resolve `[aws]` (absent: `None`) in `env`; `default_region` is the server's own.
    pub fn new(config: Option<&AwsConfig>, env: &Environment, default_region: &str) -> Result<Self, AwsConfigError> {
        let empty = AwsConfig::default();
        let toml = config.unwrap_or(&empty);
        let profile_name = env
            .var("AWS_PROFILE")
            .map(str::to_owned)
            .or_else(|| toml.profile.clone())
            .unwrap_or_else(|| "default".into());
        let config_file = env.file("AWS_CONFIG_FILE", ".aws/config").map(|p| IniFile::read(&p)).unwrap_or_default();
        let credentials_file =
            env.file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials").map(|p| IniFile::read(&p)).unwrap_or_default();
        let profile_section =
            if profile_name == "default" { "default".to_owned() } else { format!("profile {profile_name}") };
        let profile = config_file.section(&profile_section).or_else(|| config_file.section(&profile_name));

        let ignore_configured =
            env.var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
                || profile
                    .and_then(|p| p.get("ignore_configured_endpoint_urls"))
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));

        // Most specific first; the first found wins.
        let mut per_service = BTreeMap::new();
        if !ignore_configured {
            for service in services::SERVICES {
                let variable = service.endpoint_variable();
                if let Some(url) = env.var(&variable) {
                    per_service
                        .insert(service.sdk_name, Endpoint { url: check_url(variable.clone(), url)?, from: variable });
                }
            }
        }
        for (name, url) in &toml.endpoints {
            let service = services::by_any_name(name).ok_or_else(|| AwsConfigError::UnknownService(name.clone()))?;
            let from = format!("[aws.endpoints] {name} in baton.toml");
            let url = check_url(from.clone(), url)?;
            per_service.entry(service.sdk_name).or_insert(Endpoint { url, from });
        }
        let mut global = None;
        if !ignore_configured {
            if let Some(url) = env.var("AWS_ENDPOINT_URL") {
                global =
                    Some(Endpoint { url: check_url("AWS_ENDPOINT_URL".into(), url)?, from: "AWS_ENDPOINT_URL".into() });
            }
        }
        if global.is_none() {
            if let Some(url) = &toml.endpoint_url {
                let from = "[aws] endpoint_url in baton.toml".to_owned();
                global = Some(Endpoint { url: check_url(from.clone(), url)?, from });
            }
        }
        if !ignore_configured {
            if let Some(profile) = profile {
                if let Some(services_name) = profile.get("services") {
                    if let Some(section) = config_file.section(&format!("services {services_name}")) {
                        for service in services::SERVICES {
                            if let Some(url) = section.sub(&service.config_key(), "endpoint_url") {
                                let from = format!(
                                    "[services {services_name}] {} in the AWS config file",
                                    service.config_key()
                                );
                                let url = check_url(from.clone(), url)?;
                                per_service.entry(service.sdk_name).or_insert(Endpoint { url, from });
                            }
                        }
                    }
                }
                if global.is_none() {
                    if let Some(url) = profile.get("endpoint_url") {
                        let from = format!("endpoint_url of the profile '{profile_name}' in the AWS config file");
                        global = Some(Endpoint { url: check_url(from.clone(), url)?, from });
                    }
                }
            }
        }

        let region = env
            .var("AWS_REGION")
            .map(str::to_owned)
            .or_else(|| toml.region.clone())
            .or_else(|| env.var("AWS_DEFAULT_REGION").map(str::to_owned))
            .or_else(|| profile.and_then(|p| p.get("region")).map(str::to_owned))
            .unwrap_or_else(|| default_region.to_owned());

        let credentials =
            if let (Some(id), Some(secret)) = (env.var("AWS_ACCESS_KEY_ID"), env.var("AWS_SECRET_ACCESS_KEY")) {
                CredentialSource::Static {
                    credentials: Credentials {
                        access_key_id: id.to_owned(),
                        secret_access_key: secret.to_owned(),
                        session_token: env.var("AWS_SESSION_TOKEN").map(str::to_owned),
                    },
                    from: "AWS_ACCESS_KEY_ID".into(),
                }
            } else {
                let keys = |section: &Section| -> Option<Credentials> {
                    Some(Credentials {
                        access_key_id: section.get("aws_access_key_id")?.to_owned(),
                        secret_access_key: section.get("aws_secret_access_key")?.to_owned(),
                        session_token: section.get("aws_session_token").map(str::to_owned),
                    })
                };
                if let Some(credentials) = credentials_file.section(&profile_name).and_then(keys) {
                    CredentialSource::Static {
                        credentials,
                        from: format!("the profile '{profile_name}' in the credentials file"),
                    }
                } else if let Some(profile) = profile {
                    match (keys(profile), profile.get("credential_process")) {
                        (Some(_), Some(_)) => return Err(AwsConfigError::ProfileAmbiguous { profile: profile_name }),
                        (Some(credentials), None) => CredentialSource::Static {
                            credentials,
                            from: format!("the profile '{profile_name}' in the config file"),
                        },
                        (None, Some(command)) => {
                            CredentialSource::Process { command: command.to_owned(), profile: profile_name.clone() }
                        }
                        (None, None) => CredentialSource::Missing,
                    }
                } else {
                    CredentialSource::Missing
                }
            };
        Ok(Resolved { region, aws_enabled: config.is_some(), global, per_service, credentials })
    }

    /// The endpoint configured for this service alone (not the global one): what makes a
    /// built-in stand-in (queues, topics, S3) give way.
    pub fn own_endpoint(&self, service: &Service) -> Option<&Endpoint> {
        self.per_service.get(service.sdk_name)
    }

    /// Where requests to `service` in `region` go, or `None` when nothing is configured for
    /// it and AWS itself is not enabled.
    pub fn endpoint(&self, service: &Service, region: &str) -> Option<Endpoint> {
        if let Some(e) = self.own_endpoint(service).or(self.global.as_ref()) {
            return Some(e.clone());
        }
        self.aws_enabled.then(|| Endpoint {
            url: format!("https://{}.{region}.amazonaws.com", service.endpoint_prefix),
            from: "AWS (the [aws] section of baton.toml)".into(),
        })
    }

    /// Drop endpoints that point at this server itself (`own_url`): a shell that exports
    /// `AWS_ENDPOINT_URL` for the aws CLI to reach Baton must not make Baton call itself for
    /// services it does not serve. Returns what was dropped, for a log line.
    pub fn without_endpoints_at(&mut self, own_url: &str) -> Vec<Endpoint> {
        let own = own_url.trim_end_matches('/');
        let mut dropped = Vec::new();
        if self.global.as_ref().is_some_and(|e| e.url == own) {
            dropped.extend(self.global.take());
        }
        self.per_service.retain(|_, e| {
            let keep = e.url != own;
            if !keep {
                dropped.push(e.clone());
            }
            keep
        });
        dropped
    }

    /// What a user could set to reach `service`: for the error of a Task nobody configured.
    pub fn how_to_configure(service: &Service) -> String {
        format!(
            "set {} (or AWS_ENDPOINT_URL) to its endpoint, or `{} = \"http://...\"` under [aws.endpoints] in baton.toml; an [aws] section with a region reaches AWS itself",
            service.endpoint_variable(),
            service.config_key()
        )
    }
}

/// One section of an INI file as the AWS config files write it: `key = value`, and
/// sub-properties indented under a key with an empty value.
#[derive(Debug, Default, Clone)]
struct Section {
    values: BTreeMap<String, String>,
    subs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn sub(&self, key: &str, name: &str) -> Option<&str> {
        self.subs.get(key).and_then(|m| m.get(name)).map(String::as_str)
    }
}

#[derive(Debug, Default, Clone)]
struct IniFile {
    sections: BTreeMap<String, Section>,
}

impl IniFile {
    fn read(path: &Path) -> Self {
        std::fs::read_to_string(path).map(|t| Self::parse(&t)).unwrap_or_default()
    }

    fn parse(text: &str) -> Self {
        let mut file = IniFile::default();
        let mut current: Option<String> = None;
        let mut parent_key: Option<String> = None;
        for raw in text.lines() {
            let line = raw.split_once([';', '#']).map_or(raw, |(before, _)| before);
            if line.trim().is_empty() {
                continue;
            }
            let indented = line.starts_with([' ', '\t']);
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                file.sections.entry(name.clone()).or_default();
                current = Some(name);
                parent_key = None;
                continue;
            }
            let Some(section) = current.as_ref().and_then(|c| file.sections.get_mut(c)) else { continue };
            let Some((key, value)) = line.split_once('=') else { continue };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_owned());
            match (&parent_key, indented) {
                (Some(parent), true) => {
                    section.subs.entry(parent.clone()).or_default().insert(key, value);
                }
                _ => {
                    parent_key = value.is_empty().then(|| key.clone());
                    section.values.insert(key, value);
                }
            }
        }
        file
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment { vars: vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(), home: None }
    }

    fn dynamodb() -> &'static Service {
        services::by_sdk_name("dynamodb").expect("in the table")
    }

    #[test]
    fn a_services_own_endpoint_beats_the_global_one_and_the_environment_beats_baton_toml() {
        let toml = AwsConfig {
            endpoint_url: Some("http://toml-global:1".into()),
            endpoints: [("dynamodb".to_owned(), "http://toml-dynamo:2/".to_owned())].into(),
            ..Default::default()
        };
        let r = Resolved::new(Some(&toml), &env(&[("AWS_ENDPOINT_URL", "http://env-global:3")]), "us-east-1").unwrap();
        assert_eq!(r.endpoint(dynamodb(), "us-east-1").unwrap().url, "http://toml-dynamo:2");
        let sqs = services::by_sdk_name("sqs").unwrap();
        assert_eq!(r.endpoint(sqs, "us-east-1").unwrap().url, "http://env-global:3");
        assert!(r.own_endpoint(sqs).is_none());
        let r = Resolved::new(Some(&toml), &env(&[("AWS_ENDPOINT_URL_DYNAMODB", "http://env-dynamo:4")]), "x").unwrap();
        assert_eq!(r.endpoint(dynamodb(), "x").unwrap().from, "AWS_ENDPOINT_URL_DYNAMODB");
    }

    #[test]
    fn aws_itself_only_with_an_aws_section() {
        let r = Resolved::new(None, &env(&[]), "eu-west-1").unwrap();
        assert_eq!(r.endpoint(dynamodb(), "eu-west-1"), None);
        let r = Resolved::new(Some(&AwsConfig::default()), &env(&[("AWS_REGION", "eu-west-2")]), "us-east-1").unwrap();
        assert_eq!(r.region, "eu-west-2");
        assert_eq!(r.endpoint(dynamodb(), &r.region).unwrap().url, "https://dynamodb.eu-west-2.amazonaws.com");
    }

    #[test]
    fn an_endpoint_at_this_server_is_dropped() {
        let mut r = Resolved::new(None, &env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:8083/")]), "us-east-1").unwrap();
        assert_eq!(r.without_endpoints_at("http://127.0.0.1:8083").len(), 1);
        assert_eq!(r.endpoint(dynamodb(), "us-east-1"), None);
    }

    #[test]
    fn unknown_services_and_bad_urls_are_refused() {
        let toml = AwsConfig { endpoints: [("dynamo".to_owned(), "http://x".to_owned())].into(), ..Default::default() };
        assert_eq!(
            Resolved::new(Some(&toml), &env(&[]), "r").unwrap_err(),
            AwsConfigError::UnknownService("dynamo".into())
        );
        let err = Resolved::new(None, &env(&[("AWS_ENDPOINT_URL", "localhost:4566")]), "r").unwrap_err();
        assert!(matches!(err, AwsConfigError::BadUrl { .. }), "{err}");
    }

    #[test]
    fn profiles_give_region_endpoints_and_credentials() {
        let dir = std::env::temp_dir().join(format!("baton-aws-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config"),
            "[default]\nregion = us-west-1\n\n[profile dev]  ; comment\nregion = eu-central-1\nservices = local\n\
             endpoint_url = http://everything:1\n[services local]\ndynamodb =\n  endpoint_url = http://dynamo:8000\n",
        )
        .unwrap();
        std::fs::write(dir.join("credentials"), "[dev]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n")
            .unwrap();
        let vars = |profile: &str| {
            env(&[
                ("AWS_CONFIG_FILE", dir.join("config").to_str().unwrap()),
                ("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials").to_str().unwrap()),
                ("AWS_PROFILE", profile),
            ])
        };
        let r = Resolved::new(None, &vars("dev"), "us-east-1").unwrap();
        assert_eq!(r.region, "eu-central-1");
        assert_eq!(r.endpoint(dynamodb(), "x").unwrap().url, "http://dynamo:8000");
        assert_eq!(r.endpoint(services::by_sdk_name("ssm").unwrap(), "x").unwrap().url, "http://everything:1");
        assert!(
            matches!(&r.credentials, CredentialSource::Static { credentials, .. } if credentials.access_key_id == "AKID")
        );
        let r = Resolved::new(None, &vars("default"), "us-east-1").unwrap();
        assert_eq!(r.region, "us-west-1");
        assert_eq!(r.credentials, CredentialSource::Missing);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
