//! Fail states: the frame fails with the state's `Error` and `Cause` (literals, JSONPath's
//! `ErrorPath`/`CausePath`, or JSONata expressions). A failure to work them out fails the
//! frame as it stands: no retrier or catcher sees a Fail state's own errors.

use serde_json::Value;

use super::{live_frame, state_context, Failure, Flow, FrameId, FrameVars, Run};
use crate::definition::{Fail, FailField, QueryLanguage, State};
use crate::error::EvalFailure;
use crate::eval::Scope;
use crate::template::{compact, DynamicValue};

impl<'a> Run<'a, '_> {
    pub(super) fn run_fail(&mut self, f: FrameId, state: &'a State, fail: &'a Fail) -> Flow {
        let jsonata = state.query_language == QueryLanguage::Jsonata;
        let (error_field, cause_field) = if jsonata { ("Error", "Cause") } else { ("ErrorPath", "CausePath") };
        let error = match self.fail_field(f, &fail.error, error_field) {
            Ok(e) => e,
            Err(failure) => return self.fail_frame_now(f, failure),
        };
        let cause = match self.fail_field(f, &fail.cause, cause_field) {
            Ok(c) => c,
            Err(failure) => return self.fail_frame_now(f, failure),
        };
        self.complete_frame(f, Err(Failure { error, cause, from_task_result: false, heartbeat: false }));
        Flow::Ended
    }

    /// `Error` or `Cause` as text (a value that is not a string as compact JSON).
    fn fail_field(&mut self, f: FrameId, field: &Option<FailField>, name: &str) -> Result<Option<String>, Failure> {
        let value = match field {
            None => return Ok(None),
            Some(FailField::Literal(s)) => return Ok(Some(s.clone())),
            Some(FailField::Dynamic(d)) => {
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
            Some(FailField::Jsonata(e)) => {
                let raw = self.frame(f).input.clone();
                match self.jsonata_value(f, e, &raw, name, None) {
                    Ok(v) => v,
                    Err(q) => return Err(self.query_failure(f, q)),
                }
            }
        };
        Ok(Some(match value {
            Value::String(s) => s,
            other => compact(&other),
        }))
    }
}
