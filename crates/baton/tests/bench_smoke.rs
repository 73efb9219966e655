//! `baton bench` end to end: every scenario, a few executions each, against a `baton serve`
//! this test starts on a free loopback port with its own data folder. Asserts what the
//! scenarios report (all executions SUCCEEDED, or waiting for idle-waiters) and that the
//! JSON summary has its fields; speed is not asserted here.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const EXECUTIONS: u64 = 3;

struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

fn start_server() -> (Server, u16) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("baton-bench-smoke-{}-{port}", std::process::id()));
    let child = Command::new(BATON)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
        .arg(&dir)
        .env("BATON_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("baton serve starts");
    let server = Server { child, dir };
    let began = Instant::now();
    // An answer from Baton itself, not just a connection: a connect to a port nobody listens
    // on yet can succeed by connecting the socket to itself.
    while !common::http_get(port, "/health").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        assert!(began.elapsed() < Duration::from_secs(30), "baton serve did not answer on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

#[test]
fn every_scenario_completes_against_baton_serve() {
    let (server, port) = start_server();
    let out = std::env::temp_dir().join(format!("baton-bench-smoke-{}.json", std::process::id()));
    let status = Command::new(BATON)
        .args(["bench", "--endpoint", &format!("http://127.0.0.1:{port}"), "--scenario", "all", "--quiet"])
        .args(["--executions", &EXECUTIONS.to_string(), "--concurrency", "2", "--finish-timeout", "120"])
        .args(["--pid", &server.child.id().to_string(), "--json"])
        .arg(&out)
        .status()
        .expect("baton bench runs");
    assert!(status.success(), "baton bench exited with {status}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("the JSON summary")).expect("JSON");
    let _ = std::fs::remove_file(&out);
    let reports = doc["reports"].as_array().expect("reports");
    let mut seen: Vec<String> = Vec::new();
    for r in reports {
        let name = r["scenario"].as_str().expect("scenario name").to_owned();
        assert_eq!(r["status"], "ok", "{name}: {r}");
        assert_eq!(r["started"], EXECUTIONS, "{name}: {r}");
        assert!(r["errors"].as_object().expect("errors").is_empty(), "{name}: {r}");
        if name == "idle-waiters" {
            assert_eq!(r["running"], EXECUTIONS, "{name}: every execution still waits: {r}");
            let points = r["extra"]["checkpoints"].as_array().expect("checkpoints");
            assert_eq!(points.last().expect("a checkpoint")["waiting"], EXECUTIONS, "{r}");
        } else {
            assert_eq!(r["succeeded"], EXECUTIONS, "{name}: {r}");
            assert_eq!(r["failed"], 0, "{name}: {r}");
        }
        for field in ["throughput_per_s", "elapsed_s", "endpoints", "concurrency"] {
            assert!(!r[field].is_null(), "{name}: no {field}: {r}");
        }
        let latency = r["latency"].as_object().expect("latency");
        assert!(!latency.is_empty(), "{name}: no latency: {r}");
        for (what, s) in latency {
            for field in ["count", "p50_ms", "p90_ms", "p99_ms", "max_ms"] {
                assert!(s[field].is_number(), "{name}: {what} has no {field}: {r}");
            }
        }
        let server = &r["server"];
        assert!(server["rss_max_mib"].as_f64().is_some_and(|m| m > 0.0), "{name}: no server RSS: {r}");
        assert!(server["cpu_seconds"].is_number(), "{name}: no server CPU: {r}");
        seen.push(name);
    }
    if let Some(callback) = reports.iter().find(|r| r["scenario"] == "callback") {
        for what in ["resume", "poll-to-answer"] {
            assert_eq!(callback["latency"][what]["count"], EXECUTIONS, "callback {what}: {callback}");
        }
    }
    for scenario in loadgen::SCENARIOS {
        assert!(seen.iter().any(|s| s == scenario), "{scenario} did not report: {seen:?}");
    }
    assert_eq!(seen.iter().filter(|s| *s == "map-fanout").count(), 2, "map-fanout at MaxConcurrency 0 and 10");
}

#[test]
fn unknown_scenario_is_a_usage_error() {
    let out = Command::new(BATON)
        .args(["bench", "--endpoint", "http://127.0.0.1:1", "--scenario", "nope"])
        .output()
        .expect("baton bench runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario 'nope'"));
}

#[test]
fn unreachable_endpoint_fails_the_run_with_its_reason() {
    let port = free_port();
    let out = Command::new(BATON)
        .args(["bench", "--endpoint", &format!("http://127.0.0.1:{port}"), "--scenario", "pass-chain", "--quiet"])
        .output()
        .expect("baton bench runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pass-chain: failed (transport: connect"), "{stdout}");
}
