//! How failing functions and HTTP Tasks look to a state machine: each way of failing gives
//! AWS's error name, Retry retries it, Catch catches it, and nothing hangs. Runs definitions
//! through the in-process runner (the interpreter `baton serve` uses too) on a virtual clock,
//! with real `python3` processes and a real HTTP server on loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use asl::interpreter::Status;
use asl::Definition;
use engine::config::Config;
use engine::{run_local, LocalOptions, LocalRun};
use serde_json::{json, Value};

const HANDLERS: &str = r#"import sys, time

def raises(event, context):
    raise KeyError("OrderID")

def sleeps(event, context):
    time.sleep(30)

def exits(event, context):
    sys.exit(1)
"#;

fn folder() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "baton-task-failures-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir
}

fn config(extra: &str) -> Config {
    let dir = folder();
    std::fs::write(dir.join("handlers.py"), HANDLERS).expect("write handlers");
    let text = format!(
        r#"
[functions.raises]
runtime = "python3"
handler = "handlers.raises"
[functions.sleeps]
runtime = "python3"
handler = "handlers.sleeps"
timeout_seconds = 1
[functions.exits]
runtime = "python3"
handler = "handlers.exits"
[functions.garbage]
command = ["sh", "-c", "echo this is not JSON"]
{extra}
"#
    );
    let path = dir.join("baton.toml");
    std::fs::write(&path, text).expect("write baton.toml");
    Config::load(&path).expect("the config loads")
}

/// A Task on `resource` (with `parameters`) that retries `error` once, then catches it.
fn retry_then_catch(resource: &str, parameters: Value, error: &str) -> Definition {
    let def = json!({
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": parameters,
                "Retry": [{"ErrorEquals": [error], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": [error], "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    Definition::parse(&def.to_string()).expect("the definition is valid")
}

fn execute(def: &Definition, config: Config) -> LocalRun {
    run_local(def, json!({}), LocalOptions { config, fast_forward: true, ..LocalOptions::default() })
}

fn caught(run: &LocalRun) -> &Value {
    match run.status() {
        Status::Succeeded { output } => output,
        other => panic!("the Catch should have ended the execution well, got {other:?}"),
    }
}

fn count(run: &LocalRun, event_type: &str) -> usize {
    run.history.iter().filter(|e| e.event_type.as_str() == event_type).count()
}

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

#[test]
fn each_way_a_function_fails_is_retried_and_caught_by_its_aws_name() {
    let config = config("");
    let started = Instant::now();
    for (function, error) in [
        ("raises", "KeyError"),
        ("sleeps", "Sandbox.Timedout"),
        ("exits", "Runtime.ExitError"),
        ("garbage", "Lambda.Unknown"),
        ("missing", "Lambda.ResourceNotFoundException"),
    ] {
        let def = retry_then_catch(&format!("{FUNCTION}{function}"), json!({}), error);
        let run = execute(&def, config.clone());
        let out = caught(&run);
        assert_eq!(out["Error"], error, "{function}: {out}");
        assert!(out["Cause"].is_string(), "{function}: {out}");
        assert_eq!(count(&run, "LambdaFunctionFailed"), 2, "{function}: one attempt and one retry");
        // The same failures through lambda:invoke, and matched by States.TaskFailed.
        let def = retry_then_catch(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": function, "Payload": {}}),
            "States.TaskFailed",
        );
        let run = execute(&def, config.clone());
        assert_eq!(caught(&run)["Error"], error, "{function} through lambda:invoke");
        assert_eq!(count(&run, "TaskFailed"), 2, "{function} through lambda:invoke");
    }
    // Two calls of a function that times out after 1 s, twice: nothing waited longer.
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

/// An HTTP server on loopback that answers every request with `status` and `body`.
fn server(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Test: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}/")
}

#[test]
fn http_task_errors_are_retried_and_caught_by_their_aws_names() {
    let unavailable = server("503 Service Unavailable", "{\"message\": \"down\"}");
    for (endpoint, error, cause) in [
        (unavailable, "States.Http.StatusCode.503", Some("Service Unavailable")),
        (refused_url(), "States.Http.Socket", None),
    ] {
        let def =
            retry_then_catch("arn:aws:states:::http:invoke", json!({"ApiEndpoint": endpoint, "Method": "GET"}), error);
        let run = execute(&def, Config::default());
        let out = caught(&run);
        assert_eq!(out["Error"], error, "{out}");
        if let Some(cause) = cause {
            assert_eq!(out["Cause"], cause);
        }
        assert_eq!(count(&run, "TaskFailed"), 2, "one attempt and one retry");
    }
}

#[test]
fn an_http_task_returns_aws_result_shape() {
    let ok = server("200 OK", "{\"id\": 7}");
    let def = json!({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {
                "ApiEndpoint": format!("{ok}/orders"),
                "Method": "POST",
                "Headers": {"X-Order": "7"},
                "QueryParameters": {"tag": ["a", "b"]},
                "RequestBody": {"id": 7},
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/shop/1"}
            },
            "End": true
        }}
    });
    let def = Definition::parse(&def.to_string()).expect("valid");
    let run = execute(&def, Config::default());
    let Status::Succeeded { output } = run.status() else { panic!("{:?}", run.status()) };
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["StatusText"], "OK");
    assert_eq!(output["ResponseBody"], json!({"id": 7}));
    assert_eq!(output["Headers"]["x-test"], json!(["yes"]));
}
