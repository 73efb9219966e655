//! Fail states: the frame fails with the state's `Error` and `Cause` (literals, JSONPath's
//! `ErrorPath`/`CausePath`, or JSONata expressions). A failure to work them out fails the
//! frame as it stands: no retrier or catcher sees a Fail state's own errors.

use serde_json::Value;

use super::{live_frame, state_context, Failure, Flow, FrameId, FrameVars, Run};
use crate::definition::{Fail, Fields, JsonataFailField, PathFailField};
use crate::error::EvalFailure;
use crate::eval::Scope;
use crate::template::{compact, DynamicValue};

impl<'a> Run<'a, '_> {
    pub(super) fn run_fail(&mut self, f: FrameId, fail: &'a Fail) -> Flow {
        let fields = match &fail.fields {
            Fields::JsonPath(fields) => self
                .path_fail_field(f, &fields.error, "ErrorPath")
                .and_then(|error| Ok((error, self.path_fail_field(f, &fields.cause, "CausePath")?))),
            Fields::Jsonata(fields) => self
                .jsonata_fail_field(f, &fields.error, "Error")
                .and_then(|error| Ok((error, self.jsonata_fail_field(f, &fields.cause, "Cause")?))),
        };
        match fields {
            Ok((error, cause)) => {
                self.complete_frame(f, Err(Failure { error, cause, from_task_result: false, heartbeat: false }));
                Flow::Ended
            }
            Err(failure) => self.fail_frame_now(f, failure),
        }
    }

    /// A JSONPath `Error` or `Cause` as text (a value that is not a string as compact JSON).
    fn path_fail_field(
        &mut self,
        f: FrameId,
        field: &Option<PathFailField>,
        name: &str,
    ) -> Result<Option<String>, Failure> {
        let value = match field {
            None => return Ok(None),
            Some(PathFailField::Literal(s)) => return Ok(Some(s.clone())),
            Some(PathFailField::Dynamic(d)) => {
                let raw = live_frame(self.exec, f).input.clone();
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(&raw, &ctx).with_variables(&vars);
                let v = match d {
                    DynamicValue::Path(p) => scope.eval(p).map_err(|_| {
                        EvalFailure::runtime(format!(
                            "The JSONPath '{}' specified for the field '{name}' could not be found in the input '{}'",
                            p.as_str(),
                            compact(&raw)
                        ))
                    }),
                    other => other.eval(&scope, &mut *self.random, name),
                };
                v.map_err(|e| self.eval_failure(f, e))?
            }
        };
        Ok(Some(text(value)))
    }

    /// A JSONata `Error` or `Cause` as text.
    fn jsonata_fail_field(
        &mut self,
        f: FrameId,
        field: &Option<JsonataFailField>,
        name: &str,
    ) -> Result<Option<String>, Failure> {
        match field {
            None => Ok(None),
            Some(JsonataFailField::Literal(s)) => Ok(Some(s.clone())),
            Some(JsonataFailField::Expression(e)) => {
                let raw = self.frame(f).input.clone();
                match self.jsonata_value(f, e, &raw, name, None) {
                    Ok(v) => Ok(Some(text(v))),
                    Err(q) => Err(self.query_failure(f, q)),
                }
            }
        }
    }
}

/// A value as a Fail state reports it: a string as it is, anything else as compact JSON.
fn text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => compact(&other),
    }
}
