//! `baton bench`: load scenarios against any Step Functions endpoint (see the `loadgen`
//! crate); prints a summary table and optionally writes it as JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use loadgen::report::{table, Outcome};

#[derive(Args)]
pub struct BenchArgs {
    /// The endpoint, http://HOST:PORT; repeat it for the nodes of a cluster (requests are
    /// spread over them, and callbacks answered on another node than the one polled).
    #[arg(long, required = true)]
    endpoint: Vec<String>,
    /// A scenario, a comma-separated list, or `all`: pass-chain, choice-loop, map-fanout,
    /// parallel, wait, callback, start-burst, express, idle-waiters.
    #[arg(long)]
    scenario: String,
    /// Executions to start (idle-waiters: how many to leave waiting).
    #[arg(long, default_value_t = 1000)]
    executions: u64,
    /// Clients calling at once (and activity workers, for callback).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Stop starting executions after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Write the reports as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A local server process to report RSS and CPU of; repeat for several.
    #[arg(long)]
    pid: Vec<u32>,
    /// The region in the (unsigned) credentials sent.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The role ARN state machines are created with.
    #[arg(long, default_value = "arn:aws:iam::123456789012:role/baton-bench")]
    role_arn: String,
    /// How long to wait, in seconds, for started executions to finish.
    #[arg(long, default_value_t = 600.0)]
    finish_timeout: f64,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: BenchArgs) -> ExitCode {
    let seconds = |s: f64, what: &str| {
        if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(format!("{what} must be a positive number of seconds, not {s}"))
        }
    };
    let duration = match args.duration.map(|d| seconds(d, "--duration")).transpose() {
        Ok(d) => d,
        Err(e) => return usage(&e),
    };
    let finish_timeout = match seconds(args.finish_timeout, "--finish-timeout") {
        Ok(d) => d,
        Err(e) => return usage(&e),
    };
    let opts = loadgen::Options {
        endpoints: args.endpoint,
        executions: args.executions,
        concurrency: args.concurrency,
        duration,
        pids: args.pid,
        region: args.region,
        role_arn: args.role_arn,
        progress: !args.quiet,
        finish_timeout,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let reports = match runtime.block_on(loadgen::run(&args.scenario, &opts)) {
        Ok(r) => r,
        Err(e) => return usage(&e),
    };
    print!("{}", table(&reports));
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "reports": reports });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if reports.iter().any(|r| r.status == Outcome::Failed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
