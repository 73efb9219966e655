//! Map states: the item processor (inline or distributed), where items come from and how
//! each is shaped, concurrency and tolerated failures, `Label`.

use serde_json::{Map, Value};

use super::fields::INPUT_CONTEXT;

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    pub processor: GraphId,
    /// DISTRIBUTED processing: each item is a child workflow; the parent history shows a Map Run.
    pub distributed: bool,
    pub fields: Fields<MapPath, MapJsonata>,
    pub retry: Vec<Retrier>,
    pub transition: Transition,
    pub label: Option<String>,
    /// A distributed Map's children as a state machine of their own, for a shell that runs
    /// them as child executions.
    pub child: Option<ChildMachine>,
}

/// A distributed Map's `ItemProcessor` as the definition its child executions run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildMachine {
    /// The processor's `StartAt` and `States` (and its effective `QueryLanguage`), as JSON
    /// text: a definition of its own.
    pub definition: String,
    /// `ProcessorConfig.ExecutionType`: EXPRESS children, else STANDARD.
    pub express: bool,
}

impl MapState {
    /// A distributed Map whose items an `ItemBatcher` groups into the children's inputs.
    pub fn has_item_batcher(&self) -> bool {
        match &self.fields {
            Fields::JsonPath(p) => p.item_batcher.is_some(),
            Fields::Jsonata(j) => j.item_batcher.is_some(),
        }
    }

    /// A distributed Map whose children's results a `ResultWriter` writes or shapes.
    pub fn has_result_writer(&self) -> bool {
        match &self.fields {
            Fields::JsonPath(p) => p.result_writer.is_some(),
            Fields::Jsonata(j) => j.result_writer.is_some(),
        }
    }
}

/// A JSONPath Map state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPath {
    pub io: PathIo,
    pub items_path: Option<PathRef>,
    /// `ItemSelector`, or the older `Parameters`.
    pub item_selector: Option<Template>,
    pub max_concurrency: Dynamic<u64>,
    pub tolerated_failure_count: Option<Dynamic<u64>>,
    pub tolerated_failure_percentage: Option<Dynamic<f64>>,
    pub result: PathResult,
    pub item_reader: Option<ItemReader<Template, Dynamic<u64>>>,
    pub item_batcher: Option<ItemBatcher<Template, Dynamic<u64>>>,
    pub result_writer: Option<ResultWriter<Template>>,
}

/// A JSONata Map state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct MapJsonata {
    pub io: JsonataIo,
    /// `Items`; absent: the state's input, which must be an array.
    pub items: Option<JsonataTemplate>,
    pub item_selector: Option<JsonataTemplate>,
    pub max_concurrency: JsonataDynamic<u64>,
    pub tolerated_failure_count: Option<JsonataDynamic<u64>>,
    pub tolerated_failure_percentage: Option<JsonataDynamic<f64>>,
    pub result: JsonataResult,
    pub item_reader: Option<ItemReader<JsonataTemplate, JsonataDynamic<u64>>>,
    pub item_batcher: Option<ItemBatcher<JsonataTemplate, JsonataDynamic<u64>>>,
    pub result_writer: Option<ResultWriter<JsonataTemplate>>,
}

/// How a distributed Map's `ItemReader`, `ItemBatcher` and `ResultWriter` read their
/// templates and counts in each query language: `Parameters` and `...Path` fields in JSONPath,
/// `Arguments` and `{% %}` expressions in JSONata.
pub(super) trait MapLanguage {
    type Payload;
    type Count;
    const JSONATA: bool;
    /// The field that holds an S3 request: `Parameters` or `Arguments`.
    const ARGUMENTS: &'static str;
    fn payload(p: &mut Parser, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Self::Payload>;
    fn count(
        p: &mut Parser,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: fn(&Value) -> Option<u64>,
        what: &str,
    ) -> Option<Self::Count>;
}

pub(super) struct InPath;
pub(super) struct InJsonata;

impl MapLanguage for InPath {
    type Payload = Template;
    type Count = Dynamic<u64>;
    const JSONATA: bool = false;
    const ARGUMENTS: &'static str = "Parameters";
    fn payload(p: &mut Parser, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Template> {
        p.template(obj, key, at)
    }
    fn count(
        p: &mut Parser,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: fn(&Value) -> Option<u64>,
        what: &str,
    ) -> Option<Dynamic<u64>> {
        p.dynamic_generic(obj, key, at, read, what)
    }
}

impl MapLanguage for InJsonata {
    type Payload = JsonataTemplate;
    type Count = JsonataDynamic<u64>;
    const JSONATA: bool = true;
    const ARGUMENTS: &'static str = "Arguments";
    fn payload(p: &mut Parser, obj: &Map<String, Value>, key: &str, at: &str) -> Option<JsonataTemplate> {
        let v = obj.get(key)?;
        Some(p.jsonata_template(v, &format!("{at}/{key}"), key, INPUT_CONTEXT))
    }
    fn count(
        p: &mut Parser,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: fn(&Value) -> Option<u64>,
        what: &str,
    ) -> Option<JsonataDynamic<u64>> {
        p.jsonata_dynamic(obj, key, at, read, what)
    }
}

impl Parser {
    pub(super) fn map(&mut self, s: &Source, io: Io) -> MapState {
        let (obj, at) = (s.obj, s.at);
        let (proc_key, proc_value) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", Some(p)),
            (None, Some(p)) => ("Iterator", Some(p)),
            (Some(_), Some(_)) => {
                self.both_present("ItemProcessor", "Iterator", at);
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
        let child = match (distributed, proc_value.and_then(Value::as_object)) {
            (true, Some(p)) => Some(self.child_machine(p)),
            _ => None,
        };
        let (fields, label, retry, transition) = match io {
            Fields::JsonPath(io) => {
                let item_selector = match (obj.get("ItemSelector"), obj.get("Parameters")) {
                    (Some(_), Some(_)) => {
                        self.both_present("ItemSelector", "Parameters", at);
                        None
                    }
                    (Some(_), None) => self.template(obj, "ItemSelector", at),
                    (None, Some(_)) => self.template(obj, "Parameters", at),
                    (None, None) => None,
                };
                let items_path =
                    obj.get("ItemsPath").and_then(|v| self.reference_path_ref(v, &format!("{at}/ItemsPath")));
                let label = self.map_label(s);
                let max_concurrency = self.dynamic_int_allow_zero(obj, "MaxConcurrency", at);
                let tolerated_failure_count = self.dynamic_int_allow_zero(obj, "ToleratedFailureCount", at);
                let tolerated_failure_percentage = self.dynamic_number(obj, "ToleratedFailurePercentage", at);
                if let Some(Dynamic::Fixed(p)) = tolerated_failure_percentage {
                    self.check_percentage(p, at);
                }
                let (result, retry, transition) = self.path_recovery(s);
                let (item_reader, item_batcher, result_writer) = self.distributed_fields::<InPath>(s, distributed);
                let fields = MapPath {
                    io,
                    items_path,
                    item_selector,
                    max_concurrency: max_concurrency.unwrap_or(Dynamic::Fixed(0)),
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                    result,
                    item_reader,
                    item_batcher,
                    result_writer,
                };
                (Fields::JsonPath(fields), label, retry, transition)
            }
            Fields::Jsonata(io) => {
                let item_selector = obj
                    .get("ItemSelector")
                    .map(|v| self.jsonata_template(v, &format!("{at}/ItemSelector"), "ItemSelector", INPUT_CONTEXT));
                let items =
                    obj.get("Items").map(|v| self.jsonata_template(v, &format!("{at}/Items"), "Items", INPUT_CONTEXT));
                let label = self.map_label(s);
                let count = |v: &Value| v.as_u64();
                let what = "a non-negative INTEGER";
                let max_concurrency = self.jsonata_dynamic(obj, "MaxConcurrency", at, count, what);
                let tolerated_failure_count = self.jsonata_dynamic(obj, "ToleratedFailureCount", at, count, what);
                let tolerated_failure_percentage =
                    self.jsonata_dynamic(obj, "ToleratedFailurePercentage", at, Value::as_f64, "a NUMBER");
                if let Some(JsonataDynamic::Fixed(p)) = tolerated_failure_percentage {
                    self.check_percentage(p, at);
                }
                let (result, retry, transition) = self.jsonata_recovery(s);
                let (item_reader, item_batcher, result_writer) = self.distributed_fields::<InJsonata>(s, distributed);
                let fields = MapJsonata {
                    io,
                    items,
                    item_selector,
                    max_concurrency: max_concurrency.unwrap_or(JsonataDynamic::Fixed(0)),
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                    result,
                    item_reader,
                    item_batcher,
                    result_writer,
                };
                (Fields::Jsonata(fields), label, retry, transition)
            }
        };
        MapState { processor, distributed, fields, retry, transition, label, child }
    }

    /// The child machine of a distributed Map: the processor's states, in the language they
    /// run in here (its own `QueryLanguage`, else the enclosing block's).
    fn child_machine(&self, processor: &Map<String, Value>) -> ChildMachine {
        let mut definition = Map::new();
        let language = match processor.get("QueryLanguage").and_then(Value::as_str) {
            Some(l) => l.to_owned(),
            None if self.language == QueryLanguage::Jsonata => "JSONata".to_owned(),
            None => "JSONPath".to_owned(),
        };
        definition.insert("QueryLanguage".into(), Value::String(language));
        for key in ["StartAt", "States"] {
            if let Some(v) = processor.get(key) {
                definition.insert(key.into(), v.clone());
            }
        }
        let express = processor
            .get("ProcessorConfig")
            .and_then(|c| c.get("ExecutionType"))
            .and_then(Value::as_str)
            .is_some_and(|t| t == "EXPRESS");
        ChildMachine { definition: Value::Object(definition).to_string(), express }
    }

    /// `ItemReader`, `ItemBatcher` and `ResultWriter`, in the Map's query language.
    #[allow(clippy::type_complexity)]
    fn distributed_fields<L: MapLanguage>(
        &mut self,
        s: &Source,
        distributed: bool,
    ) -> (
        Option<ItemReader<L::Payload, L::Count>>,
        Option<ItemBatcher<L::Payload, L::Count>>,
        Option<ResultWriter<L::Payload>>,
    ) {
        let (obj, at) = (s.obj, s.at);
        let item_reader =
            obj.get("ItemReader").and_then(|v| self.item_reader::<L>(v, &format!("{at}/ItemReader"), distributed));
        let item_batcher =
            obj.get("ItemBatcher").and_then(|v| self.item_batcher::<L>(v, &format!("{at}/ItemBatcher"), distributed));
        let result_writer = obj
            .get("ResultWriter")
            .and_then(|v| self.result_writer::<L>(v, &format!("{at}/ResultWriter"), distributed));
        (item_reader, item_batcher, result_writer)
    }

    /// `Label`: the Map Run's name and its child executions' prefix.
    fn map_label(&mut self, s: &Source) -> Option<String> {
        let (obj, at) = (s.obj, s.at);
        match obj.get("Label") {
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
        }
    }

    fn check_percentage(&mut self, percentage: f64, at: &str) {
        if !(0.0..=100.0).contains(&percentage) {
            self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'ToleratedFailurePercentage' must be between 0 and 100",
                format!("{at}/ToleratedFailurePercentage"),
            );
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
        &[
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
        ],
        PATH_IO,
        PATH_RESULT,
    ],
    jsonata: &[
        &[
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
        ],
        JSONATA_IO,
        JSONATA_RESULT,
    ],
};
