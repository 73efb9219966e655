//! TestState's pure part: a state (or a state of a machine) and its input in, AWS's answer
//! out, with the interpreter driven by hand where the shell would call a task.

use asl::context::ExecutionInfo;
use asl::eval::Randomness;
use asl::interpreter::{self, Command, Env, Event, Execution, StepOutput};
use asl::test_state::{prepare, InspectionLevel, Inspector, Mock, Retrying, StateConfiguration, TestRun};
use serde_json::{json, Value};

struct Fixed;

impl Randomness for Fixed {
    fn next_u64(&mut self) -> u64 {
        4
    }
}

fn info() -> ExecutionInfo {
    let mut info = ExecutionInfo::local("machine", "run", 1_700_000_000_000);
    info.express = true;
    info
}

/// Start the run; the first task the state asks for, if any.
fn start(run: &TestRun, inspector: &mut Inspector, input: Value) -> (Execution, Option<u64>) {
    let mut random = Fixed;
    let mut env = Env { now: 1_700_000_000_000, random: &mut random, missing_activities: &[] };
    let (exec, out) = interpreter::start_seeded(&run.definition, info(), input, &mut env, Some(inspector), None);
    (exec, task_of(&out))
}

fn task_of(out: &StepOutput) -> Option<u64> {
    out.commands.iter().find_map(|c| match c {
        Command::InvokeTask(t) => Some(t.task),
        _ => None,
    })
}

fn step(run: &TestRun, exec: &mut Execution, inspector: &mut Inspector, event: Event) -> StepOutput {
    let mut random = Fixed;
    let mut env = Env { now: 1_700_000_000_000, random: &mut random, missing_activities: &[] };
    interpreter::step_observed(&run.definition, exec, event, &mut env, Some(inspector))
}

fn answer(run: &TestRun, inspector: &Inspector, exec: &Execution, retrying: Option<Retrying>) -> Value {
    let mut v = inspector.response(run, &exec.status, retrying, InspectionLevel::Debug, None);
    // inspectionData members are JSON text, as on the wire; parse them to compare.
    if let Some(Value::Object(data)) = v.get_mut("inspectionData") {
        for value in data.values_mut() {
            if let Some(parsed) = value.as_str().and_then(|s| serde_json::from_str(s).ok()) {
                *value = parsed;
            }
        }
    }
    if let Some(parsed) = v.get("output").and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()) {
        v["output"] = parsed;
    }
    v
}

#[test]
fn a_pass_state_shows_each_stage_and_stops_before_the_next_state() {
    let state = json!({"Type": "Pass", "InputPath": "$.a", "ResultPath": "$.b", "Next": "Later"});
    let run = prepare(&state.to_string(), None).unwrap();
    let mut inspector = Inspector::new(&run, None, &StateConfiguration::default());
    let (exec, task) = start(&run, &mut inspector, json!({"a": 1}));
    assert_eq!(task, None);
    assert_eq!(
        answer(&run, &inspector, &exec, None),
        json!({
            "status": "SUCCEEDED",
            "nextState": "Later",
            "output": {"a": 1, "b": 1},
            "inspectionData": {
                "input": {"a": 1},
                "afterInputPath": 1,
                "afterParameters": 1,
                "afterResultSelector": 1,
                "afterResultPath": {"a": 1, "b": 1},
            },
        })
    );
}

#[test]
fn a_state_of_a_whole_machine_runs_as_state_name() {
    let machine = json!({
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "Parameters": {"name.$": "$$.State.Name"}, "End": true},
        },
    });
    let run = prepare(&machine.to_string(), Some("Second")).unwrap();
    let mut inspector = Inspector::new(&run, None, &StateConfiguration::default());
    let (exec, _) = start(&run, &mut inspector, json!({}));
    let v = answer(&run, &inspector, &exec, None);
    assert_eq!(v["output"], json!({"name": "StateName"}));
    assert!(v.get("nextState").is_none());
    assert!(prepare(&machine.to_string(), Some("Third")).is_err());
}

#[test]
fn a_retrier_waiting_is_retriable_and_a_catcher_taking_the_error_is_caught() {
    let state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f"},
        "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Boom"], "IntervalSeconds": 3, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
        "End": true,
    });
    let run = prepare(&state.to_string(), None).unwrap();
    let mock = Mock::Error { error: Some("Boom".into()), cause: Some("why".into()) };
    let mut inspector = Inspector::new(&run, Some(&mock), &StateConfiguration::default());
    let (mut exec, task) = start(&run, &mut inspector, json!({}));
    let task = task.expect("the Task asks for its call");
    let failed = Event::TaskFailed { task, error: Some("Boom".into()), cause: Some("why".into()) };
    let out = step(&run, &mut exec, &mut inspector, failed);
    let backoff = out.commands.iter().find_map(|c| match c {
        Command::StartTimer { fire_at, .. } => Some((*fire_at - 1_700_000_000_000) as u64),
        _ => None,
    });
    assert_eq!(backoff, Some(3000));
    let v = answer(&run, &inspector, &exec, Some(Retrying { backoff_ms: 3000 }));
    assert_eq!((v["status"].clone(), v["error"].clone()), (json!("RETRIABLE"), json!("Boom")));
    assert_eq!(v["inspectionData"]["errorDetails"], json!({"retryIndex": 1, "retryBackoffIntervalSeconds": 3}));

    // The retry made, the second failure goes to the catcher.
    let Some(Command::StartTimer { timer, .. }) = out.commands.iter().find(|c| matches!(c, Command::StartTimer { .. }))
    else {
        panic!("a retry timer")
    };
    let out = step(&run, &mut exec, &mut inspector, Event::TimerFired { timer: *timer });
    let task = task_of(&out).expect("the retry calls again");
    let failed = Event::TaskFailed { task, error: Some("Boom".into()), cause: Some("why".into()) };
    step(&run, &mut exec, &mut inspector, failed);
    let v = answer(&run, &inspector, &exec, None);
    assert_eq!(v["status"], json!("CAUGHT_ERROR"));
    assert_eq!(v["nextState"], json!("Recover"));
    assert_eq!(v["output"], json!({"Error": "Boom", "Cause": "why"}));
    assert_eq!(v["inspectionData"]["errorDetails"], json!({"catchIndex": 0}));
}

#[test]
fn a_mocked_map_gives_its_result_without_running_iterations() {
    let state = json!({
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "MaxConcurrency": 2,
        "ToleratedFailureCount": 0,
        "Retry": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "MaxAttempts": 0}],
        "End": true,
    });
    let run = prepare(&state.to_string(), None).unwrap();
    let mock = Mock::Result(json!(["x", "y"]));
    let mut inspector = Inspector::new(&run, Some(&mock), &StateConfiguration::default());
    let (exec, _) = start(&run, &mut inspector, json!([1, 2]));
    let v = answer(&run, &inspector, &exec, None);
    assert_eq!(v["output"], json!(["x", "y"]));
    assert_eq!(v["inspectionData"]["maxConcurrency"], json!(2));

    let config = StateConfiguration { map_iteration_failure_count: Some(1), ..Default::default() };
    let mut inspector = Inspector::new(&run, Some(&mock), &config);
    let (exec, _) = start(&run, &mut inspector, json!([1, 2]));
    let v = answer(&run, &inspector, &exec, None);
    assert_eq!(v["status"], json!("FAILED"));
    assert_eq!(v["error"], json!("States.ExceedToleratedFailureThreshold"));
}

#[test]
fn checks_aws_makes_before_running() {
    let pass = prepare(&json!({"Type": "Pass", "End": true}).to_string(), None).unwrap();
    assert!(pass.check_mock(&Mock::Result(json!({})), &StateConfiguration::default()).is_err());
    let map = json!({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true});
    let map = prepare(&map.to_string(), None).unwrap();
    assert!(map.check_needs_mock().is_err());
    assert!(map.check_mock(&Mock::Result(json!({})), &StateConfiguration::default()).is_err());
    let elsewhere = StateConfiguration { error_caused_by_state: Some("Nope".into()), ..Default::default() };
    assert!(map.check_configuration(&elsewhere).is_err());
    assert_eq!(prepare("{", None).unwrap_err().code(), "InvalidDefinition");
    assert_eq!(prepare(&json!({"Type": "Pass"}).to_string(), None).unwrap_err().code(), "InvalidDefinition");
}

#[test]
fn failed_iterations_count_against_the_tolerated_percentage() {
    let state = json!({
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ToleratedFailurePercentage": 50,
        "End": true,
    });
    let run = prepare(&state.to_string(), None).unwrap();
    let mock = Mock::Result(json!([1, 2, 3, 4]));
    let status = |failures: u64| {
        let config = StateConfiguration { map_iteration_failure_count: Some(failures), ..Default::default() };
        let mut inspector = Inspector::new(&run, Some(&mock), &config);
        let (exec, _) = start(&run, &mut inspector, json!([1, 2, 3, 4]));
        answer(&run, &inspector, &exec, None)["status"].clone()
    };
    assert_eq!(status(2), json!("SUCCEEDED"));
    assert_eq!(status(3), json!("FAILED"));
}
