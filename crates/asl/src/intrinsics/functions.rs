//! The intrinsic functions themselves, and JSON value equality as they compare values.

use super::*;

pub(super) fn format(call: &Call, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    let f = call.function;
    let (template_arg, value_args) = match call.args.split_first() {
        Some(split) => split,
        None => return Err(invalid(f, "the template argument is missing")),
    };
    // A literal template was split at parse time; only a template read from data is scanned.
    let evaluated;
    let scanned;
    let (template, holes): (&str, &[usize]) = match template_arg {
        Arg::Str { value: Value::String(s), holes } => (s, holes),
        other => match eval_arg(other, f, scope, random)? {
            Value::String(s) => {
                evaluated = s;
                scanned = evaluated.match_indices("{}").map(|(i, _)| i).collect::<Vec<_>>();
                (&evaluated, &scanned)
            }
            v => return Err(invalid(f, format!("the template must be a string, but got {}", shown(&v)))),
        },
    };
    if holes.len() != value_args.len() {
        return Err(invalid(
            f,
            format!(
                "the template has {} '{{}}' placeholder(s) but {} value argument(s) were given",
                holes.len(),
                value_args.len()
            ),
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut from = 0;
    for (hole, arg) in holes.iter().zip(value_args) {
        out.push_str(template.get(from..*hole).unwrap_or_default());
        render_natural(&eval_arg(arg, f, scope, random)?, &mut out);
        from = hole + 2;
    }
    out.push_str(template.get(from..).unwrap_or_default());
    Ok(Value::String(out))
}

/// A value as `States.Format` shows it. Objects and arrays follow AWS's recorded output, which
/// is Java's `Map`/`List` rendering (`{a=1, b=[x, y]}`), not JSON.
pub(super) fn render_natural(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_natural(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render_natural(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

pub(super) fn string_to_json(text: String) -> Result<Value, EvalFailure> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str::<Value>(trimmed)
        .map(normalize_zeros)
        .map_err(|e| invalid(Function::StringToJson, format!("the string is not valid JSON ({e})")))
}

pub(super) fn array_partition(array: Vec<Value>, size: i64) -> Result<Value, EvalFailure> {
    let f = Function::ArrayPartition;
    if size <= 0 {
        return Err(invalid(f, format!("the chunk size must be a positive integer, but got {size}")));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let mut chunks = Vec::with_capacity(array.len().div_ceil(size));
    let mut items = array.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(Value::Array(items.by_ref().take(size).collect()));
    }
    Ok(Value::Array(chunks))
}

pub(super) fn array_range(start: i64, end: i64, step: i64) -> Result<Value, EvalFailure> {
    let f = Function::ArrayRange;
    if step == 0 {
        return Err(invalid(f, "the step must not be 0"));
    }
    let span = i128::from(end) - i128::from(start);
    let count = if span != 0 && (span < 0) != (step < 0) { 0 } else { span / i128::from(step) + 1 };
    if count > MAX_RANGE_ITEMS as i128 {
        return Err(invalid(f, format!("the range has {count} items; at most {MAX_RANGE_ITEMS} are allowed")));
    }
    // Every item lies between start and end, so it fits an i64.
    let items = (0..count).map(|i| Value::from((i128::from(start) + i * i128::from(step)) as i64)).collect();
    Ok(Value::Array(items))
}

pub(super) fn array_get_item(array: Vec<Value>, index: i64) -> Result<Value, EvalFailure> {
    let len = array.len();
    usize::try_from(index).ok().and_then(|i| array.into_iter().nth(i)).ok_or_else(|| {
        invalid(Function::ArrayGetItem, format!("index {index} is out of bounds for an array of length {len}"))
    })
}

pub(super) fn array_unique(array: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::with_capacity(array.len());
    array.into_iter().filter(|v| seen.insert(canonical(v))).collect()
}

pub(super) fn base64_decode(text: String) -> Result<Value, EvalFailure> {
    let f = Function::Base64Decode;
    // MIME decoding skips line breaks, which MIME encoders insert every 76 characters.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(compact).map_err(|e| invalid(f, format!("the string is not valid base64 ({e})")))?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| invalid(f, "the decoded data is not valid UTF-8 text"))
}

pub(super) fn hash(data: &str, algorithm: &str) -> Result<Value, EvalFailure> {
    fn hex(bytes: &[u8]) -> Value {
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        Value::String(s)
    }
    let data = data.as_bytes();
    Ok(match algorithm {
        "MD5" => hex(&md5::Md5::digest(data)),
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-384" => hex(&sha2::Sha384::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(invalid(
                Function::Hash,
                format!("the algorithm '{other}' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
            ))
        }
    })
}

pub(super) fn json_merge(
    mut left: Map<String, Value>,
    right: Map<String, Value>,
    deep: bool,
) -> Result<Value, EvalFailure> {
    if deep {
        return Err(invalid(Function::JsonMerge, "deep merging is not supported; the third argument must be false"));
    }
    left.extend(right);
    Ok(Value::Object(left))
}

pub(super) fn math_random(
    start: i64,
    end: i64,
    seed: Option<i64>,
    random: &mut dyn Randomness,
) -> Result<Value, EvalFailure> {
    if end <= start {
        return Err(invalid(
            Function::MathRandom,
            format!("the end number ({end}) must be greater than the start number ({start})"),
        ));
    }
    let span = (i128::from(end) - i128::from(start)) as u128;
    let draw = match seed {
        Some(seed) => SplitMix64(seed as u64).next_u64(),
        None => random.next_u64(),
    };
    // Multiply-shift maps the draw onto the span without modulo's bias toward small offsets.
    let offset = (u128::from(draw) * span) >> 64;
    Ok(Value::from((i128::from(start) + offset as i128) as i64))
}

pub(super) fn math_add(a: i64, b: i64) -> Result<Value, EvalFailure> {
    let sum = a + b;
    if i32::try_from(sum).is_err() {
        return Err(invalid(
            Function::MathAdd,
            format!("the sum {sum} is outside the integer range {} to {}", i32::MIN, i32::MAX),
        ));
    }
    Ok(Value::from(sum))
}

pub(super) fn string_split(text: &str, delimiters: &str) -> Value {
    Value::Array(
        text.split(|c| delimiters.contains(c))
            .filter(|piece| !piece.is_empty())
            .map(|piece| Value::String(piece.to_owned()))
            .collect(),
    )
}

/// JSON equality with numbers compared by value and object keys in any order.
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

pub(super) fn number_eq(x: &Number, y: &Number) -> bool {
    match (exact_integer(x), exact_integer(y)) {
        (Some(i), Some(j)) => i == j,
        _ => x.as_f64() == y.as_f64(),
    }
}

/// The number as an integer when it is one, whatever its representation.
pub(super) fn exact_integer(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let x = n.as_f64()?;
    (x.fract() == 0.0 && x.abs() < 2f64.powi(100)).then_some(x as i128)
}

/// A text that is equal for two values exactly when [`json_eq`] holds, for hashing.
pub(super) fn canonical(v: &Value) -> String {
    fn write_canonical(v: &Value, out: &mut String) {
        match v {
            Value::Number(n) => match exact_integer(n) {
                Some(i) => {
                    let _ = write!(out, "{i}");
                }
                None => {
                    let _ = write!(out, "{n}");
                }
            },
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    write_canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (k, item) in entries {
                    let _ = write!(out, "{}:", Value::String(k.clone()));
                    write_canonical(item, out);
                    out.push(',');
                }
                out.push('}');
            }
            other => {
                let _ = write!(out, "{other}");
            }
        }
    }
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}
