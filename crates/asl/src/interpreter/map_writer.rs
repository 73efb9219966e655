//! A distributed Map's `ResultWriter`: the request it makes of the shell, each child's
//! record as AWS writes it in a Map Run's result files, and the records shaped as
//! `WriterConfig` says. The write itself is the shell's (a task on [`RESULT_WRITER_RESOURCE`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::map_run::{MapPayload, MapRead, RunCounts, RESULT_WRITER_RESOURCE};
use super::{Failure, Flow, FrameId, Run, StepError, WriterRequest};
use crate::definition::{Fields, MapState, ResultWriter, StateKind};
use crate::history::{Details, EventType};
use crate::template::compact;
use crate::timestamp::{self, Millis};

/// What the ResultWriter needs of a distributed Map's children besides their outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct WriterLog {
    run_arn: String,
    /// The state's input after InputPath, for the writer's Parameters/Arguments.
    selected: Value,
    inputs: Vec<Value>,
    /// Failed children by slot: error and cause.
    failures: BTreeMap<usize, (Option<String>, Option<String>)>,
    started: Millis,
    /// Succeeded children by slot: when the run fails, the others are written as PENDING.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    succeeded: BTreeSet<usize>,
}

impl WriterLog {
    pub(super) fn new(run_arn: String, selected: Value, inputs: Vec<Value>, started: Millis) -> Self {
        Self { run_arn, selected, inputs, failures: BTreeMap::new(), started, succeeded: BTreeSet::new() }
    }

    pub(super) fn succeeded(&mut self, slot: usize) {
        self.succeeded.insert(slot);
    }

    pub(super) fn failed(&mut self, slot: usize, failure: &Failure) {
        self.failures.insert(slot, (failure.error.clone(), failure.cause.clone()));
    }
}

impl Run<'_, '_> {
    /// A Map's `ResultWriter`, evaluated.
    pub(super) fn writer_request(
        &mut self,
        f: FrameId,
        m: &MapState,
        selected: &Value,
    ) -> Result<Option<WriterRequest>, StepError> {
        match &m.fields {
            Fields::JsonPath(p) => match &p.result_writer {
                Some(w) => self.writer_request_of(f, w, selected).map(Some),
                None => Ok(None),
            },
            Fields::Jsonata(j) => match &j.result_writer {
                Some(w) => self.writer_request_of(f, w, selected).map(Some),
                None => Ok(None),
            },
        }
    }

    fn writer_request_of<A: MapPayload>(
        &mut self,
        f: FrameId,
        writer: &ResultWriter<A>,
        selected: &Value,
    ) -> Result<WriterRequest, StepError> {
        let transformation =
            writer.config.get("Transformation").and_then(Value::as_str).unwrap_or("COMPACT").to_owned();
        let arguments = match &writer.arguments {
            None => None,
            Some(a) => Some(a.evaluate(self, f, selected, "Arguments")?),
        };
        let config = if arguments.is_some() { writer_config(writer) } else { Value::Object(writer.config.clone()) };
        Ok(WriterRequest { arguments, config, transformation })
    }

    /// Every child ended, or the Map Run failed (`failure`): shape the results as
    /// `WriterConfig` says and, when the writer names S3, ask the shell to write them there.
    /// A failed run's results are written too, as AWS writes them (the children not finished
    /// as PENDING), and the Map then fails.
    pub(super) fn start_result_write(
        &mut self,
        f: FrameId,
        results: Vec<Value>,
        log: WriterLog,
        counts: RunCounts,
        failure: Option<Failure>,
    ) -> Flow {
        let StateKind::Map(m) = &self.state_of(f).kind else { return Flow::Blocked };
        match &m.fields {
            Fields::JsonPath(p) => match &p.result_writer {
                Some(writer) => self.write_results(f, writer, results, log, counts, failure),
                None => Flow::Blocked,
            },
            Fields::Jsonata(j) => match &j.result_writer {
                Some(writer) => self.write_results(f, writer, results, log, counts, failure),
                None => Flow::Blocked,
            },
        }
    }

    fn write_results<A: MapPayload>(
        &mut self,
        f: FrameId,
        writer: &ResultWriter<A>,
        results: Vec<Value>,
        log: WriterLog,
        counts: RunCounts,
        failure: Option<Failure>,
    ) -> Flow {
        if let (None, Some(failure)) = (&writer.arguments, &failure) {
            self.close_map_run(f, "FAILED", counts);
            self.emit_map_run_failed(f, failure);
            return Flow::ChildrenFailed(failure.clone());
        }
        let records = self.child_records(&results, &log, failure.is_some());
        let Some(arguments) = &writer.arguments else {
            let transformation = writer.config.get("Transformation").and_then(Value::as_str).unwrap_or("COMPACT");
            let output = Value::Array(transform_results(records, transformation));
            self.close_map_run(f, "SUCCEEDED", counts);
            self.emit(f, EventType::MapRunSucceeded, Details::None);
            self.emit(f, EventType::MapStateSucceeded, Details::None);
            return self.after_result(f, output);
        };
        let arguments = match arguments.evaluate(self, f, &log.selected, "Arguments") {
            Ok(a) => a,
            Err(e) => {
                let failure = match e {
                    StepError::Eval(e) => self.eval_failure(f, e),
                    StepError::Query(q) => self.query_failure(f, q),
                };
                self.close_map_run(f, "FAILED", counts);
                self.emit_map_run_failed(f, &failure);
                return Flow::ChildrenFailed(failure);
            }
        };
        let request = json!({
            "Resource": crate::definition::PUT_OBJECT,
            "Arguments": arguments,
            "WriterConfig": writer_config(writer),
            "MapRunArn": log.run_arn,
            "Records": records,
        });
        let read = MapRead::writing(log.run_arn, counts, failure);
        self.ask_shell(f, read, RESULT_WRITER_RESOURCE, request)
    }

    /// Each child as AWS records it in a Map Run's result files: its execution ARN and name,
    /// input and output (as JSON text), status, error and cause, dates.
    fn child_records(&mut self, results: &[Value], log: &WriterLog, run_failed: bool) -> Vec<Value> {
        let execution_prefix = match log.run_arn.rsplit_once(':') {
            Some((head, _)) => head.replacen(":mapRun:", ":execution:", 1),
            None => log.run_arn.clone(),
        };
        let start = timestamp::format(log.started);
        let stop = timestamp::format(self.now);
        let machine = self.exec.info.state_machine_arn.clone();
        let mut records = Vec::with_capacity(results.len());
        for (slot, output) in results.iter().enumerate() {
            let input = log.inputs.get(slot).map_or_else(|| "null".to_owned(), compact);
            if run_failed && !log.failures.contains_key(&slot) && !log.succeeded.contains(&slot) {
                // Not started, or stopped with the run: no execution, no output.
                let mut r = Map::new();
                r.insert("Input".into(), json!(input));
                r.insert("InputDetails".into(), json!({"Included": true}));
                r.insert("StateMachineArn".into(), json!(machine));
                r.insert("Status".into(), json!("PENDING"));
                records.push(Value::Object(r));
                continue;
            }
            let name = self.random.uuid_v4();
            let mut r = Map::new();
            r.insert("ExecutionArn".into(), json!(format!("{execution_prefix}:{name}")));
            r.insert("Input".into(), json!(input));
            r.insert("InputDetails".into(), json!({"Included": true}));
            r.insert("Name".into(), json!(name));
            match log.failures.get(&slot) {
                Some((error, cause)) => {
                    if let Some(e) = error {
                        r.insert("Error".into(), json!(e));
                    }
                    if let Some(c) = cause {
                        r.insert("Cause".into(), json!(c));
                    }
                    r.insert("RedriveCount".into(), json!(0));
                    r.insert("RedriveStatus".into(), json!("REDRIVABLE"));
                    r.insert("StartDate".into(), json!(start));
                    r.insert("StateMachineArn".into(), json!(machine));
                    r.insert("Status".into(), json!("FAILED"));
                }
                None => {
                    r.insert("Output".into(), json!(compact(output)));
                    r.insert("OutputDetails".into(), json!({"Included": true}));
                    r.insert("RedriveCount".into(), json!(0));
                    r.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
                    r.insert("RedriveStatusReason".into(), json!("Execution is SUCCEEDED and cannot be redriven"));
                    r.insert("StartDate".into(), json!(start));
                    r.insert("StateMachineArn".into(), json!(machine));
                    r.insert("Status".into(), json!("SUCCEEDED"));
                }
            }
            r.insert("StopDate".into(), json!(stop));
            records.push(Value::Object(r));
        }
        records
    }
}

/// `WriterConfig` with its defaults when the results go to S3: `OutputType` JSON,
/// `Transformation` NONE.
fn writer_config<A>(writer: &ResultWriter<A>) -> Value {
    let mut config = writer.config.clone();
    config.entry("OutputType").or_insert_with(|| json!("JSON"));
    config.entry("Transformation").or_insert_with(|| json!("NONE"));
    Value::Object(config)
}

/// Child records as `Transformation` shapes them: NONE keeps each record; COMPACT keeps a
/// succeeded child's output only; FLATTEN also spreads an output that is an array. A failed
/// child's record stays whole, as AWS keeps it.
pub fn transform_results(records: Vec<Value>, transformation: &str) -> Vec<Value> {
    if transformation == "NONE" {
        return records;
    }
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let succeeded = record.get("Status").and_then(Value::as_str) == Some("SUCCEEDED");
        let output = record.get("Output").and_then(Value::as_str).and_then(|t| serde_json::from_str::<Value>(t).ok());
        match (succeeded, output) {
            (true, Some(Value::Array(items))) if transformation == "FLATTEN" => out.extend(items),
            (true, Some(output)) => out.push(output),
            _ => out.push(record),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_outputs_and_flatten_spreads_arrays_but_failures_stay_whole() {
        let ok = |o: &str| json!({"Status": "SUCCEEDED", "Output": o});
        let failed = json!({"Status": "FAILED", "Error": "E"});
        let records = vec![ok("[1,2]"), ok("{\"a\":1}"), failed.clone()];
        assert_eq!(transform_results(records.clone(), "NONE"), records);
        assert_eq!(transform_results(records.clone(), "COMPACT"), vec![json!([1, 2]), json!({"a": 1}), failed.clone()]);
        assert_eq!(transform_results(records, "FLATTEN"), vec![json!(1), json!(2), json!({"a": 1}), failed]);
    }
}
