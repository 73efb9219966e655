//! The interpreter seen from outside: a definition and input in, scripted events, and the
//! commands and history that come out. No engine and no clock: time is whatever the test
//! says, so retries, timeouts and heartbeats are checked to the millisecond.

use asl::context::ExecutionInfo;
use asl::eval::SplitMix64;
use asl::history::HistoryEvent;
use asl::interpreter::{self, Command, Env, Event, Execution, Status, StepOutput, TaskRequest};
use asl::Definition;
use serde_json::{json, Value};

const T0: i64 = 1_700_000_000_000;

/// One execution driven by hand.
struct Driver {
    def: Definition,
    exec: Execution,
    history: Vec<HistoryEvent>,
    commands: Vec<Command>,
    random: SplitMix64,
}

impl Driver {
    fn start(definition: Value, input: Value) -> Self {
        let def = Definition::from_value(&definition).expect("test definitions are valid");
        let mut random = SplitMix64(7);
        let info = ExecutionInfo::local("machine", "exec-1", T0);
        let (exec, out) = {
            let mut env = Env { now: T0, random: &mut random, missing_activities: &[] };
            interpreter::start(&def, info, input, &mut env)
        };
        let mut d = Driver { def, exec, history: Vec::new(), commands: Vec::new(), random };
        d.absorb(out);
        d
    }

    fn absorb(&mut self, out: StepOutput) {
        self.history.extend(out.events);
        self.commands = out.commands;
    }

    fn send(&mut self, at: i64, event: Event) {
        let out = {
            let mut env = Env { now: at, random: &mut self.random, missing_activities: &[] };
            interpreter::step(&self.def, &mut self.exec, event, &mut env)
        };
        self.absorb(out);
    }

    fn types(&self) -> Vec<&'static str> {
        self.history.iter().map(|e| e.event_type.as_str()).collect()
    }

    fn tasks(&self) -> Vec<TaskRequest> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::InvokeTask(t) => Some((**t).clone()),
                _ => None,
            })
            .collect()
    }

    fn timers(&self) -> Vec<(u64, i64)> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::StartTimer { timer, fire_at } => Some((*timer, *fire_at)),
                _ => None,
            })
            .collect()
    }

    fn output(&self) -> Value {
        match &self.exec.status {
            Status::Succeeded { output } => output.clone(),
            other => panic!("expected success, got {other:?}"),
        }
    }

    fn failure(&self) -> (Option<String>, Option<String>) {
        match &self.exec.status {
            Status::Failed { error, cause } => (error.clone(), cause.clone()),
            other => panic!("expected failure, got {other:?}"),
        }
    }
}

/// A one-Task machine; a `Caught` state is there when the task has a catcher to reach it.
fn task_machine(task: Value) -> Value {
    let mut states = json!({ "T": task });
    if states["T"].get("Catch").is_some() {
        states["Caught"] = json!({"Type": "Pass", "End": true});
    }
    json!({"StartAt": "T", "States": states})
}

#[test]
fn task_result_goes_through_selector_and_result_path() {
    let mut d = Driver::start(
        task_machine(json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload.$": "$.order"},
            "ResultSelector": {"total.$": "$.Payload.total"},
            "ResultPath": "$.priced",
            "End": true
        })),
        json!({"order": {"id": 1}}),
    );
    let tasks = d.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].input, json!({"FunctionName": "f", "Payload": {"id": 1}}));
    assert_eq!(tasks[0].token, None);
    let task = tasks[0].task;
    d.send(T0 + 5, Event::TaskStarted { task, worker_name: None });
    d.send(T0 + 10, Event::TaskSucceeded { task, output: json!({"Payload": {"total": 42}, "StatusCode": 200}) });
    assert_eq!(d.output(), json!({"order": {"id": 1}, "priced": {"total": 42}}));
    assert_eq!(
        d.types(),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    // previousEventId: 0 for the start and the first state, then a chain.
    let prev: Vec<u64> = d.history.iter().map(|e| e.previous_event_id).collect();
    assert_eq!(prev, [0, 0, 2, 3, 4, 5, 6]);
    let scheduled = d.history[2].to_aws_json(true);
    assert_eq!(scheduled["taskScheduledEventDetails"]["resourceType"], "lambda");
    assert_eq!(scheduled["taskScheduledEventDetails"]["resource"], "invoke");
    assert_eq!(scheduled["taskScheduledEventDetails"]["parameters"], r#"{"FunctionName":"f","Payload":{"id":1}}"#);
}

#[test]
fn retry_backs_off_exponentially_up_to_max_delay_then_catches() {
    let mut d = Driver::start(
        task_machine(json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 3, "MaxDelaySeconds": 10}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}],
            "End": true
        })),
        json!({}),
    );
    let mut now = T0;
    let mut delays = Vec::new();
    for _ in 0..3 {
        let task = d.tasks()[0].task;
        d.send(now, Event::TaskFailed { task, error: Some("Boom".into()), cause: Some("bad".into()) });
        let (timer, at) = d.timers()[0];
        delays.push(at - now);
        now = at;
        d.send(now, Event::TimerFired { timer });
    }
    assert_eq!(delays, [2_000, 6_000, 10_000], "2s, 2*3s, then 18s capped at 10s");
    let task = d.tasks()[0].task;
    d.send(now, Event::TaskFailed { task, error: Some("Boom".into()), cause: Some("bad".into()) });
    assert_eq!(d.output(), json!({"err": {"Error": "Boom", "Cause": "bad"}}));
    let scheduled = d.types().iter().filter(|t| **t == "TaskScheduled").count();
    assert_eq!(scheduled, 4, "the first attempt and three retries");
    assert_eq!(d.types().iter().filter(|t| **t == "TaskStateEntered").count(), 1, "retries do not re-enter");
}

#[test]
fn retry_count_is_visible_in_the_context_object() {
    let mut d = Driver::start(
        task_machine(json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"attempt.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "End": true
        })),
        json!({}),
    );
    let mut seen = Vec::new();
    for i in 0..3 {
        let t = d.tasks()[0].clone();
        seen.push(t.input["attempt"].clone());
        if i < 2 {
            d.send(T0, Event::TaskFailed { task: t.task, error: Some("X".into()), cause: None });
            let (timer, at) = d.timers()[0];
            d.send(at, Event::TimerFired { timer });
        }
    }
    assert_eq!(seen, [json!(0), json!(1), json!(2)]);
}

#[test]
fn task_timeout_fires_states_timeout_and_cancels_the_task() {
    let mut d = Driver::start(
        task_machine(json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 5,
            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}],
            "End": true
        })),
        json!({}),
    );
    let task = d.tasks()[0].clone();
    let token = task.token.clone().expect("a callback task gets a token");
    assert!(token.len() >= 22, "at least 128 bits of token");
    assert_eq!(task.input["MessageBody"]["token"], json!(token));
    let (timer, at) = d.timers()[0];
    assert_eq!(at, T0 + 5_000);
    d.send(at, Event::TimerFired { timer });
    assert!(d.commands.contains(&Command::CancelTask { task: task.task }));
    assert_eq!(d.output(), json!({"Error": "States.Timeout", "Cause": ""}), "AWS's empty cause for a timeout");
    assert!(d.types().contains(&"TaskTimedOut"));
    // The answer that comes too late changes nothing.
    let before = d.history.len();
    d.send(at + 1, Event::TaskSucceeded { task: task.task, output: json!(1) });
    assert_eq!(d.history.len(), before);
}

#[test]
fn heartbeats_keep_a_task_alive_and_missing_one_fails_it() {
    let mut d = Driver::start(
        task_machine(json!({
            "Type": "Task",
            "Resource": "arn:aws:states:us-east-1:123456789012:activity:review",
            "TimeoutSeconds": 100,
            "HeartbeatSeconds": 10,
            "End": true
        })),
        json!({"doc": 1}),
    );
    let task = d.tasks()[0].task;
    assert_eq!(d.types(), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled"]);
    d.send(T0 + 1_000, Event::TaskStarted { task, worker_name: Some("alice".into()) });
    d.send(T0 + 8_000, Event::TaskHeartbeat { task });
    let (hb_timer, at) = d.timers()[0];
    assert_eq!(at, T0 + 18_000, "the heartbeat clock restarts at the heartbeat");
    d.send(at, Event::TimerFired { timer: hb_timer });
    // Recorded as States.Timeout, as AWS records a missed heartbeat.
    assert_eq!(d.failure().0.as_deref(), Some("States.Timeout"));
    assert_eq!(
        d.types(),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivityTimedOut",
            "ExecutionFailed"
        ]
    );
    assert_eq!(d.history[3].to_aws_json(true)["activityStartedEventDetails"]["workerName"], "alice");
}

#[test]
fn stop_aborts_and_cancels_everything_waiting() {
    let mut d = Driver::start(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}
        ]}}}),
        json!({}),
    );
    let task = d.tasks()[0].task;
    assert_eq!(d.timers().len(), 1);
    d.send(T0 + 1, Event::Stop { error: Some("Halt".into()), cause: None });
    assert!(matches!(d.exec.status, Status::Aborted { .. }));
    assert!(d.commands.contains(&Command::CancelTask { task }));
    assert!(d.commands.iter().any(|c| matches!(c, Command::CancelTimer { .. })));
    assert_eq!(d.types().last(), Some(&"ExecutionAborted"));
    assert_eq!(d.history.last().map(|e| e.previous_event_id), Some(0));
}

#[test]
fn a_failing_branch_aborts_its_sibling() {
    let mut d = Driver::start(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}
        ]}}}),
        json!({}),
    );
    let tasks = d.tasks();
    assert_eq!(tasks.len(), 2, "both branches start");
    d.send(T0, Event::TaskFailed { task: tasks[0].task, error: Some("E".into()), cause: Some("c".into()) });
    assert!(d.commands.contains(&Command::CancelTask { task: tasks[1].task }));
    assert_eq!(d.failure(), (Some("E".into()), Some("c".into())));
    // The failed Task and its sibling both end aborted (as AWS records it), then the Parallel.
    let types = d.types();
    let failed = types.iter().position(|t| *t == "TaskFailed").expect("the task failed");
    assert_eq!(types[failed + 1], "TaskStateAborted");
    assert_eq!(types.iter().filter(|t| **t == "TaskStateAborted").count(), 2);
    assert_eq!(types[types.len() - 2..], ["ParallelStateFailed", "ExecutionFailed"]);
    // Outside a Parallel a failed Task fails the execution with no abort event.
    let lambda = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
    let mut top = Driver::start(task_machine(lambda), json!({}));
    let task = top.tasks()[0].task;
    top.send(T0, Event::TaskFailed { task, error: Some("E".into()), cause: None });
    assert!(!top.types().contains(&"TaskStateAborted"));
}

#[test]
fn map_respects_max_concurrency() {
    let mut d = Driver::start(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": true,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}}}}),
        json!([10, 20, 30, 40, 50]),
    );
    let mut running = d.tasks();
    assert_eq!(running.len(), 2);
    let mut done = 0;
    while !running.is_empty() {
        let t = running.remove(0);
        let doubled = t.input.as_i64().expect("items are numbers") * 2;
        d.send(T0, Event::TaskSucceeded { task: t.task, output: json!(doubled) });
        done += 1;
        running.extend(d.tasks());
        assert!(running.len() <= 2, "never more than two iterations at once");
    }
    assert_eq!(done, 5);
    assert_eq!(d.output(), json!([20, 40, 60, 80, 100]));
}

#[test]
fn runtime_errors_are_not_caught_by_states_all() {
    let d = Driver::start(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Map", "ItemsPath": "$.missing", "End": true,
                  "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]},
            "C": {"Type": "Pass", "End": true}}}),
        json!({}),
    );
    let (error, cause) = d.failure();
    assert_eq!(error.as_deref(), Some("States.Runtime"));
    let cause = cause.expect("runtime errors have a cause");
    assert!(
        cause.starts_with("An error occurred while executing the state 'T' (entered at the event id #2)."),
        "{cause}"
    );
}

#[test]
fn results_over_256_kib_fail_with_data_limit_exceeded() {
    let big = "x".repeat(300 * 1024);
    let d = Driver::start(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": big, "End": true}}}),
        json!({}),
    );
    assert_eq!(d.failure().0.as_deref(), Some("States.DataLimitExceeded"));
}

#[test]
fn a_task_result_over_the_limit_is_caught_by_states_all_but_a_state_s_own_output_is_not() {
    let catch_all = |state: Value| {
        json!({"StartAt": "T", "States": {
            "T": state,
            "Caught": {"Type": "Pass", "End": true}
        }})
    };
    let mut d = Driver::start(
        catch_all(json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                         "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true})),
        json!({}),
    );
    let task = d.tasks()[0].task;
    d.send(T0 + 1, Event::TaskSucceeded { task, output: json!("x".repeat(300 * 1024)) });
    assert_eq!(d.output()["Error"], json!("States.DataLimitExceeded"), "as AWS records it");
    let d = Driver::start(
        catch_all(json!({"Type": "Parallel", "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Pass",
                         "Result": "x".repeat(300 * 1024), "End": true}}}],
                         "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true})),
        json!({}),
    );
    assert_eq!(d.failure().0.as_deref(), Some("States.DataLimitExceeded"), "a state's own output stays terminal");
}

#[test]
fn an_output_path_through_a_missing_key_fails_with_jayway_s_wording() {
    let d = Driver::start(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"a": 1},
               "OutputPath": "$.no.such.result.path", "End": true}}}),
        json!({}),
    );
    let (error, cause) = d.failure();
    assert_eq!(error.as_deref(), Some("States.Runtime"));
    assert!(
        cause
            .as_deref()
            .unwrap_or_default()
            .ends_with("Invalid path '$.no.such.result.path' : Missing property in path $['no']"),
        "{cause:?}"
    );
}

#[test]
fn execution_timeout_times_the_execution_out() {
    let mut d = Driver::start(
        json!({"TimeoutSeconds": 30, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
        json!({}),
    );
    let timers = d.timers();
    let (timeout_timer, at) = *timers.iter().find(|(_, at)| *at == T0 + 30_000).expect("execution timeout armed");
    d.send(at, Event::TimerFired { timer: timeout_timer });
    assert!(matches!(&d.exec.status, Status::TimedOut { error: Some(e), .. } if e == "States.Timeout"));
    assert_eq!(d.types().last(), Some(&"ExecutionTimedOut"));
}

#[test]
fn the_same_inputs_give_the_same_history() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"id.$": "States.UUID()", "n.$": "States.MathRandom(1, 1000)"}, "End": true}}});
    let a = Driver::start(def.clone(), json!({}));
    let b = Driver::start(def, json!({}));
    assert_eq!(a.history, b.history);
    assert_eq!(a.output(), b.output());
}

#[test]
fn wait_uses_the_time_it_is_given() {
    let mut d = Driver::start(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "P"}, "P": {"Type": "Pass", "End": true}}}),
        json!({"delay": 86_400}),
    );
    let (timer, at) = d.timers()[0];
    assert_eq!(at, T0 + 86_400_000, "a day later");
    d.send(at, Event::TimerFired { timer });
    assert_eq!(d.output(), json!({"delay": 86_400}));
    assert_eq!(d.history.last().map(|e| e.timestamp), Some(T0 + 86_400_000));
}

// ----- JSONata and variables ------------------------------------------------------------------

fn exited_variables(d: &Driver, state: &str) -> Option<Value> {
    d.history.iter().find_map(|e| {
        let v = e.to_aws_json(true);
        let details = v.get("stateExitedEventDetails")?;
        (details["name"] == state).then(|| details.get("assignedVariables").cloned()).flatten()
    })
}

#[test]
fn jsonata_task_reads_states_result_and_assigns_from_entry_values() {
    let mut d = Driver::start(
        json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"n": "{% $states.input.n + $x %}"},
                  "Assign": {"x": "{% $y %}", "y": "{% $x %}", "got": "{% $states.result.v %}"},
                  "Output": {"sum": "{% $states.result.v + $x %}"},
                  "End": true}}}),
        json!({"n": 10}),
    );
    let task = d.tasks().pop().expect("the task is invoked");
    assert_eq!(task.input, json!({"n": 11}));
    d.send(T0, Event::TaskSucceeded { task: task.task, output: json!({"v": 5}) });
    // Output sees the values at entry (x = 1), not what Assign sets.
    assert_eq!(d.output(), json!({"sum": 6}));
    // Assign swaps: every value is computed from the entry values.
    assert_eq!(exited_variables(&d, "T"), Some(json!({"x": "2", "y": "1", "got": "5"})));
}

#[test]
fn map_iterations_read_outer_variables_but_cannot_assign_them() {
    let def = |inner: Value| {
        json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"base": 100}, "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "I", "States": {"I": inner}}, "End": true}}})
    };
    let d = Driver::start(
        def(
            json!({"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"own": "{% $states.input %}"}, "Output": "{% $states.input + $base %}", "End": true}),
        ),
        json!({"items": [1, 2]}),
    );
    assert_eq!(d.output(), json!([101, 102]));
    let d = Driver::start(def(json!({"Type": "Pass", "Assign": {"base": 1}, "End": true})), json!({"items": [1]}));
    match &d.exec.status {
        Status::Failed { error, cause } => {
            assert_eq!(error.as_deref(), Some("States.Runtime"));
            assert!(cause.as_deref().unwrap_or_default().contains("outer scope"), "{cause:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn jsonata_failures_write_evaluation_failed_and_can_be_caught() {
    let d = Driver::start(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": {"a": "{% $nope %}"}, "End": true}}}),
        json!({}),
    );
    assert_eq!(d.types(), ["ExecutionStarted", "PassStateEntered", "EvaluationFailed", "ExecutionFailed"]);
    let failed = d.history[2].to_aws_json(true);
    assert_eq!(failed["evaluationFailedEventDetails"]["location"], "Output/a");
    assert_eq!(failed["evaluationFailedEventDetails"]["state"], "P");

    let mut d = Driver::start(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err": "{% $states.errorOutput.Error %}"},
                             "Output": "{% $states.errorOutput %}", "Next": "After"}],
                  "End": true},
            "After": {"Type": "Pass", "Output": "{% $err %}", "End": true}}}),
        json!({}),
    );
    let task = d.tasks().pop().expect("the task is invoked");
    d.send(T0, Event::TaskFailed { task: task.task, error: Some("Boom".into()), cause: None });
    assert_eq!(d.output(), json!("Boom"));
}

#[test]
fn jsonata_randomness_and_time_replay_identically() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"u": "{% $uuid() %}", "r": "{% $random() %}", "t": "{% $now() %}", "m": "{% $millis() %}"}, "End": true}}});
    let a = Driver::start(def.clone(), json!({}));
    let b = Driver::start(def, json!({}));
    assert_eq!(a.output(), b.output());
    assert_eq!(a.output()["m"], json!(T0));
}

#[test]
fn definitions_reject_fields_of_the_other_query_language() {
    let err = Definition::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"a": 1}, "Next": "Q"},
        "Q": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": "{% $states.result %}", "End": true}}}))
    .expect_err("the definition mixes the languages");
    let locations: Vec<&str> = err.problems.iter().map(|p| p.location.as_str()).collect();
    assert!(locations.contains(&"/States/P/Parameters"), "{err}");
    assert!(locations.contains(&"/States/Q/Arguments"), "{err}");
    let err = Definition::from_value(&json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% 1 %}", "Assign": {"a.b": 1}, "End": true}}}))
    .expect_err("Output is JSONata's");
    assert_eq!(err.problems.len(), 2, "{err}");
    let err = Definition::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $states.input.( %}", "End": true}}}))
    .expect_err("the expression does not parse");
    assert_eq!(err.problems[0].location, "/States/P/Output");
    let err = Definition::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}))
    .expect_err("JSONPath state in a JSONata machine");
    assert!(err.to_string().contains("can not be 'JSONPath'"), "{err}");
}

#[test]
fn variable_references_list_what_each_state_reads() {
    let def = Definition::from_value(&json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"v.$": "States.Format('{}', $y)", "w.$": "$x.field"}, "Next": "C"},
        "C": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% ($z := 1; $x + $z) %}", "End": true}}}))
    .expect("valid");
    let refs = asl::definition::variable_references(&def);
    assert_eq!(refs.get("B"), Some(&vec!["x".to_owned(), "y".to_owned()]));
    assert_eq!(refs.get("C"), Some(&vec!["x".to_owned()]));
    assert!(!refs.contains_key("A"));
}

#[test]
fn an_answer_that_overtakes_its_submission_waits_for_it_and_repeats_are_ignored() {
    let mut d = Driver::start(
        task_machine(json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}},
            "End": true
        })),
        json!({}),
    );
    let task = d.tasks()[0].task;
    d.send(T0, Event::TaskStarted { task, worker_name: None });
    // A re-dispatched invocation reports its start a second time.
    d.send(T0, Event::TaskStarted { task, worker_name: None });
    // The function answered the token before its own invocation returned.
    d.send(T0 + 1, Event::TaskSucceeded { task, output: json!({"approved": true}) });
    assert!(matches!(d.exec.status, Status::Running), "the answer waits for the submission");
    d.send(T0 + 2, Event::TaskSubmitted { task, output: json!({"StatusCode": 200}) });
    d.send(T0 + 3, Event::TaskSubmitted { task, output: json!({"StatusCode": 200}) });
    assert_eq!(d.output(), json!({"approved": true}));
    assert_eq!(
        d.types(),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn a_task_awaits_its_submission_only_when_its_result_comes_by_callback() {
    let task_of = |resource: &str| json!({"Type": "Task", "Resource": resource, "Parameters": {"FunctionName": "f"}, "End": true});
    let mut d = Driver::start(task_machine(task_of("arn:aws:states:::lambda:invoke.waitForTaskToken")), json!({}));
    let task = d.tasks()[0].task;
    assert!(d.exec.awaits_submission(task));
    d.send(T0, Event::TaskStarted { task, worker_name: None });
    assert!(d.exec.awaits_submission(task), "started is not submitted");
    assert!(!d.exec.awaits_submission(task + 1), "no such task");
    d.send(T0 + 1, Event::TaskSubmitted { task, output: json!({}) });
    assert!(!d.exec.awaits_submission(task));
    d.send(T0 + 2, Event::TaskFailed { task, error: Some("E".into()), cause: None });
    assert!(!d.exec.awaits_submission(task), "an ended task awaits nothing");

    let d = Driver::start(task_machine(task_of("arn:aws:states:::lambda:invoke")), json!({}));
    assert!(!d.exec.awaits_submission(d.tasks()[0].task), "a call's own result needs no submission");
}

#[test]
fn jsonata_evaluation_that_builds_too_much_fails_with_a_query_evaluation_error() {
    // Ten million sequences of ten million items: each within the sequence limit, together
    // far past any memory. Bounded, it fails as any JSONata error does, and can be caught.
    let d = Driver::start(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": {"n": "{% $count([1..10000000].[1..10000000]) %}"}, "End": true}}}),
        json!({}),
    );
    assert_eq!(d.types(), ["ExecutionStarted", "PassStateEntered", "EvaluationFailed", "ExecutionFailed"]);
    match &d.exec.status {
        Status::Failed { error, cause } => {
            assert_eq!(error.as_deref(), Some("States.QueryEvaluationError"));
            let cause = cause.as_deref().unwrap_or_default();
            assert!(cause.contains("'Output/n'") && cause.contains("memory limit of 1024 MiB"), "{cause}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Every stage value a run reports, in order.
#[derive(Default)]
struct Stages(Vec<(String, interpreter::Stage, Value)>);

impl interpreter::StageObserver for Stages {
    fn stage(&mut self, state: &str, stage: interpreter::Stage, value: &Value) {
        self.0.push((state.to_owned(), stage, value.clone()));
    }
}

#[test]
fn each_processing_stage_of_a_state_can_be_observed_without_changing_the_run() {
    use interpreter::Stage::*;
    let definition = json!({
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass", "InputPath": "$.order", "Parameters": {"id.$": "$.id"},
                "ResultPath": "$.shaped", "OutputPath": "$.shaped", "Assign": {"seen.$": "$.id"},
                "Next": "Call"
            },
            "Call": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "ResultSelector": {"total.$": "$.Payload.total"}, "ResultPath": "$.result", "End": true
            }
        }
    });
    let def = Definition::from_value(&definition).expect("valid");
    let input = json!({"order": {"id": 7}});
    let run = |observer: Option<&mut dyn interpreter::StageObserver>| {
        let mut random = SplitMix64(7);
        let info = ExecutionInfo::local("machine", "exec-1", T0);
        let mut env = Env { now: T0, random: &mut random, missing_activities: &[] };
        interpreter::start_observed(&def, info, input.clone(), &mut env, observer)
    };
    let mut stages = Stages::default();
    let (mut exec, started) = run(Some(&mut stages));
    assert_eq!(started, run(None).1, "observing changes nothing the run writes");
    let task = exec.open_tasks().next().expect("the task waits");
    let mut random = SplitMix64(7);
    let mut env = Env { now: T0, random: &mut random, missing_activities: &[] };
    let event = Event::TaskSucceeded { task, output: json!({"Payload": {"total": 3}}) };
    interpreter::step_observed(&def, &mut exec, event, &mut env, Some(&mut stages));
    assert!(matches!(exec.status, Status::Succeeded { .. }));
    let seen: Vec<(&str, interpreter::Stage, Value)> =
        stages.0.iter().map(|(s, st, v)| (s.as_str(), *st, v.clone())).collect();
    assert_eq!(
        seen,
        vec![
            ("Shape", Input, json!({"order": {"id": 7}})),
            ("Shape", AfterInputPath, json!({"id": 7})),
            ("Shape", AfterParameters, json!({"id": 7})),
            ("Shape", Result, json!({"id": 7})),
            ("Shape", AfterResultPath, json!({"order": {"id": 7}, "shaped": {"id": 7}})),
            ("Shape", Variables, json!({"seen": 7})),
            ("Shape", Output, json!({"id": 7})),
            ("Call", Input, json!({"id": 7})),
            ("Call", AfterInputPath, json!({"id": 7})),
            ("Call", AfterParameters, json!({"id": 7})),
            ("Call", Result, json!({"Payload": {"total": 3}})),
            ("Call", AfterResultSelector, json!({"total": 3})),
            ("Call", AfterResultPath, json!({"id": 7, "result": {"total": 3}})),
            ("Call", Output, json!({"id": 7, "result": {"total": 3}})),
        ]
    );
}
