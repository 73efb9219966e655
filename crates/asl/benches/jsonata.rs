//! Typical ASL JSONata expressions through Baton's glue (parse once, bind `$states`, evaluate,
//! convert the result), and a Pass chain in JSONPath mode to keep the interpreter's hot path
//! honest.
//!
//! Run: `cargo bench -p asl --bench jsonata`. The reference implementation runs the same
//! expressions (`jsonata-reference/cases.json`) on the same data:
//! `cd crates/asl/benches/jsonata-reference && npm install && node bench.js`.

use asl::context::ExecutionInfo;
use asl::eval::SplitMix64;
use asl::interpreter::{self, Env};
use asl::jsonata::{expression_text, Documents, Expression};
use asl::Definition;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

/// The data `bench.js` builds: an order, and 1,000 items.
fn data() -> Value {
    let items: Vec<Value> = (0..1000)
        .map(|i| {
            json!({
                "id": format!("item-{i}"),
                "name": format!("Item {i}"),
                "price": f64::from((i * 37) % 100) + 0.5,
                "quantity": (i % 7) + 1,
                "tags": ["a", "b"],
            })
        })
        .collect();
    json!({
        "order": {
            "id": "o-123",
            "status": "OPEN",
            "total": 1234.5,
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "lines": [1, 2, 3],
        },
        "items": items,
    })
}

fn expressions(c: &mut Criterion) {
    let cases: Value = serde_json::from_str(include_str!("jsonata-reference/cases.json")).expect("cases.json is JSON");
    let input = data();
    let context = json!({});
    let mut random = SplitMix64(1);
    let mut group = c.benchmark_group("jsonata");
    for case in cases["cases"].as_array().into_iter().flatten() {
        let name = case["name"].as_str().unwrap_or_default();
        let text = case["expr"].as_str().unwrap_or_default();
        let expression = Expression::parse(expression_text(&format!("{{%{text}%}}")).unwrap_or(text))
            .expect("benchmark expressions parse");
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| {
                // A fresh document set per evaluation, as a state gets: `$states.input` is
                // converted each time, not cached across iterations.
                let docs = Documents::new(&input, &context, 0);
                docs.eval(&expression, "Output", &mut random).expect("benchmark expressions evaluate")
            })
        });
    }
    group.finish();
}

/// 1,000 Pass states in a chain: transitions per second of the JSONPath hot path.
fn pass_chain(c: &mut Criterion) {
    let n = 1000;
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let state = if i + 1 < n {
            json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
        } else {
            json!({"Type": "Pass", "End": true})
        };
        states.insert(format!("S{i}"), state);
    }
    let def = Definition::from_value(&json!({"StartAt": "S0", "States": states})).expect("the chain is valid");
    let mut group = c.benchmark_group("interpreter");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("pass chain (transitions)", |b| {
        b.iter(|| {
            let mut random = SplitMix64(1);
            let mut env = Env { now: 0, random: &mut random, missing_activities: &[] };
            let info = ExecutionInfo::local("bench", "run", 0);
            interpreter::start(&def, info, json!({"a": 1}), &mut env)
        })
    });
    group.finish();
}

criterion_group!(benches, expressions, pass_chain);
criterion_main!(benches);
