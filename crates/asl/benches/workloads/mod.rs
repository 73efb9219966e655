//! The interpreter's benchmark workloads, shared by `benches/interpreter.rs` (criterion's
//! timings) and `examples/workload.rs` (instruction counts), so both measure the same
//! executions.

use asl::context::ExecutionInfo;
use asl::eval::SplitMix64;
use asl::interpreter::{self, Env};
use asl::Definition;
use serde_json::{json, Map, Value};

/// 2023-11-14T22:13:20Z: any fixed instant keeps runs identical.
pub const NOW: i64 = 1_700_000_000_000;

/// One whole execution of `def` on `input`, at a fixed time with fixed randomness.
pub fn run(def: &Definition, input: Value) -> (interpreter::Execution, interpreter::StepOutput) {
    let mut random = SplitMix64(0x5eed);
    let mut env = Env { now: NOW, random: &mut random, missing_activities: &[] };
    interpreter::start(def, ExecutionInfo::local("bench", "run", NOW), input, &mut env)
}

pub fn pass_chain(len: usize, with_result: bool) -> Value {
    let mut states = Map::new();
    for i in 0..len {
        let mut state = Map::new();
        state.insert("Type".into(), json!("Pass"));
        if with_result {
            state.insert("Result".into(), json!({ "step": i }));
            state.insert("ResultPath".into(), json!("$.last"));
        }
        if i + 1 == len {
            state.insert("End".into(), json!(true));
        } else {
            state.insert("Next".into(), json!(format!("S{}", i + 1)));
        }
        states.insert(format!("S{i}"), Value::Object(state));
    }
    json!({ "StartAt": "S0", "States": states })
}

pub fn choice_loop(iterations: u64) -> Value {
    json!({
        "StartAt": "Init",
        "States": {
            "Init": { "Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Check" },
            "Check": {
                "Type": "Choice",
                "Choices": [{ "Variable": "$.i", "NumericLessThan": iterations, "Next": "Increment" }],
                "Default": "Done"
            },
            "Increment": {
                "Type": "Pass",
                "Parameters": { "i.$": "States.MathAdd($.i, 1)" },
                "Next": "Check"
            },
            "Done": { "Type": "Succeed" }
        }
    })
}

pub fn inline_map() -> Value {
    json!({
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": { "Mode": "INLINE" },
                    "StartAt": "Item",
                    "States": { "Item": { "Type": "Pass", "End": true } }
                },
                "End": true
            }
        }
    })
}

pub fn distributed_map() -> Value {
    let mut def = inline_map();
    def["States"]["Map"]["ItemProcessor"]["ProcessorConfig"] =
        json!({ "Mode": "DISTRIBUTED", "ExecutionType": "STANDARD" });
    def
}
