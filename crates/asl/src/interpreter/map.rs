//! Map states: one iteration per item (JSONPath's `ItemsPath`, JSONata's `Items`, else the
//! input), each item through `ItemSelector`, at most `MaxConcurrency` at a time, with the
//! tolerated failures of `ToleratedFailureCount`/`ToleratedFailurePercentage`. Inline and
//! distributed Maps run in the one iteration model of [`super::fanout`]; a distributed Map
//! adds its Map Run to the history and runs its iterations as child executions.

use serde_json::{json, Value};

use super::fanout::Tolerance;
use super::{fields, integer_value, json_value_text, state_context, Flow, FrameId, FrameVars, Run, Stage, StepError};
use crate::definition::{Dynamic, MapState, Payload, QueryLanguage};
use crate::error::EvalFailure;
use crate::eval::{PathRef, Scope};
use crate::history::{Details, EventType};
use crate::io;
use crate::jsonata::{JsonataTemplate, QueryFailure};
use crate::template::compact;

impl<'a> Run<'a, '_> {
    /// Select the items, shape each, and start the iterations (with the Map Run of a
    /// distributed Map).
    pub(super) fn run_map(&mut self, f: FrameId, m: &MapState) -> Flow {
        let raw = self.frame(f).input.clone();
        let selected = if self.state_of(f).query_language == QueryLanguage::Jsonata {
            raw
        } else {
            let state = self.state_of(f);
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let ctx = state_context(self.def, self.exec, f, None);
            let scope = Scope::new(&raw, &ctx).with_variables(&vars);
            match io::select(&state.input_path, &scope) {
                Ok(v) => v,
                Err(e) => return Flow::Fail(self.eval_failure(f, e)),
            }
        };
        if self.state_of(f).query_language == QueryLanguage::JsonPath {
            self.observe(f, Stage::AfterInputPath, &selected);
        }
        if let Some(reader) = &m.item_reader {
            return self.start_item_read(f, m, reader, selected);
        }
        let prepared = self.map_setup(f, m, &selected);
        let (items, max_concurrency) = match prepared {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        if self.observer.is_some() {
            self.observe(f, Stage::MaxConcurrency, &json!(max_concurrency));
        }
        self.emit(f, EventType::MapStateStarted, Details::Fields(fields(json!({"length": items.len()}))));
        // AWS reads the tolerance after the state has started (the Map Run's settings).
        let (tolerated_count, tolerated_percentage) = match self.map_tolerance(f, m, &selected) {
            Ok(v) => v,
            Err(e) => return self.fail_flow(f, e),
        };
        if let (Some(_), Some(n)) = (&self.observer, tolerated_count) {
            self.observe(f, Stage::ToleratedFailureCount, &json!(n));
        }
        if let (Some(_), Some(p)) = (&self.observer, tolerated_percentage) {
            self.observe(f, Stage::ToleratedFailurePercentage, &json!(p));
        }
        let run_arn = if m.distributed {
            Some(self.emit_map_run_started(f, m, max_concurrency, (tolerated_count, tolerated_percentage)))
        } else {
            None
        };
        let items = match &m.item_batcher {
            None => items,
            Some(b) => match self.batches(f, b, items, &selected) {
                Ok(batches) => batches,
                Err(e) => return self.fail_flow(f, e),
            },
        };
        let tolerance = Tolerance { count: tolerated_count, percentage: tolerated_percentage };
        self.start_map_children(f, m, items, (max_concurrency, tolerance), run_arn, &selected)
    }

    /// The items of a Map state (JSONata's `Items`, else ItemsPath or the input).
    fn map_items(&mut self, f: FrameId, m: &MapState, selected: &Value) -> Result<Vec<Value>, StepError> {
        if self.state_of(f).query_language == QueryLanguage::Jsonata {
            return match &m.items {
                None => match selected {
                    Value::Array(items) => Ok(items.clone()),
                    other => Err(QueryFailure::new(
                        "",
                        format!("Map state input must be an array but was: {}", compact(other)),
                    )
                    .into()),
                },
                Some(template) => match self.jsonata_template(f, template, selected, "Items", None)? {
                    Value::Array(items) => Ok(items),
                    other => Err(match template {
                        JsonataTemplate::Expression(e) => QueryFailure::unexpected_type(e, "Items", "array", &other),
                        _ => QueryFailure::new(
                            "Items",
                            format!("The value of the field 'Items' must be an array but was: {}", compact(&other)),
                        ),
                    }
                    .into()),
                },
            };
        }
        let items_value = match &m.items_path {
            None => selected.clone(),
            Some(p) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(selected, &ctx).with_variables(&vars);
                scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?
            }
        };
        match items_value {
            Value::Array(items) => Ok(items),
            other => Err(EvalFailure::runtime(format!(
                "Item selection failed: the value at '{}' is not a JSON array: {}",
                m.items_path.as_ref().map_or_else(|| "$".to_owned(), PathRef::as_str),
                compact(&other)
            ))
            .into()),
        }
    }

    /// A count field of a Map state (`MaxConcurrency`, `ToleratedFailureCount`).
    pub(super) fn map_count(
        &mut self,
        f: FrameId,
        field: &str,
        d: &Dynamic<u64>,
        selected: &Value,
    ) -> Result<u64, StepError> {
        match d {
            Dynamic::Fixed(n) => Ok(*n),
            Dynamic::Jsonata(e) => Ok(self.jsonata_count(f, e, selected, field, 0)?),
            Dynamic::Path(p) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(selected, &ctx).with_variables(&vars);
                let v =
                    scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?;
                integer_value(&v).ok_or_else(|| {
                    EvalFailure::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid integer: {}",
                        json_value_text(&v),
                        p.as_str()
                    ))
                    .into()
                })
            }
        }
    }

    /// Items (after ItemSelector) and concurrency of a Map state.
    fn map_setup(&mut self, f: FrameId, m: &MapState, selected: &Value) -> Result<(Vec<Value>, usize), StepError> {
        let items = self.map_items(f, m, selected)?;
        if self.observer.is_some() && m.items_path.is_some() {
            self.observe(f, Stage::AfterItemsPath, &Value::Array(items.clone()));
        }
        let max_concurrency = self.map_count(f, "MaxConcurrency", &m.max_concurrency, selected)?;
        let selected_items = self.select_items(f, m, items, selected)?;
        Ok((selected_items, usize::try_from(max_concurrency).unwrap_or(usize::MAX)))
    }

    /// Each item through `ItemSelector` (the item as `$$.Map.Item.Value`, the state's input
    /// as `$`).
    pub(super) fn select_items(
        &mut self,
        f: FrameId,
        m: &MapState,
        items: Vec<Value>,
        selected: &Value,
    ) -> Result<Vec<Value>, StepError> {
        Ok(match &m.item_selector {
            None => items,
            Some(Payload::Path(tpl)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                    let mut ctx = state_context(self.def, self.exec, f, None);
                    ctx.map_item = Some((i, item));
                    let scope = Scope::new(selected, &ctx).with_variables(&vars);
                    out.push(tpl.eval(&scope, &mut *self.random)?);
                }
                out
            }
            Some(Payload::Jsonata(tpl)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.jsonata_template(f, tpl, selected, "ItemSelector", Some((i, item)))?);
                }
                out
            }
        })
    }

    /// ToleratedFailureCount and ToleratedFailurePercentage, read from the input when given
    /// as paths or expressions.
    pub(super) fn map_tolerance(
        &mut self,
        f: FrameId,
        m: &MapState,
        selected: &Value,
    ) -> Result<(Option<u64>, Option<f64>), StepError> {
        let tolerated_count = match &m.tolerated_failure_count {
            None => None,
            Some(d) => Some(self.map_count(f, "ToleratedFailureCount", d, selected)?),
        };
        let tolerated_percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(Dynamic::Fixed(p)) => Some(*p),
            Some(Dynamic::Jsonata(e)) => {
                let v = self.jsonata_value(f, e, selected, "ToleratedFailurePercentage", None)?;
                match v.as_f64() {
                    Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                    _ => {
                        return Err(QueryFailure::unexpected_type(e, "ToleratedFailurePercentage", "number", &v).into())
                    }
                }
            }
            Some(Dynamic::Path(p)) => {
                let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
                let ctx = state_context(self.def, self.exec, f, None);
                let scope = Scope::new(selected, &ctx).with_variables(&vars);
                let v =
                    scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))?;
                let pct = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok())).ok_or_else(|| {
                    EvalFailure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                        json_value_text(&v),
                        p.as_str()
                    ))
                })?;
                if !(0.0..=100.0).contains(&pct) {
                    return Err(EvalFailure::runtime("ToleratedFailurePercentage must be between 0 and 100.").into());
                }
                Some(pct)
            }
        };
        Ok((tolerated_count, tolerated_percentage))
    }
}
