//! `baton run`, `baton eval` and `baton validate`.
//!
//! Exit codes are a contract scripts rely on: 0 the execution succeeded (or the expression
//! evaluated, or the definition is valid); 1 the execution ended otherwise (or evaluation
//! failed); 2 bad usage or an invalid definition.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use asl::history::HistoryEvent;
use asl::interpreter::Status;
use asl::simulator::Expression;
use asl::Definition;
use clap::Args;
use engine::functions::Config;
use engine::random::OsRandomness;
use engine::{run_local, LocalOptions};
use serde_json::{json, Value};

#[derive(Args)]
pub struct RunArgs {
    /// The definition file (JSON or YAML).
    definition: PathBuf,
    /// Execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A baton.toml with the functions Tasks may call.
    #[arg(long)]
    functions: Option<PathBuf>,
    /// Also print the event history.
    #[arg(long)]
    history: bool,
    /// Print one JSON object: {"status", "output", "error", "cause", "history"}.
    #[arg(long)]
    json: bool,
    /// Run Waits, retry intervals and timeouts on a virtual clock.
    #[arg(long)]
    fast_forward: bool,
    /// State machine name used in ARNs and the context object.
    #[arg(long, default_value = "local")]
    name: String,
}

#[derive(Args)]
pub struct EvalArgs {
    /// A JSONPath ($.a.b), a payload template ({"x.$": "$.a"}) or an intrinsic call.
    #[arg(required_unless_present = "jsonata", conflicts_with = "jsonata")]
    expression: Option<String>,
    /// Evaluate this JSONata expression instead (as a JSONata state would, without {% %}).
    #[arg(long, value_name = "EXPRESSION")]
    jsonata: Option<String>,
    /// The input document ($): JSON text, or @FILE. JSONPath default: {}; JSONata default:
    /// undefined.
    #[arg(long)]
    input: Option<String>,
    /// The context object ($$): JSON text, or @FILE (JSONPath only).
    #[arg(long, default_value = "{}", conflicts_with = "jsonata")]
    context: String,
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
    serde_json::from_str(&text).with_context(|| format!("{what} is not valid JSON"))
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
                eprintln!("InvalidDefinition: {e}");
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
    let execution_name = OsRandomness::new_execution_name();
    let options = LocalOptions {
        config,
        fast_forward: args.fast_forward,
        state_machine_name: args.name.clone(),
        execution_name,
        random: None,
        on_events: Some(Box::new(|events: &[HistoryEvent]| {
            for e in events {
                tracing::debug!(id = e.id, r#type = e.event_type.as_str(), "history event");
            }
        })),
    };
    let result = run_local(&definition, input, options);
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
    let parsed = (|| -> Result<(Expression, Value, Value)> {
        let expr = Expression::parse(args.expression.as_deref().unwrap_or_default()).map_err(anyhow::Error::msg)?;
        let input = read_json_arg(args.input.as_deref().unwrap_or("{}"), "--input")?;
        Ok((expr, input, read_json_arg(&args.context, "--context")?))
    })();
    let (expr, input, context) = match parsed {
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
            if args.json {
                println!("{}", json!({"error": e.error, "message": e.message}));
            } else {
                eprintln!("{}: {}", e.error, e.message);
            }
            ExitCode::from(1)
        }
    }
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
        now: std::time::SystemTime::now()
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
        Err(e) => {
            if args.json {
                println!("{}", json!({"error": e.code(), "message": e.to_string()}));
            } else {
                eprintln!("{e}");
            }
            ExitCode::from(1)
        }
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
                for p in &e.problems {
                    eprintln!("{}: {p}", args.definition.display());
                }
            }
            ExitCode::from(2)
        }
    }
}
