//! aws-sdk-rust (`aws-sdk-sfn`) against a running `baton serve`: every action Baton serves,
//! the callback pattern, activities with a polling worker, and the AWS errors the SDK maps
//! to typed variants. Each test starts its own server (see `common`).

mod common;

use std::time::Duration;

use aws_sdk_sfn::operation::create_state_machine::CreateStateMachineError;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_heartbeat::SendTaskHeartbeatError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::operation::start_sync_execution::StartSyncExecutionError;
use aws_sdk_sfn::types::{
    ExecutionStatus, HistoryEventType, RoutingConfigurationListItem, StateMachineType, SyncExecutionStatus, Tag,
};
use common::{
    callback_state, callback_token, client, create, definition, history, wait_done, wait_events, Server, ROLE_ARN,
};
use serde_json::{json, Value};

fn pass_machine() -> String {
    definition("P", json!({"P": {"Type": "Pass", "Result": {"ok": true}, "End": true}}))
}

#[tokio::test]
async fn state_machines_crud_validate_and_typed_errors() {
    let server = Server::start(2000);
    let sfn = client(&server);
    let arn = create(&sfn, "crud", &pass_machine()).await;
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:stateMachine:crud");

    let d = sfn.describe_state_machine().state_machine_arn(&arn).send().await.expect("DescribeStateMachine");
    assert_eq!((d.name.as_str(), &d.r#type), ("crud", &StateMachineType::Standard));
    assert_eq!(d.definition, pass_machine());

    let updated = definition("Q", json!({"Q": {"Type": "Pass", "End": true}}));
    let u = sfn.update_state_machine().state_machine_arn(&arn).definition(&updated).send().await.expect("Update");
    assert!(u.revision_id.is_some());
    let d = sfn.describe_state_machine().state_machine_arn(&arn).send().await.expect("DescribeStateMachine");
    assert_eq!(d.definition, updated);

    create(&sfn, "crud-2", &pass_machine()).await;
    let names: Vec<String> = sfn
        .list_state_machines()
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListStateMachines")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["crud", "crud-2"]);

    // Validate: a good definition, and a bad one with AWS's code and location.
    let ok = sfn.validate_state_machine_definition().definition(pass_machine()).send().await.expect("Validate");
    assert_eq!(ok.result.as_str(), "OK");
    let bad = definition("P", json!({"P": {"Type": "Pass", "Next": "Nowhere"}}));
    let v = sfn.validate_state_machine_definition().definition(&bad).send().await.expect("Validate");
    assert_eq!(v.result.as_str(), "FAIL");
    let diag = &v.diagnostics[0];
    assert_eq!(diag.code, "MISSING_TRANSITION_TARGET");
    assert_eq!(diag.location.as_deref(), Some("/States/P/Next"));

    // Errors arrive as the SDK's typed variants.
    let err = sfn.create_state_machine().name("bad").definition(&bad).role_arn(ROLE_ARN).send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(CreateStateMachineError::InvalidDefinition(_))), "{err:?}");
    let err = sfn.create_state_machine().name("a b").definition(pass_machine()).role_arn(ROLE_ARN).send().await;
    assert!(matches!(err.unwrap_err().as_service_error(), Some(CreateStateMachineError::InvalidName(_))));

    sfn.delete_state_machine().state_machine_arn(&arn).send().await.expect("DeleteStateMachine");
    let err = sfn.describe_state_machine().state_machine_arn(&arn).send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(DescribeStateMachineError::StateMachineDoesNotExist(_))), "{err:?}");
    let err = sfn.describe_state_machine().state_machine_arn("not-an-arn").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(DescribeStateMachineError::InvalidArn(_))), "{err:?}");
    let err = sfn.start_execution().state_machine_arn(&arn).send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(StartExecutionError::StateMachineDoesNotExist(_))), "{err:?}");
    server.assert_no_panic();
}

#[tokio::test]
async fn executions_start_describe_list_stop_and_history() {
    let server = Server::start(2000);
    let sfn = client(&server);
    let def = definition(
        "Double",
        json!({
            "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 100, "Next": "Done"}],
                      "Default": "Double"},
            "Done": {"Type": "Succeed"}
        }),
    );
    let sm = create(&sfn, "loop", &def).await;
    let started =
        sfn.start_execution().state_machine_arn(&sm).name("first").input(r#"{"n": 1}"#).send().await.expect("Start");
    assert_eq!(started.execution_arn, "arn:aws:states:us-east-1:123456789012:execution:loop:first");
    let d = wait_done(&sfn, &started.execution_arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(serde_json::from_str::<Value>(d.output.as_deref().unwrap_or("")).ok(), Some(json!({"n": 128})));

    // Same name, same input while running is idempotent; once ended the name is taken.
    let err = sfn.start_execution().state_machine_arn(&sm).name("first").input("{}").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(StartExecutionError::ExecutionAlreadyExists(_))), "{err:?}");
    let err = sfn.start_execution().state_machine_arn(&sm).input("{not json").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(StartExecutionError::InvalidExecutionInput(_))), "{err:?}");

    let for_exec = sfn
        .describe_state_machine_for_execution()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .expect("DescribeStateMachineForExecution");
    assert_eq!((for_exec.state_machine_arn.as_str(), for_exec.definition.as_str()), (sm.as_str(), def.as_str()));

    // History: 2 events per loop round (entered, exited) for 7 rounds of Double and Check,
    // plus start, Done and the end.
    let events = history(&sfn, &started.execution_arn).await;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=events.len() as i64).collect::<Vec<_>>());
    assert_eq!(events.first().map(|e| &e.r#type), Some(&HistoryEventType::ExecutionStarted));
    assert_eq!(events.last().map(|e| &e.r#type), Some(&HistoryEventType::ExecutionSucceeded));
    let entered = events.iter().filter(|e| e.r#type == HistoryEventType::PassStateEntered).count();
    assert_eq!(entered, 7);

    // Paging, in both orders, and without the data.
    let page = sfn
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .max_results(5)
        .send()
        .await
        .expect("GetExecutionHistory");
    assert_eq!(page.events.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    let next = sfn
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .max_results(5)
        .set_next_token(page.next_token)
        .send()
        .await
        .expect("GetExecutionHistory, second page");
    assert_eq!(next.events.iter().map(|e| e.id).collect::<Vec<_>>(), [6, 7, 8, 9, 10]);
    let reversed = sfn
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .reverse_order(true)
        .max_results(3)
        .send()
        .await
        .expect("GetExecutionHistory, reversed");
    let last = events.len() as i64;
    assert_eq!(reversed.events.iter().map(|e| e.id).collect::<Vec<_>>(), [last, last - 1, last - 2]);
    let with_data = history(&sfn, &started.execution_arn).await;
    assert!(with_data[0].execution_started_event_details.as_ref().and_then(|d| d.input.as_ref()).is_some());
    let without = sfn
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .include_execution_data(false)
        .send()
        .await
        .expect("GetExecutionHistory without data");
    assert!(without.events[0].execution_started_event_details.as_ref().is_some_and(|d| d.input.is_none()));

    // Stop a waiting execution; list by status.
    let waiting = sfn
        .create_state_machine()
        .name("waits")
        .definition(definition("W", json!({"W": {"Type": "Wait", "Seconds": 600, "End": true}})))
        .role_arn(ROLE_ARN)
        .send()
        .await
        .expect("Create")
        .state_machine_arn;
    let mut arns = Vec::new();
    for i in 0..3 {
        let arn = sfn.start_execution().state_machine_arn(&waiting).name(format!("w{i}")).send().await;
        arns.push(arn.expect("Start").execution_arn);
    }
    let stopped =
        sfn.stop_execution().execution_arn(&arns[0]).error("Halt").cause("enough").send().await.expect("StopExecution");
    assert!(stopped.stop_date.secs() > 0);
    let d = wait_done(&sfn, &arns[0]).await;
    assert_eq!(
        (d.status, d.error.as_deref(), d.cause.as_deref()),
        (ExecutionStatus::Aborted, Some("Halt"), Some("enough"))
    );
    let running: Vec<String> = sfn
        .list_executions()
        .state_machine_arn(&waiting)
        .status_filter(ExecutionStatus::Running)
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("ListExecutions")
        .into_iter()
        .map(|e| e.name)
        .collect();
    let mut sorted = running.clone();
    sorted.sort();
    assert_eq!(sorted, ["w1", "w2"]);
    let all = sfn.list_executions().state_machine_arn(&waiting).send().await.expect("ListExecutions");
    assert_eq!(all.executions.len(), 3);
    for arn in &arns[1..] {
        sfn.stop_execution().execution_arn(arn).send().await.expect("StopExecution");
    }

    let missing = format!("{}:nope", started.execution_arn.rsplit_once(':').map_or("", |p| p.0));
    let err = sfn.describe_execution().execution_arn(&missing).send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(DescribeExecutionError::ExecutionDoesNotExist(_))), "{err:?}");
    server.assert_no_panic();
}

#[tokio::test]
async fn start_sync_execution_runs_express_machines() {
    let server = Server::start(2000);
    let sfn = client(&server);
    let def = definition(
        "Greet",
        json!({
            "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "Next": "Fail?"},
            "Fail?": {"Type": "Choice", "Choices": [{"Variable": "$.greeting", "StringEquals": "hello nobody", "Next": "No"}],
                      "Default": "Yes"},
            "No": {"Type": "Fail", "Error": "Nobody", "Cause": "no one to greet"},
            "Yes": {"Type": "Succeed"}
        }),
    );
    let sm = sfn
        .create_state_machine()
        .name("express")
        .definition(&def)
        .role_arn(ROLE_ARN)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .expect("Create EXPRESS")
        .state_machine_arn;
    let ok = sfn.start_sync_execution().state_machine_arn(&sm).input(r#"{"who": "Ada"}"#).send().await;
    let ok = ok.expect("StartSyncExecution");
    assert_eq!(ok.status, SyncExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(ok.output.as_deref().unwrap_or("")).ok(),
        Some(json!({"greeting": "hello Ada"}))
    );
    assert!(ok.execution_arn.contains(":express:express:"), "{}", ok.execution_arn);

    let failed = sfn.start_sync_execution().state_machine_arn(&sm).input(r#"{"who": "nobody"}"#).send().await;
    let failed = failed.expect("StartSyncExecution");
    assert_eq!((failed.status, failed.error.as_deref()), (SyncExecutionStatus::Failed, Some("Nobody")));

    // Express executions are not listed.
    let err = sfn.list_executions().state_machine_arn(&sm).send().await.unwrap_err();
    assert!(
        matches!(
            err.as_service_error(),
            Some(aws_sdk_sfn::operation::list_executions::ListExecutionsError::StateMachineTypeNotSupported(_))
        ),
        "{err:?}"
    );

    // A STANDARD machine cannot be run synchronously.
    let standard = create(&sfn, "standard", &pass_machine()).await;
    let err = sfn.start_sync_execution().state_machine_arn(&standard).send().await.unwrap_err();
    assert!(
        matches!(err.as_service_error(), Some(StartSyncExecutionError::StateMachineTypeNotSupported(_))),
        "{err:?}"
    );
    server.assert_no_panic();
}

#[tokio::test]
async fn callbacks_success_failure_heartbeat_and_token_errors() {
    let server = Server::start(2000);
    let sfn = client(&server);
    let sm = create(&sfn, "callback", &definition("Ask", json!({"Ask": callback_state(json!({}))}))).await;

    // Success resumes with the answer as the state's result.
    let arn = sfn.start_execution().state_machine_arn(&sm).input(r#"{"order": 7}"#).send().await.expect("Start");
    let token = callback_token(&sfn, &arn.execution_arn, 0).await;
    sfn.send_task_heartbeat().task_token(&token).send().await.expect("SendTaskHeartbeat");
    sfn.send_task_success().task_token(&token).output(r#"{"approved": true}"#).send().await.expect("SendTaskSuccess");
    let d = wait_done(&sfn, &arn.execution_arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(serde_json::from_str::<Value>(d.output.as_deref().unwrap_or("")).ok(), Some(json!({"approved": true})));

    // A second answer, or a heartbeat, for a token already answered: TaskTimedOut.
    let err = sfn.send_task_success().task_token(&token).output("{}").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(SendTaskSuccessError::TaskTimedOut(_))), "{err:?}");
    let err = sfn.send_task_heartbeat().task_token(&token).send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(SendTaskHeartbeatError::TaskTimedOut(_))), "{err:?}");
    // A token Baton never handed out: InvalidToken. Output that is not JSON: InvalidOutput.
    let err = sfn.send_task_success().task_token("garbage").output("{}").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(SendTaskSuccessError::InvalidToken(_))), "{err:?}");

    // Failure fails the state with the error and cause given.
    let arn = sfn.start_execution().state_machine_arn(&sm).send().await.expect("Start").execution_arn;
    let token = callback_token(&sfn, &arn, 0).await;
    let err = sfn.send_task_success().task_token(&token).output("{oops").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(SendTaskSuccessError::InvalidOutput(_))), "{err:?}");
    sfn.send_task_failure().task_token(&token).error("Rejected").cause("no budget").send().await.expect("Failure");
    let d = wait_done(&sfn, &arn).await;
    assert_eq!(
        (d.status, d.error.as_deref(), d.cause.as_deref()),
        (ExecutionStatus::Failed, Some("Rejected"), Some("no budget"))
    );

    // HeartbeatSeconds without heartbeats: recorded as States.Timeout, as AWS does.
    let hb =
        create(&sfn, "heartbeat", &definition("Ask", json!({"Ask": callback_state(json!({"HeartbeatSeconds": 1}))})))
            .await;
    let arn = sfn.start_execution().state_machine_arn(&hb).send().await.expect("Start").execution_arn;
    let d = wait_done(&sfn, &arn).await;
    assert_eq!((d.status, d.error.as_deref()), (ExecutionStatus::Failed, Some("States.Timeout")));
    let types: Vec<HistoryEventType> = history(&sfn, &arn).await.into_iter().map(|e| e.r#type).collect();
    assert!(types.contains(&HistoryEventType::TaskTimedOut), "{types:?}");

    // TimeoutSeconds without an answer: States.Timeout; an answer after that: TaskTimedOut.
    let timed =
        create(&sfn, "timeout", &definition("Ask", json!({"Ask": callback_state(json!({"TimeoutSeconds": 1}))}))).await;
    let arn = sfn.start_execution().state_machine_arn(&timed).send().await.expect("Start").execution_arn;
    let token = callback_token(&sfn, &arn, 0).await;
    let d = wait_done(&sfn, &arn).await;
    assert_eq!((d.status, d.error.as_deref()), (ExecutionStatus::Failed, Some("States.Timeout")));
    let err = sfn.send_task_failure().task_token(&token).error("Late").send().await.unwrap_err();
    assert!(matches!(err.as_service_error(), Some(SendTaskFailureError::TaskTimedOut(_))), "{err:?}");
    server.assert_no_panic();
}

#[tokio::test]
async fn activities_with_a_polling_worker() {
    let server = Server::start(1000);
    let sfn = client(&server);
    let activity = sfn.create_activity().name("review").send().await.expect("CreateActivity").activity_arn;
    assert_eq!(activity, "arn:aws:states:us-east-1:123456789012:activity:review");
    let d = sfn.describe_activity().activity_arn(&activity).send().await.expect("DescribeActivity");
    assert_eq!(d.name, "review");
    let listed = sfn.list_activities().send().await.expect("ListActivities");
    assert_eq!(listed.activities.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["review"]);

    let sm = create(
        &sfn,
        "reviews",
        &definition(
            "Review",
            json!({"Review": {"Type": "Task", "Resource": activity, "TimeoutSeconds": 60, "End": true}}),
        ),
    )
    .await;
    let mut runs = Vec::new();
    for i in 0..3 {
        let arn = sfn.start_execution().state_machine_arn(&sm).input(json!({"doc": i}).to_string()).send().await;
        runs.push(arn.expect("Start").execution_arn);
    }

    // A worker: poll, heartbeat, answer with the input doubled; each task goes to one poll.
    let worker = {
        let sfn = sfn.clone();
        let activity = activity.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < 3 {
                let task = sfn
                    .get_activity_task()
                    .activity_arn(&activity)
                    .worker_name("worker-1")
                    .send()
                    .await
                    .expect("GetActivityTask");
                let (Some(token), Some(input)) = (task.task_token, task.input) else { continue };
                let input: Value = serde_json::from_str(&input).expect("task input is JSON");
                sfn.send_task_heartbeat().task_token(&token).send().await.expect("heartbeat");
                let doc = input["doc"].as_i64().expect("doc");
                seen.push(doc);
                sfn.send_task_success()
                    .task_token(&token)
                    .output(json!({"reviewed": doc * 2}).to_string())
                    .send()
                    .await
                    .expect("SendTaskSuccess");
            }
            seen
        })
    };
    let mut seen = worker.await.expect("the worker");
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
    for (i, arn) in runs.iter().enumerate() {
        let d = wait_done(&sfn, arn).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded);
        assert_eq!(
            serde_json::from_str::<Value>(d.output.as_deref().unwrap_or("")).ok(),
            Some(json!({"reviewed": i * 2}))
        );
        let started = history(&sfn, arn).await.into_iter().find_map(|e| e.activity_started_event_details);
        assert_eq!(started.and_then(|s| s.worker_name).as_deref(), Some("worker-1"));
    }

    // Nothing queued: the long poll ends empty.
    let empty = sfn.get_activity_task().activity_arn(&activity).send().await.expect("GetActivityTask");
    assert!(empty.task_token.is_none());

    sfn.delete_activity().activity_arn(&activity).send().await.expect("DeleteActivity");
    let err = sfn.describe_activity().activity_arn(&activity).send().await.unwrap_err();
    assert!(
        matches!(
            err.as_service_error(),
            Some(aws_sdk_sfn::operation::describe_activity::DescribeActivityError::ActivityDoesNotExist(_))
        ),
        "{err:?}"
    );
    server.assert_no_panic();
}

#[tokio::test]
async fn redrive_resumes_a_failed_execution() {
    let server = Server::start(2000);
    let sfn = client(&server);
    // Fails until the callback answers; redrive re-runs the failed state only.
    let def = definition(
        "First",
        json!({
            "First": {"Type": "Pass", "Result": "one", "ResultPath": "$.first", "Next": "Ask"},
            "Ask": callback_state(json!({}))
        }),
    );
    let sm = create(&sfn, "redrive", &def).await;
    let arn = sfn.start_execution().state_machine_arn(&sm).send().await.expect("Start").execution_arn;
    let token = callback_token(&sfn, &arn, 0).await;
    sfn.send_task_failure().task_token(&token).error("Flaky").send().await.expect("SendTaskFailure");
    assert_eq!(wait_done(&sfn, &arn).await.status, ExecutionStatus::Failed);

    let redriven = sfn.redrive_execution().execution_arn(&arn).send().await.expect("RedriveExecution");
    assert!(redriven.redrive_date.secs() > 0);
    let events = wait_events(&sfn, &arn, HistoryEventType::ExecutionRedriven, 1).await;
    let count = events.iter().filter(|e| e.r#type == HistoryEventType::TaskSubmitted).count();
    assert_eq!(count, 1, "the redrive has not submitted yet or submitted twice");
    // The new attempt's token.
    let mut token2 = None;
    for _ in 0..200 {
        let events = history(&sfn, &arn).await;
        let submitted = events.iter().filter(|e| e.r#type == HistoryEventType::TaskSubmitted).count();
        if submitted == 2 {
            let scheduled = events.iter().filter_map(|e| e.task_scheduled_event_details.as_ref()).nth(1);
            let params: Value =
                serde_json::from_str(&scheduled.expect("second TaskScheduled").parameters).expect("json");
            token2 = params["Payload"]["token"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token2 = token2.expect("the redriven task's token");
    assert_ne!(token, token2);
    sfn.send_task_success().task_token(&token2).output(r#""done""#).send().await.expect("SendTaskSuccess");
    let d = wait_done(&sfn, &arn).await;
    assert_eq!((d.status, d.redrive_count), (ExecutionStatus::Succeeded, Some(1)));
    let passes = history(&sfn, &arn).await.iter().filter(|e| e.r#type == HistoryEventType::PassStateEntered).count();
    assert_eq!(passes, 1, "redrive must not run the states that succeeded again");
    let err = sfn.redrive_execution().execution_arn(&arn).send().await.unwrap_err();
    assert!(
        matches!(
            err.as_service_error(),
            Some(aws_sdk_sfn::operation::redrive_execution::RedriveExecutionError::ExecutionNotRedrivable(_))
        ),
        "{err:?}"
    );
    server.assert_no_panic();
}

#[tokio::test]
async fn tags_versions_and_aliases() {
    let server = Server::start(2000);
    let sfn = client(&server);
    let v1 = pass_machine();
    let sm = sfn
        .create_state_machine()
        .name("versioned")
        .definition(&v1)
        .role_arn(ROLE_ARN)
        .tags(Tag::builder().key("team").value("ops").build())
        .send()
        .await
        .expect("Create")
        .state_machine_arn;

    // Tags.
    sfn.tag_resource()
        .resource_arn(&sm)
        .tags(Tag::builder().key("env").value("test").build())
        .send()
        .await
        .expect("TagResource");
    let tags = sfn.list_tags_for_resource().resource_arn(&sm).send().await.expect("ListTagsForResource");
    let mut pairs: Vec<(String, String)> = tags
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    pairs.sort();
    assert_eq!(pairs, [("env".to_owned(), "test".to_owned()), ("team".to_owned(), "ops".to_owned())]);
    sfn.untag_resource().resource_arn(&sm).tag_keys("team").send().await.expect("UntagResource");
    let tags = sfn.list_tags_for_resource().resource_arn(&sm).send().await.expect("ListTagsForResource");
    assert_eq!(tags.tags.unwrap_or_default().len(), 1);

    // Versions.
    let p1 = sfn.publish_state_machine_version().state_machine_arn(&sm).description("first").send().await;
    let version1 = p1.expect("PublishStateMachineVersion").state_machine_version_arn;
    assert_eq!(version1, format!("{sm}:1"));
    let v2 = definition("Two", json!({"Two": {"Type": "Pass", "Result": 2, "End": true}}));
    let u = sfn.update_state_machine().state_machine_arn(&sm).definition(&v2).publish(true).send().await;
    let version2 = u.expect("UpdateStateMachine").state_machine_version_arn.expect("a published version");
    assert_eq!(version2, format!("{sm}:2"));
    let versions = sfn.list_state_machine_versions().state_machine_arn(&sm).send().await.expect("ListVersions");
    let listed: Vec<&str> =
        versions.state_machine_versions.iter().map(|v| v.state_machine_version_arn.as_str()).collect();
    assert_eq!(listed, [version2.as_str(), version1.as_str()]);
    let d = sfn.describe_state_machine().state_machine_arn(&version1).send().await.expect("Describe version");
    assert_eq!((d.definition.as_str(), d.description.as_deref()), (v1.as_str(), Some("first")));

    // Aliases route to versions; an execution through one records both.
    let alias = sfn
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version1)
                .weight(100)
                .build()
                .expect("item"),
        )
        .send()
        .await
        .expect("CreateStateMachineAlias")
        .state_machine_alias_arn;
    assert_eq!(alias, format!("{sm}:live"));
    let run = sfn.start_execution().state_machine_arn(&alias).send().await.expect("Start via alias").execution_arn;
    let d = wait_done(&sfn, &run).await;
    assert_eq!(d.state_machine_alias_arn.as_deref(), Some(alias.as_str()));
    assert_eq!(d.state_machine_version_arn.as_deref(), Some(version1.as_str()));
    assert_eq!(d.output.as_deref(), Some(r#"{"ok":true}"#));
    let started = history(&sfn, &run).await.remove(0).execution_started_event_details.expect("ExecutionStarted");
    assert_eq!(started.state_machine_alias_arn.as_deref(), Some(alias.as_str()));
    assert_eq!(started.state_machine_version_arn.as_deref(), Some(version1.as_str()));

    sfn.update_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version2)
                .weight(100)
                .build()
                .expect("item"),
        )
        .send()
        .await
        .expect("UpdateStateMachineAlias");
    let a = sfn.describe_state_machine_alias().state_machine_alias_arn(&alias).send().await.expect("DescribeAlias");
    let routes = a.routing_configuration.unwrap_or_default();
    assert_eq!(routes.iter().map(|r| r.state_machine_version_arn.as_str()).collect::<Vec<_>>(), [version2.as_str()]);
    let aliases = sfn.list_state_machine_aliases().state_machine_arn(&sm).send().await.expect("ListAliases");
    assert_eq!(aliases.state_machine_aliases.len(), 1);

    // A version an alias routes to cannot be deleted; after the alias goes, it can.
    let err = sfn.delete_state_machine_version().state_machine_version_arn(&version2).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.meta().code() == Some("ConflictException")), "{err:?}");
    sfn.delete_state_machine_alias().state_machine_alias_arn(&alias).send().await.expect("DeleteAlias");
    sfn.delete_state_machine_version().state_machine_version_arn(&version2).send().await.expect("DeleteVersion");
    let versions = sfn.list_state_machine_versions().state_machine_arn(&sm).send().await.expect("ListVersions");
    assert_eq!(versions.state_machine_versions.len(), 1);
    server.assert_no_panic();
}

/// With `[credentials]`, the SDK signing with a configured key works; with a wrong secret or
/// an unknown key it gets AWS's errors, as the SDK's unhandled variants with AWS's codes.
#[tokio::test]
async fn signed_calls_with_credentials_configured() {
    let server = common::Server::start_with(
        1000,
        "[credentials.ci]\naccess_key_id = \"AKIABATONCI\"\nsecret_access_key = \"ci-secret\"\n",
    );
    let right = common::client_with_keys(&server, "AKIABATONCI", "ci-secret");
    let arn = create(&right, "signed-sdk", &definition("P", json!({"P": {"Type": "Pass", "End": true}}))).await;
    let started = right.start_execution().state_machine_arn(&arn).send().await.expect("a signed call works");
    assert_eq!(wait_done(&right, started.execution_arn()).await.status(), &ExecutionStatus::Succeeded);
    use aws_sdk_sfn::error::ProvideErrorMetadata;
    let wrong = common::client_with_keys(&server, "AKIABATONCI", "not-the-secret");
    let e = wrong.list_state_machines().send().await.expect_err("a wrong secret is refused");
    assert_eq!(e.into_service_error().code(), Some("InvalidSignatureException"));
    let unknown = common::client_with_keys(&server, "AKIAUNKNOWN", "ci-secret");
    let e = unknown.list_state_machines().send().await.expect_err("an unknown key is refused");
    assert_eq!(e.into_service_error().code(), Some("UnrecognizedClientException"));
    server.assert_no_panic();
}
