//! Workflow variables: each frame's scope holds what its states assigned; reads go up the
//! parent chain (stopping at a distributed Map, whose iterations see none of the parent's).
//! Assignments are applied when a state leaves, with AWS's rules: a nested scope cannot
//! assign an outer scope's variable, and values have size limits.

use serde_json::{Map, Value};

use super::{Execution, Failure, Frame, FrameId, Run, MAX_EXECUTION_VARIABLE_BYTES, MAX_VARIABLE_BYTES};
use crate::definition::{Definition, StateKind};
use crate::error::{names, EvalFailure};
use crate::eval::VariableSource;
use crate::template::compact;

/// Variables a state assigns when it leaves, in the order its `Assign` lists them.
pub(super) type Assigned = Option<Box<Map<String, Value>>>;

/// The variables visible from a frame: its own scope's, then each enclosing scope's, up to
/// the top level or a distributed Map (whose children see none of the parent's).
pub(super) struct FrameVars<'a> {
    pub(super) def: &'a Definition,
    pub(super) exec: &'a Execution,
    pub(super) frame: FrameId,
}

impl FrameVars<'_> {
    /// The frames whose scopes are visible, innermost first.
    #[inline]
    pub(super) fn scopes(&self) -> impl Iterator<Item = &Frame> {
        let mut next = self.exec.frames.get(self.frame).and_then(Option::as_ref);
        std::iter::from_fn(move || {
            let frame = next?;
            next = frame.parent.as_ref().and_then(|p| {
                let parent = self.exec.frames.get(p.frame)?.as_ref()?;
                let distributed =
                    matches!(&self.def.state(parent.graph, parent.state).kind, StateKind::Map(m) if m.distributed);
                (!distributed).then_some(parent)
            });
            Some(frame)
        })
    }
}

impl VariableSource for FrameVars<'_> {
    #[inline]
    fn variable(&self, name: &str) -> Option<&Value> {
        self.scopes().find_map(|f| f.vars.as_ref()?.get(name))
    }
}

impl<'a> Run<'a, '_> {
    /// Set what a state assigned in its frame's scope, checking AWS's rules. Returns the
    /// `assignedVariables` of the exit event.
    #[inline]
    pub(super) fn apply_assigned(&mut self, f: FrameId, assigned: Assigned) -> Result<Assigned, Failure> {
        let Some(assigned) = assigned else { return Ok(None) };
        let state_name = self.state_of(f).name.clone();
        let limit = |cause: String| Failure {
            error: Some(names::DATA_LIMIT_EXCEEDED.into()),
            cause: Some(cause),
            from_task_result: false,
            heartbeat: false,
        };
        let mut texts = Map::with_capacity(assigned.len());
        let mut total = 0usize;
        {
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            for (name, value) in assigned.iter() {
                let text = compact(value);
                if text.len() > MAX_VARIABLE_BYTES {
                    return Err(limit(format!(
                        "The value assigned to the variable '{name}' by the state '{state_name}' exceeds the maximum size of {MAX_VARIABLE_BYTES} bytes."
                    )));
                }
                if vars.scopes().skip(1).any(|scope| scope.vars.as_ref().is_some_and(|v| v.contains_key(name))) {
                    return Err(self.eval_failure(
                        f,
                        EvalFailure::runtime(format!(
                            "The variable '{name}' belongs to an outer scope: a Parallel branch or Map iteration can read it but not assign it."
                        )),
                    ));
                }
                total += text.len();
                texts.insert(name.clone(), Value::String(text));
            }
        }
        if total > MAX_VARIABLE_BYTES {
            return Err(limit(format!(
                "The variables assigned by the state '{state_name}' exceed the maximum total size of {MAX_VARIABLE_BYTES} bytes."
            )));
        }
        let mut replaced = 0usize;
        let vars = self.frame_mut(f).vars.get_or_insert_with(Default::default);
        for (name, value) in *assigned {
            if let Some(old) = vars.insert(name, value) {
                replaced += compact(&old).len();
            }
        }
        self.exec.variable_bytes = (self.exec.variable_bytes + total).saturating_sub(replaced);
        if self.exec.variable_bytes > MAX_EXECUTION_VARIABLE_BYTES {
            return Err(limit(format!(
                "The variables of the execution exceed the maximum total size of {MAX_EXECUTION_VARIABLE_BYTES} bytes."
            )));
        }
        Ok(Some(Box::new(texts)))
    }
}
