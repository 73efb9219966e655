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
        let dir = std::env::temp_dir().join(format!(
            "baton-it-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the test's folder");
        std::fs::write(dir.join("baton.toml"), CONFIG).expect("writing baton.toml");
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
