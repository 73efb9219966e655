use serde_json::json;

use super::*;

fn eval_with(text: &str, input: &Value, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    let intrinsic = Intrinsic::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let context = json!({"Execution": {"Name": "exec-1", "Input": input}});
    let scope = Scope::new(input, &context);
    intrinsic.eval(&scope, random)
}

fn eval_on(text: &str, input: &Value) -> Result<Value, EvalFailure> {
    eval_with(text, input, &mut SplitMix64(7))
}

fn eval(text: &str) -> Value {
    eval_on(text, &json!({})).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn failure_on(text: &str, input: &Value) -> EvalFailure {
    match eval_on(text, input) {
        Ok(v) => panic!("{text} gave {v}, expected a failure"),
        Err(e) => e,
    }
}

/// Fails with `States.IntrinsicFailure` and a message naming the function.
fn assert_invalid(text: &str) -> String {
    let failure = failure_on(text, &json!({}));
    assert_eq!(failure.error, "States.IntrinsicFailure", "{text}: {failure}");
    let name = text.split('(').next().unwrap_or_default();
    assert!(failure.message.contains(name), "{text}: {failure}");
    failure.message
}

fn syntax_error(text: &str) -> String {
    match Intrinsic::parse(text) {
        Ok(i) => panic!("{text} parsed as {i:?}"),
        Err(e) => e.message,
    }
}

/// `text` with the intrinsic string escapes applied, ready to put between quotes.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '\'' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[test]
fn literals_and_nesting() {
    assert_eq!(
        eval("States.Array('a', 1, -2, 1.5, 2e3, true, false, null, States.Array(), '')"),
        json!(["a", 1, -2, 1.5, 2000.0, true, false, null, [], ""])
    );
    assert!(eval("States.Array(1)")[0].is_i64() || eval("States.Array(1)")[0].is_u64());
    assert_eq!(eval("States.Array(-0)"), json!([0]));
    assert_eq!(eval("States.Array(  1 ,\n 2\t)"), json!([1, 2]));
    assert_eq!(eval("States.Array (1) \n"), json!([1]));
    assert_eq!(eval("States.Array( )"), json!([]));
}

#[test]
fn source_text_is_kept() {
    let text = "States.Array( 1 )";
    assert_eq!(Intrinsic::parse(text).map(|i| i.as_str().to_owned()), Ok(text.to_owned()));
    assert!(looks_like_intrinsic(text));
    assert!(!looks_like_intrinsic("$.States"));
}

#[test]
fn string_escapes() {
    assert_eq!(eval(r"States.Format('it\'s \{\} and \\ {}', 1)"), json!("it's {} and \\ 1"));
    assert_eq!(eval(r"States.Format('\{}{\}')"), json!("{}{}"));
    // Unescaped braces that are not a `{}` pair are plain text, as in AWS's recordings.
    assert_eq!(eval(r#"States.StringToJson('{"a": "}{"}')"#), json!({"a": "}{"}));
    // A raw newline inside the quotes is kept.
    assert_eq!(eval("States.StringSplit('Hello\nWorld', '\n')"), json!(["Hello", "World"]));
    assert_eq!(eval("States.Array('a,b)c')"), json!(["a,b)c"]));
}

#[test]
fn open_escape_fails_at_run_time() {
    let failure = failure_on(r"States.Format('a\nb')", &json!({}));
    assert_eq!(failure.error, "States.Runtime");
    assert!(failure.message.contains(r"\n"), "{failure}");
}

#[test]
fn syntax_errors() {
    for (text, needle) in [
        ("States.Foo(1)", "unknown intrinsic function 'States.Foo'"),
        ("States.Array(Foo(1))", "unknown intrinsic function 'Foo'"),
        ("States.Array(True)", "found 'True'"),
        ("States.ArrayRange(1, 2)", "States.ArrayRange takes 3 arguments, but was given 2"),
        ("States.UUID(1)", "States.UUID takes no arguments, but was given 1"),
        ("States.Format()", "States.Format takes at least 1 argument, but was given 0"),
        ("States.MathRandom(1)", "States.MathRandom takes 2 or 3 arguments, but was given 1"),
        ("States.MathRandom(1, 2, 3, 4)", "but was given 4"),
        ("States.ArrayLength()", "States.ArrayLength takes 1 argument, but was given 0"),
        ("States.Format('{} {}', 1)", "has 2 '{}' placeholder(s) but 1 value argument(s)"),
        ("States.Format('{}')", "has 1 '{}' placeholder(s) but 0 value argument(s)"),
        ("States.Format(1)", "must be a string, not a number"),
        ("States.JsonToString('x')", "the argument of States.JsonToString must be a path"),
        ("States.JsonToString(States.Array())", "must be a path"),
        ("States.Format('abc)", "unterminated string starting at position 14"),
        ("States.Format('abc\\", "unterminated string"),
        ("States.UUID() x", "unexpected 'x' at position 14 after the end of the call"),
        ("States.Array(1,)", "found ')' at position 15"),
        ("States.Array(1", "expected ',' or ')' in the arguments of States.Array, found end of text"),
        ("States.Array(1 2)", "found '2' at position 15"),
        ("States.Array(01)", "invalid number '01'"),
        ("States.Array(-)", "invalid number '-'"),
        ("States.Array(1e999)", "invalid number '1e999'"),
        ("States.Array(#)", "found '#' at position 13"),
        (" States.UUID()", "expected an intrinsic function name, found ' ' at position 0"),
        ("States.UUID", "expected '(' after 'States.UUID'"),
        ("", "expected an intrinsic function name, found end of text"),
    ] {
        let message = syntax_error(text);
        assert!(message.contains(needle), "{text:?}: {message:?} lacks {needle:?}");
    }
}

#[test]
fn nesting_is_limited_to_ten_levels() {
    let nested = |levels: usize| format!("{}1{}", "States.Array(".repeat(levels), ")".repeat(levels));
    let mut expected = json!(1);
    for _ in 0..MAX_NESTING {
        expected = json!([expected]);
    }
    assert_eq!(eval(&nested(MAX_NESTING)), expected);
    let message = syntax_error(&nested(MAX_NESTING + 1));
    assert!(message.contains("at most 10 levels"), "{message}");
}

#[test]
fn format_renders_values_naturally() {
    let input = json!({
        "s": "text", "n": 42, "f": 1.5, "b": true, "z": null,
        "o": {"a": 1, "b": [1, "x", null], "c": {}}, "t": "<{}|{}>"
    });
    assert_eq!(
        eval_on("States.Format('{}/{}/{}/{}/{}/{}', $.s, $.n, $.f, $.b, $.z, $.o)", &input),
        Ok(json!("text/42/1.5/true/null/{a=1, b=[1, x, null], c={}}"))
    );
    assert_eq!(eval_on("States.Format($.t, 1, 'two')", &input), Ok(json!("<1|two>")));
    let message = failure_on("States.Format($.t, 1)", &input).message;
    assert!(message.contains("States.Format") && message.contains("2 '{}' placeholder(s)"), "{message}");
    let failure = failure_on("States.Format($.n)", &input);
    assert_eq!(failure.error, "States.IntrinsicFailure");
    assert!(failure.message.contains("template must be a string"), "{failure}");
    assert_eq!(
        eval("States.Format('Your name is {}, we are in the year {}', 'Foo', 2020)"),
        json!("Your name is Foo, we are in the year 2020")
    );
}

#[test]
fn string_to_json() {
    let input = json!({"s": "{\"number\": 20}", "e": "", "b": " \n", "z": "-0", "bad": "{"});
    assert_eq!(eval_on("States.StringToJson($.s)", &input), Ok(json!({"number": 20})));
    assert_eq!(eval_on("States.StringToJson($.e)", &input), Ok(Value::Null));
    assert_eq!(eval_on("States.StringToJson($.b)", &input), Ok(Value::Null));
    let zero = eval_on("States.StringToJson($.z)", &input);
    assert!(matches!(&zero, Ok(Value::Number(n)) if n.as_u64() == Some(0) || n.as_i64() == Some(0)), "{zero:?}");
    assert!(failure_on("States.StringToJson($.bad)", &input).message.contains("not valid JSON"));
    assert_invalid("States.StringToJson(1)");
}

#[test]
fn json_to_string_is_compact_and_keeps_key_order() {
    let input = json!({"someJson": {"name": "Foo", "year": 2020, "a": [1.5, null]}});
    assert_eq!(
        eval_on("States.JsonToString($.someJson)", &input),
        Ok(json!("{\"name\":\"Foo\",\"year\":2020,\"a\":[1.5,null]}"))
    );
}

#[test]
fn array_partition() {
    assert_eq!(
        eval("States.ArrayPartition(States.Array(1,2,3,4,5,6,7,8,9), 4)"),
        json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
    );
    assert_eq!(eval("States.ArrayPartition(States.Array(), 4)"), json!([]));
    assert_eq!(eval("States.ArrayPartition(States.Array(1, 2, 3), 2.5)"), json!([[1, 2, 3]]));
    assert!(assert_invalid("States.ArrayPartition(States.Array(1), 0)").contains("positive"));
    assert_invalid("States.ArrayPartition(States.Array(1), -1)");
    assert_invalid("States.ArrayPartition('abc', 1)");
    assert_invalid("States.ArrayPartition(States.Array(1), '1')");
}

#[test]
fn array_contains_compares_by_value() {
    assert_eq!(eval("States.ArrayContains(States.Array(1,2,3), 2)"), json!(true));
    assert_eq!(eval("States.ArrayContains(States.Array(1,2,3), 2.0)"), json!(true));
    assert_eq!(eval("States.ArrayContains(States.Array(1,2,3), '2')"), json!(false));
    assert_eq!(eval("States.ArrayContains(States.Array(), null)"), json!(false));
    assert_eq!(eval("States.ArrayContains(States.Array(null), null)"), json!(true));
    let input = json!({"a": [{"x": 1, "y": [2]}], "v": {"y": [2.0], "x": 1}});
    assert_eq!(eval_on("States.ArrayContains($.a, $.v)", &input), Ok(json!(true)));
    assert_invalid("States.ArrayContains('abc', 'a')");
}

#[test]
fn array_range() {
    assert_eq!(eval("States.ArrayRange(1, 9, 2)"), json!([1, 3, 5, 7, 9]));
    assert_eq!(eval("States.ArrayRange(0, 10, 3)"), json!([0, 3, 6, 9]));
    assert_eq!(eval("States.ArrayRange(9, 1, -4)"), json!([9, 5, 1]));
    assert_eq!(eval("States.ArrayRange(1, 9, -1)"), json!([]));
    assert_eq!(eval("States.ArrayRange(5, 5, 1)"), json!([5]));
    assert_eq!(eval("States.ArrayRange(0.5, 2.4, 1)"), json!([1, 2]));
    assert_eq!(eval("States.ArrayRange(0, 999, 1)").as_array().map(Vec::len), Some(1000));
    assert!(assert_invalid("States.ArrayRange(0, 1000, 1)").contains("1001 items"));
    assert!(assert_invalid("States.ArrayRange(0, 10, 0)").contains("step"));
    assert_invalid("States.ArrayRange('0', 10, 1)");
    assert_invalid("States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)");
}

#[test]
fn array_get_item() {
    assert_eq!(eval("States.ArrayGetItem(States.Array(1,2,3,4,5,6,7,8,9), 5)"), json!(6));
    assert_eq!(eval("States.ArrayGetItem(States.Array('a', States.Array('b')), 1)"), json!(["b"]));
    assert!(assert_invalid("States.ArrayGetItem(States.Array(1,2,3), 3)").contains("out of bounds"));
    assert_invalid("States.ArrayGetItem(States.Array(1,2,3), -1)");
    assert_invalid("States.ArrayGetItem(States.Array(1,2,3), 'a')");
    assert_invalid("States.ArrayGetItem('abc', 0)");
}

#[test]
fn array_length_and_unique() {
    assert_eq!(eval("States.ArrayLength(States.Array(1,2,3,4,5,6,7,8,9))"), json!(9));
    assert_eq!(eval("States.ArrayLength(States.Array())"), json!(0));
    assert_invalid("States.ArrayLength('abc')");
    assert_eq!(eval("States.ArrayUnique(States.Array(1,2,3,3,3,3,3,3,4))"), json!([1, 2, 3, 4]));
    let input = json!({"a": [null, null, 1, 1.0, "1", {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], [1], true, true]});
    assert_eq!(eval_on("States.ArrayUnique($.a)", &input), Ok(json!([null, 1, "1", {"a": 1, "b": 2}, [1], true])));
    assert_invalid("States.ArrayUnique(1)");
}

#[test]
fn base64() {
    assert_eq!(eval("States.Base64Encode('Data to encode')"), json!("RGF0YSB0byBlbmNvZGU="));
    assert_eq!(eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"), json!("Data to encode"));
    assert_eq!(eval("States.Base64Decode('RGF0YSB0b\nyBlbmNvZGU')"), json!("Data to encode"));
    assert_eq!(eval("States.Base64Decode('')"), json!(""));
    assert_eq!(eval("States.Base64Encode('é')"), json!("w6k="));
    assert!(assert_invalid("States.Base64Decode('*')").contains("base64"));
    assert!(assert_invalid("States.Base64Decode('/w==')").contains("UTF-8"));
    assert_invalid("States.Base64Encode(1)");
    let at_limit = "é".repeat(MAX_ENCODING_INPUT_CHARS);
    assert!(eval(&format!("States.Base64Encode('{at_limit}')")).is_string());
    let message = assert_invalid(&format!("States.Base64Encode('{at_limit}x')"));
    assert!(message.contains("10001 characters"), "{message}");
    assert_invalid(&format!("States.Base64Decode('{}')", "A".repeat(MAX_ENCODING_INPUT_CHARS + 4)));
}

#[test]
fn hash() {
    for (algorithm, digest) in [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        (
            "SHA-384",
            "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
        ),
        (
            "SHA-512",
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
        ),
    ] {
        assert_eq!(eval(&format!("States.Hash('input data', '{algorithm}')")), json!(digest), "{algorithm}");
    }
    assert!(assert_invalid("States.Hash('x', 'sha-256')").contains("'sha-256'"));
    assert_invalid("States.Hash(1, 'MD5')");
    assert_invalid("States.Hash('x', 1)");
    assert_invalid(&format!("States.Hash('{}', 'MD5')", "x".repeat(MAX_ENCODING_INPUT_CHARS + 1)));
}

#[test]
fn json_merge_is_shallow() {
    let input = json!({
        "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
        "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}
    });
    assert_eq!(
        eval_on("States.JsonMerge($.json1, $.json2, false)", &input),
        Ok(json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}))
    );
    let failure = failure_on("States.JsonMerge($.json1, $.json2, true)", &input);
    assert_eq!(failure.error, "States.IntrinsicFailure");
    assert!(failure.message.contains("deep merging"), "{failure}");
    assert_eq!(failure_on("States.JsonMerge($.json1, $.json2, 'false')", &input).error, "States.IntrinsicFailure");
    assert_eq!(failure_on("States.JsonMerge($.json1, 1, false)", &input).error, "States.IntrinsicFailure");
}

#[test]
fn math_random() {
    let text = "States.MathRandom(1, 999, 42)";
    let first = eval_with(text, &json!({}), &mut SplitMix64(1));
    assert_eq!(first, eval_with(text, &json!({}), &mut SplitMix64(2)), "a seed alone decides the result");
    assert!(matches!(&first, Ok(Value::Number(n)) if n.as_i64().is_some_and(|i| (1..999).contains(&i))), "{first:?}");
    let unseeded: HashSet<String> = (0..20)
        .map(|seed| eval_with("States.MathRandom(12.5, 44.51)", &json!({}), &mut SplitMix64(seed)))
        .map(|r| match r {
            Ok(Value::Number(n)) => {
                let i = n.as_i64().unwrap_or(-1);
                assert!((13..45).contains(&i), "{i}");
                i.to_string()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(unseeded.len() > 1, "unseeded draws come from the caller's randomness");
    assert_eq!(eval("States.MathRandom(-5, -4)"), json!(-5));
    assert!(assert_invalid("States.MathRandom(5, 5)").contains("greater than"));
    assert_invalid("States.MathRandom('1', 5)");
    assert_invalid("States.MathRandom(1, 5, 'seed')");
}

#[test]
fn math_add_rounds_like_java() {
    for (a, b, sum) in [
        ("1.49", "1.5", 3),
        ("-1.5", "0", -1),
        ("-1.51", "0", -2),
        ("1.5", "0", 2),
        ("-0.5", "0.5", 1),
        ("-2.5", "0", -2),
        ("1.49", "-1.49", 0),
        ("111", "-1", 110),
    ] {
        let result = eval(&format!("States.MathAdd({a}, {b})"));
        assert_eq!(result, json!(sum), "{a} + {b}");
        assert!(result.is_i64() || result.is_u64(), "{result} must be an integer");
    }
    assert_eq!(eval("States.MathAdd(2147483647, 0)"), json!(2147483647));
    assert_eq!(eval("States.MathAdd(-2147483648, 0)"), json!(-2147483648));
    assert!(assert_invalid("States.MathAdd(2147483648, 0)").contains("2147483648"));
    assert_invalid("States.MathAdd(2147483647, 1)");
    assert_invalid("States.MathAdd('1', 2)");
    assert_invalid("States.MathAdd(null, 2)");
}

#[test]
fn string_split() {
    assert_eq!(eval("States.StringSplit('1,2,3,4,5', ',')"), json!(["1", "2", "3", "4", "5"]));
    assert_eq!(
        eval("States.StringSplit('This.is+a,test=string', '.+,=')"),
        json!(["This", "is", "a", "test", "string"])
    );
    assert_eq!(eval("States.StringSplit(', , ,', ',')"), json!([" ", " "]));
    assert_eq!(eval("States.StringSplit('abc', '')"), json!(["abc"]));
    assert_eq!(eval("States.StringSplit('', ',')"), json!([]));
    assert_eq!(eval("States.StringSplit('aéb', 'é')"), json!(["a", "b"]));
    assert_invalid("States.StringSplit(1, ',')");
    assert_invalid("States.StringSplit('a', 1)");
}

#[test]
fn uuid_comes_from_the_callers_randomness() {
    let uuid = eval("States.UUID()");
    assert_eq!(uuid, json!(SplitMix64(7).uuid_v4()));
    let text = uuid.as_str().unwrap_or_default();
    assert_eq!(text.len(), 36);
    assert_eq!(text.chars().nth(14), Some('4'));
}

#[test]
fn path_arguments() {
    let input = json!({"a": {"b": [10, 20]}, "odd key": "x"});
    assert_eq!(
        eval_on("States.Array($.a.b[1], $['odd key'], $$.Execution.Name)", &input),
        Ok(json!([20, "x", "exec-1"]))
    );
    assert_eq!(eval_on("States.Array($)", &input), Ok(json!([input.clone()])));

    let failure = failure_on("States.Format('{}', $.missing)", &input);
    assert_eq!(failure.error, "States.Runtime");
    assert!(failure.message.contains("'$.missing'") && failure.message.contains("States.Format"), "{failure}");
    assert!(failure.message.contains(r#"{"a":{"b":[10,20]}"#), "{failure}");

    let variables: Map<String, Value> = [("v".to_owned(), json!({"x": [1, 2]}))].into_iter().collect();
    let context = json!({});
    let scope = Scope::new(&input, &context).with_variables(&variables);
    let eval_vars = |text: &str| {
        Intrinsic::parse(text).map_err(|e| e.to_string())?.eval(&scope, &mut SplitMix64(0)).map_err(|e| e.to_string())
    };
    assert_eq!(eval_vars("States.ArrayLength($v.x)"), Ok(json!(2)));
    assert_eq!(eval_vars("States.Array($v)"), Ok(json!([{"x": [1, 2]}])));
    let undefined = eval_vars("States.Array($nope)");
    assert!(undefined.as_ref().is_err_and(|e| e.starts_with("States.Runtime") && e.contains("nope")), "{undefined:?}");
}

#[test]
fn invalid_paths_are_syntax_errors() {
    let message = syntax_error("States.Array($.a[)");
    assert!(message.contains("invalid path"), "{message}");
}

#[test]
fn one_parse_evaluates_many_times() {
    let intrinsic = Intrinsic::parse("States.Format('{}-{}', $.n, States.UUID())").unwrap_or_else(|e| panic!("{e}"));
    let context = json!({});
    let mut random = SplitMix64(3);
    let mut seen = HashSet::new();
    for n in 0..5 {
        let input = json!({"n": n});
        let scope = Scope::new(&input, &context);
        let out = intrinsic.eval(&scope, &mut random).unwrap_or_else(|e| panic!("{e}"));
        let text = out.as_str().unwrap_or_default().to_owned();
        assert!(text.starts_with(&format!("{n}-")), "{text}");
        seen.insert(text);
    }
    assert_eq!(seen.len(), 5);
}

/// Replays AWS-recorded executions of the conformance corpus whose definition is a single
/// Pass state with intrinsic calls in `Parameters`: every call is evaluated against the
/// case's input and compared with the field of the recorded output it produced.
///
/// The corpus lives outside the repository (`BATON_CONFORMANCE_CORPUS`, by default the
/// shared checkout beside the repository); without it the test fails. Skipped, with a note: fields whose
/// recorded value was normalised (run-specific names, `<uuid>`, ...), and values of
/// `States.UUID`/`States.MathRandom`, which are only checked for shape.
mod corpus {
    use std::path::PathBuf;

    use serde_json::{json, Map, Value};

    use super::super::{json_eq, looks_like_intrinsic, Intrinsic};
    use crate::eval::{Scope, SplitMix64};

    /// One `.$` intrinsic of a case: where its result lands in the state's output (object
    /// keys from the output root) and its text.
    struct Field {
        location: Vec<String>,
        text: String,
    }

    fn collect(params: &Map<String, Value>, prefix: &[String], out: &mut Vec<Field>) {
        for (key, value) in params {
            let mut location = prefix.to_vec();
            match (key.strip_suffix(".$"), value) {
                (Some(name), Value::String(text)) if looks_like_intrinsic(text) => {
                    location.push(name.to_owned());
                    out.push(Field { location, text: text.clone() });
                }
                (None, Value::Object(inner)) => {
                    location.push(key.clone());
                    collect(inner, &location, out);
                }
                _ => {}
            }
        }
    }

    /// The object keys of a `$`-rooted dotted path, or `None` for anything fancier.
    fn dotted(path: Option<&Value>) -> Option<Vec<String>> {
        match path {
            None => Some(Vec::new()),
            Some(Value::String(p)) if p == "$" => Some(Vec::new()),
            Some(Value::String(p)) => {
                let rest = p.strip_prefix("$.")?;
                let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
                keys.iter().all(|k| !k.is_empty() && !k.contains(['[', ']', '*', '@'])).then_some(keys)
            }
            Some(_) => None,
        }
    }

    fn pointer(keys: &[String]) -> String {
        keys.iter().map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1"))).collect()
    }

    /// Whether `text` matches a recorded string in which each placeholder token stands for
    /// any text (the recorder replaced run-specific names with tokens).
    fn matches_placeholders(pattern: &str, text: &str, tokens: &[&str]) -> bool {
        let mut pieces = vec![pattern.to_owned()];
        for token in tokens {
            pieces = pieces.iter().flat_map(|p| p.split(token).map(str::to_owned).collect::<Vec<_>>()).collect();
        }
        let [first, middle @ .., last] = pieces.as_slice() else {
            return pattern == text;
        };
        let Some(mut rest) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        for piece in middle {
            match rest.find(piece.as_str()) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        rest.ends_with(last.as_str())
    }

    #[test]
    fn aws_recorded_intrinsic_results() {
        let dir = std::env::var_os("BATON_CONFORMANCE_CORPUS").map_or_else(
            || {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .ancestors()
                    .map(|a| a.join("shared/conformance/corpus/localstack"))
                    .find(|p| p.is_dir())
                    .expect("the conformance corpus must be at ../shared/conformance beside the repository")
            },
            PathBuf::from,
        );
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read the conformance corpus at {}: {e}", dir.display()));
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        let (mut checked, mut failed_cases, mut skipped) = (0usize, 0usize, Vec::new());
        let mut mismatches = Vec::new();
        for file in files {
            let Some(case) = std::fs::read_to_string(&file).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
            else {
                continue;
            };
            let id = case["id"].as_str().unwrap_or_default().to_owned();
            let Some(states) = case["definition"]["States"].as_object() else {
                continue;
            };
            let Some((state_name, state)) = states.iter().next().filter(|_| states.len() == 1) else {
                continue;
            };
            let Some(params) = state["Parameters"].as_object().filter(|_| state["Type"] == "Pass") else {
                continue;
            };
            let mut fields = Vec::new();
            collect(params, &[], &mut fields);
            if fields.is_empty() {
                continue;
            }
            let Some(input) = case.get("input") else {
                continue;
            };
            let (Some(input_path), Some(result_path), Some(output_path)) =
                (dotted(state.get("InputPath")), dotted(state.get("ResultPath")), dotted(state.get("OutputPath")))
            else {
                skipped.push(format!("{id}: InputPath/ResultPath/OutputPath beyond dotted paths"));
                continue;
            };
            let mut effective = input;
            for key in &input_path {
                effective = &effective[key.as_str()];
            }
            let context = json!({
                "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:exec", "Input": input,
                              "Name": "exec", "StartTime": "2024-01-01T00:00:00Z"},
                "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
                "State": {"Name": state_name, "EnteredTime": "2024-01-01T00:00:00Z", "RetryCount": 0}
            });
            let scope = Scope::new(effective, &context);
            let expected = &case["expected"];
            let tokens: Vec<&str> = case["normalized"]["tokens"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let normalized: Vec<&str> = case["normalized"]["paths"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();

            if expected["status"] != "SUCCEEDED" {
                // A failed case must fail in one of its calls with the recorded error name.
                let errors: Vec<String> = fields
                    .iter()
                    .filter_map(|f| Intrinsic::parse(&f.text).ok()?.eval(&scope, &mut SplitMix64(1)).err())
                    .map(|e| e.error)
                    .collect();
                if !errors.iter().any(|e| Some(e.as_str()) == expected["error"].as_str()) {
                    mismatches.push(format!("{id}: expected {}, calls failed with {errors:?}", expected["error"]));
                }
                failed_cases += 1;
                continue;
            }
            for field in fields {
                let intrinsic = match Intrinsic::parse(&field.text) {
                    Ok(i) => i,
                    Err(e) => {
                        mismatches.push(format!("{id}: {} does not parse: {e}", field.text));
                        continue;
                    }
                };
                let actual = match intrinsic.eval(&scope, &mut SplitMix64(1)) {
                    Ok(v) => v,
                    Err(e) => {
                        mismatches.push(format!("{id}: {} failed: {e}", field.text));
                        continue;
                    }
                };
                if field.text.contains("States.UUID") || field.text.contains("States.MathRandom") {
                    let shaped = actual.is_i64() || actual.as_str().is_some_and(|s| s.len() == 36);
                    if !shaped {
                        mismatches.push(format!("{id}: {} gave {actual}", field.text));
                    }
                    skipped.push(format!("{id}: value of {} is random", field.text));
                    continue;
                }
                let full: Vec<String> = result_path.iter().chain(&field.location).cloned().collect();
                let Some(relative) = full.strip_prefix(output_path.as_slice()) else {
                    skipped.push(format!("{id}: {} is cut by OutputPath", field.text));
                    continue;
                };
                let at = format!("/output{}", pointer(relative));
                if normalized.contains(&at.as_str()) {
                    match (expected.pointer(&at).and_then(Value::as_str), actual.as_str()) {
                        (Some(pattern), Some(text)) if matches_placeholders(pattern, text, &tokens) => checked += 1,
                        (Some(_), Some(_)) => {
                            mismatches.push(format!(
                                "{id}: {} gave {actual}, AWS recorded {}",
                                field.text,
                                expected.pointer(&at).unwrap_or(&Value::Null)
                            ));
                        }
                        _ => skipped.push(format!("{id}: {at} is normalised in the recording")),
                    }
                    continue;
                }
                if normalized.iter().any(|n| n.starts_with(&at) || at.starts_with(n)) {
                    skipped.push(format!("{id}: {at} is partly normalised in the recording"));
                    continue;
                }
                match expected.pointer(&at) {
                    Some(recorded) if json_eq(recorded, &actual) => checked += 1,
                    recorded => {
                        mismatches.push(format!("{id}: {} gave {actual}, AWS recorded {recorded:?}", field.text))
                    }
                }
            }
        }
        eprintln!("replayed {checked} intrinsic results and {failed_cases} failed cases; skipped:");
        for note in &skipped {
            eprintln!("  {note}");
        }
        assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
        assert!(checked >= 50, "only {checked} intrinsic results replayed; is the corpus complete?");
    }
}

mod properties {
    use proptest::prelude::*;
    use serde_json::json;

    use super::{escape, eval};
    use crate::intrinsics::Intrinsic;

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = Intrinsic::parse(&text);
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            tail in r"[(),'\\{} $.\[\]a-zA-Z0-9@?=*:-]{0,40}",
            name in prop::sample::select(vec!["Format", "Array", "MathAdd", "StringSplit", "JsonToString", "UUID"]),
        ) {
            let _ = Intrinsic::parse(&format!("States.{name}({tail}"));
        }

        #[test]
        fn format_round_trips_escaped_text(text in r"[a-z '{}\\,()$.]{0,40}") {
            prop_assert_eq!(eval(&format!("States.Format('{}')", escape(&text))), json!(text));
        }

        #[test]
        fn format_fills_placeholders_in_order(
            parts in prop::collection::vec(r"[a-z {}]{0,8}", 1..6),
            numbers in prop::collection::vec(-1000i64..1000, 5),
        ) {
            let template = parts.iter().map(|p| escape(p)).collect::<Vec<_>>().join("{}");
            let args: String = numbers[..parts.len() - 1].iter().map(|n| format!(", {n}")).collect();
            let mut expected = parts[0].clone();
            for (part, n) in parts[1..].iter().zip(&numbers) {
                expected.push_str(&n.to_string());
                expected.push_str(part);
            }
            prop_assert_eq!(eval(&format!("States.Format('{template}'{args})")), json!(expected));
        }

        #[test]
        fn partition_then_flatten_gives_the_input(items in prop::collection::vec(-50i64..50, 0..40), size in 1i64..12) {
            let array = items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            let chunks = eval(&format!("States.ArrayPartition(States.Array({array}), {size})"));
            let chunks = chunks.as_array().cloned().unwrap_or_default();
            let count = chunks.len();
            let mut flat = Vec::new();
            for (i, chunk) in chunks.into_iter().enumerate() {
                let chunk = chunk.as_array().cloned().unwrap_or_default();
                prop_assert!(!chunk.is_empty() && chunk.len() as i64 <= size);
                if i + 1 < count {
                    prop_assert_eq!(chunk.len() as i64, size);
                }
                flat.extend(chunk);
            }
            prop_assert_eq!(json!(flat), json!(items));
        }

        #[test]
        fn base64_round_trips(text in any::<String>().prop_filter("within the limit", |s| s.chars().count() <= 2000)) {
            prop_assert_eq!(
                eval(&format!("States.Base64Decode(States.Base64Encode('{}'))", escape(&text))),
                json!(text)
            );
        }

        #[test]
        fn seeded_math_random_stays_in_range(start in -10_000i64..10_000, width in 1i64..10_000, seed in any::<i32>()) {
            let text = format!("States.MathRandom({start}, {}, {seed})", start + width);
            let value = eval(&text);
            let n = value.as_i64().unwrap_or(i64::MIN);
            prop_assert!(n >= start && n < start + width, "{} out of range", n);
            prop_assert_eq!(value, eval(&text));
        }

        #[test]
        fn math_add_adds_int32(a in i32::MIN / 2..i32::MAX / 2, b in i32::MIN / 2..i32::MAX / 2) {
            prop_assert_eq!(eval(&format!("States.MathAdd({a}, {b})")), json!(i64::from(a) + i64::from(b)));
        }

        #[test]
        fn string_split_pieces_are_nonempty_and_free_of_delimiters(text in "[a-c,;]{0,30}", delimiters in "[,;b]{0,3}") {
            let pieces = eval(&format!("States.StringSplit('{text}', '{delimiters}')"));
            let pieces = pieces.as_array().cloned().unwrap_or_default();
            let joined: String = pieces.iter().filter_map(|p| p.as_str()).collect();
            for piece in &pieces {
                let piece = piece.as_str().unwrap_or_default();
                prop_assert!(!piece.is_empty() && !piece.chars().any(|c| delimiters.contains(c)));
            }
            let kept: String = text.chars().filter(|c| !delimiters.contains(*c)).collect();
            prop_assert_eq!(joined, kept);
        }
    }
}
