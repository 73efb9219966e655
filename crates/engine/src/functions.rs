//! Functions a Task can call from `baton run`: local commands that read the task input as
//! JSON on stdin and write the result as JSON on stdout, configured in `baton.toml`:
//!
//! ```toml
//! [functions.check-order]
//! command = ["python3", "check_order.py"]
//! ```
//!
//! A Task reaches one by a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`)
//! or through `arn:aws:states:::lambda:invoke` with `FunctionName` (a name or an ARN) and
//! `Payload`, as on AWS.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{json, Value};

/// `baton.toml` as far as local runs read it.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionConfig>,
    /// Folder the config was read from; relative paths in commands resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FunctionConfig {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Extra environment variables for the process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration in {path}: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("function '{name}' in {path} has an empty command")]
    EmptyCommand { name: String, path: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut cfg: Config =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })?;
        for (name, f) in &cfg.functions {
            if f.command.is_empty() {
                return Err(ConfigError::EmptyCommand { name: name.clone(), path: path.display().to_string() });
            }
        }
        cfg.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(cfg)
    }
}

/// How a task ended, in the terms the interpreter takes.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

/// Error name for resources this runner cannot reach.
pub const UNSUPPORTED_RESOURCE: &str = "Baton.UnsupportedResource";

impl Config {
    /// Run the task `resource` with `input`.
    pub fn invoke(&self, resource: &str, input: &Value) -> TaskOutcome {
        if resource.ends_with(".waitForTaskToken") || resource.contains(":activity:") {
            return unsupported(
                resource,
                "callbacks and activities need a running server (`baton serve`); `baton run` cannot wait for them",
            );
        }
        if let Some(name) = lambda_function_name(resource) {
            return self.call_function(&name, input);
        }
        if resource == "arn:aws:states:::lambda:invoke" {
            let Some(target) = input.get("FunctionName").and_then(Value::as_str) else {
                return TaskOutcome::Failed {
                    error: "Lambda.InvalidParameterValueException".into(),
                    cause: "The parameter 'FunctionName' is required and must be a string".into(),
                };
            };
            let name = lambda_function_name(target).unwrap_or_else(|| target.to_owned());
            let payload = input.get("Payload").cloned().unwrap_or(Value::Null);
            return match self.call_function(&name, &payload) {
                TaskOutcome::Succeeded(out) => TaskOutcome::Succeeded(json!({
                    "ExecutedVersion": "$LATEST",
                    "Payload": out,
                    "StatusCode": 200,
                })),
                failed => failed,
            };
        }
        unsupported(
            resource,
            "this resource is not available to `baton run`; configure a function or use `baton serve`",
        )
    }

    fn call_function(&self, name: &str, input: &Value) -> TaskOutcome {
        let Some(f) = self.functions.get(name) else {
            return TaskOutcome::Failed {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("Function not found: '{name}' (configure it under [functions.{name}] in baton.toml)"),
            };
        };
        run_command(f, &self.base_dir, input)
    }
}

fn unsupported(resource: &str, why: &str) -> TaskOutcome {
    TaskOutcome::Failed { error: UNSUPPORTED_RESOURCE.into(), cause: format!("Resource '{resource}': {why}") }
}

/// `NAME` from `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
fn lambda_function_name(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function")
        .then(|| parts[6].to_owned())
}

fn run_command(f: &FunctionConfig, base_dir: &Path, input: &Value) -> TaskOutcome {
    let (program, args) = f.command.split_first().expect("commands are checked non-empty when the config loads");
    let mut cmd = Command::new(program);
    cmd.args(args).envs(&f.env).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if !base_dir.as_os_str().is_empty() {
        cmd.current_dir(base_dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return TaskOutcome::Failed {
                error: "Lambda.ServiceException".into(),
                cause: format!("cannot start {program}: {e}"),
            }
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A command that exits without reading its input is not an error of ours.
        let _ = stdin.write_all(input.to_string().as_bytes());
    }
    let output = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return TaskOutcome::Failed { error: "Lambda.ServiceException".into(), cause: e.to_string() },
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return TaskOutcome::Failed {
            error: "Lambda.Unknown".into(),
            cause: format!("{program} exited with {}: {}", output.status, stderr.trim()),
        };
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = stdout.trim();
    if text.is_empty() {
        return TaskOutcome::Succeeded(Value::Null);
    }
    match serde_json::from_str(text) {
        Ok(v) => TaskOutcome::Succeeded(v),
        Err(e) => TaskOutcome::Failed {
            error: "Lambda.Unknown".into(),
            cause: format!("{program} did not print JSON on stdout: {e}"),
        },
    }
}
