//! Map states: one iteration per item (JSONPath's `ItemsPath`, JSONata's `Items`, else the
//! input), each item through `ItemSelector`, at most `MaxConcurrency` at a time, with the
//! tolerated failures of `ToleratedFailureCount`/`ToleratedFailurePercentage`. Inline and
//! distributed Maps run in the one iteration model of [`super::fanout`]; a distributed Map
//! adds its Map Run to the history and runs its iterations as child executions.

use serde_json::{json, Value};

use super::fanout::Tolerance;
use super::map_handover::ItemSource;
use super::{
    fields, integer_value, json_value_text, live_frame, state_context, Flow, FrameId, FrameVars, Run, Stage, StepError,
};
use crate::definition::{Dynamic, Fields, JsonataDynamic, MapJsonata, MapPath, MapState};
use crate::error::EvalFailure;
use crate::eval::{PathRef, Scope};
use crate::history::{Details, EventType};
use crate::io;
use crate::jsonata::{JsonataTemplate, QueryFailure};
use crate::template::compact;

impl<'a> Run<'a, '_> {
    /// Select the items, shape each, and start the iterations (with the Map Run of a
    /// distributed Map).
    pub(super) fn run_map(&mut self, f: FrameId, m: &'a MapState) -> Flow {
        let selected = match &m.fields {
            Fields::JsonPath(fields) => {
                let selected = {
                    let raw = &live_frame(self.exec, f).input;
                    let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                    let ctx = state_context(self.def, self.exec, f, None);
                    let scope = Scope::new(raw, &ctx).with_variables(&vars);
                    io::select(&fields.io.input_path, &scope)
                };
                let selected = match selected {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(self.eval_failure(f, e)),
                };
                self.observe(f, Stage::AfterInputPath, &selected);
                selected
            }
            Fields::Jsonata(_) => self.frame(f).input.clone(),
        };
        match &m.fields {
            Fields::JsonPath(p) => {
                if let Some(reader) = &p.item_reader {
                    return self.start_item_read(f, m, reader, selected);
                }
            }
            Fields::Jsonata(j) => {
                if let Some(reader) = &j.item_reader {
                    return self.start_item_read(f, m, reader, selected);
                }
            }
        }
        let prepared = match &m.fields {
            Fields::JsonPath(fields) => self.path_map_setup(f, fields, selected).map_err(StepError::from),
            Fields::Jsonata(fields) => self.jsonata_map_setup(f, fields, selected).map_err(StepError::from),
        };
        let (items, max_concurrency, selected) = match prepared {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        if self.observer.is_some() {
            self.observe(f, Stage::MaxConcurrency, &json!(max_concurrency));
        }
        self.emit(f, EventType::MapStateStarted, Details::Fields(fields(json!({"length": items.len()}))));
        // AWS reads the tolerance after the state has started (the Map Run's settings).
        let tolerance = match self.map_tolerance(f, m, &selected) {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        let run_arn = if m.distributed {
            Some(self.emit_map_run_started(f, m, max_concurrency, (tolerance.count, tolerance.percentage)))
        } else {
            None
        };
        let items = match self.map_batches(f, m, items, &selected) {
            Ok(items) => items,
            Err(e) => return self.fail_flow(f, e),
        };
        if let (Some(run_arn), true) = (&run_arn, self.exec.info.child_executions && self.observer.is_none()) {
            let limits = (max_concurrency, tolerance);
            return self.hand_over(f, m, ItemSource::Inputs(items), limits, run_arn.clone(), selected);
        }
        self.start_map_children(f, m, items, (max_concurrency, tolerance), run_arn, &selected)
    }

    /// A Map's `MaxConcurrency`, read from its input when given as a path or expression.
    pub(super) fn map_max_concurrency(
        &mut self,
        f: FrameId,
        m: &MapState,
        selected: &Value,
    ) -> Result<usize, StepError> {
        let n = match &m.fields {
            Fields::JsonPath(fields) => self.path_map_count(f, "MaxConcurrency", &fields.max_concurrency, selected)?,
            Fields::Jsonata(fields) => match &fields.max_concurrency {
                JsonataDynamic::Fixed(n) => *n,
                JsonataDynamic::Expression(e) => self.jsonata_count(f, e, selected, "MaxConcurrency", 0)?,
            },
        };
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// A Map's tolerated failures (observed for TestState), in its query language.
    pub(super) fn map_tolerance(&mut self, f: FrameId, m: &MapState, selected: &Value) -> Result<Tolerance, StepError> {
        let tolerance = match &m.fields {
            Fields::JsonPath(fields) => self.path_map_tolerance(f, fields, selected)?,
            Fields::Jsonata(fields) => self.jsonata_map_tolerance(f, fields, selected)?,
        };
        if let (Some(_), Some(n)) = (&self.observer, tolerance.count) {
            self.observe(f, Stage::ToleratedFailureCount, &json!(n));
        }
        if let (Some(_), Some(p)) = (&self.observer, tolerance.percentage) {
            self.observe(f, Stage::ToleratedFailurePercentage, &json!(p));
        }
        Ok(tolerance)
    }

    /// Each item through the Map's `ItemSelector` (the item as `$$.Map.Item.Value`, the
    /// state's input as `$`).
    pub(super) fn select_items(
        &mut self,
        f: FrameId,
        m: &MapState,
        items: Vec<Value>,
        selected: &Value,
    ) -> Result<Vec<Value>, StepError> {
        self.select_items_from(f, m, items, 0, selected)
    }

    /// [`Self::select_items`] for items whose indexes start at `first`.
    pub(super) fn select_items_from(
        &mut self,
        f: FrameId,
        m: &MapState,
        items: Vec<Value>,
        first: usize,
        selected: &Value,
    ) -> Result<Vec<Value>, StepError> {
        Ok(match &m.fields {
            Fields::JsonPath(fields) => self.path_select_items(f, fields, items, first, selected)?,
            Fields::Jsonata(fields) => self.jsonata_select_items(f, fields, items, first, selected)?,
        })
    }

    fn path_select_items(
        &mut self,
        f: FrameId,
        m: &MapPath,
        items: Vec<Value>,
        first: usize,
        selected: &Value,
    ) -> Result<Vec<Value>, EvalFailure> {
        let Some(tpl) = &m.item_selector else { return Ok(items) };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in (first..).zip(items.iter()) {
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let mut ctx = state_context(self.def, self.exec, f, None);
            ctx.map_item = Some((i, item));
            let scope = Scope::new(selected, &ctx).with_variables(&vars);
            out.push(tpl.eval(&scope, &mut *self.random)?);
        }
        Ok(out)
    }

    fn jsonata_select_items(
        &mut self,
        f: FrameId,
        m: &MapJsonata,
        items: Vec<Value>,
        first: usize,
        input: &Value,
    ) -> Result<Vec<Value>, QueryFailure> {
        let Some(tpl) = &m.item_selector else { return Ok(items) };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in (first..).zip(items.iter()) {
            out.push(self.jsonata_template(f, tpl, input, "ItemSelector", Some((i, item)))?);
        }
        Ok(out)
    }

    /// A JSONPath Map's items (ItemsPath, else the input after InputPath), each through
    /// ItemSelector, and its concurrency; also hands back the input it read them from.
    fn path_map_setup(
        &mut self,
        f: FrameId,
        m: &MapPath,
        selected: Value,
    ) -> Result<(Vec<Value>, usize, Value), EvalFailure> {
        let items_value = match &m.items_path {
            None => selected.clone(),
            Some(p) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(&selected, &ctx).with_variables(&vars);
                scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?
            }
        };
        let items = match items_value {
            Value::Array(items) => items,
            other => {
                return Err(EvalFailure::runtime(format!(
                    "Item selection failed: the value at '{}' is not a JSON array: {}",
                    m.items_path.as_ref().map_or_else(|| "$".to_owned(), PathRef::as_str),
                    compact(&other)
                )))
            }
        };
        if self.observer.is_some() && m.items_path.is_some() {
            self.observe(f, Stage::AfterItemsPath, &Value::Array(items.clone()));
        }
        let max_concurrency = self.path_map_count(f, "MaxConcurrency", &m.max_concurrency, &selected)?;
        let items = self.path_select_items(f, m, items, 0, &selected)?;
        Ok((items, usize::try_from(max_concurrency).unwrap_or(usize::MAX), selected))
    }

    /// A JSONata Map's items (`Items`, else the input), each through `ItemSelector`, and its
    /// concurrency; also hands back the input it read them from.
    fn jsonata_map_setup(
        &mut self,
        f: FrameId,
        m: &MapJsonata,
        input: Value,
    ) -> Result<(Vec<Value>, usize, Value), QueryFailure> {
        let items = match &m.items {
            None => match &input {
                Value::Array(items) => items.clone(),
                other => {
                    return Err(QueryFailure::new(
                        "",
                        format!("Map state input must be an array but was: {}", compact(other)),
                    ))
                }
            },
            Some(template) => match self.jsonata_template(f, template, &input, "Items", None)? {
                Value::Array(items) => items,
                other => {
                    return Err(match template {
                        JsonataTemplate::Expression(e) => QueryFailure::unexpected_type(e, "Items", "array", &other),
                        _ => QueryFailure::new(
                            "Items",
                            format!("The value of the field 'Items' must be an array but was: {}", compact(&other)),
                        ),
                    })
                }
            },
        };
        let max_concurrency = match &m.max_concurrency {
            JsonataDynamic::Fixed(n) => *n,
            JsonataDynamic::Expression(e) => self.jsonata_count(f, e, &input, "MaxConcurrency", 0)?,
        };
        let items = self.jsonata_select_items(f, m, items, 0, &input)?;
        Ok((items, usize::try_from(max_concurrency).unwrap_or(usize::MAX), input))
    }

    /// A count field of a JSONPath Map state (`MaxConcurrency`, `ToleratedFailureCount`).
    pub(super) fn path_map_count(
        &mut self,
        f: FrameId,
        field: &str,
        d: &Dynamic<u64>,
        selected: &Value,
    ) -> Result<u64, EvalFailure> {
        match d {
            Dynamic::Fixed(n) => Ok(*n),
            Dynamic::Path(p) => {
                let v = self.read_path(f, p, selected)?;
                integer_value(&v).ok_or_else(|| {
                    EvalFailure::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid integer: {}",
                        json_value_text(&v),
                        p.as_str()
                    ))
                })
            }
        }
    }

    /// A path of a Map state's field, read from its input.
    pub(super) fn read_path(&mut self, f: FrameId, p: &PathRef, selected: &Value) -> Result<Value, EvalFailure> {
        let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
        let ctx = state_context(self.def, self.exec, f, None);
        let scope = Scope::new(selected, &ctx).with_variables(&vars);
        scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))
    }

    /// ToleratedFailureCount and ToleratedFailurePercentage of a JSONPath Map, read from the
    /// input when given as paths.
    fn path_map_tolerance(&mut self, f: FrameId, m: &MapPath, selected: &Value) -> Result<Tolerance, EvalFailure> {
        let count = match &m.tolerated_failure_count {
            None => None,
            Some(d) => Some(self.path_map_count(f, "ToleratedFailureCount", d, selected)?),
        };
        let percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(Dynamic::Fixed(p)) => Some(*p),
            Some(Dynamic::Path(p)) => {
                let v = self.read_path(f, p, selected)?;
                let pct = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok())).ok_or_else(|| {
                    EvalFailure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                        json_value_text(&v),
                        p.as_str()
                    ))
                })?;
                if !(0.0..=100.0).contains(&pct) {
                    return Err(EvalFailure::runtime("ToleratedFailurePercentage must be between 0 and 100."));
                }
                Some(pct)
            }
        };
        Ok(Tolerance { count, percentage })
    }

    /// ToleratedFailureCount and ToleratedFailurePercentage of a JSONata Map, computed when
    /// given as expressions.
    fn jsonata_map_tolerance(&mut self, f: FrameId, m: &MapJsonata, input: &Value) -> Result<Tolerance, QueryFailure> {
        let count = match &m.tolerated_failure_count {
            None => None,
            Some(JsonataDynamic::Fixed(n)) => Some(*n),
            Some(JsonataDynamic::Expression(e)) => Some(self.jsonata_count(f, e, input, "ToleratedFailureCount", 0)?),
        };
        let percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(JsonataDynamic::Fixed(p)) => Some(*p),
            Some(JsonataDynamic::Expression(e)) => {
                let v = self.jsonata_value(f, e, input, "ToleratedFailurePercentage", None)?;
                match v.as_f64() {
                    Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                    _ => return Err(QueryFailure::unexpected_type(e, "ToleratedFailurePercentage", "number", &v)),
                }
            }
        };
        Ok(Tolerance { count, percentage })
    }
}
