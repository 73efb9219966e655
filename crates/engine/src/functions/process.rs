//! Functions that run as a process: commands, and handlers run by Baton's bootstrap for
//! their runtime (`bootstrap.py`, `bootstrap.js`, shipped inside the binary).
//!
//! Every process gets the payload on stdin and the environment a Lambda function sees
//! (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_REGION`, dummy credentials, and `AWS_ENDPOINT_URL`
//! pointing at this Baton when it serves), then the function's own `env`. It runs in its own
//! process group, so a timeout ends it and anything it started; nothing waits past the
//! function's timeout.
//!
//! A bootstrap writes its answer on the stdout it started with, after one line that says
//! which it is: `ok` then the result, or `error` then Lambda's error document. What the
//! handler prints goes to stderr, which Baton logs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Call;
use crate::config::{FunctionKind, Runtime};
use crate::task::CallFailure;

const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("bootstrap.js");

/// Run a command or handler function.
pub(super) fn call(call: &Call<'_>) -> Result<Vec<u8>, CallFailure> {
    let f = call.function;
    let base = &call.config.base_dir;
    let (mut cmd, program, bootstrapped) = match &f.kind {
        FunctionKind::Command(argv) => {
            let (program, args) = argv.split_first().expect("commands are checked non-empty when the config loads");
            let mut cmd = Command::new(program);
            cmd.args(args);
            if !base.as_os_str().is_empty() {
                cmd.current_dir(base);
            }
            (cmd, program.clone(), false)
        }
        FunctionKind::Handler { runtime, handler, code, interpreter } => {
            let root = task_root(base, code.as_deref());
            let (default_program, flag, script) = match runtime {
                Runtime::Python => ("python3", "-c", PYTHON_BOOTSTRAP),
                Runtime::Node => ("node", "-e", NODE_BOOTSTRAP),
            };
            let program = interpreter.clone().unwrap_or_else(|| default_program.to_owned());
            let mut cmd = Command::new(&program);
            cmd.arg(flag).arg(script).current_dir(&root);
            cmd.env("_HANDLER", handler).env("LAMBDA_TASK_ROOT", &root);
            if *runtime == Runtime::Python {
                cmd.env("PYTHONUNBUFFERED", "1").env("PYTHONDONTWRITEBYTECODE", "1");
            }
            (cmd, program, true)
        }
        FunctionKind::Url { .. } => unreachable!("URL functions are called over HTTP"),
    };
    lambda_environment(&mut cmd, call);
    cmd.envs(&f.env);
    let started = Instant::now();
    let run = match run(cmd, &call.payload, f.timeout) {
        Ok(r) => r,
        Err(e) => {
            return Err(CallFailure::Service {
                error: "Lambda.ServiceException".into(),
                cause: format!("cannot start the function '{}' ({program}): {e}", call.name),
            })
        }
    };
    log_output(call.name, &run.stderr);
    if run.timed_out {
        return Err(CallFailure::runtime(
            "Sandbox.Timedout",
            format!(
                "RequestId: {} Error: Task timed out after {:.2} seconds",
                call.request_id,
                f.timeout.as_secs_f64()
            ),
        ));
    }
    tracing::debug!(function = call.name, elapsed_ms = started.elapsed().as_millis() as u64, "function returned");
    if bootstrapped {
        bootstrap_answer(call, run)
    } else {
        command_answer(call, &program, run)
    }
}

/// The folder a handler's code is in: `code` relative to baton.toml's folder.
fn task_root(base: &Path, code: Option<&Path>) -> PathBuf {
    let root = match code {
        Some(c) => base.join(c),
        None => base.to_path_buf(),
    };
    let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// What Lambda sets for a function, so code written for Lambda (and its SDK calls) runs.
fn lambda_environment(cmd: &mut Command, call: &Call<'_>) {
    let host = &call.config.host;
    // The developer's own AWS session must not leak into functions: they talk to Baton.
    for key in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"] {
        cmd.env_remove(key);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", &host.region)
        .env("AWS_DEFAULT_REGION", &host.region)
        .env("AWS_LAMBDA_FUNCTION_NAME", call.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_TIMEOUT", call.function.timeout.as_secs().to_string())
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", call.name))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("baton/[$LATEST]{}", call.request_id.replace('-', "")))
        .env("BATON_REQUEST_ID", &call.request_id)
        .env("BATON_FUNCTION_ARN", call.function_arn());
    match &host.endpoint_url {
        Some(url) => {
            cmd.env("AWS_ENDPOINT_URL", url);
        }
        None => {
            cmd.env_remove("AWS_ENDPOINT_URL");
        }
    }
}

/// A handler's answer through its bootstrap.
fn bootstrap_answer(call: &Call<'_>, run: Finished) -> Result<Vec<u8>, CallFailure> {
    let out = run.stdout;
    if let Some(result) = out.strip_prefix(b"ok\n") {
        return Ok(result.to_vec());
    }
    if let Some(doc) = out.strip_prefix(b"error\n") {
        return Err(CallFailure::from_document(String::from_utf8_lossy(doc).into_owned()));
    }
    // The runtime ended without answering: sys.exit(), process.exit(), a crash.
    let status = run.status.map_or_else(|| "unknown status".to_owned(), describe_status);
    Err(CallFailure::runtime(
        "Runtime.ExitError",
        format!("RequestId: {} Error: Runtime exited with error: {status}", call.request_id),
    ))
}

/// A command's answer: JSON on stdout and exit 0; or, to fail with a name of its own, a
/// Lambda error document (`{"errorType": ..., "errorMessage": ...}`) on stdout and a
/// non-zero exit. Anything else is `Lambda.Unknown`.
fn command_answer(call: &Call<'_>, program: &str, run: Finished) -> Result<Vec<u8>, CallFailure> {
    let success = run.status.is_some_and(|s| s.success());
    if success {
        if super::parse_payload(&run.stdout).is_err() {
            let text = String::from_utf8_lossy(&run.stdout);
            return Err(unknown(format!(
                "The function '{}' ({program}) did not print JSON on stdout: {}",
                call.name,
                excerpt(text.trim())
            )));
        }
        return Ok(run.stdout);
    }
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&run.stdout) {
        if doc.get("errorType").is_some_and(serde_json::Value::is_string) {
            return Err(CallFailure::from_document(String::from_utf8_lossy(&run.stdout).trim().to_owned()));
        }
    }
    let status = run.status.map_or_else(|| "unknown status".to_owned(), describe_status);
    let stderr = String::from_utf8_lossy(&run.stderr);
    Err(unknown(format!("The function '{}' ({program}) failed with {status}: {}", call.name, excerpt(stderr.trim()))))
}

fn unknown(message: String) -> CallFailure {
    CallFailure::runtime("Lambda.Unknown", message)
}

/// The last 2,000 characters of a text, which is where the reason for a failure usually is.
fn excerpt(text: &str) -> String {
    const KEEP: usize = 2000;
    let count = text.chars().count();
    if count <= KEEP {
        return text.to_owned();
    }
    let tail: String = text.chars().skip(count - KEEP).collect();
    format!("...{tail}")
}

fn describe_status(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("signal: {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

fn log_output(function: &str, stderr: &[u8]) {
    for line in String::from_utf8_lossy(stderr).lines().filter(|l| !l.trim().is_empty()) {
        tracing::info!(target: "baton::function", function, "{line}");
    }
}

struct Finished {
    /// `None` when the process had to be killed.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    timed_out: bool,
}

/// Run `cmd` with `input` on stdin until it exits and its output is read, or until `timeout`,
/// when it and its process group are killed.
fn run(mut cmd: Command, input: &[u8], timeout: Duration) -> std::io::Result<Finished> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let deadline = Instant::now() + timeout;
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    for (is_stdout, pipe) in [
        (true, child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
        (false, child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
    ] {
        let tx = tx.clone();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send((is_stdout, buf));
            });
        }
    }
    drop(tx);
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // A writer thread: a process that does not read its input must not block us.
        std::thread::spawn(move || {
            // A function that exits without reading its input is not an error of ours.
            let _ = stdin.write_all(&input);
        });
    }
    let (mut stdout, mut stderr) = (None, None);
    let mut exited_at: Option<Instant> = None;
    while stdout.is_none() || stderr.is_none() {
        let now = Instant::now();
        if now >= deadline {
            kill(&mut child);
            return Ok(Finished { status: None, stdout: Vec::new(), stderr: Vec::new(), timed_out: true });
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(20))) {
            Ok((true, b)) => stdout = Some(b),
            Ok((false, b)) => stderr = Some(b),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The function has exited but something it started still holds its output
                // open: give that a moment, then end it, so a finished call does not wait.
                if exited_at.is_none() && has_exited(&mut child) {
                    exited_at = Some(Instant::now());
                }
                if exited_at.is_some_and(|t| t.elapsed() > Duration::from_millis(200)) {
                    kill_group(&child);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Both outputs are closed: the process has ended or is about to.
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Finished {
                status: Some(status),
                stdout: stdout.unwrap_or_default(),
                stderr: stderr.unwrap_or_default(),
                timed_out: false,
            });
        }
        if Instant::now() >= deadline {
            kill(&mut child);
            return Ok(Finished { status: None, stdout: Vec::new(), stderr: Vec::new(), timed_out: true });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(child: &mut Child) {
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

/// Has the process exited? On Unix it is not reaped, so its process group stays valid for
/// [`kill_group`].
fn has_exited(child: &mut Child) -> bool {
    #[cfg(unix)]
    {
        let pid: libc::id_t = child.id();
        // SAFETY: waitid(2) writes only into the zeroed siginfo_t we own; WNOWAIT leaves the
        // child to be reaped later by `Child::wait`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT);
            r == 0 && info.si_pid() != 0
        }
    }
    #[cfg(not(unix))]
    {
        // Elsewhere there is no process group to end; reaping here is harmless.
        matches!(child.try_wait(), Ok(Some(_)))
    }
}

/// End the function and whatever it started in its process group. Only called while the
/// function's process is not yet reaped, so the group id cannot belong to anyone else.
fn kill_group(child: &Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group the child leads
            // (it was started with process_group(0)); it touches no memory of ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}
