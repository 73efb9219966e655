//! Property tests for the arithmetic and data plumbing that every execution goes through:
//! retry backoff, error matching, and payload templates.

use asl::definition::{Jitter, Retrier};
use asl::eval::{Scope, SplitMix64};
use asl::interpreter::{error_matches, retry_delay_ms};
use asl::template::Template;
use proptest::prelude::*;
use serde_json::{json, Value};

fn retrier(interval: u64, rate: f64, max_delay: Option<u64>, jitter: Jitter) -> Retrier {
    Retrier {
        error_equals: vec!["States.ALL".into()],
        interval_seconds: interval,
        max_attempts: 10,
        backoff_rate: rate,
        max_delay_seconds: max_delay,
        jitter,
    }
}

/// Small JSON documents with string keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn backoff_grows_with_each_attempt_and_respects_max_delay(
        interval in 1u64..60, rate in 1.0f64..4.0, max_delay in proptest::option::of(1u64..600), attempts in 1u64..12
    ) {
        let r = retrier(interval, rate, max_delay, Jitter::None);
        let mut random = SplitMix64(1);
        let delays: Vec<u64> = (0..attempts).map(|a| retry_delay_ms(&r, a, &mut random)).collect();
        prop_assert_eq!(delays[0], max_delay.map_or(interval, |m| interval.min(m)) * 1000);
        for pair in delays.windows(2) {
            prop_assert!(pair[1] >= pair[0], "backoff never shrinks: {:?}", delays);
        }
        if let Some(m) = max_delay {
            prop_assert!(delays.iter().all(|d| *d <= m * 1000));
        }
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_backoff(interval in 1u64..60, rate in 1.0f64..3.0, attempt in 0u64..8, seed: u64) {
        let plain = retry_delay_ms(&retrier(interval, rate, None, Jitter::None), attempt, &mut SplitMix64(seed));
        let jittered = retry_delay_ms(&retrier(interval, rate, None, Jitter::Full), attempt, &mut SplitMix64(seed));
        prop_assert!(jittered <= plain);
    }

    #[test]
    fn states_all_matches_every_error_but_the_terminal_ones(name in "[A-Za-z.]{1,20}") {
        let all = vec!["States.ALL".to_owned()];
        let terminal = name == "States.Runtime" || name == "States.DataLimitExceeded";
        prop_assert_eq!(error_matches(&all, &name), !terminal);
        prop_assert!(error_matches(std::slice::from_ref(&name), &name));
    }

    #[test]
    fn a_template_without_paths_is_its_own_value(v in json_value()) {
        // Keys ending in ".$" would make it dynamic; the generator never makes them.
        let mut problems = Vec::new();
        let t = Template::compile(&v, "/Parameters", &mut problems);
        prop_assert!(problems.is_empty());
        let input = json!({"ignored": true});
        let out = t.eval(&Scope::new(&input, &Value::Null), &mut SplitMix64(0)).expect("literal templates evaluate");
        prop_assert_eq!(out, v);
    }

    #[test]
    fn a_path_field_copies_what_it_points_at(key in "[a-z]{1,8}", v in json_value()) {
        let template = json!({ "copy.$": format!("$.{key}"), "fixed": 1 });
        let mut problems = Vec::new();
        let t = Template::compile(&template, "/Parameters", &mut problems);
        prop_assert!(problems.is_empty());
        let mut input = serde_json::Map::new();
        input.insert(key.clone(), v.clone());
        let input = Value::Object(input);
        let out = t.eval(&Scope::new(&input, &Value::Null), &mut SplitMix64(0)).expect("the path exists");
        prop_assert_eq!(out, json!({"copy": v, "fixed": 1}));
    }
}

#[test]
fn a_missing_path_fails_with_awss_message() {
    let mut problems = Vec::new();
    let t = Template::compile(&json!({"value.$": "$.x"}), "/States/P/Parameters", &mut problems);
    assert!(problems.is_empty());
    let input = json!({"y": 1});
    let err = t.eval(&Scope::new(&input, &Value::Null), &mut SplitMix64(0)).expect_err("$.x is missing");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(
        err.message,
        r#"The JSONPath '$.x' specified for the field 'value.$' could not be found in the input '{"y":1}'"#
    );
}
