//! Distributed Map with items from S3: the definitions AWS documents for `ItemReader`,
//! `ItemBatcher` and `ResultWriter` are accepted (and what AWS rejects is rejected, with its
//! location), and the interpreter asks for the read as a task, then runs the items it gets
//! back, batched and selected; or, when the shell runs the children as executions, hands the
//! whole run over and takes back its result (with the pure parts the shell's driver uses).

use asl::context::ExecutionInfo;
use asl::eval::SplitMix64;
use asl::history::HistoryEvent;
use asl::interpreter::{
    self, exceeds_tolerance, Batcher, ChildInputs, Command, Env, Event, Execution, ItemSource, MapRunEnd,
    MapRunFailure, MapRunOutcome, MapRunRedrive, MapRunSpec, Status, ITEM_READER_RESOURCE, MAP_RUN_RESOURCE,
};
use asl::Definition;
use serde_json::{json, Value};

const T0: i64 = 1_700_000_000_000;

fn map_with(fields: Value, mode: &str) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": mode, "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
        },
        "End": true
    });
    for (k, v) in fields.as_object().expect("fields are an object") {
        map[k] = v.clone();
    }
    json!({"StartAt": "Map", "States": {"Map": map}})
}

fn accepted(fields: Value) {
    let def = map_with(fields.clone(), "DISTRIBUTED");
    if let Err(e) = Definition::from_value(&def) {
        panic!("rejected {fields}: {e}");
    }
}

fn rejected_at(fields: Value, mode: &str, location: &str) {
    let def = map_with(fields.clone(), mode);
    match Definition::from_value(&def) {
        Ok(_) => panic!("accepted {fields}"),
        Err(e) => assert!(e.problems.iter().any(|p| p.location == location), "{fields}: {e}"),
    }
}

#[test]
fn item_readers_from_awss_documentation_are_accepted() {
    // s3:listObjectsV2 with a prefix.
    accepted(json!({"ItemReader": {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "amzn-s3-demo-bucket", "Prefix": "processData"}
    }}));
    // A JSON object, a bounded number of items, read from the input.
    accepted(json!({"ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$.maxItems"},
        "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"}
    }}));
    // JSON Lines.
    accepted(json!({"ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL", "MaxItems": 10},
        "Parameters": {"Bucket": "amzn-s3-demo-bucket", "Key": "items.jsonl"}
    }}));
    // CSV, headers in the first row, another delimiter.
    accepted(json!({"ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "SEMICOLON"},
        "Parameters": {"Bucket": "amzn-s3-demo-bucket", "Key": "csvDataset/ratings.csv"}
    }}));
    // CSV with given headers.
    accepted(json!({"ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["userId", "movieId", "rating"]},
        "Parameters": {"Bucket": "amzn-s3-demo-bucket", "Key": "ratings.csv"}
    }}));
    // An S3 inventory manifest.
    accepted(json!({"ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "MANIFEST"},
        "Parameters": {"Bucket": "amzn-s3-demo-destination-bucket",
                        "Key": "destination-prefix/amzn-s3-demo-bucket/config-id/YYYY-MM-DDTHH-MMZ/manifest.json"}
    }}));
}

#[test]
fn batchers_writers_and_the_map_runs_settings_are_accepted() {
    accepted(json!({
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
        "ItemBatcher": {"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 262144, "BatchInput": {"factCheck": "Yes", "from.$": "$.from"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                          "Parameters": {"Bucket": "amzn-s3-demo-destination-bucket", "Prefix": "csvProcessJobs"}},
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value"},
        "MaxConcurrency": 1000,
        "ToleratedFailurePercentage": 5,
        "ToleratedFailureCountPath": "$.tolerated",
        "Label": "ratings-run"
    }));
    accepted(json!({"ItemBatcher": {"MaxItemsPerBatchPath": "$.batchSize", "MaxInputBytesPerBatchPath": "$.bytes"}}));
    accepted(json!({"ResultWriter": {"WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"}}}));
    let jsonata = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Map",
        "States": {"Map": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": "{% $states.input.max %}"},
                "Arguments": {"Bucket": "{% $states.input.bucket %}", "Key": "data.csv"}
            },
            "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.size %}", "BatchInput": {"at": "{% $states.context.State.EnteredTime %}"}},
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Arguments": {"Bucket": "out", "Prefix": "{% $states.input.prefix %}"},
                "WriterConfig": {"OutputType": "JSON", "Transformation": "COMPACT"}
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
            },
            "End": true
        }}
    });
    if let Err(e) = Definition::from_value(&jsonata) {
        panic!("rejected the JSONata form: {e}");
    }
}

#[test]
fn what_aws_rejects_is_rejected_where_it_is() {
    let reader =
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}});
    rejected_at(reader, "INLINE", "/States/Map/ItemReader");
    rejected_at(json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}), "INLINE", "/States/Map/ItemBatcher");
    rejected_at(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "XML"}, "Parameters": {"Bucket": "b", "Key": "k"}}}),
        "DISTRIBUTED",
        "/States/Map/ItemReader/ReaderConfig/InputType",
    );
    rejected_at(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}, "Parameters": {"Bucket": "b", "Key": "k"}}}),
        "DISTRIBUTED",
        "/States/Map/ItemReader/ReaderConfig/CSVHeaders",
    );
    rejected_at(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}}),
        "DISTRIBUTED",
        "/States/Map/ItemReader/Resource",
    );
    rejected_at(
        json!({"ItemBatcher": {"MaxItemsPerBatch": 0}}),
        "DISTRIBUTED",
        "/States/Map/ItemBatcher/MaxItemsPerBatch",
    );
    rejected_at(
        json!({"ResultWriter": {"WriterConfig": {"Transformation": "SQUASH"}}}),
        "DISTRIBUTED",
        "/States/Map/ResultWriter/WriterConfig/Transformation",
    );
}

/// Start a definition; the commands and history of the start.
fn start(def: &Definition, input: Value, random: &mut SplitMix64) -> (Execution, Vec<HistoryEvent>, Vec<Command>) {
    let info = ExecutionInfo::local("machine", "exec-1", T0);
    let mut env = Env { now: T0, random, missing_activities: &[] };
    let (exec, out) = interpreter::start(def, info, input, &mut env);
    (exec, out.events, out.commands)
}

fn step(def: &Definition, exec: &mut Execution, event: Event, random: &mut SplitMix64) -> Vec<HistoryEvent> {
    let mut env = Env { now: T0 + 5, random, missing_activities: &[] };
    interpreter::step(def, exec, event, &mut env).events
}

fn types(events: &[HistoryEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

fn csv_reading_map(batcher: Value) -> Definition {
    let mut fields = json!({
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItemsPath": "$.max"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "rows.csv"}
        },
        "ItemSelector": {"row.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"}
    });
    if !batcher.is_null() {
        fields["ItemBatcher"] = batcher;
    }
    Definition::from_value(&map_with(fields, "DISTRIBUTED")).expect("the definition is valid")
}

#[test]
fn the_read_is_a_hidden_task_whose_items_run_batched_and_selected() {
    let def = csv_reading_map(json!({"MaxItemsPerBatch": 2, "BatchInput": {"from.$": "$.bucket"}}));
    let mut random = SplitMix64(7);
    let (mut exec, history, commands) = start(&def, json!({"bucket": "data", "max": "3"}), &mut random);
    assert_eq!(types(&history), ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted"]);
    let [Command::InvokeTask(read)] = commands.as_slice() else { panic!("one read: {commands:?}") };
    assert_eq!(read.resource, ITEM_READER_RESOURCE);
    assert_eq!(
        read.input,
        json!({
            "Resource": "arn:aws:states:::s3:getObject",
            "Arguments": {"Bucket": "data", "Key": "rows.csv"},
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 3}
        })
    );
    // The read's start shows nothing; its items run.
    assert!(step(&def, &mut exec, Event::TaskStarted { task: read.task, worker_name: None }, &mut random).is_empty());
    let items = json!([{"a": "1"}, {"a": "2"}, {"a": "3"}]);
    let events = step(&def, &mut exec, Event::TaskSucceeded { task: read.task, output: items }, &mut random);
    assert_eq!(types(&events), ["MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]);
    let Status::Succeeded { output } = &exec.status else { panic!("{:?}", exec.status) };
    assert_eq!(
        output,
        &json!([
            {"BatchInput": {"from": "data"}, "Items": [{"row": {"a": "1"}, "index": 0}, {"row": {"a": "2"}, "index": 1}]},
            {"BatchInput": {"from": "data"}, "Items": [{"row": {"a": "3"}, "index": 2}]}
        ])
    );
}

#[test]
fn a_failed_read_fails_the_map_run_with_item_reader_failed() {
    let def = csv_reading_map(Value::Null);
    let mut random = SplitMix64(7);
    let (mut exec, _, commands) = start(&def, json!({"bucket": "data", "max": 0}), &mut random);
    let [Command::InvokeTask(read)] = commands.as_slice() else { panic!("one read: {commands:?}") };
    let failed = Event::TaskFailed {
        task: read.task,
        error: Some("States.ItemReaderFailed".into()),
        cause: Some("S3 NoSuchKey for s3://data/rows.csv: The specified key does not exist.".into()),
    };
    let events = step(&def, &mut exec, failed, &mut random);
    assert_eq!(types(&events), ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]);
    let Status::Failed { error, .. } = &exec.status else { panic!("{:?}", exec.status) };
    assert_eq!(error.as_deref(), Some("States.ItemReaderFailed"));
}

/// Start a definition whose distributed Maps' children the shell runs as executions.
fn start_handing_over(def: &Definition, input: Value, random: &mut SplitMix64) -> (Execution, Vec<Command>) {
    let mut info = ExecutionInfo::local("machine", "exec-1", T0);
    info.child_executions = true;
    let mut env = Env { now: T0, random, missing_activities: &[] };
    let (exec, out) = interpreter::start(def, info, input, &mut env);
    (exec, out.commands)
}

#[test]
fn a_map_run_handed_to_the_shell_gives_each_child_its_input_and_takes_back_the_result() {
    let def = csv_reading_map(json!({"MaxItemsPerBatch": 2, "BatchInput": {"from.$": "$.bucket"}}));
    let mut random = SplitMix64(7);
    let (mut exec, commands) = start_handing_over(&def, json!({"bucket": "data", "max": "3"}), &mut random);
    let [Command::InvokeTask(run)] = commands.as_slice() else { panic!("one map run: {commands:?}") };
    assert_eq!(run.resource, MAP_RUN_RESOURCE);
    let spec: MapRunSpec = serde_json::from_value(run.input.clone()).expect("the request is a MapRunSpec");
    let ItemSource::Reader(reader) = &spec.source else { panic!("items from the reader: {:?}", spec.source) };
    assert_eq!(reader["ReaderConfig"]["MaxItems"], json!(3));
    assert_eq!(spec.batching.as_ref().and_then(|b| b.batch_input.clone()), Some(json!({"from": "data"})));
    assert!(!spec.express && spec.batched);
    let child = Definition::parse(&spec.definition).expect("the child machine is a definition");
    assert_eq!(child.graph(0).states.len(), 1);

    // The driver's pure parts: each item through ItemSelector at its index, then batched.
    let mut inputs = ChildInputs::new(&def, &spec);
    let mut batcher = Batcher::new(spec.batching.clone().expect("an ItemBatcher"));
    let mut batches = Vec::new();
    for (i, item) in [json!({"a": "1"}), json!({"a": "2"}), json!({"a": "3"})].into_iter().enumerate() {
        let input = inputs.input(item, i, T0, &mut random).expect("ItemSelector evaluates");
        batches.extend(batcher.push(input).expect("the item fits"));
    }
    batches.extend(batcher.finish());
    assert_eq!(
        batches,
        [
            json!({"BatchInput": {"from": "data"}, "Items": [{"row": {"a": "1"}, "index": 0}, {"row": {"a": "2"}, "index": 1}]}),
            json!({"BatchInput": {"from": "data"}, "Items": [{"row": {"a": "3"}, "index": 2}]}),
        ]
    );

    let outcome = MapRunOutcome {
        end: MapRunEnd::Output(json!(["one", "two"])),
        executions: [0, 0, 2, 0],
        items: [0, 0, 3, 0],
        results_written: false,
    };
    let output = serde_json::to_value(&outcome).expect("an outcome serializes");
    let events = step(&def, &mut exec, Event::TaskSucceeded { task: run.task, output }, &mut random);
    assert_eq!(types(&events), ["MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]);
    let Status::Succeeded { output } = &exec.status else { panic!("{:?}", exec.status) };
    assert_eq!(output, &json!(["one", "two"]));
    let [map_run] = exec.map_runs().try_into().expect("one map run");
    assert_eq!((map_run.counts.total, map_run.counts.succeeded), (3, 3));
    assert_eq!(map_run.execution_counts.map(|c| c.total), Some(2));
}

#[test]
fn a_failed_map_run_handed_to_the_shell_fails_the_map_with_its_evaluation_event() {
    let def = csv_reading_map(Value::Null);
    let mut random = SplitMix64(7);
    let (mut exec, commands) = start_handing_over(&def, json!({"bucket": "data", "max": 0}), &mut random);
    let [Command::InvokeTask(run)] = commands.as_slice() else { panic!("one map run: {commands:?}") };
    let failure = MapRunFailure {
        error: Some("States.QueryEvaluationError".into()),
        cause: Some("An error occurred".into()),
        evaluation: Some("ItemSelector".into()),
    };
    let outcome =
        MapRunOutcome { end: MapRunEnd::Failed(failure), executions: [0; 4], items: [0; 4], results_written: false };
    let output = serde_json::to_value(&outcome).expect("an outcome serializes");
    let events = step(&def, &mut exec, Event::TaskSucceeded { task: run.task, output }, &mut random);
    assert_eq!(types(&events), ["EvaluationFailed", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]);
    let Status::Failed { error, .. } = &exec.status else { panic!("{:?}", exec.status) };
    assert_eq!(error.as_deref(), Some("States.QueryEvaluationError"));
}

#[test]
fn a_redrive_takes_the_failed_map_run_up_again_with_its_arn_and_a_redrive_marker() {
    let def = csv_reading_map(Value::Null);
    let mut random = SplitMix64(7);
    let (mut exec, commands) = start_handing_over(&def, json!({"bucket": "data", "max": 0}), &mut random);
    let [Command::InvokeTask(run)] = commands.as_slice() else { panic!("one map run: {commands:?}") };
    let first: MapRunSpec = serde_json::from_value(run.input.clone()).expect("the request is a MapRunSpec");
    assert_eq!(first.redrive, None);
    let failure = MapRunFailure { error: Some("Boom".into()), cause: None, evaluation: None };
    let outcome = MapRunOutcome {
        end: MapRunEnd::Failed(failure),
        executions: [0, 0, 1, 1],
        items: [0, 0, 1, 1],
        results_written: false,
    };
    let output = serde_json::to_value(&outcome).expect("an outcome serializes");
    step(&def, &mut exec, Event::TaskSucceeded { task: run.task, output }, &mut random);
    assert!(matches!(exec.status, Status::Failed { .. }), "{:?}", exec.status);

    let mut env = Env { now: T0 + 100, random: &mut random, missing_activities: &[] };
    let out = interpreter::redrive(&def, &mut exec, &mut env).expect("the execution is redrivable");
    assert_eq!(types(&out.events), ["ExecutionRedriven", "MapStateEntered", "MapStateStarted", "MapRunRedriven"]);
    let details = out.events[3].to_aws_json(true);
    assert_eq!(details["mapRunRedrivenEventDetails"], json!({"mapRunArn": first.run_arn, "redriveCount": 1}));
    let [Command::InvokeTask(again)] = out.commands.as_slice() else { panic!("one map run: {:?}", out.commands) };
    let spec: MapRunSpec = serde_json::from_value(again.input.clone()).expect("the request is a MapRunSpec");
    assert_eq!(spec.run_arn, first.run_arn);
    assert_eq!(spec.redrive, Some(MapRunRedrive { count: 1, date: T0 + 100 }));
    let [map_run] = exec.map_runs().try_into().expect("still one map run");
    assert_eq!((map_run.status.as_str(), map_run.redrive_count, map_run.redrive_date), ("RUNNING", 1, Some(T0 + 100)));
}

#[test]
fn tolerance_is_decided_by_count_at_once_and_by_percentage_once_the_total_is_known() {
    assert_eq!(exceeds_tolerance(None, None, 1, None), Some(true));
    assert_eq!(exceeds_tolerance(Some(1), None, 1, None), Some(false));
    assert_eq!(exceeds_tolerance(Some(1), None, 2, Some(10)), Some(true));
    assert_eq!(exceeds_tolerance(None, Some(20.0), 2, None), None);
    assert_eq!(exceeds_tolerance(None, Some(20.0), 2, Some(10)), Some(false));
    assert_eq!(exceeds_tolerance(None, Some(20.0), 3, Some(10)), Some(true));
}
