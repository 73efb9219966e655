//! What every `Store` must do, checked against the embedded SQLite store. Each check is a
//! function of `&dyn Store`, so another implementation runs the same checks.

use std::sync::Arc;

use store::postgres::PostgresStore;
use store::sqlite::SqliteStore;
use store::{
    Claim, Commit, ExecutionRow, Executions, MapRunRow, MessageRow, QueueRow, Store, StoreError, TaskKind, TaskRow,
    TaskStatus, TimerRow,
};

fn temp_store() -> (tempdir::Dir, Arc<dyn Store>) {
    let dir = tempdir::Dir::new();
    let store = SqliteStore::open(&dir.path.join("baton.db")).expect("a fresh store opens");
    (dir, Arc::new(store))
}

/// A minimal temporary folder, removed on drop (keeps the dependency list short).
mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Self {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("baton-store-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn execution(arn: &str, start: i64) -> ExecutionRow {
    ExecutionRow {
        arn: arn.into(),
        state_machine_arn: "sm".into(),
        name: arn.rsplit(':').next().unwrap_or(arn).into(),
        status: "RUNNING".into(),
        input: "{}".into(),
        output: None,
        error: None,
        cause: None,
        start,
        stop: None,
        version_arn: None,
        alias_arn: None,
        definition: "{}".into(),
        redrive_count: 0,
        redrive_date: None,
        parent: None,
        started_by: None,
        mock_test_case: None,
        version: 0,
    }
}

fn first_commit(arn: &str) -> Commit {
    Commit {
        execution_arn: arn.into(),
        status: "RUNNING".into(),
        state: Some("state-1".into()),
        events: vec![(1, "e1".into()), (2, "e2".into())],
        ..Commit::default()
    }
}

fn task(arn: &str, id: i64, kind: TaskKind, resource: &str, token: Option<&[u8]>) -> TaskRow {
    TaskRow {
        execution_arn: arn.into(),
        task_id: id,
        kind,
        resource: resource.into(),
        state_name: "S".into(),
        request: r#"{"token":"secret"}"#.into(),
        token_hash: token.map(<[u8]>::to_vec),
        status: TaskStatus::Queued,
        worker: None,
        created: id,
        lease_until: None,
        message: token.map(|_| format!(r#"{{"BatonAssignee":"p{id}"}}"#)),
        deadline: token.map(|_| id + 1000),
    }
}

async fn commits_are_conditional_on_the_version(s: &dyn Store) {
    s.insert_execution(&execution("e", 1), &first_commit("e")).await.expect("insert");
    assert!(matches!(
        s.insert_execution(&execution("e", 1), &first_commit("e")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let (row, state) = s.load_execution("e").await.expect("load").expect("exists");
    assert_eq!(state.as_deref(), Some("state-1"));
    let next = Commit {
        execution_arn: "e".into(),
        expected_version: row.version,
        status: "SUCCEEDED".into(),
        output: Some("{}".into()),
        stop: Some(5),
        events: vec![(3, "e3".into())],
        messages: vec![message("commit-q", "sent-with-commit", 0)],
        ..Commit::default()
    };
    s.create_queue(&QueueRow { name: "commit-q".into(), attributes: "{}".into(), created: 0 }).await.expect("queue");
    s.commit(&next).await.expect("first writer wins");
    // A second writer that read the same version loses, and sends nothing.
    assert!(matches!(s.commit(&next).await, Err(StoreError::Conflict(_))));
    let sent = s.receive_messages("commit-q", 1, 2, 10).await.expect("receive");
    assert_eq!(sent.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["sent-with-commit"]);
    assert!(s.delete_queue("commit-q").await.expect("delete"));
    let (row, state) = s.load_execution("e").await.expect("load").expect("exists");
    assert_eq!((row.status.as_str(), state), ("SUCCEEDED", None));
    let ids: Vec<i64> = s.history("e", None, 10, false).await.expect("history").iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2, 3]);
}

async fn history_pages_both_ways(s: &dyn Store) {
    let mut c = first_commit("h");
    c.events = (1..=5).map(|i| (i, format!("e{i}"))).collect();
    s.insert_execution(&execution("h", 1), &c).await.expect("insert");
    let fwd: Vec<i64> = s.history("h", Some(2), 2, false).await.expect("page").iter().map(|(i, _)| *i).collect();
    assert_eq!(fwd, [3, 4]);
    let back: Vec<i64> = s.history("h", Some(4), 2, true).await.expect("page").iter().map(|(i, _)| *i).collect();
    assert_eq!(back, [3, 2]);
}

async fn executions_list_newest_first_with_a_cursor(s: &dyn Store) {
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        s.insert_execution(&execution(name, i as i64), &first_commit(name)).await.expect("insert");
    }
    let page1 = s.list_executions("sm", None, None, 2).await.expect("list");
    let names: Vec<&str> = page1.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["d", "c"]);
    let page2 = s.list_executions("sm", None, Some("c"), 2).await.expect("list");
    let names: Vec<&str> = page2.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    assert!(s.list_executions("sm", Some("FAILED"), None, 10).await.expect("list").is_empty());
}

async fn a_token_is_answered_once(s: &dyn Store) {
    let mut c = first_commit("t");
    let mut submitted =
        task("t", 1, TaskKind::Invoke, "arn:aws:states:::lambda:invoke.waitForTaskToken", Some(b"hash"));
    submitted.status = TaskStatus::Submitted;
    c.tasks_added = vec![submitted];
    s.insert_execution(&execution("t", 1), &c).await.expect("insert");
    let answered = s.answer_task(b"hash", Box::new(|t: &TaskRow| format!("done {}", t.task_id))).await.expect("answer");
    assert_eq!(answered.map(|t| t.task_id), Some(1));
    let again = s.answer_task(b"hash", Box::new(|_: &TaskRow| "again".into())).await.expect("answer");
    assert!(again.is_none(), "a second answer finds no task");
    let events = s.pending_events("t").await.expect("events");
    assert_eq!(events.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(), ["done 1"]);
    assert!(s.get_task("t", 1).await.expect("get").is_none(), "an answered task is gone");
}

/// A worker can answer a token while the call that handed it out is still in flight: the
/// answer is queued and the token spent, but the invocation stays, so a node that dies before
/// the call returns makes it again and the submission the answer waits for still comes.
async fn an_answer_during_the_call_keeps_the_invocation(s: &dyn Store) {
    let mut c = first_commit("f");
    c.tasks_added =
        vec![task("f", 1, TaskKind::Invoke, "arn:aws:states:::sqs:sendMessage.waitForTaskToken", Some(b"f1"))];
    s.insert_execution(&execution("f", 1), &c).await.expect("insert");
    // The store may hold other tests' invocations: look only at this one.
    let mine =
        |rows: Vec<TaskRow>| rows.iter().filter(|t| t.execution_arn == "f").map(|t| t.task_id).collect::<Vec<_>>();
    assert_eq!(mine(s.claim_invocations("node-a", 100, 1_000_000, 10).await.expect("claim")), [1]);
    let answered = s.answer_task(b"f1", Box::new(|_: &TaskRow| "early".into())).await.expect("answer");
    assert_eq!(answered.map(|t| t.task_id), Some(1));
    assert!(s.answer_task(b"f1", Box::new(|_: &TaskRow| "again".into())).await.expect("answer").is_none());
    assert!(s.task_by_token(b"f1").await.expect("by token").is_none(), "the token is spent");
    let kept = s.get_task("f", 1).await.expect("get").expect("the invocation is kept");
    assert_eq!((kept.status, kept.token_hash), (TaskStatus::Running, None));
    assert!(s.open_tasks(Some("f"), 10).await.expect("open").is_empty(), "nobody can answer it any more");
    // node-a dies with the call in flight: it is made again.
    assert!(s.reclaim_invocations("node-a").await.expect("reclaim") >= 1);
    assert_eq!(mine(s.claim_invocations("node-a", 200, 1_000_000, 10).await.expect("claim")), [1]);
    let events = s.pending_events("f").await.expect("events");
    assert_eq!(events.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(), ["early"]);
    // The commit that applies the answer (after the submission) ends the task.
    let row = s.get_execution("f").await.expect("get").expect("exists");
    let applied = Commit {
        execution_arn: "f".into(),
        expected_version: row.version,
        status: "RUNNING".into(),
        state: Some("state-2".into()),
        consumed_events: events.iter().map(|(seq, _)| *seq).collect(),
        tasks_removed: vec![1],
        ..Commit::default()
    };
    s.commit(&applied).await.expect("commit");
    assert!(s.get_task("f", 1).await.expect("get").is_none());
}

async fn open_tasks_are_those_waiting_for_an_answer(s: &dyn Store) {
    let mut c = first_commit("o");
    let mut submitted =
        task("o", 1, TaskKind::Invoke, "arn:aws:states:::sqs:sendMessage.waitForTaskToken", Some(b"o1"));
    submitted.status = TaskStatus::Submitted;
    c.tasks_added = vec![
        submitted,
        task("o", 2, TaskKind::Activity, "arn:activity:o", Some(b"o2")),
        // Not yet called, so nobody can answer it; and a task without a token.
        task("o", 3, TaskKind::Invoke, "arn:aws:states:::lambda:invoke.waitForTaskToken", Some(b"o3")),
        task("o", 4, TaskKind::Invoke, "arn:aws:states:::lambda:invoke", None),
    ];
    s.insert_execution(&execution("o", 1), &c).await.expect("insert");
    let ids = |rows: Vec<TaskRow>| rows.iter().map(|t| t.task_id).collect::<Vec<_>>();
    assert_eq!(ids(s.open_tasks(None, 10).await.expect("open")), [1, 2]);
    assert_eq!(ids(s.open_tasks(Some("o"), 1).await.expect("open")), [1]);
    assert!(s.open_tasks(Some("other"), 10).await.expect("open").is_empty());
    s.answer_task(b"o1", Box::new(|_: &TaskRow| "done".into())).await.expect("answer");
    assert_eq!(ids(s.open_tasks(Some("o"), 10).await.expect("open")), [2]);
}

async fn executions_are_found_by_prefix(s: &dyn Store) {
    for arn in ["px:m:ab2", "px:m:ab1", "px:m:ac", "px:m:b", "px:n:ab"] {
        s.insert_execution(&execution(arn, 1), &first_commit(arn)).await.expect("insert");
    }
    let arns = |rows: Vec<ExecutionRow>| rows.into_iter().map(|r| r.arn).collect::<Vec<_>>();
    assert_eq!(
        arns(s.executions_by_prefix("px:m:a", None, None, 10).await.expect("find")),
        ["px:m:ab1", "px:m:ab2", "px:m:ac"]
    );
    assert_eq!(arns(s.executions_by_prefix("px:m:a", None, None, 2).await.expect("find")), ["px:m:ab1", "px:m:ab2"]);
    assert_eq!(arns(s.executions_by_prefix("px:m:a", None, Some("px:m:ab2"), 2).await.expect("find")), ["px:m:ac"]);
    assert_eq!(arns(s.executions_by_prefix("px:m:ab1", None, None, 10).await.expect("find")), ["px:m:ab1"]);
    assert!(s.executions_by_prefix("px:m:a", Some("FAILED"), None, 10).await.expect("find").is_empty());
    assert_eq!(s.executions_by_prefix("px:m:", Some("RUNNING"), None, 10).await.expect("find").len(), 4);
}

async fn who_started_an_execution_is_kept(s: &dyn Store) {
    let row = ExecutionRow { started_by: Some("ana".into()), ..execution("started-by-ana", 1) };
    s.insert_execution(&row, &first_commit("started-by-ana")).await.expect("insert");
    s.insert_execution(&execution("started-by-nobody", 1), &first_commit("started-by-nobody")).await.expect("insert");
    let got = s.get_execution("started-by-ana").await.expect("get").expect("exists");
    assert_eq!(got.started_by.as_deref(), Some("ana"));
    let got = s.get_execution("started-by-nobody").await.expect("get").expect("exists");
    assert_eq!(got.started_by, None);
}

async fn the_mock_test_case_is_kept(s: &dyn Store) {
    let row = ExecutionRow { mock_test_case: Some("HappyPath".into()), ..execution("mocked-happy", 1) };
    s.insert_execution(&row, &first_commit("mocked-happy")).await.expect("insert");
    let got = s.get_execution("mocked-happy").await.expect("get").expect("exists");
    assert_eq!(got.mock_test_case.as_deref(), Some("HappyPath"));
    let (loaded, _) = s.load_execution("mocked-happy").await.expect("load").expect("exists");
    assert_eq!(loaded.mock_test_case.as_deref(), Some("HappyPath"));
    assert_eq!(s.get_execution("started-by-nobody").await.expect("get").expect("exists").mock_test_case, None);
}

async fn an_activity_task_goes_to_one_worker(s: &dyn Store) {
    let mut c = first_commit("a");
    c.tasks_added = vec![task("a", 1, TaskKind::Activity, "arn:activity:x", Some(b"h1"))];
    s.insert_execution(&execution("a", 1), &c).await.expect("insert");
    let started =
        |worker: &'static str| -> store::AnswerFn { Box::new(move |t| format!("started {} by {worker}", t.task_id)) };
    let first = s.claim_activity_task("arn:activity:x", "w1", started("w1")).await.expect("claim");
    let second = s.claim_activity_task("arn:activity:x", "w2", started("w2")).await.expect("claim");
    let first = first.expect("the first worker gets the task");
    assert_eq!(
        s.pending_events("a").await.expect("events").into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        ["started 1 by w1"],
        "the hand-out queues its start, once"
    );
    assert!(second.is_none(), "the second worker gets nothing");
    assert_eq!(first.request, r#"{"token":"secret"}"#, "the worker receives the request once");
    let stored = s.get_task("a", 1).await.expect("get").expect("still open");
    assert_eq!(stored.request, "{}", "the token is not kept after it is handed out");
    assert_eq!(stored.worker.as_deref(), Some("w1"));
    assert_eq!(stored.message.as_deref(), Some(r#"{"BatonAssignee":"p1"}"#), "what people see stays with the task");
    assert_eq!(stored.deadline, Some(1001));
}

async fn invocations_are_leased_and_taken_over_when_the_lease_ends(s: &dyn Store) {
    let mut c = first_commit("i");
    c.tasks_added = vec![task("i", 1, TaskKind::Invoke, "arn:aws:lambda:f", None)];
    s.insert_execution(&execution("i", 1), &c).await.expect("insert");
    let claimed = s.claim_invocations("node-a", 100, 200, 10).await.expect("claim");
    assert_eq!(claimed.iter().map(|t| t.worker.as_deref()).collect::<Vec<_>>(), [Some("node-a")]);
    assert!(s.claim_invocations("node-b", 150, 250, 10).await.expect("claim").is_empty(), "leased until 200");
    assert_eq!(s.claim_invocations("node-b", 201, 300, 10).await.expect("claim").len(), 1, "the lease ran out");
    s.set_task_status("i", 1, TaskStatus::Submitted).await.expect("status");
    assert!(
        s.claim_invocations("node-b", 10_000, 20_000, 10).await.expect("claim").is_empty(),
        "submitted tasks are not re-run"
    );
    assert_eq!(s.reclaim_invocations("node-b").await.expect("reclaim"), 0, "submitted tasks are not taken back");
}

async fn a_restarted_node_takes_back_its_calls_in_flight(s: &dyn Store) {
    let mut c = first_commit("r");
    c.tasks_added = vec![task("r", 1, TaskKind::Invoke, "arn:aws:lambda:f", None)];
    s.insert_execution(&execution("r", 1), &c).await.expect("insert");
    assert_eq!(s.claim_invocations("node-a", 100, 1_000_000, 10).await.expect("claim").len(), 1);
    // node-a dies with the call in flight and starts again long before its lease ends.
    assert_eq!(s.reclaim_invocations("node-a").await.expect("reclaim"), 1);
    let again = s.claim_invocations("node-a", 200, 1_000_000, 10).await.expect("claim");
    assert_eq!(again.iter().map(|t| t.task_id).collect::<Vec<_>>(), [1], "claimable at once");
}

/// Several nodes: a node takes back only its own calls; another node's live lease stands.
async fn a_node_takes_back_only_its_own_calls(s: &dyn Store) {
    let mut c = first_commit("o");
    c.tasks_added = vec![task("o", 1, TaskKind::Invoke, "arn:aws:lambda:f", None)];
    s.insert_execution(&execution("o", 1), &c).await.expect("insert");
    assert_eq!(s.claim_invocations("node-a", 100, 1_000_000, 10).await.expect("claim").len(), 1);
    assert_eq!(s.reclaim_invocations("node-b").await.expect("reclaim"), 0);
    assert!(s.claim_invocations("node-b", 200, 1_000_000, 10).await.expect("claim").is_empty(), "node-a holds it");
}

async fn timers_fire_once(s: &dyn Store) {
    let mut c = first_commit("w");
    c.timers_added = vec![(1, 50), (2, 500)];
    s.insert_execution(&execution("w", 1), &c).await.expect("insert");
    let due = s.due_timers(100, 10).await.expect("due");
    assert_eq!(due, [TimerRow { execution_arn: "w".into(), timer_id: 1, fire_at: 50 }]);
    let fired: Vec<(TimerRow, String)> = due.into_iter().map(|t| (t, "fired".to_owned())).collect();
    s.fire_timers(&fired).await.expect("fire");
    s.fire_timers(&fired).await.expect("firing again is harmless");
    assert_eq!(s.pending_events("w").await.expect("events").len(), 1, "one event, not two");
    assert_eq!(s.next_timer().await.expect("next"), Some(500));
}

async fn leases_exclude_other_owners_until_they_expire(s: &dyn Store) {
    s.insert_execution(&execution("l", 1), &first_commit("l")).await.expect("insert");
    assert!(s.claim_execution("l", "node-a", 0, 100).await.expect("claim"));
    assert!(!s.claim_execution("l", "node-b", 50, 150).await.expect("claim"), "held by node-a");
    assert!(s.claim_execution("l", "node-a", 50, 150).await.expect("claim"), "the owner renews");
    assert!(s.claim_execution("l", "node-b", 151, 250).await.expect("claim"), "expired");
    s.release_execution("l", "node-b").await.expect("release");
    assert!(s.claim_execution("l", "node-a", 160, 260).await.expect("claim"));
}

async fn a_claim_reads_queued_events_and_its_commit_ends_it(s: &dyn Store) {
    s.insert_execution(&execution("p", 1), &first_commit("p")).await.expect("insert");
    assert_eq!(s.claim_pending("p", "node-a", 0, 100).await.expect("claim"), Claim::Idle, "nothing queued");
    assert!(s.claim_execution("p", "node-b", 1, 100).await.expect("claim"), "an idle claim holds nothing");
    s.release_execution("p", "node-b").await.expect("release");
    let seq = s.push_event("p", "answer").await.expect("push");
    let Claim::Claimed { row, state, events } = s.claim_pending("p", "node-a", 2, 100).await.expect("claim") else {
        panic!("an execution with a queued event is claimed");
    };
    assert_eq!((row.arn.as_str(), state.as_deref(), events), ("p", Some("state-1"), vec![(seq, "answer".to_owned())]));
    assert_eq!(s.claim_pending("p", "node-b", 3, 100).await.expect("claim"), Claim::Busy, "held by node-a");
    assert_eq!(s.claim_pending("nobody", "node-b", 3, 100).await.expect("claim"), Claim::Busy, "no such execution");
    let next = Commit {
        execution_arn: "p".into(),
        expected_version: row.version,
        status: "RUNNING".into(),
        state: Some("state-2".into()),
        events: vec![(3, "e3".into())],
        consumed_events: vec![seq],
        release: Some("node-a".into()),
        ..Commit::default()
    };
    s.commit(&next).await.expect("commit");
    assert!(s.pending_events("p").await.expect("events").is_empty(), "the event is consumed");
    assert!(s.claim_execution("p", "node-b", 4, 100).await.expect("claim"), "the commit ended node-a's claim");
    // A commit naming another owner leaves the claim alone.
    let (row, _) = s.load_execution("p").await.expect("load").expect("exists");
    let other =
        Commit { expected_version: row.version, events: vec![(4, "e4".into())], consumed_events: vec![], ..next };
    s.commit(&other).await.expect("commit");
    assert!(!s.claim_execution("p", "node-a", 5, 100).await.expect("claim"), "node-b still holds it");
}

async fn map_runs_are_kept_by_arn_and_listed_by_execution(s: &dyn Store) {
    let run = |arn: &str, exec: &str, start: i64, record: &str| MapRunRow {
        arn: arn.into(),
        execution_arn: exec.into(),
        start,
        record: record.into(),
    };
    s.put_map_runs(&[run("run:b", "exec:1", 20, "{\"v\":1}"), run("run:a", "exec:1", 10, "{}")]).await.expect("put");
    s.put_map_runs(&[run("run:c", "exec:2", 5, "{}")]).await.expect("put");
    // A later copy replaces the earlier one.
    s.put_map_runs(&[run("run:b", "exec:1", 20, "{\"v\":2}")]).await.expect("put again");
    let b = s.get_map_run("run:b").await.expect("get").expect("kept");
    assert_eq!((b.execution_arn.as_str(), b.record.as_str()), ("exec:1", "{\"v\":2}"));
    assert!(s.get_map_run("run:none").await.expect("get").is_none());
    let listed: Vec<String> = s.list_map_runs("exec:1").await.expect("list").into_iter().map(|r| r.arn).collect();
    assert_eq!(listed, ["run:a", "run:b"]);
}

fn message(queue: &str, id: &str, sent: i64) -> MessageRow {
    MessageRow {
        queue: queue.into(),
        id: id.into(),
        body: format!("body {id}"),
        attributes: "{}".into(),
        sent,
        visible_at: sent,
        receive_count: 0,
        first_received: None,
    }
}

async fn queues_hand_each_message_to_one_receiver_at_a_time(s: &dyn Store) {
    let q = QueueRow { name: "orders".into(), attributes: r#"{"VisibilityTimeout":"30"}"#.into(), created: 1 };
    assert_eq!(s.create_queue(&q).await.expect("create"), q);
    let again = QueueRow { attributes: "{}".into(), created: 2, ..q.clone() };
    assert_eq!(s.create_queue(&again).await.expect("create again"), q, "an existing queue is kept as it is");
    s.create_queue(&QueueRow { name: "other".into(), attributes: "{}".into(), created: 3 }).await.expect("create");
    let names = |v: Vec<QueueRow>| v.into_iter().map(|q| q.name).collect::<Vec<_>>();
    assert_eq!(names(s.list_queues(None).await.expect("list")), ["orders", "other"]);
    assert_eq!(names(s.list_queues(Some("ord")).await.expect("list")), ["orders"]);

    let missing = s.send_message(&message("nope", "m0", 10)).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    s.send_message(&message("orders", "m1", 10)).await.expect("send");
    s.send_message(&message("orders", "m2", 11)).await.expect("send");
    let mut delayed = message("orders", "m3", 12);
    delayed.visible_at = 1_000;
    s.send_message(&delayed).await.expect("send");
    assert_eq!(s.queue_counts("orders", 20).await.expect("counts"), (2, 1));

    // Peeking reads the newest first and changes nothing.
    let peeked = s.peek_messages("orders", 2).await.expect("peek");
    assert_eq!(peeked.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m3", "m2"]);
    assert_eq!((peeked[1].receive_count, peeked[1].visible_at), (0, 11));
    assert_eq!(s.peek_messages("orders", 10).await.expect("peek").len(), 3);
    assert!(s.peek_messages("other", 10).await.expect("peek").is_empty());
    assert_eq!(s.queue_counts("orders", 20).await.expect("counts"), (2, 1));

    let got = s.receive_messages("orders", 20, 50, 1).await.expect("receive");
    assert_eq!(got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m1"], "oldest first");
    assert_eq!((got[0].receive_count, got[0].first_received, got[0].visible_at), (1, Some(20), 50));
    let got = s.receive_messages("orders", 21, 50, 10).await.expect("receive");
    assert_eq!(got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m2"], "m1 is in flight, m3 delayed");
    assert!(s.receive_messages("orders", 30, 60, 10).await.expect("receive").is_empty());

    // m1's visibility timeout runs out: it comes back, received a second time.
    let got = s.receive_messages("orders", 50, 80, 10).await.expect("receive");
    assert_eq!(got.iter().map(|m| (m.id.as_str(), m.receive_count)).collect::<Vec<_>>(), [("m1", 2), ("m2", 2)]);
    assert!(s.delete_message("orders", "m1").await.expect("delete"));
    assert!(!s.delete_message("orders", "m1").await.expect("delete"), "deleted once");
    assert!(s.set_message_visibility("orders", "m2", 0).await.expect("visibility"));
    let got = s.receive_messages("orders", 60, 90, 10).await.expect("receive");
    assert_eq!(got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m2"], "made visible again at once");
    assert_eq!(s.purge_queue("orders").await.expect("purge"), 2);
    assert_eq!(s.queue_counts("orders", 2_000).await.expect("counts"), (0, 0));

    s.send_message(&message("other", "o1", 1)).await.expect("send");
    assert!(s.delete_queue("other").await.expect("delete queue"));
    assert!(!s.delete_queue("other").await.expect("delete queue"));
    assert!(s.get_queue("other").await.expect("get").is_none());
    assert!(s.get_queue("orders").await.expect("get").is_some());
}

#[tokio::test]
async fn sqlite_store_keeps_the_contract() {
    let (_dir, s) = temp_store();
    commits_are_conditional_on_the_version(&*s).await;
    history_pages_both_ways(&*s).await;
    a_token_is_answered_once(&*s).await;
    an_answer_during_the_call_keeps_the_invocation(&*s).await;
    an_activity_task_goes_to_one_worker(&*s).await;
    invocations_are_leased_and_taken_over_when_the_lease_ends(&*s).await;
    a_restarted_node_takes_back_its_calls_in_flight(&*s).await;
    timers_fire_once(&*s).await;
    leases_exclude_other_owners_until_they_expire(&*s).await;
    a_claim_reads_queued_events_and_its_commit_ends_it(&*s).await;
    queues_hand_each_message_to_one_receiver_at_a_time(&*s).await;
    let (_dir2, s2) = temp_store();
    executions_list_newest_first_with_a_cursor(&*s2).await;
    open_tasks_are_those_waiting_for_an_answer(&*s2).await;
    who_started_an_execution_is_kept(&*s2).await;
    the_mock_test_case_is_kept(&*s2).await;
    executions_are_found_by_prefix(&*s2).await;
    map_runs_are_kept_by_arn_and_listed_by_execution(&*s2).await;
}

/// A PostgreSQL store in a schema of its own, so runs never see each other's rows. The
/// database comes from `DATABASE_URL` (`.ci/run` and `scripts/test.sh` set it).
async fn postgres_store() -> Arc<dyn Store> {
    let url = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL database for the PostgreSQL store tests \
         (e.g. postgres://postgres@127.0.0.1:5432/test)",
    );
    let mut cfg: tokio_postgres::Config = url.parse().expect("DATABASE_URL is a PostgreSQL URL");
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let schema = format!("baton_test_{}_{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.expect("PostgreSQL at DATABASE_URL answers");
    tokio::spawn(conn);
    // Schemas of earlier runs (other process ids) are left over; clear them.
    let mine = format!("baton_test_{}_", std::process::id());
    let old = client
        .query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'baton\\_test\\_%'", &[])
        .await
        .expect("list schemas");
    for row in old {
        let name: String = row.get(0);
        if !name.starts_with(&mine) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        }
    }
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
        .await
        .expect("schema");
    cfg.options(format!("-c search_path={schema}"));
    Arc::new(PostgresStore::connect_with(cfg).await.expect("the PostgreSQL store connects and migrates"))
}

#[tokio::test]
async fn postgres_store_keeps_the_contract() {
    let s = postgres_store().await;
    commits_are_conditional_on_the_version(&*s).await;
    history_pages_both_ways(&*s).await;
    a_token_is_answered_once(&*s).await;
    an_answer_during_the_call_keeps_the_invocation(&*s).await;
    an_activity_task_goes_to_one_worker(&*s).await;
    invocations_are_leased_and_taken_over_when_the_lease_ends(&*s).await;
    a_restarted_node_takes_back_its_calls_in_flight(&*s).await;
    a_node_takes_back_only_its_own_calls(&*s).await;
    timers_fire_once(&*s).await;
    leases_exclude_other_owners_until_they_expire(&*s).await;
    a_claim_reads_queued_events_and_its_commit_ends_it(&*s).await;
    queues_hand_each_message_to_one_receiver_at_a_time(&*s).await;
    let s2 = postgres_store().await;
    executions_list_newest_first_with_a_cursor(&*s2).await;
    open_tasks_are_those_waiting_for_an_answer(&*s2).await;
    who_started_an_execution_is_kept(&*s2).await;
    the_mock_test_case_is_kept(&*s2).await;
    executions_are_found_by_prefix(&*s2).await;
    map_runs_are_kept_by_arn_and_listed_by_execution(&*s2).await;
}

#[tokio::test]
async fn postgres_carries_wake_ups_between_stores() {
    let a = postgres_store().await;
    let b = postgres_store().await;
    let mut rx = b.subscribe().expect("PostgreSQL stores carry wake-ups");
    a.publish(store::Wake::Execution("arn:x".into())).await.expect("publish");
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await.expect("a wake-up within 5 s");
    assert_eq!(got.expect("the channel is open"), store::Wake::Execution("arn:x".into()));
}

#[tokio::test]
async fn reopening_a_store_keeps_its_data() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("baton.db");
    {
        let s = SqliteStore::open(&path).expect("open");
        s.insert_execution(&execution("p", 1), &first_commit("p")).await.expect("insert");
    }
    let s = SqliteStore::open(&path).expect("reopen runs no migration twice");
    assert!(s.get_execution("p").await.expect("get").is_some());
}
