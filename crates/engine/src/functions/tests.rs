//! Functions as a Task sees them: each kind, each way of failing, and AWS's error names.
//! These run real `python3` and `node` processes and a real HTTP server on loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::config::FunctionHost;

const LEGACY: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// A config from TOML text, with handler files written into a fresh folder.
fn config(toml_text: &str, files: &[(&str, &str)]) -> (Config, tempdir::TempDir) {
    let dir = tempdir::TempDir::new();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a handler file");
    }
    let path = dir.path().join("baton.toml");
    std::fs::write(&path, toml_text).expect("write baton.toml");
    (Config::load(&path).expect("the config loads"), dir)
}

mod tempdir {
    use std::path::{Path, PathBuf};

    /// A folder removed when dropped.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicU64, Ordering};
            static N: AtomicU64 = AtomicU64::new(0);
            let p = std::env::temp_dir().join(format!(
                "baton-functions-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).expect("create a temp folder");
            Self(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn failed(outcome: &TaskOutcome) -> (&str, &str) {
    match outcome {
        TaskOutcome::Failed { error, cause } => (error, cause),
        other => panic!("expected a failure, got {other:?}"),
    }
}

const PY_HANDLERS: &str = r#"import json, os, sys, time

def identity(event, context):
    print("a log line, not the result")
    return event

def raises(event, context):
    raise ValueError("bad order " + str(event.get("id")))

def sleeps(event, context):
    time.sleep(30)
    return event

def exits(event, context):
    sys.exit(3)

def unserializable(event, context):
    return {1, 2}

def environment(event, context):
    return {k: os.environ.get(k) for k in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"]} | {
        "arn": context.invoked_function_arn, "request": context.aws_request_id, "left": context.get_remaining_time_in_millis() > 0}

def raw(event, context):
    return b'"HelloWorld!"'
"#;

fn python_config() -> (Config, tempdir::TempDir) {
    let mut toml_text = String::new();
    for f in ["identity", "raises", "exits", "unserializable", "environment", "raw"] {
        toml_text.push_str(&format!("[functions.{f}]\nruntime = \"python3\"\nhandler = \"handlers.{f}\"\n\n"));
    }
    toml_text
        .push_str("[functions.sleeps]\nruntime = \"python3\"\nhandler = \"handlers.sleeps\"\ntimeout_seconds = 1\n");
    config(&toml_text, &[("handlers.py", PY_HANDLERS)])
}

#[test]
fn a_python_handler_returns_its_result_and_its_prints_stay_out_of_it() {
    let (c, _dir) = python_config();
    let out = c.invoke(&format!("{LEGACY}identity"), &json!({"id": 7}));
    assert_eq!(out, TaskOutcome::Succeeded(json!({"id": 7})));
    let out = c.invoke(&format!("{LEGACY}raw"), &json!({}));
    assert_eq!(out, TaskOutcome::Succeeded(json!("HelloWorld!")));
}

#[test]
fn an_exception_is_the_error_and_lambdas_error_document_the_cause() {
    let (c, _dir) = python_config();
    let out = c.invoke(&format!("{LEGACY}raises"), &json!({"id": 7}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "ValueError");
    let doc: Value = serde_json::from_str(cause).expect("the cause is the error document");
    assert_eq!(doc["errorMessage"], "bad order 7");
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(
        doc["stackTrace"][0].as_str().map(|s| s.starts_with("  File \"/var/task/handlers.py\", line 8")),
        Some(true)
    );
    // The legacy resource passes the document on as the runtime wrote it; lambda:invoke
    // re-serializes it compactly, as AWS does.
    assert!(cause.contains("\"errorType\": \"ValueError\""), "{cause}");
    let out = c.invoke("arn:aws:states:::lambda:invoke", &json!({"FunctionName": "raises", "Payload": {"id": 7}}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "ValueError");
    assert!(
        cause.starts_with("{\"errorMessage\":\"bad order 7\",\"errorType\":\"ValueError\",\"requestId\":"),
        "{cause}"
    );
}

#[test]
fn a_function_that_runs_too_long_is_ended_with_lambdas_timeout_error() {
    let (c, _dir) = python_config();
    let started = Instant::now();
    let out = c.invoke(&format!("{LEGACY}sleeps"), &json!({}));
    assert!(started.elapsed() < Duration::from_secs(10), "the timeout of 1 s ended the call");
    let (error, cause) = failed(&out);
    assert_eq!(error, "Sandbox.Timedout");
    assert!(cause.contains("Task timed out after 1.00 seconds"), "{cause}");
}

#[test]
fn exits_and_results_that_are_not_json_are_runtime_errors() {
    let (c, _dir) = python_config();
    let out = c.invoke(&format!("{LEGACY}exits"), &json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "Runtime.ExitError");
    assert!(cause.contains("exit status 3"), "{cause}");
    let out = c.invoke(&format!("{LEGACY}unserializable"), &json!({}));
    assert_eq!(failed(&out).0, "Runtime.MarshalError");
}

#[test]
fn functions_get_lambdas_environment_and_the_servers_endpoint() {
    let (mut c, _dir) = python_config();
    c.host = FunctionHost {
        endpoint_url: Some("http://127.0.0.1:9999".into()),
        region: "eu-west-1".into(),
        account: "111111111111".into(),
    };
    let out = c.invoke(&format!("{LEGACY}environment"), &json!({}));
    let TaskOutcome::Succeeded(v) = out else { panic!("{out:?}") };
    assert_eq!(v["AWS_ENDPOINT_URL"], "http://127.0.0.1:9999");
    assert_eq!(v["AWS_ACCESS_KEY_ID"], "test");
    assert_eq!(v["AWS_REGION"], "eu-west-1");
    assert_eq!(v["AWS_LAMBDA_FUNCTION_NAME"], "environment");
    assert_eq!(v["arn"], "arn:aws:lambda:eu-west-1:111111111111:function:environment");
    assert_eq!(v["left"], true);
    assert_eq!(v["request"].as_str().map(str::len), Some(36));
}

#[test]
fn missing_modules_and_handlers_are_named_as_lambda_names_them() {
    let (c, _dir) = config(
        "[functions.nomodule]\nruntime = \"python3\"\nhandler = \"missing.handler\"\n\
         [functions.nohandler]\nruntime = \"python3\"\nhandler = \"handlers.missing\"\n",
        &[("handlers.py", PY_HANDLERS)],
    );
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}nomodule"), &json!({}))).0, "Runtime.ImportModuleError");
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}nohandler"), &json!({}))).0, "Runtime.HandlerNotFound");
}

const NODE_HANDLERS: &str = r#"
exports.asyncHandler = async (event) => { console.log("log line"); return { got: event }; };
exports.callbackHandler = (event, context, callback) => { setTimeout(() => callback(null, { ok: context.functionName }), 10); };
exports.legacySucceed = (event, context) => { context.succeed("The email was successfully sent."); };
exports.throws = async () => { const e = new Error("no luck"); e.name = "CustomError"; throw e; };
"#;

/// Whether `program` runs here; the Node tests need Node.js, which Baton itself does not.
fn available(program: &str) -> bool {
    std::process::Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn node_handlers_answer_by_promise_callback_or_context() {
    if !available("node") {
        eprintln!("skipped: no `node` on PATH");
        return;
    }
    let mut toml_text = String::new();
    for f in ["asyncHandler", "callbackHandler", "legacySucceed", "throws"] {
        toml_text.push_str(&format!("[functions.{f}]\nruntime = \"node\"\nhandler = \"index.{f}\"\n\n"));
    }
    let (c, _dir) = config(&toml_text, &[("index.js", NODE_HANDLERS)]);
    assert_eq!(c.invoke(&format!("{LEGACY}asyncHandler"), &json!([1])), TaskOutcome::Succeeded(json!({"got": [1]})));
    assert_eq!(
        c.invoke(&format!("{LEGACY}callbackHandler"), &json!({})),
        TaskOutcome::Succeeded(json!({"ok": "callbackHandler"}))
    );
    assert_eq!(
        c.invoke(&format!("{LEGACY}legacySucceed"), &json!({})),
        TaskOutcome::Succeeded(json!("The email was successfully sent."))
    );
    let out = c.invoke(&format!("{LEGACY}throws"), &json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "CustomError");
    let doc: Value = serde_json::from_str(cause).expect("JSON cause");
    assert_eq!(doc["errorMessage"], "no luck");
    assert!(doc["trace"].is_array());
}

#[test]
fn commands_fail_with_lambda_unknown_unless_they_name_their_error() {
    let (c, _dir) = config(
        r#"
[functions.crash]
command = ["sh", "-c", "echo oops >&2; exit 2"]
[functions.garbage]
command = ["sh", "-c", "echo not json"]
[functions.typed]
command = ["sh", "-c", "echo '{\"errorType\": \"OrderRejected\", \"errorMessage\": \"too big\"}'; exit 1"]
[functions.hangs]
command = ["sh", "-c", "sleep 30 & sleep 30"]
timeout_seconds = 1
[functions.background]
command = ["sh", "-c", "sleep 30 & echo '{\"done\": true}'"]
"#,
        &[],
    );
    let out = c.invoke(&format!("{LEGACY}crash"), &json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "Lambda.Unknown");
    assert!(cause.contains("exit status 2") && cause.contains("oops"), "{cause}");
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}garbage"), &json!({}))).0, "Lambda.Unknown");
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}typed"), &json!({}))).0, "OrderRejected");
    let started = Instant::now();
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}hangs"), &json!({}))).0, "Sandbox.Timedout");
    // A command that has answered is done, even when something it started holds its output.
    assert_eq!(c.invoke(&format!("{LEGACY}background"), &json!({})), TaskOutcome::Succeeded(json!({"done": true})));
    assert!(started.elapsed() < Duration::from_secs(10), "nothing waited for the background sleeps");
}

#[test]
fn lambda_invoke_wraps_the_result_in_lambdas_response() {
    let (c, _dir) = python_config();
    let out = c.invoke("arn:aws:states:::lambda:invoke", &json!({"FunctionName": "identity", "Payload": {"a": 1}}));
    let TaskOutcome::Succeeded(v) = out else { panic!("{out:?}") };
    assert_eq!(v["Payload"], json!({"a": 1}));
    assert_eq!(v["StatusCode"], 200);
    assert_eq!(v["ExecutedVersion"], "$LATEST");
    assert_eq!(v["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert_eq!(v["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"], "8");
    assert_eq!(v["SdkResponseMetadata"]["RequestId"], v["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]);
    // A string payload is passed on as its text; none at all as {}.
    let out = c.invoke("arn:aws:states:::lambda:invoke", &json!({"FunctionName": "identity", "Payload": "true"}));
    assert!(matches!(out, TaskOutcome::Succeeded(ref v) if v["Payload"] == json!(true)), "{out:?}");
    let out = c.invoke(
        "arn:aws:states:::lambda:invoke",
        &json!({"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:identity"}),
    );
    assert!(matches!(out, TaskOutcome::Succeeded(ref v) if v["Payload"] == json!({})), "{out:?}");
}

#[test]
fn an_unknown_function_is_lambdas_resource_not_found() {
    let c = Config::default();
    let out = c.invoke("arn:aws:states:::lambda:invoke", &json!({"FunctionName": "nope"}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "Lambda.ResourceNotFoundException");
    assert!(cause.starts_with("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "), "{cause}");
}

#[test]
fn results_over_256_kib_exceed_the_data_limit() {
    let (c, _dir) = config(
        "[functions.big]\nruntime = \"python3\"\nhandler = \"big.handler\"\n",
        &[("big.py", "def handler(event, context):\n    return b'a' * (257 * 1024)\n")],
    );
    let out = c.invoke(&format!("{LEGACY}big"), &json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.DataLimitExceeded");
    assert!(cause.starts_with(&format!("The state/task '{LEGACY}big' returned a result")), "{cause}");
    let out = c.invoke("arn:aws:states:::lambda:invoke", &json!({"FunctionName": "big"}));
    assert_eq!(
        failed(&out).1,
        "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit."
    );
}

/// A one-request-at-a-time HTTP server on loopback answering every request with `answer`
/// (status line and body); returns its URL.
fn http_server(status: &'static str, body: &'static str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}/fn", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0u8; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut request_body);
            std::thread::sleep(delay);
            let body =
                if body == "ECHO" { String::from_utf8_lossy(&request_body).into_owned() } else { body.to_owned() };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn url_functions_post_the_payload_and_fail_on_other_statuses() {
    let ok = http_server("200 OK", "ECHO", Duration::ZERO);
    let broken = http_server("500 Internal Server Error", "upstream exploded", Duration::ZERO);
    let typed =
        http_server("400 Bad Request", r#"{"errorType":"InvalidOrder","errorMessage":"no items"}"#, Duration::ZERO);
    let slow = http_server("200 OK", "{}", Duration::from_secs(5));
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = l.local_addr().expect("addr");
        drop(l);
        format!("http://{a}/")
    };
    let toml_text = format!(
        "[functions.ok]\nurl = \"{ok}\"\n[functions.broken]\nurl = \"{broken}\"\n[functions.typed]\nurl = \"{typed}\"\n\
         [functions.slow]\nurl = \"{slow}\"\ntimeout_seconds = 1\n[functions.refused]\nurl = \"{refused}\"\n"
    );
    let (c, _dir) = config(&toml_text, &[]);
    assert_eq!(c.invoke(&format!("{LEGACY}ok"), &json!({"n": 1})), TaskOutcome::Succeeded(json!({"n": 1})));
    let out = c.invoke(&format!("{LEGACY}broken"), &json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "Lambda.Unknown");
    assert!(cause.contains("500") && cause.contains("upstream exploded"), "{cause}");
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}typed"), &json!({}))).0, "InvalidOrder");
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}slow"), &json!({}))).0, "Sandbox.Timedout");
    assert_eq!(failed(&c.invoke(&format!("{LEGACY}refused"), &json!({}))).0, "Lambda.ServiceException");
}

#[test]
fn configurations_that_cannot_run_are_refused_when_they_load() {
    let check = |text: &str, expected: &str| {
        let dir = tempdir::TempDir::new();
        let path = dir.path().join("baton.toml");
        std::fs::write(&path, text).expect("write");
        let e = Config::load(&path).expect_err("the config is refused").to_string();
        assert!(e.contains(expected), "{e}");
    };
    check("[functions.a]\ncommand = []\n", "`command` is empty");
    check("[functions.a]\ncommand = [\"x\"]\nurl = \"http://x\"\n", "exactly one of");
    check("[functions.a]\nhandler = \"x.y\"\n", "needs `runtime`");
    check("[functions.a]\nhandler = \"xy\"\nruntime = \"python3\"\n", "`file.function`");
    check("[functions.a]\nhandler = \"x.y\"\nruntime = \"ruby\"\n", "unknown `runtime`");
    check("[functions.a]\ncommand = [\"x\"]\ntimeout = 3\n", "unknown field");
    check("[triggers.t]\npath = \"orders\"\nstate_machine = \"m\"\n", "must start with '/'");
}
