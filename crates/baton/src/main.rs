//! The `baton` binary: argument parsing and output only; the work is in the libraries.

mod cli_bench;
mod cli_run;
mod cli_serve;
mod cli_test;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "baton", version, about = "A self-hosted workflow engine for Amazon States Language")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the Step Functions API, queues, callbacks and the console, on the embedded SQLite
    /// store (--data-dir) or a PostgreSQL database shared by several nodes (--store).
    Serve(cli_serve::ServeArgs),
    /// Run one execution of a definition in this process and print its result.
    Run(cli_run::RunArgs),
    /// Evaluate a JSONPath, a payload template, an intrinsic function or (with --jsonata) a
    /// JSONata expression against an input.
    Eval(cli_run::EvalArgs),
    /// Check a definition and print what is wrong with it, with locations.
    Validate(cli_run::ValidateArgs),
    /// Run the test cases of a MockConfigFile (Step Functions Local's mocked service
    /// integrations) against a definition, in this process, and print a pass/fail table.
    Test(cli_test::TestArgs),
    /// Drive any Step Functions endpoint with a load scenario and report throughput,
    /// latency and errors.
    Bench(cli_bench::BenchArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs())
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        Commands::Serve(args) => cli_serve::run(args),
        Commands::Run(args) => cli_run::run(args),
        Commands::Eval(args) => cli_run::eval(args),
        Commands::Validate(args) => cli_run::validate(args),
        Commands::Test(args) => cli_test::run(args),
        Commands::Bench(args) => cli_bench::run(args),
    }
}

/// Colours only for a person at a terminal: a log redirected to a file or a pipe stays plain
/// text, and `NO_COLOR` (any value) turns them off as <https://no-color.org> asks.
fn colour_logs() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
