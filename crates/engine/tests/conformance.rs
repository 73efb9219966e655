//! The AWS-recorded conformance corpus (`../shared/conformance/corpus/localstack/`), run
//! through the in-process engine, judged as `run_corpus.py` judges an endpoint: status,
//! output, error and cause (with the recorder's placeholders as wildcards), and the list of
//! history event types.
//!
//! Every case that needs no outside service runs. Cases that fail are listed, each with a
//! reason, in `tests/conformance/known-failures.txt`; the test fails when an unlisted case
//! fails or a listed case passes, so the pass count only moves forward. Set
//! `BATON_CONFORMANCE_BLESS=1` to rewrite the list from the current results.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use asl::interpreter::Status;
use asl::Definition;
use engine::config::Config;
use engine::{run_local, LocalOptions};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/corpus/localstack")
}

fn known_failures_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/known-failures.txt")
}

struct Case {
    id: String,
    features: Vec<String>,
    raw: Value,
}

fn load_cases() -> Vec<Case> {
    let dir = corpus_dir();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the conformance corpus must be at {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_'))
        })
        .collect();
    entries.sort();
    let mut cases = Vec::new();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("corpus files are readable");
        let raw: Value = serde_json::from_str(&text).expect("corpus files are JSON");
        if raw.get("definition").is_none() || raw.get("expected").is_none() {
            continue;
        }
        if raw.get("needs") != Some(&serde_json::json!(["none"])) {
            continue;
        }
        let id = raw["id"].as_str().unwrap_or_default().to_owned();
        let features =
            raw["feature"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        cases.push(Case { id, features, raw });
    }
    cases
}

// ----- the comparer: run_corpus.py's compare() and judge() ------------------------------------

fn is_alnum(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Split `expected` at placeholder tokens (longest first, bare words only at word
/// boundaries). `None` when no token occurs.
fn split_at_tokens(expected: &str, tokens: &[String]) -> Option<Vec<String>> {
    let mut toks: Vec<&String> = tokens.iter().filter(|t| !t.is_empty()).collect();
    toks.sort_by_key(|t| std::cmp::Reverse(t.len()));
    toks.dedup();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut found = false;
    let mut i = 0;
    let bytes = expected;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let before = bytes[..i].chars().next_back();
        let hit = toks.iter().find(|t| {
            if !rest.starts_with(t.as_str()) {
                return false;
            }
            let starts_alnum = t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
            let ends_alnum = t.chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric());
            let after = rest[t.len()..].chars().next();
            let bad_start = starts_alnum && is_alnum(before);
            let bad_end = ends_alnum && is_alnum(after);
            !(bad_start || bad_end)
        });
        match hit {
            Some(t) => {
                parts.push(std::mem::take(&mut literal));
                i += t.len();
                found = true;
            }
            None => {
                let c = rest.chars().next().expect("i is inside the string");
                literal.push(c);
                i += c.len_utf8();
            }
        }
    }
    parts.push(literal);
    found.then_some(parts)
}

/// Literal parts with "anything" between them must make up the whole text.
fn glob_match(parts: &[String], text: &str) -> bool {
    let (first, rest) = parts.split_first().expect("split_at_tokens gives at least one part");
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else { return false };
    let Some((last, middle)) = rest.split_last() else { return remaining.is_empty() };
    for part in middle {
        match remaining.find(part.as_str()) {
            Some(pos) => remaining = &remaining[pos + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(157).collect::<String>())
    } else {
        s
    }
}

fn escape_key(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn compare(expected: &Value, actual: &Value, norm: &BTreeSet<String>, tokens: &[String], path: &str) -> Vec<String> {
    let here = if path.is_empty() { "/" } else { path };
    if norm.contains(path) {
        if let Value::String(exp) = expected {
            if tokens.iter().any(|t| t == exp) {
                return vec![];
            }
            if let Some(parts) = split_at_tokens(exp, tokens) {
                let text = match actual {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return if glob_match(&parts, &text) {
                    vec![]
                } else {
                    vec![format!("{here}: expected pattern {exp:?}, got {}", short(actual))]
                };
            }
        }
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut out = Vec::new();
            let missing: Vec<_> = e.keys().filter(|k| !a.contains_key(*k)).collect();
            let extra: Vec<_> = a.keys().filter(|k| !e.contains_key(*k)).collect();
            if !missing.is_empty() {
                out.push(format!("{here}: missing keys {missing:?}"));
            }
            if !extra.is_empty() {
                out.push(format!("{here}: unexpected keys {extra:?}"));
            }
            for (k, ev) in e {
                if let Some(av) = a.get(k) {
                    out.extend(compare(ev, av, norm, tokens, &format!("{path}/{}", escape_key(k))));
                }
            }
            out
        }
        (Value::Object(_), _) => vec![format!("{here}: expected object, got {}", short(actual))],
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return vec![format!("{here}: expected {} items, got {}: {}", e.len(), a.len(), short(actual))];
            }
            e.iter()
                .zip(a)
                .enumerate()
                .flat_map(|(i, (ev, av))| compare(ev, av, norm, tokens, &format!("{path}/{i}")))
                .collect()
        }
        (Value::Array(_), _) => vec![format!("{here}: expected array, got {}", short(actual))],
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() == a.as_f64() {
                vec![]
            } else {
                vec![format!("{here}: expected {e}, got {a}")]
            }
        }
        (e, a) if e == a => vec![],
        (e, a) => vec![format!("{here}: expected {}, got {}", short(e), short(a))],
    }
}

fn sub_paths(paths: &[String], prefix: &str) -> BTreeSet<String> {
    paths
        .iter()
        .filter_map(|p| {
            if p == prefix {
                Some(String::new())
            } else {
                p.strip_prefix(&format!("{prefix}/")).map(|rest| format!("/{rest}"))
            }
        })
        .collect()
}

fn judge(case: &Value, status: &str, output: Option<&Value>, error: Option<&str>, cause: Option<&str>) -> Vec<String> {
    let exp = &case["expected"];
    let paths: Vec<String> = case["normalized"]["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let tokens: Vec<String> = case["normalized"]["tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    let exp_status = exp["status"].as_str().unwrap_or_default();
    if status != exp_status {
        problems.push(format!("status: expected {exp_status}, got {status}"));
    }
    if exp_status == "SUCCEEDED" && status == "SUCCEEDED" && exp.get("output").is_some() {
        let actual = output.cloned().unwrap_or(Value::Null);
        for p in compare(&exp["output"], &actual, &sub_paths(&paths, "/output"), &tokens, "") {
            problems.push(format!("output{p}"));
        }
    }
    for (field, actual) in [("error", error), ("cause", cause)] {
        let expected = &exp[field];
        if expected.is_null() {
            continue;
        }
        let actual_v = actual.map_or(Value::Null, |s| Value::String(s.to_owned()));
        let mut diffs = compare(expected, &actual_v, &sub_paths(&paths, &format!("/{field}")), &tokens, "");
        if !diffs.is_empty() && field == "cause" {
            if let (Some(e), Some(a)) = (expected.as_str(), actual) {
                if let (Ok(ej), Ok(aj)) = (serde_json::from_str::<Value>(e), serde_json::from_str::<Value>(a)) {
                    if compare(&ej, &aj, &BTreeSet::new(), &[], "").is_empty() {
                        diffs.clear();
                    }
                }
            }
        }
        problems
            .extend(diffs.into_iter().map(|d| format!("{field}: {}", d.split_once(": ").map_or(d.as_str(), |x| x.1))));
    }
    problems
}

fn history_problem(case: &Value, types: &[&str]) -> Option<String> {
    let expected: Vec<&str> = case["history_types"].as_array()?.iter().filter_map(Value::as_str).collect();
    if expected.is_empty() {
        return None;
    }
    if types == expected.as_slice() {
        return None;
    }
    if case["history_order"].as_str() == Some("parallel_sorted") {
        let count = |xs: &[&str]| {
            let mut m: HashMap<String, usize> = HashMap::new();
            for x in xs {
                *m.entry((*x).to_owned()).or_default() += 1;
            }
            m
        };
        if count(types) == count(&expected) {
            return None;
        }
    }
    for (i, (e, a)) in expected.iter().zip(types).enumerate() {
        if e != a {
            return Some(format!("history differs at event {}: expected {e}, got {a}", i + 1));
        }
    }
    Some(format!("history length: expected {} events, got {}", expected.len(), types.len()))
}

/// Inputs the recording computed as "now + offset", re-based on `now`.
fn rebase_times(input: Value, case: &Value, now_ms: i64) -> Value {
    let Some(rel) = case.get("relative_time_inputs").and_then(Value::as_array) else { return input };
    let mut value = input;
    for r in rel {
        let offset = r["offset_seconds"].as_i64().unwrap_or(0);
        let suffix = r["suffix"].as_str().unwrap_or("");
        let t = chrono::DateTime::from_timestamp_millis(now_ms + offset * 1000).expect("corpus offsets are small");
        let text = format!("{}{suffix}", t.format("%Y-%m-%dT%H:%M:%S"));
        let pointer = r["path"].as_str().unwrap_or("");
        if pointer.is_empty() {
            return Value::String(text);
        }
        if let Some(slot) = value.pointer_mut(pointer) {
            *slot = Value::String(text);
        }
    }
    value
}

/// Run one case; the problems found (empty: it passed).
fn run_case(case: &Case) -> Vec<String> {
    let raw = &case.raw;
    let definition = match Definition::from_value(&raw["definition"]) {
        Ok(d) => d,
        Err(e) => return vec![format!("definition rejected: {e}")],
    };
    let now = chrono::Utc::now().timestamp_millis();
    let input = match raw.get("input_text").and_then(Value::as_str) {
        Some(text) => match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => return vec!["input is not JSON; StartExecution would reject it".into()],
        },
        None => rebase_times(raw.get("input").cloned().unwrap_or_else(|| serde_json::json!({})), raw, now),
    };
    let options = LocalOptions {
        config: Config::default(),
        integrations: None,
        fast_forward: true,
        state_machine_name: "conformance".into(),
        execution_name: raw["execution_name"].as_str().unwrap_or("conformance-execution").to_owned(),
        random: None,
        on_events: None,
        mock: None,
    };
    let result = run_local(&definition, input, options);
    let (output, error, cause) = match result.status() {
        Status::Succeeded { output } => (Some(output), None, None),
        Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
            (None, error.as_deref(), cause.as_deref())
        }
        Status::Running => (None, None, None),
    };
    let mut problems = judge(raw, result.status().as_str(), output, error, cause);
    let types: Vec<&str> = result.history.iter().map(|e| e.event_type.as_str()).collect();
    problems.extend(history_problem(raw, &types));
    problems
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
fn localstack_corpus_runs_as_aws_recorded() {
    let cases = load_cases();
    assert!(cases.len() > 600, "expected the whole corpus, found {} cases in {}", cases.len(), corpus_dir().display());
    let known = load_known_failures();
    let mut by_feature: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    for case in &cases {
        let problems = std::panic::catch_unwind(|| run_case(case))
            .unwrap_or_else(|_| vec!["the engine panicked on this case".to_owned()]);
        let passed = problems.is_empty();
        for f in &case.features {
            let entry = by_feature.entry(f.clone()).or_default();
            if passed {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        if !passed {
            let reason = problems.join("; ");
            let reason: String = reason.chars().take(300).collect();
            failures.insert(case.id.clone(), reason.replace('\n', " "));
        }
    }
    println!("{:28} {:>7} {:>7}", "feature", "passed", "failed");
    for (f, (p, q)) in &by_feature {
        println!("{f:28} {p:7} {q:7}");
    }
    let passed = cases.len() - failures.len();
    println!("conformance: {passed} of {} cases pass", cases.len());

    if std::env::var_os("BATON_CONFORMANCE_BLESS").is_some() {
        let mut text = String::from(
            "# Conformance cases that do not pass yet, each with the first problem seen.\n\
             # Regenerate with BATON_CONFORMANCE_BLESS=1 cargo test -p engine --test conformance\n",
        );
        for (id, reason) in &failures {
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

#[test]
fn comparer_treats_placeholders_as_wildcards() {
    let toks: Vec<String> =
        ["<uuid:1>", "date", "<ArnPart_0idx>", "111111111111"].iter().map(|s| (*s).to_owned()).collect();
    let norm: BTreeSet<String> = ["/Id".to_owned(), "/T".to_owned(), "/s".to_owned()].into();
    let exp =
        serde_json::json!({"Id": "arn:aws:states:x:111111111111:stateMachine:<ArnPart_0idx>", "T": "date", "n": 1});
    let act = serde_json::json!({"Id": "arn:aws:states:x:123456789012:stateMachine:sm", "T": "2024-01-01T00:00:00Z", "n": 1.0});
    assert!(compare(&exp, &act, &norm, &toks, "").is_empty());
    assert!(!compare(&serde_json::json!({"n": 1}), &serde_json::json!({"n": 2}), &norm, &toks, "").is_empty());
    assert!(!compare(&serde_json::json!({"n": 1}), &serde_json::json!({"n": true}), &norm, &toks, "").is_empty());
    // "update" holds "date" but not at a word boundary: it stays literal.
    assert!(
        !compare(&serde_json::json!({"s": "update"}), &serde_json::json!({"s": "upXXX"}), &norm, &toks, "").is_empty()
    );
    assert!(!compare(&serde_json::json!({"s": "a<uuid:1>b"}), &serde_json::json!({"s": "a12c"}), &norm, &toks, "")
        .is_empty());
    assert!(compare(&serde_json::json!({"s": "a<uuid:1>b"}), &serde_json::json!({"s": "a12b"}), &norm, &toks, "")
        .is_empty());
}
