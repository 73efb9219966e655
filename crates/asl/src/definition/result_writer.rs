//! A distributed Map's `ResultWriter`: where the children's results go (an S3 prefix, through
//! `s3:putObject`) and in what shape (`WriterConfig`).

use serde_json::{Map, Value};

use super::map::MapLanguage;
use super::*;

pub const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

#[derive(Debug, Clone, PartialEq)]
pub struct ResultWriter<A> {
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): `Bucket` and `Prefix`. Absent: the
    /// results are not written, only shaped by `WriterConfig`.
    pub arguments: Option<A>,
    /// `WriterConfig` as written (checked): `OutputType`, `Transformation`.
    pub config: Map<String, Value>,
}

impl Parser {
    pub(super) fn result_writer<L: MapLanguage>(
        &mut self,
        v: &Value,
        at: &str,
        distributed: bool,
    ) -> Option<ResultWriter<L::Payload>> {
        let Some(obj) = v.as_object() else {
            self.problem(Code::SchemaValidationFailed, "The value for the field 'ResultWriter' must be an OBJECT", at);
            return None;
        };
        if !distributed {
            self.problem(
                Code::SchemaValidationFailed,
                "The field 'ResultWriter' is only supported for a Map state whose ItemProcessor's ProcessorConfig has Mode DISTRIBUTED",
                at,
            );
        }
        let allowed = ["Resource", L::ARGUMENTS, "WriterConfig"];
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("Field '{key}' is not supported by ResultWriter"),
                    format!("{at}/{key}"),
                );
            }
        }
        match obj.get("Resource") {
            None => {}
            Some(Value::String(r)) if r == PUT_OBJECT => {}
            Some(_) => self.problem(
                Code::SchemaValidationFailed,
                format!("The value for the field 'Resource' must be '{PUT_OBJECT}'"),
                format!("{at}/Resource"),
            ),
        }
        let arguments = L::payload(self, obj, L::ARGUMENTS, at);
        if obj.contains_key("Resource") != arguments.is_some() {
            self.problem(
                Code::SchemaValidationFailed,
                format!(
                    "A ResultWriter with a 'Resource' needs '{0}' (Bucket, Prefix), and '{0}' needs the 'Resource'",
                    L::ARGUMENTS
                ),
                at,
            );
        }
        let mut config = Map::new();
        match obj.get("WriterConfig") {
            None => {}
            Some(Value::Object(wc)) => {
                for (key, value) in wc {
                    let loc = format!("{at}/WriterConfig/{key}");
                    match key.as_str() {
                        "OutputType" => self.one_of(value, key, &["JSON", "JSONL"], &loc),
                        "Transformation" => self.one_of(value, key, &["NONE", "COMPACT", "FLATTEN"], &loc),
                        _ => self.problem(
                            Code::SchemaValidationFailed,
                            format!("Field '{key}' is not supported by WriterConfig"),
                            loc,
                        ),
                    }
                    config.insert(key.clone(), value.clone());
                }
            }
            Some(_) => self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'WriterConfig' must be an OBJECT",
                format!("{at}/WriterConfig"),
            ),
        }
        if !obj.contains_key("Resource") && !obj.contains_key("WriterConfig") {
            self.problem(Code::SchemaValidationFailed, "A ResultWriter needs 'Resource' or 'WriterConfig'", at);
        }
        Some(ResultWriter { arguments, config })
    }
}
