//! The engine's operations where the server stands: catalog changes, alias routing and
//! StartExecution's idempotency, against a real (SQLite) store, with AWS's error names.

use std::sync::Arc;

use engine::catalog::{NewAlias, NewStateMachine, Tags};
use engine::executions::{ExecutionInput, StartExecution};
use engine::service::{Engine, EngineConfig};
use engine::{EngineError, ExecutionArn, MachineRef, TaskToken};
use serde_json::json;

const WAIT: &str = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}"#;
const PASS: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;

fn engine(test: &str) -> (Engine, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("baton-engine-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let store = Arc::new(store::sqlite::SqliteStore::open(&dir.join("baton.db")).expect("a store"));
    (Engine::start(store, EngineConfig::default()), dir)
}

fn machine(name: &str, definition: &str) -> NewStateMachine {
    NewStateMachine {
        name: name.into(),
        definition: definition.into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        kind: "STANDARD".into(),
        configuration: Default::default(),
        tags: None,
        publish: false,
        version_description: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_keeps_aws_rules() {
    let (engine, dir) = engine("catalog");
    let first = engine.create_state_machine(machine("orders", PASS)).await.expect("created");
    let again = engine.create_state_machine(machine("orders", PASS)).await.expect("the same again is no error");
    assert_eq!((again.arn.as_str(), again.created), (first.arn.as_str(), first.created));
    let other = engine.create_state_machine(machine("orders", WAIT)).await.unwrap_err();
    assert_eq!(other.aws_name(), "StateMachineAlreadyExists");
    let bad = engine.create_state_machine(machine("bad", "{}")).await.unwrap_err();
    assert_eq!(bad.aws_name(), "InvalidDefinition");

    let base = MachineRef::parse(&first.arn).expect("an ARN");
    let v1 = engine.publish_state_machine_version(&base, None, None).await.expect("published");
    let same = engine.publish_state_machine_version(&base, None, None).await.expect("published again");
    assert_eq!((v1.version, same.arn.as_str()), (1, v1.arn.as_str()), "one revision is one version");
    let stale = engine.publish_state_machine_version(&base, Some("not-the-revision"), None).await.unwrap_err();
    assert_eq!(stale.aws_name(), "ConflictException");

    let alias = NewAlias {
        name: "live".into(),
        description: None,
        routing: json!([{"stateMachineVersionArn": v1.arn, "weight": 100}]),
    };
    let live = engine.create_state_machine_alias(alias).await.expect("an alias");
    let version = MachineRef::parse(&v1.arn).expect("a version ARN");
    let in_use = engine.delete_state_machine_version(&version).await.unwrap_err();
    assert_eq!(in_use.aws_name(), "ConflictException");
    let resolved = engine.resolve(&MachineRef::parse(&live.arn).expect("an alias ARN")).await.expect("resolved");
    assert_eq!(resolved.version_arn.as_deref(), Some(v1.arn.as_str()));
    assert_eq!(resolved.alias_arn.as_deref(), Some(live.arn.as_str()));

    let too_many = Tags::parse(&json!((0..51).map(|i| json!({"key": format!("k{i}")})).collect::<Vec<_>>()))
        .expect("well-formed tags");
    assert_eq!(engine.tag_resource(&first.arn, too_many).await.unwrap_err().aws_name(), "TooManyTags");
    let missing = engine.list_tags_for_resource(&engine.arns().activity("nobody")).await.unwrap_err();
    assert_eq!(missing.aws_name(), "ResourceNotFound");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_by_name_is_idempotent_while_running_with_the_same_input() {
    let (engine, dir) = engine("start");
    let created = engine.create_state_machine(machine("waits", WAIT)).await.expect("created");
    let start = |input: &str| StartExecution {
        name: Some("once".into()),
        ..StartExecution::of(&created.arn, ExecutionInput::parse(input).expect("JSON"))
    };
    let first = engine.start_execution(start(r#"{"n": 1}"#)).await.expect("started");
    let again = engine.start_execution(start(r#"{"n": 1}"#)).await.expect("the same start again");
    assert_eq!((&again.arn, again.start), (&first.arn, first.start));
    let other = engine.start_execution(start(r#"{"n": 2}"#)).await.unwrap_err();
    assert_eq!(other.aws_name(), "ExecutionAlreadyExists");

    let arn = ExecutionArn::parse(first.arn.as_str()).expect("a Standard execution's ARN");
    assert_eq!(engine.describe_execution(&arn).await.expect("described").input, r#"{"n": 1}"#);
    engine.stop_execution(&arn, None, None).await.expect("stopped");
    let stopped = engine.start_execution(start(r#"{"n": 1}"#)).await.unwrap_err();
    assert!(matches!(stopped, EngineError::ExecutionAlreadyExists(_)), "{stopped}");

    let nowhere = StartExecution::of(&engine.arns().state_machine("nowhere"), ExecutionInput::empty());
    assert_eq!(engine.start_execution(nowhere).await.unwrap_err().aws_name(), "StateMachineDoesNotExist");
    let token = TaskToken::parse("A".repeat(43).as_str()).expect("a token's shape");
    assert_eq!(engine.send_task_heartbeat(&token).await.unwrap_err().aws_name(), "TaskTimedOut");
    let _ = std::fs::remove_dir_all(dir);
}
