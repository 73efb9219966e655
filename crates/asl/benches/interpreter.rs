//! Throughput of the pure interpreter, in state transitions per second.
//!
//! Each benchmark runs one whole execution with [`asl::interpreter::start`]: no engine, no
//! store, no I/O. A *transition* is one state entered (one `*StateEntered` history event),
//! counted from a reference run of the same execution, so the reported elements/s is
//! transitions/s whatever the shape of the definition. Dropping the finished execution and
//! its history happens outside the timed part (criterion's `iter_batched`).
//!
//! - `pass_chain/*`: 100 Pass states in a row. `passthrough` has no fields but `Next`/`End`;
//!   `result_path` gives each state a small `Result` written at `ResultPath: "$.last"`.
//! - `choice_loop/1000`: a counter loop, `States.MathAdd` in a Pass and `NumericLessThan` in a
//!   Choice, 1,000 iterations.
//! - `map_inline/*`: an inline Map whose ItemProcessor is one pass-through Pass. Item counts
//!   stay below what the 25,000-event history cap allows (four events per item), because a
//!   larger inline Map fails with `States.Runtime` rather than measuring the Map itself.
//! - `map_distributed/10000`: the same Map over 10,000 items in DISTRIBUTED mode, where each
//!   item runs as a child workflow whose events stay out of the parent's history (so the cap
//!   does not apply). Its transitions are counted as the Map state plus one per item.
//!
//! Run with `cargo bench -p asl --bench interpreter -- --warm-up-time 1 --measurement-time 5`.

use std::hint::black_box;

use asl::interpreter::Status;
use asl::Definition;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};

mod workloads;
use workloads::{choice_loop, distributed_map, inline_map, pass_chain, run};

/// Parse `definition`, run it once on `input`, insist that it succeeds (a benchmark of a
/// failing execution would measure the failure path) and return the number of transitions.
fn prepare(definition: &Value, input: &Value) -> (Definition, u64) {
    let def = Definition::from_value(definition).expect("benchmark definitions are valid");
    let (exec, out) = run(&def, input.clone());
    assert!(
        matches!(exec.status, Status::Succeeded { .. }),
        "benchmark execution must succeed, ended as {:?} after {} events",
        exec.status,
        exec.event_count()
    );
    let transitions = out.events.iter().filter(|e| e.event_type.as_str().ends_with("StateEntered")).count() as u64;
    (def, transitions)
}

fn bench_execution(c: &mut Criterion, group: &str, id: BenchmarkId, definition: &Value, input: &Value) {
    let (def, transitions) = prepare(definition, input);
    bench_prepared(c, group, id, def, transitions, input);
}

fn bench_prepared(c: &mut Criterion, group: &str, id: BenchmarkId, def: Definition, transitions: u64, input: &Value) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(transitions));
    // The input is cloned outside the timed part: `start` takes it by value, and copying a
    // large Map input is not interpreter work.
    let size =
        if input.as_array().is_some_and(|a| a.len() > 100) { BatchSize::LargeInput } else { BatchSize::SmallInput };
    g.bench_function(id, |b| {
        b.iter_batched(|| input.clone(), |input| black_box(run(&def, input)), size);
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let empty = json!({});
    bench_execution(c, "pass_chain", BenchmarkId::new("passthrough", 100), &pass_chain(100, false), &empty);
    bench_execution(c, "pass_chain", BenchmarkId::new("result_path", 100), &pass_chain(100, true), &empty);
    bench_execution(c, "choice_loop", BenchmarkId::from_parameter(1000), &choice_loop(1000), &empty);
    for items in [1_000u64, 5_000] {
        let input = Value::Array((0..items).map(|i| json!({ "id": i })).collect());
        bench_execution(c, "map_inline", BenchmarkId::from_parameter(items), &inline_map(), &input);
    }
    let items = 10_000u64;
    let input = Value::Array((0..items).map(|i| json!({ "id": i })).collect());
    let (def, _) = prepare(&distributed_map(), &input);
    // The children's states are not in the parent history: the Map state plus one per item.
    bench_prepared(c, "map_distributed", BenchmarkId::from_parameter(items), def, 1 + items, &input);
}

criterion_group!(interpreter_benches, benches);
criterion_main!(interpreter_benches);
