use super::*;
use proptest::prelude::*;
use serde_json::{json, Map};

const PTR: &str = "/States/Check/Choices/0";

fn rule(value: Value) -> ChoiceRule {
    match ChoiceRule::parse(&value, PTR) {
        Ok(rule) => rule,
        Err(e) => panic!("{value} should parse: {e}"),
    }
}

fn problems(value: Value) -> Vec<(DefinitionErrorCode, String, String)> {
    match ChoiceRule::parse(&value, PTR) {
        Ok(rule) => panic!("{value} should not parse, got {rule:?}"),
        Err(e) => e.problems.into_iter().map(|p| (p.code, p.message, p.location)).collect(),
    }
}

/// Parse `condition` (a rule without `Next`) and evaluate it against `input`.
fn eval_in(mut condition: Value, input: Value, context: Value, vars: &Map<String, Value>) -> Result<bool, EvalFailure> {
    if let Some(obj) = condition.as_object_mut() {
        obj.insert("Next".into(), json!("Next"));
    }
    let rule = rule(condition);
    let scope = Scope::new(&input, &context).with_variables(vars);
    rule.condition.eval(&scope)
}

fn eval(condition: Value, input: Value) -> Result<bool, EvalFailure> {
    eval_in(condition, input, json!({}), &Map::new())
}

fn holds(condition: Value, input: Value) -> bool {
    match eval(condition.clone(), input.clone()) {
        Ok(b) => b,
        Err(e) => panic!("{condition} on {input} failed: {e}"),
    }
}

fn schema(message: &str, location: &str) -> (DefinitionErrorCode, String, String) {
    (DefinitionErrorCode::SchemaValidationFailed, message.to_owned(), location.to_owned())
}

// -- parsing --------------------------------------------------------------------------

#[test]
fn choice_parses_data_test_rule() {
    let r = rule(json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.max", "Next": "Low", "Comment": "c"}));
    assert_eq!(r.next, "Low");
    let Condition::Test(test) = &r.condition else { panic!("not a test: {:?}", r.condition) };
    assert!(matches!(test.operator, Operator::Numeric(Relation::LessThanEquals, Operand::Path(_))));
    assert_eq!(test.operator.to_string(), "NumericLessThanEqualsPath");
    assert_eq!(r.condition.paths().len(), 2);
}

#[test]
fn choice_parses_every_operator_name() {
    let relations = ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"];
    let mut cases: Vec<(String, Value)> = Vec::new();
    for rel in relations {
        cases.push((format!("String{rel}"), json!("a")));
        cases.push((format!("Numeric{rel}"), json!(1.5)));
        cases.push((format!("Timestamp{rel}"), json!("2016-03-14T01:59:00Z")));
        for family in ["String", "Numeric", "Timestamp"] {
            cases.push((format!("{family}{rel}Path"), json!("$.x")));
        }
    }
    cases.push(("BooleanEquals".into(), json!(true)));
    cases.push(("BooleanEqualsPath".into(), json!("$.x")));
    cases.push(("StringMatches".into(), json!("a*")));
    for t in ["Null", "Present", "Numeric", "String", "Boolean", "Timestamp"] {
        cases.push((format!("Is{t}"), json!(false)));
    }
    assert_eq!(cases.len(), 39);
    for (name, operand) in cases {
        let mut r = Map::new();
        r.insert("Variable".into(), json!("$.v"));
        r.insert(name.clone(), operand);
        r.insert("Next".into(), json!("N"));
        let parsed = rule(Value::Object(r));
        let Condition::Test(test) = parsed.condition else { panic!("{name}") };
        assert_eq!(test.operator.to_string(), name);
    }
}

#[test]
fn choice_parses_composites_and_context_and_variables() {
    let r = rule(json!({
        "And": [
            {"Variable": "$$.Execution.Input.x", "IsPresent": true},
            {"Or": [{"Variable": "$limit", "NumericGreaterThan": 3}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}]}
        ],
        "Assign": {"a": 1},
        "Next": "N"
    }));
    let Condition::And(items) = &r.condition else { panic!() };
    assert_eq!(items.len(), 2);
    let paths: Vec<String> = r.condition.paths().iter().map(|p| p.as_str()).collect();
    assert_eq!(paths, ["$$.Execution.Input.x", "$limit", "$.s"]);
    assert!(r.condition.paths()[0].is_context());
}

#[test]
fn choice_rejects_operand_of_wrong_type() {
    for (op, operand, expected) in [
        ("NumericEquals", json!("1"), "Number"),
        ("StringEquals", json!(1), "String"),
        ("StringMatches", json!(null), "String"),
        ("BooleanEquals", json!("true"), "Boolean"),
        ("IsPresent", json!("true"), "Boolean"),
        ("IsNull", json!(1), "Boolean"),
        ("TimestampEquals", json!(0), "String"),
        ("NumericEqualsPath", json!(1), "String"),
    ] {
        let mut r = Map::new();
        r.insert("Variable".into(), json!("$.v"));
        r.insert(op.into(), operand);
        r.insert("Next".into(), json!("N"));
        assert_eq!(
            problems(Value::Object(r)),
            [schema(&format!("Expected value of type {expected}"), &format!("{PTR}/{op}"))],
            "{op}"
        );
    }
}

#[test]
fn choice_rejects_invalid_timestamp_and_pattern_and_path() {
    assert_eq!(
        problems(json!({"Variable": "$.v", "TimestampLessThan": "2016-02-30T00:00:00Z", "Next": "N"})),
        [schema(
            "String does not match RFC3339 timestamp: '2016-02-30T00:00:00Z'",
            &format!("{PTR}/TimestampLessThan")
        )]
    );
    assert_eq!(
        problems(json!({"Variable": "$.v", "StringMatches": "abc\\", "Next": "N"})),
        [schema("The pattern ends with an open escape character '\\'", &format!("{PTR}/StringMatches"))]
    );
    let p = problems(json!({"Variable": "v", "StringEquals": "x", "Next": "N"}));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, DefinitionErrorCode::InvalidJsonPath);
    assert_eq!(p[0].2, format!("{PTR}/Variable"));
    let p = problems(json!({"Variable": "$.v", "StringEqualsPath": "nope", "Next": "N"}));
    assert_eq!((p[0].0, p[0].2.as_str()), (DefinitionErrorCode::InvalidJsonPath, &*format!("{PTR}/StringEqualsPath")));
}

#[test]
fn choice_rejects_bad_structure() {
    assert_eq!(
        problems(json!({"Variable": "$.v", "StringEquals": "x"})),
        [schema("These fields are required: [Next]", PTR)]
    );
    assert_eq!(
        problems(json!({"Variable": "$.v", "StringEquals": "x", "Next": 3})),
        [schema("Expected value of type String", &format!("{PTR}/Next"))]
    );
    assert_eq!(
        problems(json!({"Variable": "$.v", "StringEquals": "x", "NumericEquals": 1, "Next": "N"})),
        [schema(
            "A choice rule has exactly one comparison operator, but 'NumericEquals' follows 'StringEquals'",
            &format!("{PTR}/NumericEquals")
        )]
    );
    assert_eq!(
        problems(json!({"Variable": "$.v", "Next": "N"})),
        [schema(
            "A choice rule with a 'Variable' must have one comparison operator (such as StringEquals, NumericLessThan or IsPresent)",
            PTR
        )]
    );
    assert_eq!(
        problems(json!({"StringEquals": "x", "Next": "N"})),
        [schema("These fields are required: [Variable]", PTR)]
    );
    assert_eq!(
        problems(
            json!({"Variable": "$.v", "StringEquals": "x", "Next": "N", "Foo": 1, "StringMatchesPath": "$.x", "IsNullPath": "$.x"})
        ),
        [
            schema("Field 'Foo' is not supported", PTR),
            schema("Field 'StringMatchesPath' is not supported", PTR),
            schema("Field 'IsNullPath' is not supported", PTR),
        ]
    );
    assert_eq!(problems(json!("rule")), [schema("Expected value of type Object", PTR)]);
    assert_eq!(
        problems(json!({"Next": "N"}))[0].1,
        "A choice rule must have either 'And', 'Or' or 'Not', or a 'Variable' and one comparison operator"
    );
}

#[test]
fn choice_rejects_bad_nested_rules() {
    assert_eq!(
        problems(json!({"And": [{"Variable": "$.v", "IsNull": true, "Next": "X"}], "Next": "N"})),
        [schema("Field 'Next' is not supported", &format!("{PTR}/And/0"))]
    );
    assert_eq!(
        problems(json!({"Not": {"Variable": "$.v", "IsNull": true, "Assign": {}}, "Next": "N"})),
        [schema("Field 'Assign' is not supported", &format!("{PTR}/Not"))]
    );
    assert_eq!(
        problems(json!({"Or": [], "Next": "N"})),
        [schema("The field 'Or' must have at least one choice rule", &format!("{PTR}/Or"))]
    );
    assert_eq!(
        problems(json!({"Or": {}, "Next": "N"})),
        [schema("Expected value of type Array", &format!("{PTR}/Or"))]
    );
    // Problems in several nested rules are all reported, in document order.
    assert_eq!(
        problems(json!({"Or": [
            {"Variable": "$.v", "NumericEquals": "1"},
            {"Variable": "$.v", "IsNull": true},
            {"Not": {"Variable": "$.v", "BooleanEquals": 1}}
        ], "Next": "N"})),
        [
            schema("Expected value of type Number", &format!("{PTR}/Or/0/NumericEquals")),
            schema("Expected value of type Boolean", &format!("{PTR}/Or/2/Not/BooleanEquals")),
        ]
    );
    assert_eq!(
        problems(json!({"And": [{"Variable": "$.v", "IsNull": true}], "Variable": "$.v", "Next": "N"})),
        [schema("Field 'Variable' is not supported in a choice rule with 'And', 'Or' or 'Not'", PTR)]
    );
    assert_eq!(
        problems(json!({"Condition": "{% true %}", "Next": "N"}))[0].1,
        "Field 'Condition' is only supported in JSONata Choice states"
    );
}

#[test]
fn choice_problem_displays_like_aws() {
    let Err(e) = ChoiceRule::parse(&json!({"Variable": "$.v", "NumericEquals": "1", "Next": "N"}), PTR) else {
        panic!()
    };
    assert_eq!(
        e.to_string(),
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Expected value of type Number at /States/Check/Choices/0/NumericEquals'"
    );
}

// -- evaluation -----------------------------------------------------------------------

#[test]
fn choice_type_mismatch_is_false() {
    let input = json!({"s": "1", "n": 1, "b": true, "z": null, "o": {}, "a": [1]});
    for var in ["$.s", "$.b", "$.z", "$.o", "$.a"] {
        assert!(!holds(json!({"Variable": var, "NumericEquals": 1}), input.clone()), "{var}");
    }
    for var in ["$.n", "$.b", "$.z", "$.o", "$.a"] {
        assert!(!holds(json!({"Variable": var, "StringEquals": "1"}), input.clone()), "{var}");
        assert!(!holds(json!({"Variable": var, "StringMatches": "*"}), input.clone()), "{var}");
        assert!(!holds(json!({"Variable": var, "TimestampLessThan": "2016-03-14T01:59:00Z"}), input.clone()));
    }
    assert!(!holds(json!({"Variable": "$.s", "BooleanEquals": true}), input.clone()));
    assert!(!holds(json!({"Variable": "$.n", "StringEqualsPath": "$.n"}), input.clone()));
    assert!(!holds(json!({"Variable": "$.s", "NumericEqualsPath": "$.s"}), input));
}

#[test]
fn choice_missing_variable_is_runtime_error() {
    let e = eval(json!({"Variable": "$.nope", "NumericEquals": 1}), json!({})).unwrap_err();
    assert_eq!(e.error, "States.Runtime");
    assert_eq!(e.message, "Invalid path '$.nope': The choice state's condition path references an invalid value.");
    let e = eval(json!({"Variable": "$.n", "NumericEqualsPath": "$.max"}), json!({"n": 1})).unwrap_err();
    assert_eq!(e.message, "Invalid path '$.max': The choice state's condition path references an invalid value.");
    // The operand is read even when the variable's type already decides the answer.
    assert!(eval(json!({"Variable": "$.n", "StringEqualsPath": "$.max"}), json!({"n": 1})).is_err());
    for op in ["IsNull", "IsString", "IsNumeric", "IsBoolean", "IsTimestamp"] {
        let mut r = Map::new();
        r.insert("Variable".into(), json!("$.nope"));
        r.insert(op.into(), json!(false));
        assert!(eval(Value::Object(r), json!({})).is_err(), "{op}");
    }
    let e = eval(json!({"Variable": "$undefined", "IsNull": true}), json!({})).unwrap_err();
    assert_eq!(e.message, "Invalid path '$undefined': The choice state's condition path references an invalid value.");
}

#[test]
fn choice_is_present() {
    let input = json!({"a": null, "b": {"c": 0}});
    assert!(holds(json!({"Variable": "$.a", "IsPresent": true}), input.clone()));
    assert!(holds(json!({"Variable": "$.b.c", "IsPresent": true}), input.clone()));
    assert!(!holds(json!({"Variable": "$.x", "IsPresent": true}), input.clone()));
    assert!(holds(json!({"Variable": "$.x", "IsPresent": false}), input.clone()));
    assert!(!holds(json!({"Variable": "$.b.x", "IsPresent": true}), input.clone()));
    assert!(holds(json!({"Variable": "$undefined", "IsPresent": false}), input));
}

#[test]
fn choice_type_tests() {
    let input =
        json!({"z": null, "n": 1.5, "s": "x", "b": false, "t": "2016-03-14T01:59:00Z", "bad": "2016-03-14T01:59:00"});
    let cases = [
        ("IsNull", "$.z", true),
        ("IsNull", "$.n", false),
        ("IsNumeric", "$.n", true),
        ("IsNumeric", "$.s", false),
        ("IsString", "$.s", true),
        ("IsString", "$.z", false),
        ("IsBoolean", "$.b", true),
        ("IsBoolean", "$.n", false),
        ("IsTimestamp", "$.t", true),
        ("IsTimestamp", "$.bad", false),
        ("IsTimestamp", "$.n", false),
    ];
    for (op, var, expected) in cases {
        for wanted in [true, false] {
            let mut r = Map::new();
            r.insert("Variable".into(), json!(var));
            r.insert(op.into(), json!(wanted));
            assert_eq!(holds(Value::Object(r), input.clone()), expected == wanted, "{op} {var} {wanted}");
        }
    }
}

#[test]
fn choice_numeric_compares_by_value() {
    let input = json!({"i": 1, "f": 1.0, "big": 9007199254740993u64, "neg": -0.0});
    assert!(holds(json!({"Variable": "$.i", "NumericEquals": 1.0}), input.clone()));
    assert!(holds(json!({"Variable": "$.f", "NumericEquals": 1}), input.clone()));
    assert!(holds(json!({"Variable": "$.i", "NumericEqualsPath": "$.f"}), input.clone()));
    assert!(holds(json!({"Variable": "$.neg", "NumericEquals": 0}), input.clone()));
    assert!(holds(json!({"Variable": "$.i", "NumericLessThan": 1.5}), input.clone()));
    assert!(holds(json!({"Variable": "$.i", "NumericGreaterThanEquals": 1}), input.clone()));
    assert!(!holds(json!({"Variable": "$.i", "NumericGreaterThan": 1}), input.clone()));
    // Beyond 2^53 the values are compared as f64, as the spec warns.
    assert!(holds(json!({"Variable": "$.big", "NumericEquals": 9007199254740992u64}), input));
}

#[test]
fn choice_string_compares_like_java() {
    let input = json!({"s": "abc", "upper": "B", "lower": "a", "astral": "\u{1F600}", "private": "\u{FF61}"});
    assert!(holds(json!({"Variable": "$.s", "StringEquals": "abc"}), input.clone()));
    assert!(!holds(json!({"Variable": "$.s", "StringEquals": "ABC"}), input.clone()));
    assert!(holds(json!({"Variable": "$.upper", "StringLessThan": "a"}), input.clone()));
    assert!(holds(json!({"Variable": "$.s", "StringGreaterThan": "ab"}), input.clone()));
    assert!(holds(json!({"Variable": "$.s", "StringLessThanEquals": "abc"}), input.clone()));
    assert!(holds(json!({"Variable": "$.lower", "StringLessThanPath": "$.s"}), input.clone()));
    // UTF-16: a surrogate pair (0xD83D...) sorts before U+FF61, unlike code point order.
    assert!(holds(json!({"Variable": "$.astral", "StringLessThanPath": "$.private"}), input.clone()));
    assert!(holds(json!({"Variable": "$.private", "StringGreaterThan": "\u{1F600}"}), input));
    // No normalisation: precomposed and decomposed é differ.
    assert!(!holds(json!({"Variable": "$.e", "StringEquals": "e\u{301}"}), json!({"e": "\u{e9}"})));
}

#[test]
fn choice_string_matches() {
    let m = |pattern: &str, text: &str| holds(json!({"Variable": "$.s", "StringMatches": pattern}), json!({"s": text}));
    assert!(m("foo*.log", "foo23.log"));
    assert!(m("*.log", "zebra.log"));
    assert!(m("foo*.*", "foobar.zebra"));
    assert!(!m("foo*.log", "foo23.txt"));
    assert!(m("*", ""));
    assert!(m("a*a", "aa"));
    assert!(!m("a*a", "a"));
    assert!(m("*a*b*c*", "xxaxxbxxcxx"));
    assert!(!m("*a*b*c*", "xxcxxbxxaxx"));
    assert!(m("log-\\*.txt", "log-*.txt"));
    assert!(!m("log-\\*.txt", "log-1.txt"));
    assert!(m("C:\\\\dir\\\\*", "C:\\dir\\file"));
    assert!(!m("C:\\\\dir", "C:dir"));
    assert!(m("?[a]", "?[a]"));
    assert!(m("é*ü", "éaaaü"));
    // Pathological for backtracking matchers; linear here.
    let text = "a".repeat(20_000);
    assert!(!m(&format!("{}b", "*a".repeat(200)), &text));
}

#[test]
fn choice_boolean_and_timestamp() {
    let input =
        json!({"t": true, "f": false, "ts": "2016-03-14T03:59:00+02:00", "ts2": "2016-03-14T01:59:00.000000001Z"});
    assert!(holds(json!({"Variable": "$.t", "BooleanEquals": true}), input.clone()));
    assert!(!holds(json!({"Variable": "$.t", "BooleanEqualsPath": "$.f"}), input.clone()));
    assert!(holds(json!({"Variable": "$.ts", "TimestampEquals": "2016-03-14T01:59:00Z"}), input.clone()));
    assert!(holds(json!({"Variable": "$.ts", "TimestampLessThanPath": "$.ts2"}), input.clone()));
    assert!(holds(json!({"Variable": "$.ts2", "TimestampGreaterThan": "2016-03-14T01:59:00Z"}), input.clone()));
    // A string that is not a timestamp, on either side, makes the comparison false.
    assert!(!holds(json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}), input.clone()));
    assert!(!holds(json!({"Variable": "$.ts", "TimestampEqualsPath": "$.t"}), input));
}

#[test]
fn choice_composites_short_circuit() {
    let input = json!({"n": 1});
    // The second test would fail the state; it is never reached.
    assert!(!holds(
        json!({"And": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.x", "NumericEquals": 1}]}),
        input.clone()
    ));
    assert!(holds(
        json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.x", "NumericEquals": 1}]}),
        input.clone()
    ));
    assert!(eval(
        json!({"Or": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.x", "NumericEquals": 1}]}),
        input.clone()
    )
    .is_err());
    assert!(holds(json!({"Not": {"Variable": "$.n", "NumericEquals": 2}}), input.clone()));
    assert!(holds(
        json!({"And": [{"Variable": "$.x", "IsPresent": false}, {"Not": {"Or": [{"Variable": "$.n", "IsString": true}]}}]}),
        input
    ));
}

#[test]
fn choice_reads_context_and_variables() {
    let context = json!({"Execution": {"Input": {"level": 3}}});
    let mut vars = Map::new();
    vars.insert("limit".into(), json!({"max": 5}));
    let ok = |c: Value| eval_in(c, json!({"n": 4}), context.clone(), &vars);
    assert_eq!(ok(json!({"Variable": "$$.Execution.Input.level", "NumericEquals": 3})), Ok(true));
    assert_eq!(ok(json!({"Variable": "$.n", "NumericLessThanPath": "$limit.max"})), Ok(true));
    assert_eq!(ok(json!({"Variable": "$limit.max", "NumericGreaterThanPath": "$$.Execution.Input.level"})), Ok(true));
    assert_eq!(ok(json!({"Variable": "$other", "IsPresent": true})), Ok(false));
}

#[test]
fn choice_first_match_in_order() {
    let rules = [
        rule(json!({"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"})),
        rule(json!({"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Positive"})),
        rule(json!({"Variable": "$.n", "NumericGreaterThan": -10, "Next": "Small"})),
    ];
    let context = json!({});
    let at = |n: i64| {
        let input = json!({"n": n});
        let scope = Scope::new(&input, &context);
        first_match(&rules, &scope).map(|r| r.map(|r| r.next.clone()))
    };
    assert_eq!(at(20), Ok(Some("Big".into())));
    assert_eq!(at(5), Ok(Some("Positive".into())));
    assert_eq!(at(-20), Ok(None));
}

// -- properties -----------------------------------------------------------------------

const KEYS: &[&str] = &[
    "Variable",
    "Next",
    "And",
    "Or",
    "Not",
    "Comment",
    "Assign",
    "StringEquals",
    "StringMatches",
    "NumericLessThanPath",
    "BooleanEquals",
    "TimestampGreaterThanEquals",
    "TimestampEqualsPath",
    "IsPresent",
    "IsTimestamp",
    "Condition",
    "Foo",
    "",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let strings = prop_oneof![
        Just("$".to_owned()),
        Just("$.a".to_owned()),
        Just("$$.Execution.Id".to_owned()),
        Just("$var".to_owned()),
        Just("2016-03-14T01:59:00Z".to_owned()),
        Just("a\\".to_owned()),
        "[a-z$.*\\\\\\[\\]'0-9 ]{0,10}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        strings.prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6)
                .prop_map(|fields| { Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()) }),
        ]
    })
}

/// A plain backtracking matcher over the same pattern semantics, small inputs only.
fn reference_match(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| reference_match(rest, &text[i..])),
        Some((&c, rest)) => text.first() == Some(&c) && reference_match(rest, &text[1..]),
    }
}

proptest! {
    #[test]
    fn choice_parse_never_panics(value in arb_json()) {
        let _ = ChoiceRule::parse(&value, PTR);
    }

    #[test]
    fn choice_parse_and_eval_never_panic(value in arb_json(), input in arb_json()) {
        if let Ok(rule) = ChoiceRule::parse(&value, PTR) {
            let context = json!({});
            let scope = Scope::new(&input, &context);
            let _ = rule.condition.eval(&scope);
        }
    }

    #[test]
    fn choice_star_only_pattern_matches_everything(stars in 1..6usize, text in ".{0,30}") {
        let pattern = Pattern::parse(&"*".repeat(stars));
        prop_assert!(pattern.is_ok_and(|p| p.matches(&text)));
    }

    #[test]
    fn choice_pattern_agrees_with_backtracking(pattern in "[ab*]{0,8}", text in "[ab]{0,10}") {
        let chars: Vec<char> = pattern.chars().collect();
        let text_chars: Vec<char> = text.chars().collect();
        let parsed = Pattern::parse(&pattern);
        prop_assert!(parsed.is_ok());
        let Ok(parsed) = parsed else { return Ok(()) };
        prop_assert_eq!(parsed.matches(&text), reference_match(&chars, &text_chars));
    }

    #[test]
    fn choice_literal_pattern_is_equality(literal in "[^*\\\\]{0,12}", text in "[^*\\\\]{0,12}") {
        let parsed = Pattern::parse(&literal);
        prop_assert!(parsed.is_ok_and(|p| p.matches(&text) == (literal == text) && p.matches(&literal)));
    }

    #[test]
    fn choice_numeric_agrees_with_f64(
        a in prop_oneof![any::<i32>().prop_map(f64::from), -1e6..1e6f64, Just(0.0), Just(-0.0)],
        b in prop_oneof![any::<i32>().prop_map(f64::from), -1e6..1e6f64, Just(0.0)],
        b_as_int in any::<bool>(),
    ) {
        // The same value written as an integer or a float must compare the same.
        let right = if b_as_int && b.fract() == 0.0 { json!(b as i64) } else { json!(b) };
        let input = json!({"a": a, "b": right.clone()});
        let context = json!({});
        let scope = Scope::new(&input, &context);
        let relations = [
            ("Equals", a == b),
            ("LessThan", a < b),
            ("GreaterThan", a > b),
            ("LessThanEquals", a <= b),
            ("GreaterThanEquals", a >= b),
        ];
        for (rel, expected) in relations {
            for (op, operand) in [(format!("Numeric{rel}"), right.clone()), (format!("Numeric{rel}Path"), json!("$.b"))] {
                let mut r = Map::new();
                r.insert("Variable".into(), json!("$.a"));
                r.insert(op.clone(), operand);
                r.insert("Next".into(), json!("N"));
                let parsed = ChoiceRule::parse(&Value::Object(r), PTR);
                prop_assert!(parsed.is_ok());
                let Ok(parsed) = parsed else { return Ok(()) };
                prop_assert_eq!(parsed.condition.eval(&scope), Ok(expected), "{} {} {}", a, op, b);
            }
        }
    }

    #[test]
    fn choice_string_order_agrees_with_utf16(a in "\\PC{0,6}", b in "\\PC{0,6}") {
        let left: Vec<u16> = a.encode_utf16().collect();
        let right: Vec<u16> = b.encode_utf16().collect();
        prop_assert_eq!(compare_utf16(&a, &b), left.cmp(&right));
    }
}

// -- AWS-recorded cases ---------------------------------------------------------------

/// The recorded LocalStack/AWS cases, when the conformance corpus is at hand: the
/// `BATON_CONFORMANCE_CORPUS` folder, or `shared/conformance/corpus` above this crate.
fn corpus_dir() -> Option<std::path::PathBuf> {
    if let Ok(dir) = std::env::var("BATON_CONFORMANCE_CORPUS") {
        return Some(std::path::PathBuf::from(dir).join("localstack"));
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/conformance/corpus/localstack"))
        .find(|p| p.is_dir())
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Succeeded(Value),
    Failed(Option<String>),
}

/// JSON equality with numbers compared by value, as the corpus compares outputs.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// What running `target` on `input` gives, for the simple end states the cases use.
fn simulate(states: &Map<String, Value>, target: &str, input: &Value) -> Option<Outcome> {
    let state = states.get(target)?.as_object()?;
    match state.get("Type")?.as_str()? {
        "Pass"
            if state.get("End") == Some(&json!(true))
                && state.keys().all(|k| ["Type", "End", "Result", "Comment"].contains(&k.as_str())) =>
        {
            Some(Outcome::Succeeded(state.get("Result").unwrap_or(input).clone()))
        }
        "Fail" => Some(Outcome::Failed(state.get("Error").and_then(Value::as_str).map(str::to_owned))),
        "Succeed" if !state.contains_key("OutputPath") && !state.contains_key("InputPath") => {
            Some(Outcome::Succeeded(input.clone()))
        }
        _ => None,
    }
}

/// For every recorded execution that starts with a JSONPath Choice state and goes on to a
/// simple end state, the rule this module picks must lead to the recorded result.
#[test]
fn choice_agrees_with_recorded_executions() {
    let dir = corpus_dir().expect(
        "the conformance corpus must be at ../shared/conformance beside the repository \
         (or in BATON_CONFORMANCE_CORPUS)",
    );
    let Ok(entries) = std::fs::read_dir(&dir) else { panic!("cannot read {}", dir.display()) };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let (mut checked, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if !name.ends_with(".json") || name.starts_with('_') {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(case) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let def = &case["definition"];
        let Some(states) = def["States"].as_object() else {
            continue;
        };
        let Some(start_name) = def["StartAt"].as_str() else {
            continue;
        };
        let start = &states[start_name];
        if start["Type"] != "Choice" {
            continue;
        }
        if def["QueryLanguage"] == "JSONata"
            || start["QueryLanguage"] == "JSONata"
            || start.get("InputPath").is_some()
            || start.get("OutputPath").is_some()
            || case.get("input").is_none()
        {
            skipped += 1;
            continue;
        }
        let input = &case["input"];
        let expected = match case["expected"]["status"].as_str() {
            Some("SUCCEEDED") => Outcome::Succeeded(case["expected"]["output"].clone()),
            Some("FAILED") => Outcome::Failed(case["expected"]["error"].as_str().map(str::to_owned)),
            _ => {
                skipped += 1;
                continue;
            }
        };

        let mut rules = Vec::new();
        for (i, r) in start["Choices"].as_array().into_iter().flatten().enumerate() {
            match ChoiceRule::parse(r, &format!("/States/{start_name}/Choices/{i}")) {
                Ok(rule) => rules.push(rule),
                Err(e) => failures.push(format!("{name}: AWS accepted a rule we reject: {e}")),
            }
        }
        let context = json!({"Execution": {"Input": input.clone()}, "State": {"Name": start_name}});
        let scope = Scope::new(input, &context);
        let outcome = match first_match(&rules, &scope) {
            Err(e) => Some(Outcome::Failed(Some(e.error))),
            Ok(Some(rule)) => simulate(states, &rule.next, input),
            Ok(None) => match start["Default"].as_str() {
                Some(default) => simulate(states, default, input),
                None => Some(Outcome::Failed(Some("States.NoChoiceMatched".into()))),
            },
        };
        let Some(outcome) = outcome else {
            skipped += 1;
            continue;
        };
        checked += 1;
        let agrees = match (&outcome, &expected) {
            (Outcome::Succeeded(got), Outcome::Succeeded(want)) => same_json(got, want),
            (Outcome::Failed(got), Outcome::Failed(want)) => got.is_none() || got == want,
            _ => false,
        };
        if !agrees {
            failures.push(format!("{name}: got {outcome:?}, AWS recorded {expected:?}"));
        }
    }
    eprintln!("recorded Choice cases: {checked} checked, {skipped} skipped");
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 0, "no Choice cases found in {}", dir.display());
}
