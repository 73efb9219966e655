//! Step Functions' functions (`$partition`, `$range`, `$hash`, `$parse`, `$uuid`, `$random`)
//! and the deterministic `$now`, `$millis` and `$shuffle`, registered only when an expression
//! names them; `$eval` is left out.

use super::*;

// ----- host functions ----------------------------------------------------------------------

pub(super) type Rng = Rc<RefCell<SplitMix64>>;

pub(super) fn register_host_functions(evaluator: &mut Evaluator, refs: HostRefs, host: &Host) {
    if refs.0 == 0 {
        return;
    }
    let rng: Rng = Rc::new(RefCell::new(SplitMix64(host.seed)));
    let now = host.now;
    // Registration fails only for names that collide with built-ins (plain `register_fn`) or
    // built-ins on the compiled fast path (`register_fn_override`); the names below are neither,
    // which the tests pin down, so an error here cannot happen and is ignored.
    if refs.has("partition") {
        let _ = evaluator.register_fn("partition", partition);
    }
    if refs.has("range") {
        let _ = evaluator.register_fn("range", range);
    }
    if refs.has("hash") {
        let _ = evaluator.register_fn("hash", hash);
    }
    if refs.has("parse") {
        let _ = evaluator.register_fn("parse", parse_json);
    }
    if refs.has("uuid") {
        let r = Rc::clone(&rng);
        let _ = evaluator.register_fn("uuid", move |_: &[JValue]| Ok(JValue::string(r.borrow_mut().uuid_v4())));
    }
    if refs.has("random") {
        let r = Rc::clone(&rng);
        let _ = evaluator.register_fn_override("random", move |args: &[JValue]| random(&r, args));
    }
    if refs.has("shuffle") {
        let r = Rc::clone(&rng);
        let _ = evaluator.register_fn_override("shuffle", move |args: &[JValue]| shuffle(&r, args));
    }
    if refs.has("millis") {
        let _ = evaluator.register_fn_override("millis", move |_: &[JValue]| Ok(JValue::Number(now as f64)));
    }
    if refs.has("now") {
        let _ = evaluator.register_fn_override("now", move |args: &[JValue]| now_text(now, args));
    }
    if refs.has("eval") {
        // Step Functions leaves `$eval` out of the language; calling it is calling nothing.
        let _ = evaluator.register_fn_override("eval", |_: &[JValue]| Err(non_function()));
    }
}

pub(super) fn non_function() -> EvaluatorError {
    EvaluatorError::TypeError("T1006: Attempted to invoke a non-function".to_owned())
}

pub(super) fn argument_error(function: &str, position: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {position} of function \"{function}\" does not match function signature"
    ))
}

pub(super) fn too_many(function: &str, allowed: usize, args: &[JValue]) -> Result<(), EvaluatorError> {
    if args.len() > allowed {
        Err(argument_error(function, allowed + 1))
    } else {
        Ok(())
    }
}

/// An argument that must be a number, rounded down to an integer as AWS documents.
pub(super) fn integer_arg(function: &str, args: &[JValue], position: usize) -> Result<Option<i64>, EvaluatorError> {
    match args.get(position - 1) {
        None | Some(JValue::Undefined) => Ok(None),
        Some(JValue::Number(n)) if n.is_finite() => Ok(Some(n.floor() as i64)),
        Some(_) => Err(argument_error(function, position)),
    }
}

/// The items of an array argument; a single value counts as a one-item array, as JSONata's
/// signatures treat it.
pub(super) fn array_arg(args: &[JValue], position: usize) -> Option<Vec<JValue>> {
    match args.get(position - 1) {
        None | Some(JValue::Undefined) => None,
        Some(JValue::Array(items)) => Some(items.iter().cloned().collect()),
        Some(other) => Some(vec![other.clone()]),
    }
}

/// `$partition(array, size)`: the array in chunks of `size` items, the last one shorter.
pub(super) fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("partition", 2, args)?;
    let Some(items) = array_arg(args, 1) else { return Ok(JValue::Undefined) };
    let size = integer_arg("partition", args, 2)?.ok_or_else(|| argument_error("partition", 2))?;
    if size <= 0 {
        return Err(EvaluatorError::EvaluationError(
            "D3050: The chunk size of function \"partition\" must be a positive integer".to_owned(),
        ));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let chunks = items.chunks(size).map(|c| JValue::array(c.to_vec())).collect();
    Ok(JValue::array(chunks))
}

/// The most items `$range` builds, so a typo cannot allocate without bound.
pub(super) const MAX_RANGE_ITEMS: i64 = 1_000_000;

/// `$range(start, end, step)`: the numbers from `start` to `end` inclusive, `step` apart.
pub(super) fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("range", 3, args)?;
    let (Some(start), Some(end)) = (integer_arg("range", args, 1)?, integer_arg("range", args, 2)?) else {
        return Ok(JValue::Undefined);
    };
    let step = integer_arg("range", args, 3)?.unwrap_or(1);
    if step == 0 {
        return Err(EvaluatorError::EvaluationError(
            "D3051: The step of function \"range\" must not be zero".to_owned(),
        ));
    }
    let count = if (end - start).signum() * step.signum() < 0 { 0 } else { (end - start) / step + 1 };
    if count > MAX_RANGE_ITEMS {
        return Err(EvaluatorError::EvaluationError(format!(
            "D2014: The size of the sequence allocated by the range operator must not exceed {MAX_RANGE_ITEMS}"
        )));
    }
    let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut n = start;
    for _ in 0..count {
        items.push(JValue::Number(n as f64));
        n += step;
    }
    // A sequence, as JSONata's own `[a..b]`: one item is that item.
    Ok(JValue::sequence(items))
}

/// `$hash(data, algorithm)`: the lowercase hex digest of a string's UTF-8 bytes.
pub(super) fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    use md5::Digest as _;
    too_many("hash", 2, args)?;
    let data = match args.first() {
        None | Some(JValue::Undefined) => return Ok(JValue::Undefined),
        Some(JValue::String(s)) => s.clone(),
        Some(_) => return Err(argument_error("hash", 1)),
    };
    let algorithm = match args.get(1) {
        Some(JValue::String(s)) => s.clone(),
        _ => return Err(argument_error("hash", 2)),
    };
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match &*algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(EvaluatorError::EvaluationError(format!(
                "D3052: The hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            )))
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(JValue::string(hex))
}

/// `$parse(text)`: JSON text as a value.
pub(super) fn parse_json(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("parse", 1, args)?;
    match args.first() {
        None | Some(JValue::Undefined) => Ok(JValue::Undefined),
        Some(JValue::String(s)) => serde_json::from_str::<Value>(s)
            .map(|v| to_jvalue(&v))
            .map_err(|e| EvaluatorError::EvaluationError(format!("D3053: The text is not valid JSON: {e}"))),
        Some(_) => Err(argument_error("parse", 1)),
    }
}

/// A double in [0, 1) from 53 random bits.
pub(super) fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `$random([seed])`: a number in [0, 1); the same seed gives the same number.
pub(super) fn random(rng: &Rng, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("random", 1, args)?;
    let bits = match integer_arg("random", args, 1)? {
        Some(seed) => SplitMix64(seed as u64).next_u64(),
        None => rng.borrow_mut().next_u64(),
    };
    Ok(JValue::Number(unit_interval(bits)))
}

/// `$shuffle(array)`, drawing from the host's seed rather than the process's generator.
pub(super) fn shuffle(rng: &Rng, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("shuffle", 1, args)?;
    let Some(mut items) = array_arg(args, 1) else { return Ok(JValue::Undefined) };
    let mut rng = rng.borrow_mut();
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.next_u64() % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
    Ok(JValue::array(items))
}

/// `$now([picture[, timezone]])`: the host's time, formatted by JSONata's own `$fromMillis`
/// when a picture is given.
pub(super) fn now_text(now: Millis, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    too_many("now", 2, args)?;
    let defined = |i: usize| args.get(i).is_some_and(|v| !v.is_undefined());
    if !defined(0) && !defined(1) {
        return Ok(JValue::string(timestamp::format(now)));
    }
    let text = if defined(1) { "$fromMillis($m, $p, $t)" } else { "$fromMillis($m, $p)" };
    let ast = parser::parse(text).map_err(|e| EvaluatorError::EvaluationError(e.to_string()))?;
    let mut context = Context::new();
    context.bind("m".to_owned(), JValue::Number(now as f64));
    context.bind("p".to_owned(), args.first().cloned().unwrap_or(JValue::Undefined));
    context.bind("t".to_owned(), args.get(1).cloned().unwrap_or(JValue::Undefined));
    Evaluator::with_context(context).evaluate(&ast, &JValue::Undefined)
}
