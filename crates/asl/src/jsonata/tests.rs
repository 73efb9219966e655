use super::*;
use serde_json::json;

fn host() -> Host {
    Host { now: 1_700_000_000_000, seed: 7, limits: Limits::default() }
}

fn eval(text: &str, vars: &[(&str, Value)]) -> Result<Option<Value>, EvalError> {
    let e = Expression::parse(text).map_err(|s| EvalError { code: s.code, message: s.message })?;
    let mut bind = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| to_jvalue(v));
    let out = e.evaluate(&JValue::Undefined, &mut bind, &host())?;
    Ok(from_jvalue(&out).expect("tests produce JSON"))
}

#[test]
fn delimiters_must_be_exact() {
    assert_eq!(expression_text("{% $x %}"), Some(" $x "));
    assert_eq!(expression_text(" {% $x %}"), None);
    assert_eq!(expression_text("{% $x %} "), None);
    assert_eq!(expression_text("{ % $x %}"), None);
}

#[test]
fn whole_numbers_come_out_as_integers() {
    assert_eq!(eval("1 + 1", &[]).unwrap(), Some(json!(2)));
    assert_eq!(eval("1.5 * 2", &[]).unwrap(), Some(json!(3)));
    assert_eq!(eval("0.1", &[]).unwrap(), Some(json!(0.1)));
    assert_eq!(serde_json::to_string(&eval("$number('2')", &[]).unwrap()).unwrap(), "2");
}

#[test]
fn free_variables_exclude_local_bindings() {
    let e = Expression::parse("($y := 1; $map($states.input.a, function($v) { $v + $y + $x }))").unwrap();
    assert_eq!(e.variables().collect::<Vec<_>>(), vec!["x"]);
    assert_eq!(e.states_refs(), StatesRefs { input: true, ..StatesRefs::default() });
    assert!(!e.reads_root_context());
    assert!(Expression::parse("$.a").unwrap().reads_root_context());
    assert!(Expression::parse("$$").unwrap().reads_root_context());
    assert!(!Expression::parse("$states.input.items[$ > 1]").unwrap().reads_root_context());
}

#[test]
fn aws_functions() {
    assert_eq!(eval("$partition([0,1,2], 2)", &[]).unwrap(), Some(json!([[0, 1], [2]])));
    assert_eq!(eval("$partition([0], 2)", &[]).unwrap(), Some(json!([[0]])));
    assert_eq!(eval("$range(0, 9, 3)", &[]).unwrap(), Some(json!([0, 3, 6, 9])));
    assert_eq!(eval("$range(1, 9, 9)", &[]).unwrap(), Some(json!(1)));
    assert_eq!(eval("$range(5, 1, -2)", &[]).unwrap(), Some(json!([5, 3, 1])));
    assert_eq!(
        eval("$hash('Hash this string', 'SHA-256')", &[]).unwrap(),
        Some(json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"))
    );
    assert_eq!(eval("$parse('{\"a\": [1, -0]}')", &[]).unwrap(), Some(json!({"a": [1, 0]})));
    let u = eval("$uuid()", &[]).unwrap().unwrap();
    assert_eq!(u.as_str().map(str::len), Some(36));
    let r = eval("$random()", &[]).unwrap().unwrap().as_f64().unwrap();
    assert!((0.0..1.0).contains(&r));
    assert_eq!(eval("$random(42)", &[]).unwrap(), eval("$random(42)", &[]).unwrap());
}

#[test]
fn time_and_randomness_come_from_the_host() {
    assert_eq!(eval("$millis()", &[]).unwrap(), Some(json!(1_700_000_000_000i64)));
    assert_eq!(eval("$now()", &[]).unwrap(), Some(json!("2023-11-14T22:13:20.000Z")));
    assert_eq!(eval("$now('[Y0001]')", &[]).unwrap(), Some(json!("2023")));
    assert_eq!(eval("[$random(), $uuid()]", &[]).unwrap(), eval("[$random(), $uuid()]", &[]).unwrap());
    assert_eq!(eval("$count($shuffle([1,2,3]))", &[]).unwrap(), Some(json!(3)));
}

#[test]
fn eval_is_not_available() {
    let e = eval("$eval('1 + 1')", &[]).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("T1006"));
}

#[test]
fn errors_carry_codes() {
    let e = eval("$randomSeeded(1)", &[]).unwrap_err();
    assert_eq!(e.message, "T1006: Attempted to invoke a non-function");
    let s = Expression::parse("/* open").unwrap_err();
    assert_eq!(s.code.as_deref(), Some("S0106"));
    assert!(Expression::parse("1 +").unwrap_err().code.is_some());
}

#[test]
fn variables_are_bound_by_name() {
    assert_eq!(eval("$x.y", &[("x", json!({"y": 3}))]).unwrap(), Some(json!(3)));
    assert_eq!(eval("$missing", &[]).unwrap(), None);
}

#[test]
fn functions_are_not_json() {
    let e = Expression::parse("function($x) { $x }").unwrap();
    let out = e.evaluate(&JValue::Undefined, &mut |_| None, &host()).unwrap();
    assert_eq!(from_jvalue(&out), Err(UnsupportedValue));
}

#[test]
fn documents_convert_only_what_an_expression_reads() {
    let input = json!({"order": {"id": 7}, "items": [1, 2, 3], "other": true});
    let context = json!({});
    let docs = Documents::new(&input, &context, 0);
    let mut random = SplitMix64(1);
    let mut eval = |text: &str| {
        let e = Expression::parse(text).unwrap();
        docs.eval(&e, "Output", &mut random)
    };
    assert_eq!(eval("$states.input.order.id").unwrap(), json!(7));
    assert_eq!(eval("$count($states.input.items)").unwrap(), json!(3));
    assert_eq!(eval("$keys($states.input)").unwrap(), json!(["order", "items", "other"]));
    assert_eq!(eval("$states.input.items[$ > 1]").unwrap(), json!([2, 3]));
    assert!(eval("$states.input.missing").is_err());
    let list = json!([{"a": 1}, {"a": 2}]);
    let docs = Documents::new(&list, &context, 0);
    let e = Expression::parse("$states.input.a").unwrap();
    assert_eq!(docs.eval(&e, "Output", &mut random).unwrap(), json!([1, 2]));
}

#[test]
fn runaway_recursion_is_stopped() {
    let e = Expression::parse("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))").unwrap();
    let err = e.evaluate(&JValue::Undefined, &mut |_| None, &host()).unwrap_err();
    assert!(err.code.is_some(), "{err}");
}
