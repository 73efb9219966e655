//! A `baton serve` process for integration tests: the built binary on a free loopback port
//! with its own data folder, a generated baton.toml and its log in a file. Dropping it kills
//! the process and removes the folder.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::interceptors::BeforeSerializationInterceptorContextMut;
use aws_sdk_sfn::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_sfn::error::BoxError;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use aws_sdk_sfn::Client;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;

pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/baton-test";

/// `baton.toml`: functions Tasks can call. `empty` stands for "send the token somewhere" in
/// the callback pattern: it reads the event and answers `{}`.
const CONFIG: &str = r#"
[functions.empty]
command = ["sh", "-c", "cat >/dev/null; echo '{}'"]
"#;

pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    activity_poll_ms: u64,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Server {
    /// Start a server in a fresh folder.
    pub fn start(activity_poll_ms: u64) -> Server {
        Self::start_with(activity_poll_ms, "")
    }

    /// Start a server in a fresh folder with more of `baton.toml` (`{dir}` in it names the
    /// test's folder).
    pub fn start_with(activity_poll_ms: u64, extra_config: &str) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "baton-it-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the test's folder");
        let config = format!("{CONFIG}\n{}", extra_config.replace("{dir}", &dir.display().to_string()));
        std::fs::write(dir.join("baton.toml"), config).expect("writing baton.toml");
        let mut server = Server { dir, port: 0, child: None, activity_poll_ms };
        server.restart();
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("baton.log")
    }

    /// (Re)start the process on the same data folder and wait for `GET /health`.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        let log_path = self.log_path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("opening the log");
        let offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--config")
            .arg(self.dir.join("baton.toml"))
            .args(["--activity-poll-ms", &self.activity_poll_ms.to_string()])
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .spawn()
            .expect("starting baton serve");
        self.child = Some(child);
        self.port = self.wait_listening(&log_path, offset);
        self.wait_healthy();
    }

    /// The port `--port 0` gave, from the line the server prints when it listens.
    fn wait_listening(&mut self, log_path: &Path, offset: u64) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let text = std::fs::read(log_path).unwrap_or_default();
            let text = String::from_utf8_lossy(text.get(offset as usize..).unwrap_or_default());
            if let Some(rest) = text.split("listening on http://127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(port) = digits.parse() {
                    return port;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("baton serve exited ({status}); its log:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("baton serve did not listen; its log:\n{}", self.log_tail());
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get(self.port, "/health").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("GET /health did not answer; log:\n{}", self.log_tail());
    }

    /// SIGKILL: no shutdown code runs, as when the machine loses power.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Fails the test when the server panicked at any point.
    pub fn assert_no_panic(&self) {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        assert!(!text.contains("panicked at"), "baton serve panicked; its log:\n{}", self.log_tail());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A bare HTTP/1.1 GET on loopback: the status line and the rest, or `None` if nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A definition from its states, starting at the first.
pub fn definition(start: &str, states: serde_json::Value) -> String {
    serde_json::json!({"StartAt": start, "States": states}).to_string()
}

/// StartSyncExecution carries the `sync-` host prefix in the service model, so the SDK would
/// send it to `sync-127.0.0.1`, which does not resolve. Drop the prefix before the endpoint
/// is applied, as boto3's `inject_host_prefix=False` does.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_serialization(
        &self,
        _context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

/// An aws-sdk-sfn client for the server, with static credentials and plain HTTP (no TLS
/// stack needed on loopback).
pub fn client(server: &Server) -> Client {
    client_with_keys(server, "test", "test")
}

/// A client signing with these keys (for a server with `[credentials]`).
pub fn client_with_keys(server: &Server, access_key_id: &str, secret_access_key: &str) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key_id, secret_access_key, None, None, "static"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .interceptor(NoHostPrefix)
        .build();
    Client::from_conf(config)
}

pub async fn create(sfn: &Client, name: &str, def: &str) -> String {
    sfn.create_state_machine()
        .name(name)
        .definition(def)
        .role_arn(ROLE_ARN)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn
}

/// Poll DescribeExecution until the execution has ended.
pub async fn wait_done(sfn: &Client, arn: &str) -> DescribeExecutionOutput {
    for _ in 0..1200 {
        let d = sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        if d.status != ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {arn} did not end");
}

pub async fn history(sfn: &Client, arn: &str) -> Vec<HistoryEvent> {
    sfn.get_execution_history()
        .execution_arn(arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("GetExecutionHistory")
}

/// Wait until the execution's history holds `count` events of this type; returns the history.
pub async fn wait_events(sfn: &Client, arn: &str, kind: HistoryEventType, count: usize) -> Vec<HistoryEvent> {
    for _ in 0..1200 {
        let events = history(sfn, arn).await;
        if events.iter().filter(|e| e.r#type == kind).count() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} {kind:?} events in {arn}");
}

/// The task token the `n`-th callback Task (from 0) passed in its parameters (Payload.token).
pub async fn callback_token(sfn: &Client, arn: &str, n: usize) -> String {
    let events = wait_events(sfn, arn, HistoryEventType::TaskSubmitted, n + 1).await;
    let scheduled =
        events.iter().filter_map(|e| e.task_scheduled_event_details.as_ref()).nth(n).expect("a TaskScheduled event");
    let params: serde_json::Value = serde_json::from_str(&scheduled.parameters).expect("parameters are JSON");
    params["Payload"]["token"].as_str().expect("Payload.token").to_owned()
}

/// A Task that sends its token to the `empty` function and waits for the callback.
pub fn callback_state(extra: serde_json::Value) -> serde_json::Value {
    let mut state = serde_json::json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "empty", "Payload": {"token.$": "$$.Task.Token", "input.$": "$"}},
        "End": true,
    });
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    state
}
