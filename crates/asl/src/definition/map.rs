//! Map states: the item processor (inline or distributed), where items come from and how
//! each is shaped, concurrency and tolerated failures, `Label`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    pub processor: GraphId,
    /// DISTRIBUTED processing: each item is a child workflow; the parent history shows a Map Run.
    pub distributed: bool,
    pub items_path: Option<PathRef>,
    /// JSONata's `Items`; absent: the state's input, which must be an array.
    pub items: Option<JsonataTemplate>,
    pub item_selector: Option<Payload>,
    pub max_concurrency: Dynamic<u64>,
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
    pub label: Option<String>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub result_writer: Option<ResultWriter>,
}

impl Parser {
    pub(super) fn map(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> MapState {
        let (proc_key, proc_value) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", Some(p)),
            (None, Some(p)) => ("Iterator", Some(p)),
            (Some(_), Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The fields 'ItemProcessor' and 'Iterator' cannot both be present",
                    at.to_owned(),
                );
                ("ItemProcessor", None)
            }
            (None, None) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'ItemProcessor' should be non-null",
                    format!("{at}/ItemProcessor"),
                );
                ("ItemProcessor", None)
            }
        };
        let proc_at = format!("{at}/{proc_key}");
        let mut distributed = false;
        if let Some(cfg) = proc_value.and_then(|p| p.get("ProcessorConfig")) {
            match cfg.get("Mode").and_then(Value::as_str) {
                None | Some("INLINE") => {}
                Some("DISTRIBUTED") => distributed = true,
                Some(other) => self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED], not '{other}'"),
                    format!("{proc_at}/ProcessorConfig/Mode"),
                ),
            }
        }
        let processor = match proc_value {
            Some(p) => self.sub_graph(p, &proc_at),
            None => 0,
        };
        let item_selector = if jsonata {
            obj.get("ItemSelector").map(|v| {
                Payload::Jsonata(self.jsonata_template(v, &format!("{at}/ItemSelector"), "ItemSelector", INPUT_CONTEXT))
            })
        } else {
            match (obj.get("ItemSelector"), obj.get("Parameters")) {
                (Some(_), Some(_)) => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The fields 'ItemSelector' and 'Parameters' cannot both be present",
                        at.to_owned(),
                    );
                    None
                }
                (Some(_), None) => self.template(obj, "ItemSelector", at).map(Payload::Path),
                (None, Some(_)) => self.template(obj, "Parameters", at).map(Payload::Path),
                (None, None) => None,
            }
        };
        let items_path = match obj.get("ItemsPath").filter(|_| !jsonata) {
            None => None,
            Some(v) => self.reference_path_ref(v, &format!("{at}/ItemsPath")),
        };
        let items = obj
            .get("Items")
            .filter(|_| jsonata)
            .map(|v| self.jsonata_template(v, &format!("{at}/Items"), "Items", INPUT_CONTEXT));
        let item_reader =
            obj.get("ItemReader").and_then(|v| self.item_reader(v, &format!("{at}/ItemReader"), jsonata, distributed));
        let item_batcher = obj
            .get("ItemBatcher")
            .and_then(|v| self.item_batcher(v, &format!("{at}/ItemBatcher"), jsonata, distributed));
        let result_writer = obj
            .get("ResultWriter")
            .and_then(|v| self.result_writer(v, &format!("{at}/ResultWriter"), jsonata, distributed));
        let label = match obj.get("Label") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 40 && s.chars().all(label_char) => {
                Some(s.clone())
            }
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Label' must be a STRING of 1 to 40 characters, without whitespace, \
                     control characters or any of ? * < > { } [ ] : ; , \\ | ^ ~ $ # % & \" `",
                    format!("{at}/Label"),
                );
                None
            }
        };
        let (max_concurrency, tolerated_failure_count, tolerated_failure_percentage) = if jsonata {
            (
                self.jsonata_dynamic(obj, "MaxConcurrency", at, Value::as_u64, "a non-negative INTEGER"),
                self.jsonata_dynamic(obj, "ToleratedFailureCount", at, Value::as_u64, "a non-negative INTEGER"),
                self.jsonata_dynamic(obj, "ToleratedFailurePercentage", at, Value::as_f64, "a NUMBER"),
            )
        } else {
            (
                self.dynamic_int_allow_zero(obj, "MaxConcurrency", at),
                self.dynamic_int_allow_zero(obj, "ToleratedFailureCount", at),
                self.dynamic_number(obj, "ToleratedFailurePercentage", at),
            )
        };
        if let Some(Dynamic::Fixed(p)) = tolerated_failure_percentage {
            if !(0.0..=100.0).contains(&p) {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'ToleratedFailurePercentage' must be between 0 and 100",
                    format!("{at}/ToleratedFailurePercentage"),
                );
            }
        }
        let (result_selector, result_path) = self.result_stages(obj, at, jsonata);
        let (retry, catch, transition) = self.recovery(obj, at, index, jsonata);
        MapState {
            processor,
            distributed,
            items_path,
            items,
            item_selector,
            max_concurrency: max_concurrency.unwrap_or(Dynamic::Fixed(0)),
            tolerated_failure_count,
            tolerated_failure_percentage,
            result_selector,
            result_path,
            retry,
            catch,
            transition,
            label,
            item_reader,
            item_batcher,
            result_writer,
        }
    }
}

/// A character a Map `Label` may hold: AWS's name rules (it appears in Map Run ARNs).
fn label_char(c: char) -> bool {
    let code = c as u32;
    !(c.is_whitespace()
        || "?*<>{}[]:;,\\|^~$#%&\"`".contains(c)
        || code <= 0x1f
        || (0x7f..=0x9f).contains(&code)
        || code == 0xFFFE
        || code == 0xFFFF)
}

/// The fields of a Map state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "ItemSelector",
        "Parameters",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "Label",
        "InputPath",
        "OutputPath",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "Next",
        "End",
        "Assign",
    ],
    jsonata: &[
        "ItemProcessor",
        "Iterator",
        "Items",
        "ItemSelector",
        "MaxConcurrency",
        "ToleratedFailureCount",
        "ToleratedFailurePercentage",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "Label",
        "Output",
        "Retry",
        "Catch",
        "Next",
        "End",
        "Assign",
    ],
};
