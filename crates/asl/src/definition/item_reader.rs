//! A distributed Map's `ItemReader`: where its items come from (an S3 object or an S3
//! listing), how the object is read (`ReaderConfig`) and how many items are taken
//! (`MaxItems`, `MaxItemsPath`, or a JSONata expression).

use serde_json::{Map, Value};

use super::map::MapLanguage;
use super::*;

/// The resources an `ItemReader` may name.
pub const LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";
pub const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";

/// `ReaderConfig.InputType` values.
const INPUT_TYPES: &[&str] = &["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"];
const HEADER_LOCATIONS: &[&str] = &["FIRST_ROW", "GIVEN"];
const DELIMITERS: &[&str] = &["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"];

/// Largest `MaxItems` AWS takes.
pub const MAX_ITEMS_LIMIT: u64 = 100_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ItemReader<A, N> {
    /// [`LIST_OBJECTS_V2`] or [`GET_OBJECT`].
    pub resource: String,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): the S3 request (Bucket, Key, Prefix).
    pub arguments: Option<A>,
    /// `ReaderConfig` as written, without `MaxItems[Path]` (checked; handed to the reader).
    pub config: Map<String, Value>,
    pub max_items: Option<N>,
}

impl Parser {
    /// Parse `ItemReader` at `at` (the field's own location).
    pub(super) fn item_reader<L: MapLanguage>(
        &mut self,
        v: &Value,
        at: &str,
        distributed: bool,
    ) -> Option<ItemReader<L::Payload, L::Count>> {
        let Some(obj) = v.as_object() else {
            self.problem(Code::SchemaValidationFailed, "The value for the field 'ItemReader' must be an OBJECT", at);
            return None;
        };
        if !distributed {
            self.problem(
                Code::SchemaValidationFailed,
                "The field 'ItemReader' is only supported for a Map state whose ItemProcessor's ProcessorConfig has Mode DISTRIBUTED",
                at,
            );
        }
        let allowed = ["Resource", L::ARGUMENTS, "ReaderConfig"];
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("Field '{key}' is not supported by ItemReader"),
                    format!("{at}/{key}"),
                );
            }
        }
        let resource = match obj.get("Resource") {
            Some(Value::String(r)) if r == LIST_OBJECTS_V2 || r == GET_OBJECT => r.clone(),
            Some(Value::String(r)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The resource '{r}' is not supported by ItemReader: use {GET_OBJECT} or {LIST_OBJECTS_V2}"),
                    format!("{at}/Resource"),
                );
                r.clone()
            }
            _ => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'Resource' should be non-null",
                    format!("{at}/Resource"),
                );
                String::new()
            }
        };
        let arguments = L::payload(self, obj, L::ARGUMENTS, at);
        let mut config = Map::new();
        let mut max_items = None;
        match obj.get("ReaderConfig") {
            None => {}
            Some(Value::Object(rc)) => {
                let rc_at = format!("{at}/ReaderConfig");
                for (key, value) in rc {
                    let loc = format!("{rc_at}/{key}");
                    match key.as_str() {
                        "InputType" => self.one_of(value, key, INPUT_TYPES, &loc),
                        "CSVHeaderLocation" => self.one_of(value, key, HEADER_LOCATIONS, &loc),
                        "CSVDelimiter" => self.one_of(value, key, DELIMITERS, &loc),
                        "CSVHeaders" => {
                            if !value.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                                self.problem(
                                    Code::SchemaValidationFailed,
                                    "The value for the field 'CSVHeaders' must be an ARRAY of STRINGs",
                                    loc,
                                );
                            }
                        }
                        "ManifestType" => self.one_of(value, key, &["ATHENA_DATA", "S3_INVENTORY"], &loc),
                        "MaxItems" | "MaxItemsPath" => continue,
                        _ => self.problem(
                            Code::SchemaValidationFailed,
                            format!("Field '{key}' is not supported by ReaderConfig"),
                            loc,
                        ),
                    }
                    config.insert(key.clone(), value.clone());
                }
                if L::JSONATA && rc.contains_key("MaxItemsPath") {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The field 'MaxItemsPath' is not supported in JSONata: use 'MaxItems' with a JSONata expression",
                        format!("{rc_at}/MaxItemsPath"),
                    );
                }
                max_items = L::count(self, rc, "MaxItems", &rc_at, max_items_value, "an INTEGER from 0 to 100000000");
                if resource == GET_OBJECT && !config.contains_key("InputType") {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The field 'InputType' should be non-null when the ItemReader reads an object",
                        format!("{rc_at}/InputType"),
                    );
                }
                let given = config.get("CSVHeaderLocation").and_then(Value::as_str) == Some("GIVEN");
                if given && !config.contains_key("CSVHeaders") {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The field 'CSVHeaders' should be non-null when 'CSVHeaderLocation' is GIVEN",
                        format!("{rc_at}/CSVHeaders"),
                    );
                }
                if !given && config.contains_key("CSVHeaders") {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The field 'CSVHeaders' is only allowed when 'CSVHeaderLocation' is GIVEN",
                        format!("{rc_at}/CSVHeaders"),
                    );
                }
            }
            Some(_) => self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'ReaderConfig' must be an OBJECT",
                format!("{at}/ReaderConfig"),
            ),
        }
        if resource == GET_OBJECT && !obj.contains_key("ReaderConfig") {
            self.problem(
                Code::SchemaValidationFailed,
                "The field 'ReaderConfig' should be non-null when the ItemReader reads an object",
                format!("{at}/ReaderConfig"),
            );
        }
        Some(ItemReader { resource, arguments, config, max_items })
    }

    /// A string field that takes one of `values`.
    pub(super) fn one_of(&mut self, value: &Value, key: &str, values: &[&str], at: &str) {
        if !value.as_str().is_some_and(|s| values.contains(&s)) {
            self.problem(
                Code::SchemaValidationFailed,
                format!("The value for the field '{key}' must be one of [{}]", values.join(", ")),
                at,
            );
        }
    }
}

fn max_items_value(v: &Value) -> Option<u64> {
    v.as_u64().filter(|n| *n <= MAX_ITEMS_LIMIT)
}
