//! Inputs the fuzz targets (`crates/asl/fuzz`) found, replayed through the very checks the
//! fuzzer runs, so a fixed crash stays fixed without a fuzzing toolchain. Each test names the
//! target and what the input exercises; the harness functions panic on a finding.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use asl::Definition;
use serde_json::json;

/// A definition that loops through a Pass and a Choice forever (the way out is never taken):
/// the interpreter's history cap has to end it inside a single `start`.
#[test]
fn definition_endless_loop_ends_at_the_history_cap() {
    let text = r#"{"StartAt":"A","States":{
        "A":{"Type":"Pass","Next":"C"},
        "C":{"Type":"Choice","Choices":[{"Variable":"$.never","IsPresent":true,"Next":"Done"}],"Default":"A"},
        "Done":{"Type":"Succeed"}}}"#;
    harness::definition(text.as_bytes());
    let def = Definition::parse(text).expect("a loop with a way out is valid");
    let mut random = asl::eval::SplitMix64(1);
    let mut env = asl::interpreter::Env { now: 0, random: &mut random, missing_activities: &[] };
    let info = asl::context::ExecutionInfo::local("m", "e", 0);
    let (exec, _) = asl::interpreter::start(&def, info, json!({}), &mut env);
    assert!(exec.status.is_terminal(), "the loop must end: {:?}", exec.status);
}

/// Task, Retry and Wait: the driver answers tasks and fires timers until the end.
#[test]
fn definition_task_retry_then_wait() {
    harness::definition(
        br#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":3}],"Next":"W"},"W":{"Type":"Wait","Seconds":5,"End":true}}}"#,
    );
}

/// Bytes that are neither UTF-8 nor a definition are turned away before parsing.
#[test]
fn every_target_ignores_invalid_utf8() {
    for f in [harness::definition, harness::jsonpath, harness::intrinsics, harness::path_ref] {
        f(b"\xff\xfe{");
        f(b"");
    }
}

/// The seed forms the JSONPath target starts from: filters, slices, recursive descent, and
/// keys that look like path syntax, each through parse, eval, get and assign.
#[test]
fn jsonpath_seed_forms() {
    for text in [
        "$",
        "$..book[?(@.price < 10)].title",
        "$.store.book[-1:]",
        "$['a','store']",
        "$['weird keys']['a.b']",
        "$.a.b.c[2].d",
        "$.emptyArray[0]",
        "$..*",
    ] {
        harness::jsonpath(text.as_bytes());
    }
}

/// Intrinsic calls reading the input, the context and a variable.
#[test]
fn intrinsics_seed_forms() {
    for text in [
        "States.ArrayRange(1, 9, 2)",
        "States.Format('{} and {}', $.n, $$.Execution.Name)",
        "States.MathAdd($n, 1)",
        "States.ArrayPartition($.numbers, 3)",
        "States.Hash($.csv, 'SHA-256')",
    ] {
        harness::intrinsics(text.as_bytes());
    }
}

/// Paths routed to each of the three documents, including a variable that is not defined.
#[test]
fn path_ref_seed_forms() {
    for text in ["$.store.bicycle", "$$.Map.Item.Value", "$doc.a.b", "$undefined.x", "$$"] {
        harness::path_ref(text.as_bytes());
    }
}
