//! `baton run`, `baton eval` and `baton validate`.
//!
//! Exit codes are a contract scripts rely on: 0 the execution succeeded (or the expression
//! evaluated, or the definition is valid); 1 the execution ended otherwise (or the expression
//! does not parse, in either language, or its evaluation failed); 2 bad usage or an invalid
//! definition.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use asl::context::{ExecutionInfo, StateContext};
use asl::eval::ContextSource as _;
use asl::history::HistoryEvent;
use asl::interpreter::Status;
use asl::simulator::{Expression, ExpressionError};
use asl::{Definition, DefinitionError};
use clap::Args;
use engine::config::Config;
use engine::mocks::{MockConfig, Mocks, TestCaseRef};
use engine::random::OsRandomness;
use engine::{run_local, LocalOptions};
use serde_json::{json, Value};
use server::router;
use server::serve::{accept_loop, assemble, ServeOptions};

#[derive(Args)]
pub struct RunArgs {
    /// The definition file (JSON or YAML).
    definition: PathBuf,
    /// Execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A baton.toml: the functions, queues, topics and AWS endpoints Tasks reach, as `baton
    /// serve` reads it.
    #[arg(long)]
    functions: Option<PathBuf>,
    /// The data folder of the built-in queues, S3 and the executions Tasks start
    /// (`states:startExecution`), as `baton serve --data-dir`; a folder no running server
    /// uses. Without it, a temporary folder removed when the run ends.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also print the event history.
    #[arg(long)]
    history: bool,
    /// Print one JSON object: {"status", "output", "error", "cause", "history"}.
    #[arg(long)]
    json: bool,
    /// Run Waits, retry intervals and timeouts on a virtual clock.
    #[arg(long)]
    fast_forward: bool,
    /// State machine name used in ARNs and the context object (and to find --case in
    /// --mock-config).
    #[arg(long, default_value = "local")]
    name: String,
    /// Step Functions Local's MockConfigFile.json, for --case.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    mock_config: Option<PathBuf>,
    /// Run with this mock test case of the state machine --name in --mock-config: the states
    /// it names get their mocked responses.
    #[arg(long = "case", requires = "mock_config")]
    test_case: Option<String>,
}

#[derive(Args)]
pub struct EvalArgs {
    /// A JSONPath ($.a.b), a payload template ({"x.$": "$.a"}), an intrinsic call or a JSON
    /// literal (-4). It may start with '-'.
    #[arg(required_unless_present = "jsonata", conflicts_with = "jsonata", allow_hyphen_values = true)]
    expression: Option<String>,
    /// Evaluate this JSONata expression instead (as a JSONata state would, without {% %}).
    #[arg(long, value_name = "EXPRESSION", allow_hyphen_values = true)]
    jsonata: Option<String>,
    /// The input document ($): JSON text, or @FILE. JSONPath default: {}; JSONata default:
    /// undefined.
    #[arg(long)]
    input: Option<String>,
    /// The context object ($$): JSON text, or @FILE (JSONPath only). Default: the context of
    /// a made-up execution of a machine named "local" in a state named "Eval".
    #[arg(long, conflicts_with = "jsonata")]
    context: Option<String>,
    /// Variables for a JSONata expression: a JSON object, or @FILE.
    #[arg(long, requires = "jsonata")]
    bindings: Option<String>,
    /// Print one JSON object: {"result": V}, {"undefined": true} (JSONata) or {"error", "message"}.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// The definition file (JSON or YAML).
    definition: PathBuf,
    /// Print one JSON object: {"valid": bool, "diagnostics": [...]}.
    #[arg(long)]
    json: bool,
}

/// JSON text, or `@path` to read it from a file.
fn read_json_arg(arg: &str, what: &str) -> Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {what} file {path}"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| match file_named(arg) {
        Some(path) => anyhow::anyhow!("{what} is not valid JSON ({e}); to read the file {path}, write {what} @{path}"),
        None => anyhow::anyhow!("{what} is not valid JSON: {e}"),
    })
}

/// Whether a JSON argument that does not parse was meant as a file name (given without `@`).
fn file_named(arg: &str) -> Option<&str> {
    let looks_like_a_file = [".json", ".yaml", ".yml", ".txt"].iter().any(|ext| arg.ends_with(ext));
    (!arg.starts_with('@') && (looks_like_a_file || Path::new(arg).is_file())).then_some(arg)
}

/// Every problem of a definition that does not validate, one a line with the file's name, as
/// compilers print them.
fn print_problems(file: &Path, error: &DefinitionError) {
    for p in &error.problems {
        eprintln!("{}: {p}", file.display());
    }
}

fn usage_error(json_mode: bool, message: &str) -> ExitCode {
    if json_mode {
        println!("{}", json!({"status": null, "error": "ValidationException", "cause": message}));
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(2)
}

pub fn run(args: RunArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.definition) {
        Ok(t) => t,
        Err(e) => return usage_error(args.json, &format!("cannot read {}: {e}", args.definition.display())),
    };
    let definition = match Definition::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            if args.json {
                println!("{}", json!({"status": null, "error": "InvalidDefinition", "cause": e.to_string()}));
            } else {
                print_problems(&args.definition, &e);
            }
            return ExitCode::from(2);
        }
    };
    let input = match read_json_arg(&args.input, "--input") {
        Ok(v) => v,
        Err(e) => return usage_error(args.json, &format!("{e:#}")),
    };
    let config = match &args.functions {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => return usage_error(args.json, &e.to_string()),
        },
        None => Config::default(),
    };
    let mocks = match (&args.mock_config, &args.test_case) {
        (Some(path), Some(case)) => {
            let mocks = match MockConfig::load(path) {
                Ok(m) => m,
                Err(e) => return usage_error(args.json, &e.to_string()),
            };
            if let Err(e) = mocks.test_case(&args.name, case) {
                return usage_error(args.json, &e.to_string());
            }
            Some((mocks, TestCaseRef { state_machine: args.name.clone(), test_case: case.clone() }))
        }
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return usage_error(args.json, &format!("cannot start the runtime: {e}")),
    };
    let data = match DataDir::of(args.data_dir.clone()) {
        Ok(d) => d,
        Err(e) => return usage_error(args.json, &e),
    };
    // The server `baton serve` assembles, on a loopback port of its own for the run: Tasks
    // reach every integration it serves (functions, which may call it back, HTTP, built-in
    // queues and topics, S3, nested executions).
    let listener = match runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")) {
        Ok(l) => l,
        Err(e) => return usage_error(args.json, &format!("cannot listen on a loopback port: {e}")),
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let opts = ServeOptions {
        host: "127.0.0.1".into(),
        port,
        data_dir: data.path.clone(),
        store: None,
        functions: config,
        region: "us-east-1".into(),
        account: "123456789012".into(),
        activity_poll_ms: 1000,
        public_url: None,
        connections: Default::default(),
        allow_open: false,
        durability: Default::default(),
    };
    let state = match runtime.block_on(assemble(&opts)) {
        Ok(s) => s,
        Err(e) => return usage_error(args.json, &e.to_string()),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(accept_loop(listener, router(state.clone()), Default::default(), async {
        let _ = stopped.await;
    }));
    let mut integrations = state.engine.config().integrations.clone();
    let mock = mocks.map(|(mocks, case)| {
        integrations.set_mocks(Arc::new(Mocks::new(mocks)));
        case
    });
    let functions = state.engine.config().functions.clone();
    let (fast_forward, state_machine_name) = (args.fast_forward, args.name.clone());
    // Off the runtime's threads: the run blocks, and calls the integrations through the runtime.
    let run = runtime.spawn_blocking(move || {
        let options = LocalOptions {
            config: functions,
            integrations: Some(integrations),
            fast_forward,
            state_machine_name,
            execution_name: OsRandomness::new_execution_name(),
            random: None,
            on_events: Some(Box::new(|events: &[HistoryEvent]| {
                for e in events {
                    tracing::debug!(id = e.id, r#type = e.event_type.as_str(), "history event");
                }
            })),
            mock,
        };
        run_local(&definition, input, options)
    });
    let result = runtime.block_on(run);
    let _ = stop.send(());
    drop(state);
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    drop(data);
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: the execution's thread ended: {e}");
            return ExitCode::from(1);
        }
    };
    let (output, error, cause) = match result.status() {
        Status::Succeeded { output } => (Some(output.clone()), None, None),
        Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
            (None, error.clone(), cause.clone())
        }
        Status::Running => (None, None, None),
    };
    let succeeded = matches!(result.status(), Status::Succeeded { .. });
    if args.json {
        let history: Vec<Value> = result.history.iter().map(|e| e.to_aws_json(true)).collect();
        println!(
            "{}",
            json!({
                "status": result.status().as_str(),
                "output": output,
                "error": error,
                "cause": cause,
                "history": history,
            })
        );
    } else {
        if args.history {
            print_history(&result.history);
            println!();
        }
        match output {
            Some(out) => println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default()),
            None => {
                eprintln!("status: {}", result.status().as_str());
                if let Some(e) = error {
                    eprintln!("error: {e}");
                }
                if let Some(c) = cause {
                    eprintln!("cause: {c}");
                }
            }
        }
    }
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `baton run`'s data folder: the one given, or a temporary one removed when dropped.
struct DataDir {
    path: PathBuf,
    temporary: bool,
}

impl DataDir {
    fn of(given: Option<PathBuf>) -> Result<Self, String> {
        if let Some(path) = given {
            return Ok(Self { path, temporary: false });
        }
        let path = std::env::temp_dir().join(format!("baton-run-{}", OsRandomness::new_execution_name()));
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot make the data folder {}: {e}", path.display()))?;
        Ok(Self { path, temporary: true })
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn print_history(history: &[HistoryEvent]) {
    println!("{:>5} {:>5}  {:<26} {:<24} detail", "id", "prev", "type", "time");
    for e in history {
        let aws = e.to_aws_json(true);
        let details = aws
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v.to_string()))
            .unwrap_or_default();
        let detail = if details.chars().count() > 100 {
            format!("{}…", details.chars().take(99).collect::<String>())
        } else {
            details
        };
        println!(
            "{:>5} {:>5}  {:<26} {:<24} {}",
            e.id,
            e.previous_event_id,
            e.event_type.as_str(),
            asl::timestamp::format(e.timestamp),
            detail
        );
    }
}

pub fn eval(args: EvalArgs) -> ExitCode {
    if let Some(text) = &args.jsonata {
        return eval_jsonata(text, &args);
    }
    let text = args.expression.as_deref().unwrap_or_default();
    let expr = match Expression::parse(text) {
        Ok(e) => e,
        // Does not parse: exit 1, as a JSONata syntax error does.
        Err(e) => {
            let (code, message) = syntax_failure(e);
            return eval_failed(args.json, Some(code), &message);
        }
    };
    let parsed = (|| -> Result<(Value, Value)> {
        let input = read_json_arg(args.input.as_deref().unwrap_or("{}"), "--input")?;
        let context = match &args.context {
            Some(c) => read_json_arg(c, "--context")?,
            None => made_up_context(&input),
        };
        Ok((input, context))
    })();
    let (input, context) = match parsed {
        Ok(v) => v,
        Err(e) => return usage_error(args.json, &format!("{e:#}")),
    };
    let mut random = OsRandomness::new();
    match expr.eval(&input, &context, &mut random) {
        Ok(v) => {
            if args.json {
                println!("{}", json!({ "result": v }));
            } else {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = eval_failed(args.json, Some(&e.error), &e.message);
            if !args.json && text.contains("$$") {
                let fields = context.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "));
                let which = if args.context.is_some() {
                    "the one given with --context"
                } else {
                    "a made-up execution's (give another with --context JSON|@FILE)"
                };
                eprintln!("note: $$ is the context object, here {which}; it has {}", fields.unwrap_or_default());
            }
            code
        }
    }
}

/// Step Functions gives every execution a context object (`$$`); `baton eval` makes one up,
/// so `$$.Execution.Id` and friends read as they would in a state of a machine named "local".
fn made_up_context(input: &Value) -> Value {
    let now = engine::clock::now_ms();
    let execution = ExecutionInfo::local("local", &OsRandomness::new_execution_name(), now);
    StateContext {
        execution: &execution,
        execution_input: input,
        state_name: "Eval",
        entered_time: now,
        retry_count: None,
        task_token: None,
        map_item: None,
    }
    .context_value()
}

/// An expression that does not parse: the code a definition holding it would report, and
/// the message.
fn syntax_failure(e: ExpressionError) -> (&'static str, String) {
    match e {
        ExpressionError::Template(d) => {
            let code = d.problems.first().map_or("INVALID_JSON_PATH", |p| p.code.as_str());
            (code, d.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        }
        ExpressionError::Intrinsic(message) => ("INVALID_INTRINSIC_FUNCTION", message),
        ExpressionError::Path(message) => ("INVALID_JSON_PATH", message),
    }
}

/// An expression that does not parse or fails: `{"error", "message"}` with `--json`, else the
/// message on stderr; exit code 1 either way.
fn eval_failed(json_mode: bool, error: Option<&str>, message: &str) -> ExitCode {
    if json_mode {
        println!("{}", json!({"error": error, "message": message}));
    } else {
        match error {
            Some(code) if !message.starts_with(code) => eprintln!("{code}: {message}"),
            _ => eprintln!("{message}"),
        }
    }
    ExitCode::from(1)
}

/// `baton eval --jsonata`: one JSONata expression through the glue JSONata states use (Step
/// Functions' functions, no `$eval`), with `$now`/`$millis` from the clock.
fn eval_jsonata(text: &str, args: &EvalArgs) -> ExitCode {
    use asl::eval::Randomness as _;
    use asl::jsonata::{evaluate_standalone, Host, Limits};
    let parsed = (|| -> Result<(Option<Value>, serde_json::Map<String, Value>)> {
        let input = args.input.as_deref().map(|i| read_json_arg(i, "--input")).transpose()?;
        let bindings = match args.bindings.as_deref().map(|b| read_json_arg(b, "--bindings")).transpose()? {
            None => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => anyhow::bail!("--bindings must be a JSON object of variable names to values"),
        };
        Ok((input, bindings))
    })();
    let (input, bindings) = match parsed {
        Ok(v) => v,
        Err(e) => {
            // The same object shape as an evaluation error, with exit code 2.
            if args.json {
                println!("{}", json!({"error": "ValidationException", "message": format!("{e:#}")}));
            } else {
                eprintln!("error: {e:#}");
            }
            return ExitCode::from(2);
        }
    };
    let host = Host {
        now: engine::clock::system_time()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        seed: OsRandomness::new().next_u64(),
        limits: Limits::default(),
    };
    match evaluate_standalone(text, input.as_ref(), &bindings, &host) {
        Ok(Some(v)) => {
            if args.json {
                println!("{}", json!({ "result": v }));
            } else {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            if args.json {
                println!("{}", json!({ "undefined": true }));
            } else {
                println!("undefined");
            }
            ExitCode::SUCCESS
        }
        Err(e) => eval_failed(args.json, e.code(), &e.to_string()),
    }
}

pub fn validate(args: ValidateArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.definition) {
        Ok(t) => t,
        Err(e) => return usage_error(args.json, &format!("cannot read {}: {e}", args.definition.display())),
    };
    match Definition::parse(&text) {
        Ok(_) => {
            if args.json {
                println!("{}", json!({"valid": true, "diagnostics": []}));
            } else {
                println!("{}: valid", args.definition.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                let diags: Vec<Value> = e
                    .problems
                    .iter()
                    .map(|p| json!({"severity": "ERROR", "code": p.code.as_str(), "message": p.message, "location": p.location}))
                    .collect();
                println!("{}", json!({"valid": false, "diagnostics": diags}));
            } else {
                print_problems(&args.definition, &e);
            }
            ExitCode::from(2)
        }
    }
}
