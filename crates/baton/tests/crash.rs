//! Crash safety of `baton serve` on the embedded store: the server is killed with SIGKILL
//! while executions loop through Pass and Choice states, wait on timers, wait on task tokens
//! and wait on activities, several times, and restarted on the same data folder. Every
//! execution must end as it would have without the crashes, with a history that records
//! each state exactly as often as it ran, no event twice and ids without gaps.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use aws_sdk_sfn::Client;
use common::{callback_state, callback_token, client, create, definition, history, wait_done, Server};
use serde_json::{json, Value};

const LOOPS: i64 = 100;
const LAP: i64 = 25;

/// Ids 1..=n in order, each event's previous event before it, one start and one end.
fn check_shape(arn: &str, events: &[HistoryEvent]) {
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=events.len() as i64).collect::<Vec<_>>(), "{arn}: ids are not contiguous");
    for e in &events[1..] {
        assert!(e.previous_event_id < e.id, "{arn}: event {} points forward", e.id);
    }
    let count = |t: HistoryEventType| events.iter().filter(|e| e.r#type == t).count();
    assert_eq!(count(HistoryEventType::ExecutionStarted), 1, "{arn}");
    assert_eq!(count(HistoryEventType::ExecutionSucceeded), 1, "{arn}");
    assert_eq!(events.last().map(|e| &e.r#type), Some(&HistoryEventType::ExecutionSucceeded), "{arn}");
}

/// How many times each state was entered.
fn entered(events: &[HistoryEvent]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        if let Some(d) = &e.state_entered_event_details {
            *out.entry(d.name.clone()).or_default() += 1;
        }
    }
    out
}

fn counts(events: &[HistoryEvent]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry(e.r#type.as_str().to_owned()).or_default() += 1;
    }
    out
}

fn expect_entered(arn: &str, events: &[HistoryEvent], expected: &[(&str, usize)]) {
    let want: BTreeMap<String, usize> = expected.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect();
    assert_eq!(entered(events), want, "{arn}: states entered");
}

async fn start(sfn: &Client, machine: &str, input: Value) -> String {
    sfn.start_execution()
        .state_machine_arn(machine)
        .input(input.to_string())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn
}

fn crash_and_restart(server: &mut Server, sfn: &mut Client) {
    server.kill();
    server.restart();
    *sfn = client(server);
}

/// Take one activity task from the queue; `None` when the poll ends empty.
async fn poll_activity(sfn: &Client, activity: &str) -> Option<(String, Value)> {
    let task = sfn.get_activity_task().activity_arn(activity).worker_name("w").send().await.expect("GetActivityTask");
    let input = serde_json::from_str(task.input.as_deref()?).expect("task input is JSON");
    Some((task.task_token?, input))
}

#[tokio::test]
async fn executions_survive_sigkill_at_any_moment() {
    let mut server = Server::start(500);
    let mut sfn = client(&server);

    // Pass and Choice states, with a one-second Wait every 25 rounds so that the loops are
    // still running when the server is killed.
    let looping = create(
        &sfn,
        "loop",
        &definition(
            "Init",
            json!({
                "Init": {"Type": "Pass", "Result": {"count": 0, "lap": 0}, "Next": "Inc"},
                "Inc": {"Type": "Pass", "Next": "Check",
                        "Parameters": {"count.$": "States.MathAdd($.count, 1)", "lap.$": "States.MathAdd($.lap, 1)"}},
                "Check": {"Type": "Choice", "Default": "Inc", "Choices": [
                    {"Variable": "$.count", "NumericGreaterThanEquals": LOOPS, "Next": "Done"},
                    {"Variable": "$.lap", "NumericGreaterThanEquals": LAP, "Next": "Nap"}
                ]},
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Reset"},
                "Reset": {"Type": "Pass", "Parameters": {"count.$": "$.count", "lap": 0}, "Next": "Inc"},
                "Done": {"Type": "Succeed"}
            }),
        ),
    )
    .await;
    let timed = create(
        &sfn,
        "timers",
        &definition(
            "W1",
            json!({
                "W1": {"Type": "Wait", "Seconds": 1, "Next": "Mid"},
                "Mid": {"Type": "Pass", "Result": "between", "ResultPath": "$.mid", "Next": "W2"},
                "W2": {"Type": "Wait", "Seconds": 2, "End": true}
            }),
        ),
    )
    .await;
    let callback = create(
        &sfn,
        "callback",
        &definition(
            "Ask",
            json!({
                "Ask": callback_state(json!({"ResultPath": "$.answer", "Next": "After", "End": null})),
                "After": {"Type": "Pass", "End": true}
            }),
        ),
    )
    .await;
    let activity = sfn.create_activity().name("work").send().await.expect("CreateActivity").activity_arn;
    let worked = create(
        &sfn,
        "activity",
        &definition(
            "Work",
            json!({"Work": {"Type": "Task", "Resource": activity, "ResultPath": "$.done", "End": true}}),
        ),
    )
    .await;

    // Round 1: start everything, crash almost at once.
    let mut loops = Vec::new();
    let mut timers = Vec::new();
    let mut callbacks = Vec::new();
    let mut activities = Vec::new();
    for i in 0..4 {
        loops.push(start(&sfn, &looping, json!({})).await);
        timers.push(start(&sfn, &timed, json!({"i": i})).await);
        callbacks.push(start(&sfn, &callback, json!({"i": i})).await);
        activities.push(start(&sfn, &worked, json!({"i": i})).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    crash_and_restart(&mut server, &mut sfn);

    // Round 2: answer a callback and crash right after the answer is acknowledged.
    let mut tokens = Vec::new();
    for arn in &callbacks {
        tokens.push(callback_token(&sfn, arn, 0).await);
    }
    sfn.send_task_success().task_token(&tokens[0]).output(r#"{"n": 0}"#).send().await.expect("SendTaskSuccess");
    crash_and_restart(&mut server, &mut sfn);

    // Round 3: a worker takes an activity task; the server dies before the worker answers.
    let (held_token, held_input) = poll_activity(&sfn, &activity).await.expect("an activity task");
    tokio::time::sleep(Duration::from_millis(700)).await;
    crash_and_restart(&mut server, &mut sfn);

    // Round 4: the worker answers after the restart; crash once more mid-way.
    sfn.send_task_success()
        .task_token(&held_token)
        .output(json!({"by": held_input["i"]}).to_string())
        .send()
        .await
        .expect("the token outlives the crash");
    sfn.send_task_success().task_token(&tokens[1]).output(r#"{"n": 1}"#).send().await.expect("SendTaskSuccess");
    tokio::time::sleep(Duration::from_millis(500)).await;
    crash_and_restart(&mut server, &mut sfn);

    // Answer the rest.
    for (i, token) in tokens.iter().enumerate().skip(2) {
        sfn.send_task_success().task_token(token).output(json!({"n": i}).to_string()).send().await.expect("answer");
    }
    let err = sfn.send_task_success().task_token(&tokens[0]).output("{}").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_task_timed_out()), "answered before the crash: {err:?}");
    let mut answered = 1;
    while answered < activities.len() {
        if let Some((token, input)) = poll_activity(&sfn, &activity).await {
            let out = json!({"by": input["i"]}).to_string();
            sfn.send_task_success().task_token(&token).output(out).send().await.expect("answer");
            answered += 1;
        }
    }

    // Every execution ends, once, with the right output and history.
    for arn in &loops {
        let d = wait_done(&sfn, arn).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error, d.cause);
        assert_eq!(d.output.as_deref(), Some(json!({"count": LOOPS, "lap": LAP}).to_string().as_str()), "{arn}");
        let events = history(&sfn, arn).await;
        check_shape(arn, &events);
        let (n, naps) = (LOOPS as usize, (LOOPS / LAP - 1) as usize);
        expect_entered(
            arn,
            &events,
            &[("Init", 1), ("Inc", n), ("Check", n), ("Nap", naps), ("Reset", naps), ("Done", 1)],
        );
    }
    for (i, arn) in timers.iter().enumerate() {
        let d = wait_done(&sfn, arn).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error, d.cause);
        assert_eq!(d.output.as_deref(), Some(json!({"i": i, "mid": "between"}).to_string().as_str()), "{arn}");
        let events = history(&sfn, arn).await;
        check_shape(arn, &events);
        expect_entered(arn, &events, &[("W1", 1), ("Mid", 1), ("W2", 1)]);
        // Each timer fired, and not before its time.
        for (state, seconds) in [("W1", 1), ("W2", 2)] {
            let at = |t: HistoryEventType| {
                events
                    .iter()
                    .find(|e| {
                        e.r#type == t
                            && (e.state_entered_event_details.as_ref().is_some_and(|d| d.name == state)
                                || e.state_exited_event_details.as_ref().is_some_and(|d| d.name == state))
                    })
                    .map(|e| e.timestamp.to_millis().expect("a timestamp in range"))
                    .unwrap_or_else(|| panic!("{arn}: no {t:?} for {state}"))
            };
            let waited = at(HistoryEventType::WaitStateExited) - at(HistoryEventType::WaitStateEntered);
            assert!(waited >= seconds * 1000, "{arn}: {state} waited {waited} ms");
        }
    }
    for (i, arn) in callbacks.iter().enumerate() {
        let d = wait_done(&sfn, arn).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error, d.cause);
        assert_eq!(d.output.as_deref(), Some(json!({"i": i, "answer": {"n": i}}).to_string().as_str()), "{arn}");
        let events = history(&sfn, arn).await;
        check_shape(arn, &events);
        expect_entered(arn, &events, &[("Ask", 1), ("After", 1)]);
        let c = counts(&events);
        for t in ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"] {
            assert_eq!(c.get(t), Some(&1), "{arn}: {t} in {c:?}");
        }
    }
    for (i, arn) in activities.iter().enumerate() {
        let d = wait_done(&sfn, arn).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error, d.cause);
        assert_eq!(d.output.as_deref(), Some(json!({"i": i, "done": {"by": i}}).to_string().as_str()), "{arn}");
        let events = history(&sfn, arn).await;
        check_shape(arn, &events);
        expect_entered(arn, &events, &[("Work", 1)]);
        let c = counts(&events);
        for t in ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"] {
            assert_eq!(c.get(t), Some(&1), "{arn}: {t} in {c:?}");
        }
    }
    server.assert_no_panic();
}

/// A function call in flight when the server dies is made again as soon as it restarts, not
/// when the call's lease (30 s past the function's timeout, here an hour) runs out.
#[tokio::test]
async fn a_call_in_flight_is_made_again_at_once_after_a_restart() {
    // The first call records its process id and hangs; later calls answer at once.
    let config = r#"
[functions.hang-once]
command = ["sh", "-c", "if [ -e '{dir}/called' ]; then cat >/dev/null; echo '{\"second\": true}'; else echo $$ > '{dir}/called.tmp'; mv '{dir}/called.tmp' '{dir}/called'; exec sleep 3600; fi"]
timeout_seconds = 3600
"#;
    let mut server = Server::start_with(500, config);
    let mut sfn = client(&server);
    let machine = create(
        &sfn,
        "in-flight",
        &definition(
            "Call",
            json!({"Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hang-once", "End": true}}),
        ),
    )
    .await;
    let arn = start(&sfn, &machine, json!({})).await;
    let marker = server.dir.join("called");
    for _ in 0..600 {
        if marker.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = std::fs::read_to_string(&marker).expect("the first call started");
    server.kill();
    // The hung call's process group outlives the server; end it too.
    let _ = std::process::Command::new("kill").args(["-9", "--", &format!("-{}", pid.trim())]).status();
    server.restart();
    sfn = client(&server);

    let d = wait_done(&sfn, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?} {:?}", d.error, d.cause);
    assert_eq!(d.output.as_deref(), Some(r#"{"second":true}"#));
    let events = history(&sfn, &arn).await;
    check_shape(&arn, &events);
    let c = counts(&events);
    for t in ["TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionSucceeded"] {
        assert_eq!(c.get(t), Some(&1), "{t} in {c:?}");
    }
    server.assert_no_panic();
}

/// The line `baton serve` prints once it listens, from a process started with `args`, `env`
/// and a baton.toml holding `config`; the process is then stopped.
fn listening_line(args: &[&str], env: &[(&str, &str)], config: &str) -> String {
    use std::io::BufRead;
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("baton-durability-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    std::fs::write(dir.join("baton.toml"), config).expect("baton.toml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--config"])
        .arg(dir.join("baton.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .env_remove("BATON_DURABILITY")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("baton serve starts");
    let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let line = stderr.lines().map_while(Result::ok).find(|l| l.contains("listening on")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    line
}

#[test]
fn durability_is_full_unless_relaxed_is_chosen() {
    assert!(listening_line(&[], &[], "").contains("durability: full"), "full by default");
    let relaxed_file = "[store]\ndurability = \"relaxed\"\n";
    assert!(listening_line(&[], &[], relaxed_file).contains("durability: relaxed"), "baton.toml chooses");
    assert!(
        listening_line(&[], &[("BATON_DURABILITY", "full")], relaxed_file).contains("durability: full"),
        "the variable wins over the file"
    );
    assert!(
        listening_line(&["--durability", "relaxed"], &[], "").contains("durability: relaxed"),
        "the option chooses"
    );
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--port", "0", "--durability", "sometimes"])
        .output()
        .expect("baton runs");
    assert_eq!(wrong.status.code(), Some(2));
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(said.contains("--durability") && said.contains("use full or relaxed"), "{said}");
}
