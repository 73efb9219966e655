//! A state's processing pipeline: how its input becomes its output.
//!
//! In JSONPath: InputPath, then Parameters (the effective input); the state's work gives a
//! result; then ResultSelector, ResultPath (merging the result into the raw input),
//! OutputPath; `Assign` reads the result (or the effective input, for states without one).
//! In JSONata: `Arguments` is the effective input; `Output` and `Assign` both read
//! `$states` as it is when the state leaves. The JSONata field evaluators and the
//! `States.QueryEvaluationError` failure they raise live here too.

use serde_json::{Map, Value};

/// A named stage of a state's processing, as TestState's inspection data names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The state's raw input, each time its work runs (again after a retry).
    Input,
    /// After `InputPath`.
    AfterInputPath,
    /// After `Parameters`: a JSONPath state's effective input (the same as after InputPath
    /// when there are none).
    AfterParameters,
    /// After `Arguments`: a JSONata Task's or Parallel's effective input.
    AfterArguments,
    /// What the state's work gave: a task's output, the outputs of a Parallel's branches or
    /// a Map's iterations, a Pass state's `Result` (else its effective input).
    Result,
    /// After `ResultSelector`.
    AfterResultSelector,
    /// After `ResultPath`.
    AfterResultPath,
    /// The variables the state assigns as it leaves, as an object.
    Variables,
    /// The state's output as it leaves.
    Output,
    /// A Map's items, after `ItemsPath` (JSONPath).
    AfterItemsPath,
    /// A Map's `MaxConcurrency`, worked out (0: no limit).
    MaxConcurrency,
    /// A Map's `ToleratedFailureCount`, worked out, when it has one.
    ToleratedFailureCount,
    /// A Map's `ToleratedFailurePercentage`, worked out, when it has one.
    ToleratedFailurePercentage,
    /// A failure of the state's work as a catcher would hand it on (`{"Error", "Cause"}`),
    /// before Retry and Catch see it.
    Failure,
}

/// Sees the value of each stage of each state as an execution runs (TestState's inspection
/// data, the console's per-state view). Without an observer nothing is built for it.
pub trait StageObserver {
    fn stage(&mut self, state: &str, stage: Stage, value: &Value);

    /// What a Map's iterations or a Parallel's branches give, when the observer stands in
    /// for them (TestState's mocked result): they are then not run. `None`, the default:
    /// they run.
    fn children_outcome(&mut self, _state: &str) -> Option<ChildrenOutcome> {
        None
    }
}

/// The outcome of a Map's iterations or a Parallel's branches, given instead of running them.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildrenOutcome {
    /// Every child succeeded with these outputs, by slot.
    Results(Vec<Value>),
    /// The children failed the state with this error.
    Failed { error: Option<String>, cause: Option<String> },
}

use super::{
    eval_failure, live_frame, state_context, whole_number, with_assigned, Assigned, Failure, Flow, FrameId, FrameVars,
    Run, StepError,
};
use crate::definition::{DataPath, Fields, JsonataIo, PathIo, ResultPath, StateKind};
use crate::error::{names, EvalFailure};
use crate::eval::{Randomness, Scope};
use crate::history::{Details, EventType};
use crate::io;
use crate::jsonata::{Documents, Expression, JsonataTemplate, QueryFailure};
use crate::template::Template;

impl<'a> Run<'a, '_> {
    /// Report a stage's value to the observer, if there is one; nothing happens otherwise.
    #[inline]
    pub(super) fn observe(&mut self, f: FrameId, stage: Stage, value: &Value) {
        if self.observer.is_none() {
            return;
        }
        let name = &self.state_of(f).name;
        if let Some(observer) = self.observer.as_deref_mut() {
            observer.stage(name, stage, value);
        }
    }

    /// Report what a state assigns as it leaves (an object of the values).
    #[inline]
    pub(super) fn observe_variables(&mut self, f: FrameId, assigned: &Assigned) {
        if let (Some(_), Some(vars)) = (&self.observer, assigned) {
            let vars = Value::Object((**vars).clone());
            self.observe(f, Stage::Variables, &vars);
        }
    }

    /// InputPath, then (when given) a payload template over the result.
    pub(super) fn effective_input(
        &mut self,
        f: FrameId,
        input_path: &DataPath,
        template: Option<&Template>,
        token: Option<&str>,
    ) -> Result<Value, Failure> {
        let (selected, parameters) = {
            let raw = &live_frame(self.exec, f).input;
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let ctx = state_context(self.def, self.exec, f, token);
            let scope = Scope::new(raw, &ctx).with_variables(&vars);
            let selected = io::select(input_path, &scope).map_err(|e| eval_failure(self.def, self.exec, f, e))?;
            let parameters = match template {
                None => None,
                Some(t) => {
                    let scope = scope.with_input(&selected);
                    let result = t.eval(&scope, &mut *self.random);
                    Some(result.map_err(|e| eval_failure(self.def, self.exec, f, e))?)
                }
            };
            (selected, parameters)
        };
        self.observe(f, Stage::AfterInputPath, &selected);
        let effective = parameters.unwrap_or(selected);
        self.observe(f, Stage::AfterParameters, &effective);
        Ok(effective)
    }

    /// After a Task/Parallel/Map produced `result`: `Assign` (reading the raw result), then
    /// ResultSelector, ResultPath and OutputPath; in JSONata, `Output` and `Assign`.
    pub(super) fn after_result(&mut self, f: FrameId, result: Value) -> Flow {
        self.observe(f, Stage::Result, &result);
        let (io, stages) = match self.state_of(f).kind.recovery() {
            Some(Fields::JsonPath(fields)) => fields,
            Some(Fields::Jsonata((io, _))) => {
                let raw = self.frame(f).input.clone();
                return match self.jsonata_exit(f, io, &raw, Some(&result), None) {
                    Ok((output, assigned)) => Flow::Exit(output.unwrap_or(result), assigned),
                    Err(q) => self.query_flow(f, q),
                };
            }
            None => return Flow::Exit(result, None),
        };
        let assigned = match self.assign_path(f, io.assign.as_ref(), &result) {
            Ok(a) => a,
            Err(failure) => return Flow::Fail(failure),
        };
        let selected = match &stages.result_selector {
            None => result,
            Some(t) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(&result, &ctx).with_variables(&vars);
                match t.eval(&scope, &mut *self.random) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(self.eval_failure(f, e)),
                }
            }
        };
        self.observe(f, Stage::AfterResultSelector, &selected);
        self.result_path_and_output(f, io, &stages.result_path, selected, assigned)
    }

    /// ResultPath (merging `result` into the raw input), then OutputPath.
    #[inline]
    pub(super) fn result_path_and_output(
        &mut self,
        f: FrameId,
        io: &PathIo,
        result_path: &ResultPath,
        result: Value,
        assigned: Assigned,
    ) -> Flow {
        match io::merge_result(result_path, &self.frame(f).input, result) {
            Ok(v) => {
                self.observe(f, Stage::AfterResultPath, &v);
                with_assigned(self.output_path(f, &io.output_path, v), assigned)
            }
            Err(e) => Flow::Fail(self.eval_failure(f, e)),
        }
    }

    #[inline]
    pub(super) fn output_path(&mut self, f: FrameId, output_path: &DataPath, value: Value) -> Flow {
        if matches!(output_path, DataPath::Whole) {
            return Flow::Exit(value, None);
        }
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, None);
        let scope = Scope::new(&value, &ctx).with_variables(&vars);
        match io::select(output_path, &scope) {
            Ok(v) => Flow::Exit(v, None),
            Err(e) => Flow::Fail(self.eval_failure(f, e)),
        }
    }

    /// A JSONPath `Assign` block, with `$` reading `doc` (the result, the effective input or
    /// the error output, by where the block is).
    #[inline]
    pub(super) fn assign_path(
        &mut self,
        f: FrameId,
        assign: Option<&Template>,
        doc: &Value,
    ) -> Result<Assigned, Failure> {
        let Some(template) = assign else { return Ok(None) };
        let value = {
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let ctx = state_context(self.def, self.exec, f, None);
            let scope = Scope::new(doc, &ctx).with_variables(&vars);
            template.eval(&scope, &mut *self.random)
        };
        match value {
            Ok(Value::Object(map)) => Ok(Some(Box::new(map))),
            Ok(_) => Ok(None),
            Err(e) => Err(self.eval_failure(f, e)),
        }
    }

    /// A JSONata state's way out: its `Assign` and its `Output` (`None`: the default output),
    /// both reading the documents as they are when the state leaves, so neither sees what
    /// the other produces. `leaving` is the state's (or the rule's, or the catcher's).
    #[inline]
    pub(super) fn jsonata_exit(
        &mut self,
        f: FrameId,
        leaving: &JsonataIo,
        input: &Value,
        result: Option<&Value>,
        error_output: Option<&Value>,
    ) -> Result<(Option<Value>, Assigned), QueryFailure> {
        if leaving.output.is_none() && leaving.assign.is_none() {
            return Ok((None, None));
        }
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, None);
        let mut docs = Documents::new(input, &ctx, self.now).with_variables(&vars);
        if let Some(r) = result {
            docs = docs.with_result(r);
        }
        if let Some(e) = error_output {
            docs = docs.with_error_output(e);
        }
        let assigned = match &leaving.assign {
            Some(t) => match t.eval(&docs, "Assign", &mut *self.random)? {
                Value::Object(map) => Some(Box::new(map)),
                _ => None,
            },
            None => None,
        };
        let output = match &leaving.output {
            Some(t) => Some(t.eval(&docs, "Output", &mut *self.random)?),
            None => None,
        };
        Ok((output, assigned))
    }

    /// One JSONata field (`Arguments`, `Items`, `ItemSelector`, `Credentials`), reading the
    /// state's input; `item` is the Map item for `$states.context.Map.Item`.
    pub(super) fn jsonata_template(
        &mut self,
        f: FrameId,
        template: &JsonataTemplate,
        input: &Value,
        field: &str,
        item: Option<(usize, &Value)>,
    ) -> Result<Value, QueryFailure> {
        self.jsonata_template_with_token(f, template, input, field, item, None)
    }

    pub(super) fn jsonata_template_with_token(
        &mut self,
        f: FrameId,
        template: &JsonataTemplate,
        input: &Value,
        field: &str,
        item: Option<(usize, &Value)>,
        token: Option<&str>,
    ) -> Result<Value, QueryFailure> {
        self.with_documents(f, input, token, item, |docs, random| template.eval(docs, field, random))
    }

    /// One `{% %}` expression of a field that takes a single one.
    pub(super) fn jsonata_value(
        &mut self,
        f: FrameId,
        expression: &Expression,
        input: &Value,
        field: &str,
        token: Option<&str>,
    ) -> Result<Value, QueryFailure> {
        self.with_documents(f, input, token, None, |docs, random| docs.eval(expression, field, random))
    }

    /// Evaluate against the documents a state's expressions read: `input` as
    /// `$states.input`, the context (with the task token and the Map item, when given) and
    /// the variables in scope.
    #[inline]
    fn with_documents<T>(
        &mut self,
        f: FrameId,
        input: &Value,
        token: Option<&str>,
        item: Option<(usize, &Value)>,
        eval: impl FnOnce(&Documents<'_>, &mut dyn Randomness) -> T,
    ) -> T {
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let mut ctx = state_context(self.def, self.exec, f, token);
        ctx.map_item = item;
        let docs = Documents::new(input, &ctx, self.now).with_variables(&vars);
        eval(&docs, &mut *self.random)
    }

    /// A whole number of at least `min` from a JSONata field.
    pub(super) fn jsonata_count(
        &mut self,
        f: FrameId,
        expression: &Expression,
        input: &Value,
        field: &str,
        min: u64,
    ) -> Result<u64, QueryFailure> {
        let value = self.jsonata_value(f, expression, input, field, None)?;
        match whole_number(&value) {
            Some(n) if n >= min => Ok(n),
            _ => Err(QueryFailure::unexpected_type(
                expression,
                field,
                if min > 0 { "positive integer" } else { "non-negative integer" },
                &value,
            )),
        }
    }

    /// `States.QueryEvaluationError`: the `EvaluationFailed` event, and the failure.
    pub(super) fn query_failure(&mut self, f: FrameId, q: QueryFailure) -> Failure {
        let failure = self.eval_failure(f, EvalFailure::new(names::QUERY_EVALUATION_ERROR, q.message));
        let mut d = Map::new();
        d.insert("error".into(), Value::String(names::QUERY_EVALUATION_ERROR.into()));
        if let Some(c) = &failure.cause {
            d.insert("cause".into(), Value::String(c.clone()));
        }
        if !q.location.is_empty() {
            d.insert("location".into(), Value::String(q.location));
        }
        d.insert("state".into(), Value::String(self.state_of(f).name.clone()));
        self.emit(f, EventType::EvaluationFailed, Details::Fields(d));
        failure
    }

    /// A JSONata field failed: Map and Parallel report their own failure event too, once no
    /// retrier runs them again.
    pub(super) fn query_flow(&mut self, f: FrameId, q: QueryFailure) -> Flow {
        let failure = self.query_failure(f, q);
        match self.state_of(f).kind {
            StateKind::Map(_) | StateKind::Parallel(_) => Flow::ChildrenFailed(failure),
            _ => Flow::Fail(failure),
        }
    }

    pub(super) fn fail_flow(&mut self, f: FrameId, e: StepError) -> Flow {
        match e {
            StepError::Eval(e) => Flow::Fail(self.eval_failure(f, e)),
            StepError::Query(q) => self.query_flow(f, q),
        }
    }
}
