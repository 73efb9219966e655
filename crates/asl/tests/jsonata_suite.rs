//! The JSONata reference suite (`../shared/conformance/corpus/jsonata/`), run through the glue
//! ASL states use ([`asl::jsonata::evaluate_standalone`]): the same parser, host functions
//! (Step Functions' additions, no `$eval`, time and randomness from the host) and limits.
//!
//! Cases that fail are listed, each with a reason, in `tests/jsonata_suite/known-failures.txt`;
//! the test fails when an unlisted case fails or a listed one passes, so the pass count only
//! moves forward. Set `BATON_JSONATA_BLESS=1` to rewrite the list from the current results.
//! The pass counts by group are printed (`cargo test -p asl --test jsonata_suite -- --nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use asl::jsonata::{evaluate_standalone, Host, Limits};
use serde_json::{Map, Value};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/corpus/jsonata")
}

fn known_failures_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jsonata_suite/known-failures.txt")
}

struct Case {
    id: String,
    group: String,
    /// The case, or why its file is not JSON this side can read.
    raw: Result<Value, String>,
}

fn load_cases() -> Vec<Case> {
    let dir = corpus_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the JSONata suite must be at {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_'))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("suite files are readable");
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let group = stem.split("__").next().unwrap_or_default().to_owned();
            match serde_json::from_str::<Value>(&text) {
                Ok(raw) => Case {
                    id: raw["id"].as_str().unwrap_or_default().to_owned(),
                    group: raw["group"].as_str().unwrap_or_default().to_owned(),
                    raw: Ok(raw),
                },
                // serde_json rejects lone UTF-16 surrogates (`\ud800`), which JavaScript
                // strings may hold.
                Err(e) => Case { id: stem, group, raw: Err(format!("the case file is not valid Unicode JSON: {e}")) },
            }
        })
        .collect()
}

/// JSON equality with numbers compared as doubles (the suite writes `1` where we may have `1.0`).
fn same(a: &Value, b: &Value, unordered: bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) if unordered => {
            x.len() == y.len() && {
                let mut used = vec![false; y.len()];
                x.iter().all(|xi| {
                    let hit = y.iter().enumerate().find(|(j, yj)| !used[*j] && same(xi, yj, false));
                    hit.map(|(j, _)| used[j] = true).is_some()
                })
            }
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q, false)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w, false)))
        }
        _ => a == b,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(117).collect::<String>())
    } else {
        s
    }
}

/// Run one case: `None` when it passes, else what went wrong.
fn run_case(case: &Case) -> Option<String> {
    let raw = match &case.raw {
        Ok(raw) => raw,
        Err(why) => return Some(why.clone()),
    };
    let expr = raw["expr"].as_str().unwrap_or_default();
    let data = if raw.get("data_undefined").and_then(Value::as_bool) == Some(true) { None } else { raw.get("data") };
    let bindings: Map<String, Value> = raw["bindings"].as_object().cloned().unwrap_or_default();
    let mut limits = Limits::default();
    if let Some(ms) = raw.get("timelimit_ms").and_then(Value::as_u64) {
        limits.timeout_ms = Some(ms);
    }
    if let Some(depth) = raw.get("depth").and_then(Value::as_u64) {
        limits.max_depth = usize::try_from(depth).ok();
    }
    let host = Host { now: 1_700_000_000_000, seed: 1, limits };
    let unordered = raw.get("unordered").and_then(Value::as_bool) == Some(true);
    let expected = &raw["expected"];
    let got = evaluate_standalone(expr, data, &bindings, &host);
    // The suite's harness runs timeboxed cases with its own depth and time limits, both of
    // which it reports as U1001; the evaluator's own limits are D1011 (depth) and D1012 (time).
    let timeboxed = raw.get("timelimit_ms").is_some() || raw.get("depth").is_some();
    if let Some(code) = expected.get("code").and_then(Value::as_str) {
        return match got {
            Err(e) if e.code() == Some(code) => None,
            Err(e) if timeboxed && code == "U1001" && matches!(e.code(), Some("D1011" | "D1012")) => None,
            Err(e) => Some(format!(
                "expected error {code}, got error {:?}: {}",
                e.code(),
                short(&Value::String(e.to_string()))
            )),
            Ok(v) => Some(format!("expected error {code}, got {}", v.as_ref().map_or("undefined".into(), short))),
        };
    }
    if expected.get("undefined").and_then(Value::as_bool) == Some(true) {
        return match got {
            Ok(None) => None,
            Ok(Some(v)) => Some(format!("expected undefined, got {}", short(&v))),
            Err(e) => Some(format!("expected undefined, got error: {}", short(&Value::String(e.to_string())))),
        };
    }
    let want = &expected["result"];
    match got {
        Ok(Some(v)) if same(want, &v, unordered) => None,
        Ok(Some(v)) => Some(format!("expected {}, got {}", short(want), short(&v))),
        Ok(None) => Some(format!("expected {}, got undefined", short(want))),
        Err(e) => Some(format!("expected {}, got error: {}", short(want), short(&Value::String(e.to_string())))),
    }
}

fn load_known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(known_failures_path()).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((id, reason)) => (id.to_owned(), reason.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

#[test]
fn jsonata_reference_suite_runs_through_the_asl_glue() {
    let cases = load_cases();
    assert!(cases.len() > 1000, "expected the whole suite, found {} cases in {}", cases.len(), corpus_dir().display());
    let known = load_known_failures();
    let mut by_group: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    for case in &cases {
        let problem = std::panic::catch_unwind(|| run_case(case))
            .unwrap_or_else(|_| Some("the glue panicked on this case".to_owned()));
        let entry = by_group.entry(case.group.as_str()).or_default();
        match problem {
            None => entry.0 += 1,
            Some(p) => {
                entry.1 += 1;
                failures.insert(case.id.clone(), p.replace('\n', " "));
            }
        }
    }
    println!("{:32} {:>7} {:>7}", "group", "passed", "failed");
    for (g, (p, q)) in &by_group {
        println!("{g:32} {p:7} {q:7}");
    }
    let passed = cases.len() - failures.len();
    println!("jsonata suite: {passed} of {} cases pass", cases.len());

    if std::env::var_os("BATON_JSONATA_BLESS").is_some() {
        let mut text = String::from(
            "# JSONata suite cases that do not pass through the ASL glue, each with a reason.\n\
             # Regenerate with BATON_JSONATA_BLESS=1 cargo test -p asl --test jsonata_suite\n",
        );
        for (id, reason) in &failures {
            let reason = known.get(id).cloned().unwrap_or_else(|| reason.clone());
            text.push_str(&format!("{id}  {reason}\n"));
        }
        std::fs::write(known_failures_path(), text).expect("known-failures.txt is writable");
        return;
    }
    let unexpected: Vec<_> = failures.iter().filter(|(id, _)| !known.contains_key(*id)).collect();
    let fixed: Vec<_> = known.keys().filter(|id| !failures.contains_key(*id)).collect();
    for (id, reason) in &unexpected {
        println!("FAIL {id}: {reason}");
    }
    for id in &fixed {
        println!("NOW PASSING (remove from known-failures.txt): {id}");
    }
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} unexpected failures, {} listed cases now pass",
        unexpected.len(),
        fixed.len()
    );
}
