//! `baton test`: run the test cases of a MockConfigFile against a definition, in this
//! process, and print a pass/fail table.
//!
//! Exit codes: 0 every test case passed; 1 at least one failed; 2 bad usage, an invalid
//! definition or MockConfigFile, or an unknown state machine or test case.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use asl::Definition;
use clap::Args;
use engine::config::Config;
use engine::mocks::{MockConfig, Mocks};
use engine::test_cases::{run_test_cases, TestCaseResult, TestRun};

#[derive(Args)]
pub struct TestArgs {
    /// The MockConfigFile.json (Step Functions Local's format) with the test cases.
    mock_config: PathBuf,
    /// The state machine's definition file (JSON or YAML).
    #[arg(long)]
    definition: PathBuf,
    /// The state machine's name in the MockConfigFile; may be left out when it has only one.
    #[arg(long)]
    machine: Option<String>,
    /// Run only this test case.
    #[arg(long = "case")]
    test_case: Option<String>,
    /// A baton.toml with the functions and services the Tasks no test case mocks reach.
    #[arg(long)]
    functions: Option<PathBuf>,
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub fn run(args: TestArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.definition) {
        Ok(t) => t,
        Err(e) => return usage_error(&format!("cannot read {}: {e}", args.definition.display())),
    };
    let definition = match Definition::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}: {p}", args.definition.display());
            }
            return ExitCode::from(2);
        }
    };
    let mocks = match MockConfig::load(&args.mock_config) {
        Ok(m) => m,
        Err(e) => return usage_error(&e.to_string()),
    };
    let machine = match args.machine {
        Some(m) => m,
        None => {
            let machines: Vec<&str> = mocks.machines().collect();
            match machines.as_slice() {
                [one] => (*one).to_owned(),
                _ => {
                    return usage_error(&format!(
                        "{} has test cases for {} state machines ({}): choose one with --machine",
                        args.mock_config.display(),
                        machines.len(),
                        machines.join(", ")
                    ))
                }
            }
        }
    };
    let mut config = match &args.functions {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => return usage_error(&e.to_string()),
        },
        None => Config::default(),
    };
    config.aws_client =
        match engine::aws::Aws::new(config.aws.as_ref(), &engine::aws::Environment::process(), "us-east-1") {
            Ok(aws) => aws,
            Err(e) => return usage_error(&format!("AWS settings: {e}")),
        };
    let results = match run_test_cases(TestRun {
        definition: &definition,
        mocks: Arc::new(Mocks::new(mocks)),
        state_machine: machine.clone(),
        test_case: args.test_case,
        config,
    }) {
        Ok(r) => r,
        Err(e) => return usage_error(&e.to_string()),
    };
    print_table(&machine, &results);
    if results.iter().all(TestCaseResult::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_table(machine: &str, results: &[TestCaseResult]) {
    let width = results.iter().map(|r| r.test_case.chars().count()).max().unwrap_or(0).max("TEST CASE".len());
    println!("{:<6} {:<width$}  {:<10} DETAIL", "RESULT", "TEST CASE", "STATUS");
    for r in results {
        let detail = if r.passed() {
            match (&r.output, &r.error) {
                (Some(o), _) => format!("output {o}"),
                (None, Some(e)) => format!("error {e}"),
                (None, None) => String::new(),
            }
        } else {
            r.problems.join("; ")
        };
        let detail = if detail.chars().count() > 120 {
            format!("{}…", detail.chars().take(119).collect::<String>())
        } else {
            detail
        };
        let result = if r.passed() { "PASS" } else { "FAIL" };
        println!("{result:<6} {:<width$}  {:<10} {detail}", r.test_case, r.status);
    }
    let passed = results.iter().filter(|r| r.passed()).count();
    println!("\n{machine}: {passed} of {} test cases passed", results.len());
}
