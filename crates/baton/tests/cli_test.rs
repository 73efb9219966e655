//! `baton test`: the test cases of a MockConfigFile run in-process against a definition; a
//! pass/fail table on stdout, exit code 0 only when every test case passed.

use std::path::PathBuf;
use std::process::{Command, Output};

const BATON: &str = env!("CARGO_BIN_EXE_baton");

/// A folder of its own for one test, with the definition and MockConfigFile written in it.
fn files(test: &str, mock_config: &serde_json::Value) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("baton-cli-test-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
    let definition = serde_json::json!({
        "StartAt": "Nap",
        "States": {
            // A day: the virtual clock makes it take no time.
            "Nap": {"Type": "Wait", "Seconds": 86400, "Next": "LambdaState"},
            "LambdaState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "HelloWorldFunction", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3600, "MaxAttempts": 3}],
                "OutputPath": "$.Payload",
                "Next": "SQSState"
            },
            "SQSState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": {"t.$": "$$.Task.Token"}},
                "End": true
            }
        }
    });
    let def_path = dir.join("machine.asl.json");
    std::fs::write(&def_path, definition.to_string()).expect("written");
    let mock_path = dir.join("MockConfigFile.json");
    std::fs::write(&mock_path, mock_config.to_string()).expect("written");
    (def_path, mock_path)
}

fn mock_config(retry_expectation: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "StateMachines": {
            "LambdaSQSIntegration": {
                "TestCases": {
                    "HappyPath": {"LambdaState": "LambdaSuccess", "SQSState": "Answer"},
                    "RetryPath": {"LambdaState": "LambdaRetry", "SQSState": "Answer"},
                    "BrokenPath": {"LambdaState": "LambdaBroken"}
                },
                "Baton:Expect": {
                    "HappyPath": {"input": {"n": 1}, "status": "SUCCEEDED", "output": {"answered": true}},
                    "RetryPath": retry_expectation,
                    "BrokenPath": {"status": "FAILED", "error": "Lambda.ServiceException", "cause": "gone"}
                }
            }
        },
        "MockedResponses": {
            "LambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "hi"}}}},
            "LambdaRetry": {
                "0-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
                "3": {"Return": {"StatusCode": 200, "Payload": {"body": "late"}}}
            },
            "LambdaBroken": {"0-3": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "gone"}}},
            "Answer": {"0": {"Return": {"answered": true}}}
        }
    })
}

/// Remove a test's folder (the one holding `definition`).
fn clean(definition: &std::path::Path) {
    if let Some(dir) = definition.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn baton_test(definition: &PathBuf, mock: &PathBuf, extra: &[&str]) -> Output {
    Command::new(BATON)
        .arg("test")
        .arg(mock)
        .arg("--definition")
        .arg(definition)
        .args(extra)
        .output()
        .expect("baton runs")
}

#[test]
fn every_test_case_passes_and_the_table_says_so() {
    let (definition, mock) = files("pass", &mock_config(serde_json::json!({"output": {"answered": true}})));
    let out = baton_test(&definition, &mock, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("PASS") || l.starts_with("FAIL")).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows.iter().all(|r| r.starts_with("PASS")), "{stdout}");
    assert!(rows.iter().any(|r| r.contains("BrokenPath") && r.contains("FAILED")), "{stdout}");
    assert!(stdout.contains("LambdaSQSIntegration: 3 of 3 test cases passed"), "{stdout}");
    clean(&definition);
}

#[test]
fn a_failing_test_case_is_shown_and_exits_1() {
    let (definition, mock) = files("fail", &mock_config(serde_json::json!({"output": {"answered": false}})));
    let out = baton_test(&definition, &mock, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(failed[0].contains("RetryPath"), "{stdout}");
    assert!(failed[0].contains(r#"output {"answered":true}, expected {"answered":false}"#), "{stdout}");
    assert!(stdout.contains("2 of 3 test cases passed"), "{stdout}");

    // One test case alone.
    let out = baton_test(&definition, &mock, &["--case", "HappyPath", "--machine", "LambdaSQSIntegration"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 of 1 test cases passed"));
    clean(&definition);
}

#[test]
fn baton_run_runs_one_test_case() {
    let (definition, mock) = files("run", &mock_config(serde_json::json!({})));
    let out = Command::new(BATON)
        .args([
            "run",
            "--fast-forward",
            "--json",
            "--name",
            "LambdaSQSIntegration",
            "--case",
            "RetryPath",
            "--mock-config",
        ])
        .arg(&mock)
        .arg(&definition)
        .output()
        .expect("baton runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(run["output"], serde_json::json!({"answered": true}));
    let failed = run["history"].as_array().expect("history").iter().filter(|e| e["type"] == "TaskFailed").count();
    assert_eq!(failed, 3);
    clean(&definition);
}

#[test]
fn unknown_test_cases_and_broken_files_are_usage_errors() {
    let (definition, mock) = files("usage", &mock_config(serde_json::json!({})));
    let out = baton_test(&definition, &mock, &["--case", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid mock test case name 'Nope'"));
    clean(&definition);

    let (definition, mock) = files(
        "broken",
        &serde_json::json!({"StateMachines": {"M": {"TestCases": {"T": {"S": "Missing"}}}}, "MockedResponses": {}}),
    );
    let out = baton_test(&definition, &mock, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/StateMachines/M/TestCases/T/S: MockedResponses has no 'Missing'"), "{stderr}");
    clean(&definition);
}
