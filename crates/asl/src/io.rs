//! Input and output processing in AWS's order: InputPath → Parameters → (the state's work) →
//! ResultSelector → ResultPath → OutputPath. Parameters and ResultSelector are payload
//! templates ([`crate::template`]); this module owns the three path stages and their errors.

use serde_json::{Map, Value};

use crate::definition::{DataPath, ResultPath};
use crate::error::{names, EvalFailure};
use crate::eval::{LookupError, Scope};

/// InputPath / OutputPath: select part of `scope.input`.
pub fn select(path: &DataPath, scope: &Scope<'_>) -> Result<Value, EvalFailure> {
    match path {
        DataPath::Whole => Ok(scope.input.clone()),
        DataPath::Empty => Ok(Value::Object(Map::new())),
        DataPath::Path(p) => scope.eval(p).map_err(|e| match e {
            LookupError::Path(inner) => {
                // Jayway's wording for the miss, as AWS reports it (`Missing property in path
                // $['no']` when an intermediate key is absent).
                let message = match p {
                    crate::eval::PathRef::Input(path) => path.miss_message(scope.input),
                    _ => None,
                }
                .unwrap_or_else(|| inner.to_string());
                EvalFailure::runtime(format!("Invalid path '{}' : {message}", p.as_str()))
            }
            LookupError::UndefinedVariable(name) => {
                EvalFailure::runtime(format!("Invalid path '{}' : The variable '{name}' is not defined", p.as_str()))
            }
        }),
    }
}

/// ResultPath: combine the state's raw input with its result.
pub fn merge_result(path: &ResultPath, raw_input: &Value, result: Value) -> Result<Value, EvalFailure> {
    match path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input.clone()),
        ResultPath::Path(p) => p.assign(raw_input.clone(), result).map_err(|e| {
            EvalFailure::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!(
                    "Unable to apply ResultPath \"{}\" to input \"{}\": {e}",
                    p.as_str(),
                    crate::template::compact(raw_input)
                ),
            )
        }),
    }
}
