//! The interpreter benchmark's workloads (`benches/interpreter.rs`), plus JSONata ones, run a
//! fixed number of times: a deterministic load for instruction counters, where criterion's
//! timings on a busy machine vary too much to compare two builds.
//!
//! ```text
//! cargo build --release -p asl --example workload
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     --toggle-collect='workload::measured' target/release/examples/workload pass_chain_passthrough 20
//! ```
//!
//! Only `measured` is counted (`--toggle-collect`): building the definitions and inputs is
//! not. Arguments: a workload name (`list` prints them) and the number of iterations
//! (default 10). Every execution must succeed; the program exits non-zero otherwise.

use std::hint::black_box;
use std::process::ExitCode;

use asl::interpreter::Status;
use asl::Definition;
use serde_json::{json, Map, Value};

#[path = "../benches/workloads/mod.rs"]
mod workloads;
use workloads::{choice_loop, distributed_map, inline_map, pass_chain, run};

const WORKLOADS: &[&str] = &[
    "pass_chain_passthrough",
    "pass_chain_result_path",
    "choice_loop",
    "map_inline_1000",
    "map_inline_5000",
    "map_distributed_10000",
    "jsonata_pass_chain",
    "jsonata_choice_loop",
    "parse",
];

/// 50 JSONata Pass states, each with an `Output` and an `Assign`.
fn jsonata_pass_chain(len: usize) -> Value {
    let mut states = Map::new();
    for i in 0..len {
        let mut state = Map::new();
        state.insert("Type".into(), json!("Pass"));
        state.insert("Output".into(), json!({ "step": i, "total": "{% $states.input.total + 1 %}" }));
        state.insert("Assign".into(), json!({ "last": format!("{{% 'S{i}' %}}") }));
        if i + 1 == len {
            state.insert("End".into(), json!(true));
        } else {
            state.insert("Next".into(), json!(format!("S{}", i + 1)));
        }
        states.insert(format!("S{i}"), Value::Object(state));
    }
    json!({ "QueryLanguage": "JSONata", "StartAt": "S0", "States": states })
}

fn jsonata_choice_loop(iterations: u64) -> Value {
    json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": { "Type": "Pass", "Assign": { "i": 0 }, "Next": "Check" },
            "Check": {
                "Type": "Choice",
                "Choices": [{ "Condition": format!("{{% $i < {iterations} %}}"), "Next": "Increment" }],
                "Default": "Done"
            },
            "Increment": { "Type": "Pass", "Assign": { "i": "{% $i + 1 %}" }, "Next": "Check" },
            "Done": { "Type": "Succeed", "Output": "{% $i %}" }
        }
    })
}

fn items(n: u64) -> Value {
    Value::Array((0..n).map(|i| json!({ "id": i })).collect())
}

fn workload(name: &str) -> Option<(Value, Value)> {
    Some(match name {
        "pass_chain_passthrough" => (pass_chain(100, false), json!({})),
        "pass_chain_result_path" => (pass_chain(100, true), json!({})),
        "choice_loop" => (choice_loop(1000), json!({})),
        "map_inline_1000" => (inline_map(), items(1000)),
        "map_inline_5000" => (inline_map(), items(5000)),
        "map_distributed_10000" => (distributed_map(), items(10_000)),
        "jsonata_pass_chain" => (jsonata_pass_chain(50), json!({ "total": 0 })),
        "jsonata_choice_loop" => (jsonata_choice_loop(200), json!({})),
        _ => return None,
    })
}

/// The counted part: `iterations` executions of `def` (inputs cloned beforehand).
#[inline(never)]
fn measured(def: &Definition, inputs: Vec<Value>) -> bool {
    let mut all_succeeded = true;
    for input in inputs {
        let (exec, out) = run(def, input);
        all_succeeded &= matches!(exec.status, Status::Succeeded { .. });
        black_box(out);
    }
    all_succeeded
}

/// The counted part of `parse`: every workload's definition parsed `iterations` times.
#[inline(never)]
fn measured_parse(texts: &[String], iterations: usize) -> bool {
    let mut all_parsed = true;
    for _ in 0..iterations {
        for text in texts {
            all_parsed &= black_box(Definition::parse(text)).is_ok();
        }
    }
    all_parsed
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("list", String::as_str);
    let iterations = match args.get(1).map(|s| s.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("the number of iterations must be a whole number: {e}");
            return ExitCode::FAILURE;
        }
    };
    if name == "list" {
        WORKLOADS.iter().for_each(|w| println!("{w}"));
        return ExitCode::SUCCESS;
    }
    let ok = if name == "parse" {
        let texts: Vec<String> =
            WORKLOADS.iter().filter_map(|w| workload(w)).map(|(definition, _)| definition.to_string()).collect();
        measured_parse(&texts, iterations)
    } else {
        let Some((definition, input)) = workload(name) else {
            eprintln!("unknown workload '{name}'; one of: {}", WORKLOADS.join(", "));
            return ExitCode::FAILURE;
        };
        let def = match Definition::from_value(&definition) {
            Ok(def) => def,
            Err(e) => {
                eprintln!("workload '{name}' has an invalid definition: {e}");
                return ExitCode::FAILURE;
            }
        };
        measured(&def, vec![input; iterations])
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("workload '{name}' did not succeed");
        ExitCode::FAILURE
    }
}
