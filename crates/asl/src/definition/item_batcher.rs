//! A distributed Map's `ItemBatcher`: items handed to each child in batches of at most
//! `MaxItemsPerBatch` items and `MaxInputBytesPerBatch` bytes, with `BatchInput` beside them.

use serde_json::Value;

use super::map::MapLanguage;
use super::*;

/// Largest batch input AWS takes (256 KiB).
pub const MAX_BATCH_BYTES: u64 = 262_144;

#[derive(Debug, Clone, PartialEq)]
pub struct ItemBatcher<A, N> {
    pub max_items_per_batch: Option<N>,
    pub max_input_bytes_per_batch: Option<N>,
    /// A payload template (JSONPath) or JSONata value, evaluated once against the state's input.
    pub batch_input: Option<A>,
}

impl Parser {
    pub(super) fn item_batcher<L: MapLanguage>(
        &mut self,
        v: &Value,
        at: &str,
        distributed: bool,
    ) -> Option<ItemBatcher<L::Payload, L::Count>> {
        let Some(obj) = v.as_object() else {
            self.problem(Code::SchemaValidationFailed, "The value for the field 'ItemBatcher' must be an OBJECT", at);
            return None;
        };
        if !distributed {
            self.problem(
                Code::SchemaValidationFailed,
                "The field 'ItemBatcher' is only supported for a Map state whose ItemProcessor's ProcessorConfig has Mode DISTRIBUTED",
                at,
            );
        }
        let allowed: &[&str] = if L::JSONATA {
            &["MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"]
        } else {
            &[
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ]
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("Field '{key}' is not supported by ItemBatcher"),
                    format!("{at}/{key}"),
                );
            }
        }
        let positive = |v: &Value| v.as_u64().filter(|n| *n > 0);
        let bytes = |v: &Value| v.as_u64().filter(|n| *n > 0 && *n <= MAX_BATCH_BYTES);
        let max_items_per_batch = L::count(self, obj, "MaxItemsPerBatch", at, positive, "a positive INTEGER");
        let max_input_bytes_per_batch =
            L::count(self, obj, "MaxInputBytesPerBatch", at, bytes, "an INTEGER from 1 to 262144");
        if max_items_per_batch.is_none() && max_input_bytes_per_batch.is_none() && !self.has_problems_at(at) {
            self.problem(
                Code::SchemaValidationFailed,
                "An ItemBatcher needs 'MaxItemsPerBatch' or 'MaxInputBytesPerBatch' (or their Path forms)",
                at,
            );
        }
        let batch_input = match obj.get("BatchInput") {
            None => None,
            Some(_) if L::JSONATA => L::payload(self, obj, "BatchInput", at),
            Some(Value::Object(_)) => L::payload(self, obj, "BatchInput", at),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'BatchInput' must be an OBJECT",
                    format!("{at}/BatchInput"),
                );
                None
            }
        };
        Some(ItemBatcher { max_items_per_batch, max_input_bytes_per_batch, batch_input })
    }

    fn has_problems_at(&self, at: &str) -> bool {
        self.problems.iter().any(|p| p.location.starts_with(at))
    }
}
