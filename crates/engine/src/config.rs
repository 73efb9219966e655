//! `baton.toml`: the configuration `baton serve`, `baton run` and `baton test` read, its
//! parts (functions, triggers, the HTTP Task, console users, API credentials, queues, topics,
//! smtp, aws, store, mock config), how it is parsed and checked, and the errors it reports.
//!
//! ```toml
//! [functions.check-order]          # a command: the payload on stdin, the result on stdout
//! command = ["python3", "check_order.py"]
//!
//! [functions.reserve]              # a handler in the style of Lambda: module.handler(event, context)
//! runtime = "python3"              # or "node"
//! handler = "reserve.lambda_handler"
//! code = "functions"               # the folder holding reserve.py (default: beside baton.toml)
//!
//! [functions.score]                # an HTTP endpoint: POST the payload, JSON back
//! url = "http://127.0.0.1:9000/score"
//! timeout_seconds = 10             # every kind; default 60
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// `baton.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionConfig>,
    /// Folder the config was read from; relative paths in commands resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Routes of `baton serve` that start executions (the role API Gateway plays on AWS).
    #[serde(default)]
    pub triggers: BTreeMap<String, TriggerConfig>,
    /// The HTTP Task (`arn:aws:states:::http:invoke`).
    #[serde(default)]
    pub http: HttpTaskConfig,
    /// `[smtp]`: the server email goes through (see [`crate::mail`]).
    #[serde(default)]
    pub smtp: Option<crate::mail::SmtpConfig>,
    /// `[queues.NAME]`: queues created at start, with optional function consumers.
    #[serde(default)]
    pub queues: BTreeMap<String, crate::config::QueueConfig>,
    /// `[topics.NAME]`: topics and their subscriptions.
    #[serde(default)]
    pub topics: BTreeMap<String, crate::config::TopicConfig>,
    /// Who may use the console (`[console.users.NAME]`); nobody signs in when it is empty.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// `[credentials.NAME]`: the access keys API calls are signed with. When any are listed,
    /// every call must carry a valid SigV4 signature made with one of them.
    #[serde(default)]
    pub credentials: BTreeMap<String, ApiCredential>,
    /// Where functions run: the server they may call back, its region and account. Set by
    /// `baton serve`; `baton run` leaves the endpoint unset.
    #[serde(skip)]
    pub host: FunctionHost,
    /// `[aws]`: where Tasks reach AWS services (see [`crate::aws`]); present or not, the
    /// SDKs' environment variables and files apply.
    #[serde(default)]
    pub aws: Option<crate::aws::AwsConfig>,
    /// The AWS client `aws` and the environment resolve to, made when Baton starts
    /// ([`crate::aws::Aws::new`]); without it AWS Tasks fail as not configured.
    #[serde(skip)]
    pub aws_client: crate::aws::Aws,
    /// `[store]`: how the store answers writes.
    #[serde(default)]
    pub store: StoreConfig,
    /// `mock_config = "MockConfigFile.json"`: Step Functions Local's mocked responses (see
    /// [`crate::mocks`]), relative to this file's folder; `--mock-config` and
    /// `SFN_MOCK_CONFIG` win over it.
    #[serde(default)]
    pub mock_config: Option<PathBuf>,
}

/// `[store]` in `baton.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `full` (the default) or `relaxed`; `--durability` and `BATON_DURABILITY` win over it.
    #[serde(default)]
    pub durability: Option<store::Durability>,
}

/// The console's people: `[console.users.NAME]` with a password hash, an email address and
/// groups (a task can be limited to an address or a group).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    #[serde(default)]
    pub users: BTreeMap<String, ConsoleUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleUser {
    /// `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// AWS access key ids this person's API calls are signed with (aws CLI, SDKs): an
    /// execution they start is recorded as started by them.
    #[serde(default)]
    pub access_keys: Vec<String>,
}

/// `[credentials.NAME]`: one access key of the API, and the console user whose calls it
/// signs (an execution started with it is started by that user).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiCredential {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub user: Option<String>,
}

impl std::fmt::Debug for ApiCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCredential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("user", &self.user)
            .finish()
    }
}

/// What a function learns about the Baton that calls it.
#[derive(Debug, Clone)]
pub struct FunctionHost {
    /// The server's URL, given to functions as `AWS_ENDPOINT_URL` so SDK calls reach Baton.
    pub endpoint_url: Option<String>,
    pub region: String,
    pub account: String,
}

impl Default for FunctionHost {
    fn default() -> Self {
        Self { endpoint_url: None, region: "us-east-1".into(), account: "123456789012".into() }
    }
}

/// `[triggers.NAME]`: an HTTP route that starts an execution with the request body as input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// The route, e.g. `/orders`. Must start with `/`.
    pub path: String,
    /// `POST` unless given.
    #[serde(default = "default_trigger_method")]
    pub method: String,
    /// The state machine to start: a name on this server, or an ARN (of a machine, a version
    /// or an alias). A trigger has this or `function`.
    #[serde(default)]
    pub state_machine: Option<String>,
    /// The function to call with API Gateway's proxy event; its answer is the response.
    #[serde(default)]
    pub function: Option<String>,
    /// A JSON path into the request body whose value names the execution (for example
    /// `$.orderId`), so that the same request twice starts one execution.
    #[serde(default)]
    pub name_from: Option<String>,
}

fn default_trigger_method() -> String {
    "POST".into()
}

/// `[http]`: settings of the HTTP Task.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTaskConfig {
    /// The longest one request may take; AWS's hard limit is 60 s.
    #[serde(default = "default_http_timeout")]
    pub timeout_seconds: u64,
    /// Headers and query parameters added to requests whose `Authentication.ConnectionArn`
    /// (or `InvocationConfig.ConnectionArn`) names a connection: `[http.connections.NAME]`,
    /// NAME being the part after `connection/` in the ARN.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
}

impl Default for HttpTaskConfig {
    fn default() -> Self {
        Self { timeout_seconds: default_http_timeout(), connections: BTreeMap::new() }
    }
}

fn default_http_timeout() -> u64 {
    60
}

/// What an EventBridge connection adds to a request, kept in configuration (and so out of
/// the definition) as on AWS.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query_parameters: BTreeMap<String, String>,
}

/// One function.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawFunction")]
pub struct FunctionConfig {
    pub kind: FunctionKind,
    /// Extra environment variables for the process (commands and handlers).
    pub env: BTreeMap<String, String>,
    /// After this the call fails with `Sandbox.Timedout`, as a Lambda function's timeout does.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FunctionKind {
    /// Program and arguments: the payload on stdin, the result as JSON on stdout.
    Command(Vec<String>),
    /// `module.function(event, context)` run by Baton's bootstrap for the runtime.
    Handler {
        runtime: Runtime,
        /// `file.function`, the file relative to `code` (`dir/file.function` and
        /// `package.module.function` work too).
        handler: String,
        /// The folder the handler's file is in (Lambda's task root).
        code: Option<PathBuf>,
        /// The interpreter to run (default `python3` or `node`).
        interpreter: Option<String>,
    },
    /// POST the payload, take the JSON answer.
    Url { url: String, headers: BTreeMap<String, String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Python,
    Node,
}

pub const DEFAULT_FUNCTION_TIMEOUT_SECONDS: u64 = 60;

/// `[functions.NAME]` as written; checked into a [`FunctionConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    command: Option<Vec<String>>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    handler: Option<String>,
    runtime: Option<String>,
    code: Option<PathBuf>,
    interpreter: Option<String>,
    timeout_seconds: Option<u64>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

impl TryFrom<RawFunction> for FunctionConfig {
    type Error = String;

    fn try_from(raw: RawFunction) -> Result<Self, String> {
        let kinds = [raw.command.is_some(), raw.url.is_some(), raw.handler.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("a function needs exactly one of `command`, `url` or `handler` (with `runtime`)".into());
        }
        let only_for = |field: &str, present: bool, kind: &str| -> Result<(), String> {
            if present {
                Err(format!("`{field}` applies only to a function with `{kind}`"))
            } else {
                Ok(())
            }
        };
        let kind = if let Some(command) = raw.command {
            if command.is_empty() {
                return Err("`command` is empty: give the program and its arguments".into());
            }
            only_for("runtime", raw.runtime.is_some(), "handler")?;
            only_for("code", raw.code.is_some(), "handler")?;
            only_for("interpreter", raw.interpreter.is_some(), "handler")?;
            only_for("headers", !raw.headers.is_empty(), "url")?;
            FunctionKind::Command(command)
        } else if let Some(url) = raw.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("`url` must be an http:// or https:// URL, not '{url}'"));
            }
            only_for("runtime", raw.runtime.is_some(), "handler")?;
            only_for("code", raw.code.is_some(), "handler")?;
            only_for("interpreter", raw.interpreter.is_some(), "handler")?;
            only_for("env", !raw.env.is_empty(), "command` or `handler")?;
            FunctionKind::Url { url, headers: raw.headers }
        } else {
            let handler = raw.handler.unwrap_or_default();
            let Some((module, function)) = handler.rsplit_once('.') else {
                return Err(format!("`handler` must be `file.function`, not '{handler}'"));
            };
            if module.is_empty() || function.is_empty() {
                return Err(format!("`handler` must be `file.function`, not '{handler}'"));
            }
            only_for("headers", !raw.headers.is_empty(), "url")?;
            let runtime = match raw.runtime.as_deref() {
                Some(r) if r.starts_with("python") => Runtime::Python,
                Some(r) if r.starts_with("node") => Runtime::Node,
                Some(r) => return Err(format!("unknown `runtime` '{r}': use \"python3\" or \"node\"")),
                None => return Err("a function with `handler` needs `runtime` (\"python3\" or \"node\")".into()),
            };
            FunctionKind::Handler { runtime, handler, code: raw.code, interpreter: raw.interpreter }
        };
        let timeout_seconds = raw.timeout_seconds.unwrap_or(DEFAULT_FUNCTION_TIMEOUT_SECONDS);
        if timeout_seconds == 0 {
            return Err("`timeout_seconds` must be at least 1".into());
        }
        Ok(FunctionConfig { kind, env: raw.env, timeout: Duration::from_secs(timeout_seconds) })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration in {path}: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("trigger '{name}' in {path}: {problem}")]
    Trigger { name: String, path: String, problem: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut cfg: Config =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })?;
        for (name, t) in &cfg.triggers {
            let problem = if t.state_machine.is_some() == t.function.is_some() {
                Some("give exactly one of `state_machine` and `function`".to_owned())
            } else if !t.path.starts_with('/') {
                Some(format!("`path` must start with '/', not '{}'", t.path))
            } else if !matches!(t.method.to_ascii_uppercase().as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                Some(format!("`method` must be GET, POST, PUT, PATCH or DELETE, not '{}'", t.method))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ConfigError::Trigger { name: name.clone(), path: path.display().to_string(), problem });
            }
        }
        cfg.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(mocks) = cfg.mock_config.take() {
            cfg.mock_config = Some(if mocks.is_relative() { cfg.base_dir.join(mocks) } else { mocks });
        }
        Ok(cfg)
    }

    /// The longest a call to any configured function may take (a function at a Lambda
    /// endpoint: Lambda's own limit).
    pub fn longest_function_timeout(&self) -> Duration {
        let local = self
            .functions
            .values()
            .map(|f| f.timeout)
            .max()
            .unwrap_or(Duration::from_secs(DEFAULT_FUNCTION_TIMEOUT_SECONDS));
        if self.aws_client.reaches("lambda") {
            local.max(crate::aws::tasks::LAMBDA_TIMEOUT)
        } else {
            local
        }
    }
}

/// `[queues.NAME]` in `baton.toml`: a queue created when the server starts, optionally with
/// a function that consumes it (Lambda's event source mapping).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Seconds a received message stays invisible (30 unless given).
    #[serde(default)]
    pub visibility_timeout_seconds: Option<u64>,
    /// A function from `[functions]` that receives the queue's messages in batches.
    #[serde(default)]
    pub function: Option<String>,
    /// Messages per call of `function` (10 unless given, at most 10).
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// `[topics.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionConfig>,
}

/// One subscription of a topic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// `email`, `sqs`, `http` or `https` (as SNS names them).
    pub protocol: Protocol,
    /// An email address, a queue (name, URL or ARN) or a URL.
    pub endpoint: String,
    /// Queue and webhook subscriptions: the message alone rather than SNS's JSON envelope.
    #[serde(default)]
    pub raw_message_delivery: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Email,
    Sqs,
    Http,
    Https,
}
