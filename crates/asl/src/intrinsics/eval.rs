//! Evaluating a parsed call: arguments, paths, and the shared type checks.

use super::*;

pub(super) fn eval_call(call: &Call, scope: &Scope<'_>, random: &mut dyn Randomness) -> Result<Value, EvalFailure> {
    let f = call.function;
    let mut args = Args { f, args: call.args.iter(), scope, random, position: 0 };
    match f {
        Function::Format => format(call, scope, args.random),
        Function::StringToJson => string_to_json(args.string()?),
        Function::JsonToString => {
            let value = args.any()?;
            serde_json::to_string(&value).map(Value::String).map_err(|e| invalid(f, e))
        }
        Function::Array => Ok(Value::Array(args.rest()?)),
        Function::ArrayPartition => {
            let array = args.array()?;
            array_partition(array, args.integer()?)
        }
        Function::ArrayContains => {
            let array = args.array()?;
            let needle = args.any()?;
            Ok(Value::Bool(array.iter().any(|v| json_eq(v, &needle))))
        }
        Function::ArrayRange => {
            let start = args.integer()?;
            let end = args.integer()?;
            array_range(start, end, args.integer()?)
        }
        Function::ArrayGetItem => {
            let array = args.array()?;
            array_get_item(array, args.integer()?)
        }
        Function::ArrayLength => Ok(Value::from(args.array()?.len())),
        Function::ArrayUnique => Ok(Value::Array(array_unique(args.array()?))),
        Function::Base64Encode => {
            let text = args.bounded_string()?;
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text)))
        }
        Function::Base64Decode => base64_decode(args.bounded_string()?),
        Function::Hash => {
            let data = args.bounded_string()?;
            hash(&data, &args.string()?)
        }
        Function::JsonMerge => {
            let left = args.object()?;
            let right = args.object()?;
            json_merge(left, right, args.boolean()?)
        }
        Function::MathRandom => {
            let start = args.integer()?;
            let end = args.integer()?;
            let seed = if call.args.len() > 2 { Some(args.integer()?) } else { None };
            math_random(start, end, seed, args.random)
        }
        Function::MathAdd => {
            let a = args.int32()?;
            math_add(a, args.int32()?)
        }
        Function::StringSplit => {
            let text = args.string()?;
            Ok(string_split(&text, &args.string()?))
        }
        Function::Uuid => Ok(Value::String(args.random.uuid_v4())),
    }
}

pub(super) fn eval_arg(
    arg: &Arg,
    f: Function,
    scope: &Scope<'_>,
    random: &mut dyn Randomness,
) -> Result<Value, EvalFailure> {
    match arg {
        Arg::Literal(v) | Arg::Str { value: v, .. } => Ok(v.clone()),
        Arg::Path(path) => eval_path(path, f, scope),
        Arg::Call(call) => eval_call(call, scope, random),
        Arg::BadEscape(message) => Err(EvalFailure::runtime(message.clone())),
    }
}

pub(super) fn eval_path(path: &PathRef, f: Function, scope: &Scope<'_>) -> Result<Value, EvalFailure> {
    scope.eval(path).map_err(|e| match e {
        LookupError::Path(_) => {
            let document = match path {
                PathRef::Input(_) => Some(scope.input),
                PathRef::Context(_) => Some(scope.context()),
                PathRef::Variable { name, .. } => scope.variables.and_then(|vars| vars.variable(name)),
            };
            let shown = document.map(|d| serde_json::to_string(d).unwrap_or_default()).unwrap_or_default();
            EvalFailure::runtime(format!(
                "The JsonPath argument '{}' of {f} could not be found in the input '{shown}'",
                path.as_str()
            ))
        }
        LookupError::UndefinedVariable(_) => EvalFailure::runtime(e.to_string()),
    })
}

pub(super) fn invalid(f: Function, detail: impl fmt::Display) -> EvalFailure {
    EvalFailure::intrinsic(format!("Invalid arguments in {f}: {detail}"))
}

/// A short rendering of a value for messages: large inputs must not blow up a failure cause.
pub(super) fn shown(v: &Value) -> String {
    const LIMIT: usize = 100;
    let text = serde_json::to_string(v).unwrap_or_default();
    if text.chars().count() <= LIMIT {
        text
    } else {
        let mut cut: String = text.chars().take(LIMIT).collect();
        cut.push_str("...");
        cut
    }
}

/// The arguments of one call, evaluated in order as each is taken with the type its position
/// needs.
pub(super) struct Args<'c, 's, 'a, 'r> {
    pub(super) f: Function,
    pub(super) args: std::slice::Iter<'c, Arg>,
    pub(super) scope: &'s Scope<'a>,
    pub(super) random: &'r mut dyn Randomness,
    pub(super) position: usize,
}

impl Args<'_, '_, '_, '_> {
    fn any(&mut self) -> Result<Value, EvalFailure> {
        self.position += 1;
        let arg = self.args.next().ok_or_else(|| invalid(self.f, format!("argument {} is missing", self.position)))?;
        eval_arg(arg, self.f, self.scope, self.random)
    }

    fn rest(&mut self) -> Result<Vec<Value>, EvalFailure> {
        let mut values = Vec::with_capacity(self.args.len());
        while self.args.len() > 0 {
            values.push(self.any()?);
        }
        Ok(values)
    }

    fn wrong(&self, wanted: &str, got: &Value) -> EvalFailure {
        invalid(self.f, format!("argument {} must be {wanted}, but got {}", self.position, shown(got)))
    }

    fn string(&mut self) -> Result<String, EvalFailure> {
        match self.any()? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong("a string", &other)),
        }
    }

    fn bounded_string(&mut self) -> Result<String, EvalFailure> {
        let s = self.string()?;
        let chars = s.chars().count();
        if chars > MAX_ENCODING_INPUT_CHARS {
            return Err(invalid(
                self.f,
                format!(
                    "argument {} has {chars} characters; at most {MAX_ENCODING_INPUT_CHARS} are allowed",
                    self.position
                ),
            ));
        }
        Ok(s)
    }

    fn array(&mut self) -> Result<Vec<Value>, EvalFailure> {
        match self.any()? {
            Value::Array(a) => Ok(a),
            other => Err(self.wrong("an array", &other)),
        }
    }

    fn object(&mut self) -> Result<Map<String, Value>, EvalFailure> {
        match self.any()? {
            Value::Object(o) => Ok(o),
            other => Err(self.wrong("an object", &other)),
        }
    }

    fn boolean(&mut self) -> Result<bool, EvalFailure> {
        match self.any()? {
            Value::Bool(b) => Ok(b),
            other => Err(self.wrong("a boolean", &other)),
        }
    }

    fn integer(&mut self) -> Result<i64, EvalFailure> {
        let value = self.any()?;
        let rounded = match &value {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Some(i),
                (None, Some(x)) => java_round(x),
                (None, None) => None,
            },
            _ => None,
        };
        rounded.ok_or_else(|| self.wrong("an integer", &value))
    }

    fn int32(&mut self) -> Result<i64, EvalFailure> {
        let i = self.integer()?;
        if i32::try_from(i).is_err() {
            return Err(invalid(
                self.f,
                format!("argument {} ({i}) is outside the integer range {} to {}", self.position, i32::MIN, i32::MAX),
            ));
        }
        Ok(i)
    }
}

/// Java's `Math.round`: half rounds towards positive infinity. `None` when the result does not
/// fit an `i64` (or `x` is not finite).
pub(super) fn java_round(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // i64::MAX as f64 rounds up to 2^63, which is already out of range.
    if rounded >= -(2f64.powi(63)) && rounded < 2f64.powi(63) {
        Some(rounded as i64)
    } else {
        None
    }
}

/// `-0` parses as the float `-0.0`; AWS reads it as the integer `0`.
pub(super) fn normalize_zero(n: Number) -> Number {
    match n.as_f64() {
        Some(x) if n.is_f64() && x == 0.0 && x.is_sign_negative() => Number::from(0),
        _ => n,
    }
}

pub(super) fn normalize_zeros(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::Number(normalize_zero(n)),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize_zeros).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalize_zeros(v))).collect()),
        other => other,
    }
}
