//! The embedded store: one SQLite database file in WAL mode.
//!
//! One connection writes (SQLite has one writer at a time anyway); a few more read, so
//! Describe/List/GetExecutionHistory never wait behind a commit. Each connection is owned by
//! a thread of its own that runs the calls sent to it in arrival order: under load it stays
//! busy instead of handing a lock from one parked thread to the next, and the threads stay
//! few and fixed, so the heap does not spread over ever more malloc arenas. Migrations are numbered and append-only; the schema's version is SQLite's
//! `user_version`.
//!
//! Durability ([`Durability`]): with `Full` (the default) a write is answered once the WAL
//! is synced past its commit, one sync for many writes ([`group_commit`]); writes no client
//! is answered about do not wait. With `Relaxed` every write is answered at once.

mod group_commit;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::{
    prefix_end, ActivityRow, AliasRow, AnswerFn, Claim, Commit, Durability, ExecutionRow, Gauges, MapRunRow,
    MessageRow, Millis, QueueRow, Result, StateMachineRow, Store, StoreError, TaskKind, TaskRow, TaskStatus, TimerRow,
    VersionRow,
};

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE state_machines (
        arn TEXT PRIMARY KEY, name TEXT NOT NULL, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
        kind TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, revision_id TEXT NOT NULL,
        description TEXT, config TEXT NOT NULL
    );
    CREATE TABLE versions (
        arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
        role_arn TEXT NOT NULL, revision_id TEXT NOT NULL, description TEXT, created INTEGER NOT NULL
    );
    CREATE INDEX versions_by_machine ON versions(state_machine_arn, version);
    CREATE TABLE aliases (
        arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
        routing TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL
    );
    CREATE INDEX aliases_by_machine ON aliases(state_machine_arn);
    CREATE TABLE activities (arn TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE TABLE tags (resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (resource_arn, key));
    CREATE TABLE executions (
        arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
        input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, start INTEGER NOT NULL, stop INTEGER,
        version_arn TEXT, alias_arn TEXT, definition TEXT NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0,
        redrive_date INTEGER, version INTEGER NOT NULL, state TEXT,
        lease_owner TEXT, lease_until INTEGER
    );
    CREATE INDEX executions_by_machine ON executions(state_machine_arn, start DESC, arn);
    CREATE TABLE history (
        execution_arn TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (execution_arn, id)
    ) WITHOUT ROWID;
    CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_arn TEXT NOT NULL, payload TEXT NOT NULL);
    CREATE INDEX inbox_by_execution ON inbox(execution_arn, seq);
    CREATE TABLE timers (
        execution_arn TEXT NOT NULL, timer_id INTEGER NOT NULL, fire_at INTEGER NOT NULL,
        PRIMARY KEY (execution_arn, timer_id)
    );
    CREATE INDEX timers_by_time ON timers(fire_at);
    CREATE TABLE tasks (
        execution_arn TEXT NOT NULL, task_id INTEGER NOT NULL, kind TEXT NOT NULL, resource TEXT NOT NULL,
        state_name TEXT NOT NULL, request TEXT NOT NULL, token_hash BLOB, status TEXT NOT NULL, worker TEXT,
        created INTEGER NOT NULL, lease_until INTEGER,
        PRIMARY KEY (execution_arn, task_id)
    );
    CREATE UNIQUE INDEX tasks_by_token ON tasks(token_hash) WHERE token_hash IS NOT NULL;
    CREATE INDEX tasks_by_queue ON tasks(kind, status, resource, created);
    "#,
    // 2: executions started by a Task know their parent.
    r#"
    ALTER TABLE executions ADD COLUMN parent TEXT;
    "#,
    // 3: built-in queues and their messages.
    r#"
    CREATE TABLE queues (name TEXT PRIMARY KEY, attributes TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
        attributes TEXT NOT NULL, sent INTEGER NOT NULL, visible_at INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0, first_received INTEGER
    );
    CREATE INDEX messages_by_queue ON messages(queue, visible_at, seq);
    "#,
    // 4: lists filtered by status (the console, ListExecutions with statusFilter) walk an
    // index of their own, so a rare status does not scan every execution of the machine.
    r#"
    CREATE INDEX executions_by_machine_status ON executions(state_machine_arn, status, start DESC, arn);
    "#,
    // 5: audit records of people's answers (console inbox, signed links).
    r#"
    CREATE TABLE answers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_arn TEXT NOT NULL, at INTEGER NOT NULL, entry TEXT NOT NULL
    );
    CREATE INDEX answers_by_execution ON answers(execution_arn, seq);
    "#,
    // 6: who started an execution (separation of duties); people's answers are audited in
    // the execution's history now, not in a table of their own.
    r#"
    ALTER TABLE executions ADD COLUMN started_by TEXT;
    DROP TABLE answers;
    "#,
    // 7: what a person answering a task is shown (its message, with the restrictions it
    // names, and its deadline), kept with the task rather than found in the history.
    r#"
    ALTER TABLE tasks ADD COLUMN message TEXT;
    ALTER TABLE tasks ADD COLUMN deadline INTEGER;
    "#,
    // 8: the mock test case an execution runs with (`stateMachineArn#TestCase`).
    r#"
    ALTER TABLE executions ADD COLUMN mock_test_case TEXT;
    "#,
    // 9: distributed Maps' Map Runs, for DescribeMapRun and
    // ListMapRuns once their execution has ended.
    r#"
    CREATE TABLE map_runs (
        arn TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, start INTEGER NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX map_runs_by_execution ON map_runs(execution_arn, start);
    "#,
];

/// A call on one connection, run on the thread that owns it.
type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// A thread that owns `conn` and runs the jobs sent to it in order; it ends when the
/// store, the only sender, is dropped. Fixed threads, unlike tokio's blocking pool, which
/// starts and ends threads and so spreads the heap over more and more malloc arenas.
/// `ended` runs when the thread ends.
fn connection_thread(
    name: &str,
    mut conn: Connection,
    ended: impl FnOnce() + Send + 'static,
) -> Result<std::sync::mpsc::Sender<WriteJob>> {
    let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            while let Ok(job) = queue.recv() {
                // A panicking job answers nothing (its caller sees an error); the thread goes
                // on with the next.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
            }
            ended();
        })
        .map_err(backend)?;
    Ok(jobs)
}

/// How the embedded store is opened.
#[derive(Debug, Clone, Default)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// The SQLite VFS to open the database with (registered beforehand); SQLite's default
    /// when `None`.
    pub vfs: Option<String>,
}

/// Whether a write's answer waits for its commit to be on disk (with [`Durability::Full`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Something a client is answered about: answered once on disk.
    WhenSynced,
    /// Claims, leases and the engine's own steps: nobody is told they happened, and a restart
    /// derives them again from what is on disk. Answered at once; the next sync covers them.
    AtOnce,
}

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: std::sync::mpsc::Sender<WriteJob>,
    /// With [`Durability::Full`]: holds answers until the sync that covers their commit.
    group_commit: Option<std::sync::Arc<group_commit::GroupCommit>>,
    readers: Vec<std::sync::mpsc::Sender<WriteJob>>,
    next_reader: AtomicUsize,
    /// Dropped with the store, which ends the checkpoint thread.
    _stop_checkpoints: std::sync::mpsc::Sender<()>,
}

/// How often the checkpoint thread looks at the WAL.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// WAL frames (pages) beyond which the WAL starts over (16 MiB of 4 KiB pages). The WAL
/// index in shared memory, part of the server's resident memory, is as large as the WAL ever
/// was, and so is the WAL file on disk (cut back to this size when it starts over).
const WAL_FRAMES_MAX: i64 = 4_096;
const WAL_FILE_KEEP: i64 = WAL_FRAMES_MAX * 4096;

/// Copy committed pages from the WAL into the database, beside the writer rather than in it.
/// A passive checkpoint never blocks the writer or readers; once it has copied everything,
/// the writer starts the WAL over at its next commit, so the file stays small. Under steady
/// writes that never happens (readers always hold a snapshot of the WAL), and a restarting
/// checkpoint from this thread would starve: the writer is almost never idle, so the WAL
/// grew without bound (over a gigabyte while starting 100,000 executions). Past
/// [`WAL_FRAMES_MAX`] the restart is therefore run by the writer itself, between two of its
/// jobs: a pause of the writes while readers finish, after which the WAL starts over.
fn checkpoint_loop(conn: Connection, writer: std::sync::mpsc::Sender<WriteJob>, stop: std::sync::mpsc::Receiver<()>) {
    let restart_queued = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let passive =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        match passive {
            Ok((log, _)) if log > WAL_FRAMES_MAX && !restart_queued.swap(true, Ordering::AcqRel) => {
                let queued = restart_queued.clone();
                let job: WriteJob = Box::new(move |c| {
                    match c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
                        Ok(0) => {}
                        Ok(_) => tracing::debug!("the write-ahead log could not start over yet; trying again"),
                        Err(e) => tracing::warn!(error = %e, "restarting the write-ahead log"),
                    }
                    queued.store(false, Ordering::Release);
                });
                if writer.send(job).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checkpointing the write-ahead log"),
        }
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Page cache per connection, in KiB. SQLite's default (2 MiB each) fills as the database
/// grows, so six connections alone would let memory climb by 12 MiB with the number of
/// stored executions; the operating system caches the file beneath them anyway.
const WRITER_CACHE_KIB: i64 = 512;
const READER_CACHE_KIB: i64 = 64;
const CHECKPOINT_CACHE_KIB: i64 = 16;

fn open_connection(path: &Path, cache_kib: i64, vfs: Option<&str>) -> Result<Connection> {
    let conn = match vfs {
        None => Connection::open(path),
        Some(vfs) => Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), vfs),
    }
    .map_err(backend)?;
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the
    // last commits) and syncs no commit; with Durability::Full the group commit syncs the
    // WAL once for many commits before their answers go out.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF; \
         PRAGMA cache_size=-{cache_kib};"
    ))
    .map_err(backend)?;
    Ok(conn)
}

impl SqliteStore {
    /// Open (creating and migrating as needed) the database at `path`, fully durable.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, &SqliteOptions::default())
    }

    /// Open (creating and migrating as needed) the database at `path`.
    pub fn open_with(path: &Path, options: &SqliteOptions) -> Result<Self> {
        let vfs = options.vfs.as_deref();
        let mut dir_to_sync = None;
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(backend)?;
                dir_to_sync = Some(dir);
            }
        }
        let mut writer = open_connection(path, WRITER_CACHE_KIB, vfs)?;
        migrate(&mut writer)?;
        if options.durability == Durability::Full {
            // The database file's own entry in its folder, new or not, is on disk before any
            // answer relies on it.
            #[cfg(unix)]
            if let Ok(dir) = std::fs::File::open(dir_to_sync.unwrap_or(Path::new("."))) {
                dir.sync_all().map_err(backend)?;
            }
        }
        let group_commit = match options.durability {
            Durability::Full => Some(group_commit::GroupCommit::start(&writer)?),
            Durability::Relaxed => None,
        };
        let readers = (0..4)
            .map(|i| {
                open_connection(path, READER_CACHE_KIB, vfs)
                    .and_then(|c| connection_thread(&format!("sqlite-reader-{i}"), c, || {}))
            })
            .collect::<Result<Vec<_>>>()?;
        // Checkpoints run on a thread of their own, not inside a commit: SQLite's automatic
        // checkpoint copies the WAL into the database and syncs it in whichever commit crosses
        // the threshold, a stall of milliseconds for that one caller.
        writer
            .execute_batch(&format!("PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WAL_FILE_KEEP};"))
            .map_err(backend)?;
        let syncer = group_commit.clone();
        let writer = connection_thread("sqlite-writer", writer, move || {
            if let Some(syncer) = syncer {
                syncer.writer_stopped();
            }
        })?;
        let (stop_checkpoints, stopped) = std::sync::mpsc::channel::<()>();
        let checkpointer = open_connection(path, CHECKPOINT_CACHE_KIB, vfs)?;
        let to_writer = writer.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, to_writer, stopped))
            .map_err(backend)?;
        Ok(Self {
            writer,
            group_commit,
            readers,
            next_reader: AtomicUsize::new(0),
            _stop_checkpoints: stop_checkpoints,
        })
    }

    /// A write a client is answered about: with [`Durability::Full`] the answer waits until
    /// the commit, and every commit before it, is on disk.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_answered(Answer::WhenSynced, f).await
    }

    /// A write nobody is told about, re-derived after a crash from what is on disk (see
    /// [`Answer::AtOnce`]): it is answered without waiting for the disk.
    async fn write_unsynced<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_answered(Answer::AtOnce, f).await
    }

    async fn write_answered<T: Send + 'static>(
        &self,
        when: Answer,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let group_commit = self.group_commit.clone();
        let job: WriteJob = Box::new(move |conn| {
            let result = f(conn);
            match group_commit {
                None => {
                    let _ = answer.send(result);
                }
                // Failures wait too: an answer such as "already exists" may rest on a write
                // that is not on disk yet.
                Some(group) if when == Answer::WhenSynced => group.after_job(
                    conn,
                    Some(Box::new(move |synced: Result<()>| {
                        let _ = answer.send(synced.and(result));
                    })),
                ),
                Some(group) => {
                    group.after_job(conn, None);
                    let _ = answer.send(result);
                }
            }
        });
        self.writer.send(job).map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?;
        answered.await.map_err(|_| StoreError::Backend("a write failed without an answer".into()))?
    }

    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> Result<T> + Send + 'static) -> Result<T> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let _ = answer.send(f(conn));
        });
        self.readers[i].send(job).map_err(|_| StoreError::Backend("a reader thread has stopped".into()))?;
        answered.await.map_err(|_| StoreError::Backend("a read failed without an answer".into()))?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend)?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute_batch(&format!("PRAGMA user_version={version}")).map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::debug!(version, "store schema migrated");
    }
    Ok(())
}

fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn sm_from_row(r: &Row<'_>) -> rusqlite::Result<StateMachineRow> {
    Ok(StateMachineRow {
        arn: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
        role_arn: r.get(3)?,
        kind: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
        revision_id: r.get(7)?,
        description: r.get(8)?,
        config: r.get(9)?,
    })
}

const MESSAGE_COLS: &str = "queue, id, body, attributes, sent, visible_at, receive_count, first_received";

fn message_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        queue: r.get(0)?,
        id: r.get(1)?,
        body: r.get(2)?,
        attributes: r.get(3)?,
        sent: r.get(4)?,
        visible_at: r.get(5)?,
        receive_count: r.get(6)?,
        first_received: r.get(7)?,
    })
}

fn queue_from_row(r: &Row<'_>) -> rusqlite::Result<QueueRow> {
    Ok(QueueRow { name: r.get(0)?, attributes: r.get(1)?, created: r.get(2)? })
}

const SM_COLS: &str = "arn, name, definition, role_arn, kind, created, updated, revision_id, description, config";
const EXEC_COLS: &str = "arn, state_machine_arn, name, status, input, output, error, cause, start, stop, version_arn, \
                         alias_arn, definition, redrive_count, redrive_date, version, parent, started_by, \
                         mock_test_case";
const TASK_COLS: &str =
    "execution_arn, task_id, kind, resource, state_name, request, token_hash, status, worker, created, lease_until, \
     message, deadline";

fn exec_from_row(r: &Row<'_>) -> rusqlite::Result<ExecutionRow> {
    Ok(ExecutionRow {
        arn: r.get(0)?,
        state_machine_arn: r.get(1)?,
        name: r.get(2)?,
        status: r.get(3)?,
        input: r.get(4)?,
        output: r.get(5)?,
        error: r.get(6)?,
        cause: r.get(7)?,
        start: r.get(8)?,
        stop: r.get(9)?,
        version_arn: r.get(10)?,
        alias_arn: r.get(11)?,
        definition: r.get(12)?,
        redrive_count: r.get(13)?,
        redrive_date: r.get(14)?,
        version: r.get(15)?,
        parent: r.get(16)?,
        started_by: r.get(17)?,
        mock_test_case: r.get(18)?,
    })
}

fn task_from_row(r: &Row<'_>) -> rusqlite::Result<TaskRow> {
    let kind: String = r.get(2)?;
    let status: String = r.get(7)?;
    Ok(TaskRow {
        execution_arn: r.get(0)?,
        task_id: r.get(1)?,
        kind: TaskKind::parse(&kind),
        resource: r.get(3)?,
        state_name: r.get(4)?,
        request: r.get(5)?,
        token_hash: r.get(6)?,
        status: TaskStatus::parse(&status),
        worker: r.get(8)?,
        created: r.get(9)?,
        lease_until: r.get(10)?,
        message: r.get(11)?,
        deadline: r.get(12)?,
    })
}

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        arn: r.get(0)?,
        state_machine_arn: r.get(1)?,
        version: r.get(2)?,
        definition: r.get(3)?,
        role_arn: r.get(4)?,
        revision_id: r.get(5)?,
        description: r.get(6)?,
        created: r.get(7)?,
    })
}

fn alias_from_row(r: &Row<'_>) -> rusqlite::Result<AliasRow> {
    Ok(AliasRow {
        arn: r.get(0)?,
        state_machine_arn: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        routing: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
    })
}

fn insert_message(tx: &rusqlite::Transaction<'_>, m: &MessageRow) -> rusqlite::Result<usize> {
    tx.execute(
        &format!("INSERT INTO messages ({MESSAGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![m.queue, m.id, m.body, m.attributes, m.sent, m.visible_at, m.receive_count, m.first_received],
    )
}

/// An execution no other owner holds: `?1` the ARN, `?2` the claiming owner, `?3` now.
const LEASE_FREE: &str = "arn = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until < ?3)";

/// The parts of a commit that are not the execution row itself.
fn apply_commit_children(tx: &rusqlite::Transaction<'_>, c: &Commit) -> rusqlite::Result<()> {
    {
        let mut ins = tx.prepare_cached("INSERT INTO history (execution_arn, id, event) VALUES (?1, ?2, ?3)")?;
        for (id, event) in &c.events {
            ins.execute(params![c.execution_arn, id, event])?;
        }
    }
    {
        let mut del = tx.prepare_cached("DELETE FROM timers WHERE execution_arn = ?1 AND timer_id = ?2")?;
        for id in &c.timers_removed {
            del.execute(params![c.execution_arn, id])?;
        }
        let mut ins =
            tx.prepare_cached("INSERT OR REPLACE INTO timers (execution_arn, timer_id, fire_at) VALUES (?1, ?2, ?3)")?;
        for (id, at) in &c.timers_added {
            ins.execute(params![c.execution_arn, id, at])?;
        }
    }
    {
        let mut del = tx.prepare_cached("DELETE FROM tasks WHERE execution_arn = ?1 AND task_id = ?2")?;
        for id in &c.tasks_removed {
            del.execute(params![c.execution_arn, id])?;
        }
        let mut ins = tx.prepare_cached(&format!(
            "INSERT OR REPLACE INTO tasks ({TASK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))?;
        for t in &c.tasks_added {
            ins.execute(params![
                t.execution_arn,
                t.task_id,
                t.kind.as_str(),
                t.resource,
                t.state_name,
                t.request,
                t.token_hash,
                t.status.as_str(),
                t.worker,
                t.created,
                t.lease_until,
                t.message,
                t.deadline
            ])?;
        }
    }
    {
        let mut del = tx.prepare_cached("DELETE FROM inbox WHERE seq = ?1")?;
        for seq in &c.consumed_events {
            del.execute(params![seq])?;
        }
    }
    for m in &c.messages {
        insert_message(tx, m)?;
    }
    if c.state.is_none() {
        // Ended: nothing is left to fire or answer.
        tx.execute("DELETE FROM timers WHERE execution_arn = ?1", params![c.execution_arn])?;
        tx.execute("DELETE FROM tasks WHERE execution_arn = ?1", params![c.execution_arn])?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_state_machine(&self, row: &StateMachineRow) -> Result<()> {
        let row = row.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO state_machines ({SM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    row.arn,
                    row.name,
                    row.definition,
                    row.role_arn,
                    row.kind,
                    row.created,
                    row.updated,
                    row.revision_id,
                    row.description,
                    row.config
                ],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    StoreError::AlreadyExists(row.arn.clone())
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn update_state_machine(&self, row: &StateMachineRow) -> Result<()> {
        let row = row.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE state_machines SET definition = ?2, role_arn = ?3, updated = ?4, revision_id = ?5, \
                     description = ?6, config = ?7 WHERE arn = ?1",
                    params![
                        row.arn,
                        row.definition,
                        row.role_arn,
                        row.updated,
                        row.revision_id,
                        row.description,
                        row.config
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound(row.arn));
            }
            Ok(())
        })
        .await
    }

    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRow>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row(&format!("SELECT {SM_COLS} FROM state_machines WHERE arn = ?1"), params![arn], sm_from_row)
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        let arn = arn.to_owned();
        self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx.execute("DELETE FROM state_machines WHERE arn = ?1", params![arn]).map_err(backend)?;
            tx.execute("DELETE FROM versions WHERE state_machine_arn = ?1", params![arn]).map_err(backend)?;
            tx.execute("DELETE FROM aliases WHERE state_machine_arn = ?1", params![arn]).map_err(backend)?;
            tx.execute("DELETE FROM tags WHERE resource_arn = ?1", params![arn]).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_state_machines(&self, after: Option<&str>, limit: usize) -> Result<Vec<StateMachineRow>> {
        let after = after.unwrap_or("").to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!("SELECT {SM_COLS} FROM state_machines WHERE arn > ?1 ORDER BY arn LIMIT ?2"))
                .map_err(backend)?;
            let rows = st.query_map(params![after, limit as i64], sm_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn insert_version(&self, row: &VersionRow) -> Result<()> {
        let r = row.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO versions (arn, state_machine_arn, version, definition, role_arn, revision_id, description, \
                 created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.arn, r.state_machine_arn, r.version, r.definition, r.role_arn, r.revision_id, r.description, r.created],
            )
            .map_err(|e| if unique_violation(&e) { StoreError::AlreadyExists(r.arn.clone()) } else { backend(e) })?;
            Ok(())
        })
        .await
    }

    async fn get_version(&self, arn: &str) -> Result<Option<VersionRow>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT arn, state_machine_arn, version, definition, role_arn, revision_id, description, created \
                 FROM versions WHERE arn = ?1",
                params![arn],
                version_from_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn delete_version(&self, arn: &str) -> Result<bool> {
        let arn = arn.to_owned();
        self.write(move |c| Ok(c.execute("DELETE FROM versions WHERE arn = ?1", params![arn]).map_err(backend)? > 0))
            .await
    }

    async fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRow>> {
        let sm = state_machine_arn.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT arn, state_machine_arn, version, definition, role_arn, revision_id, description, created \
                     FROM versions WHERE state_machine_arn = ?1 ORDER BY version DESC",
                )
                .map_err(backend)?;
            let rows = st.query_map(params![sm], version_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn insert_alias(&self, row: &AliasRow) -> Result<()> {
        let r = row.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO aliases (arn, state_machine_arn, name, description, routing, created, updated) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![r.arn, r.state_machine_arn, r.name, r.description, r.routing, r.created, r.updated],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    StoreError::AlreadyExists(r.arn.clone())
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn update_alias(&self, row: &AliasRow) -> Result<()> {
        let r = row.clone();
        self.write(move |c| {
            c.execute(
                "UPDATE aliases SET description = ?2, routing = ?3, updated = ?4 WHERE arn = ?1",
                params![r.arn, r.description, r.routing, r.updated],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn get_alias(&self, arn: &str) -> Result<Option<AliasRow>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT arn, state_machine_arn, name, description, routing, created, updated FROM aliases WHERE arn = ?1",
                params![arn],
                alias_from_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn delete_alias(&self, arn: &str) -> Result<bool> {
        let arn = arn.to_owned();
        self.write(move |c| Ok(c.execute("DELETE FROM aliases WHERE arn = ?1", params![arn]).map_err(backend)? > 0))
            .await
    }

    async fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRow>> {
        let sm = state_machine_arn.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT arn, state_machine_arn, name, description, routing, created, updated FROM aliases \
                     WHERE state_machine_arn = ?1 ORDER BY created",
                )
                .map_err(backend)?;
            let rows = st.query_map(params![sm], alias_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn insert_activity(&self, row: &ActivityRow) -> Result<()> {
        let r = row.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO activities (arn, name, created) VALUES (?1, ?2, ?3)",
                params![r.arn, r.name, r.created],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    StoreError::AlreadyExists(r.arn.clone())
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRow>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row("SELECT arn, name, created FROM activities WHERE arn = ?1", params![arn], |r| {
                Ok(ActivityRow { arn: r.get(0)?, name: r.get(1)?, created: r.get(2)? })
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn delete_activity(&self, arn: &str) -> Result<bool> {
        let arn = arn.to_owned();
        self.write(move |c| {
            let n = c.execute("DELETE FROM activities WHERE arn = ?1", params![arn]).map_err(backend)?;
            c.execute("DELETE FROM tags WHERE resource_arn = ?1", params![arn]).map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_activities(&self, after: Option<&str>, limit: usize) -> Result<Vec<ActivityRow>> {
        let after = after.unwrap_or("").to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT arn, name, created FROM activities WHERE arn > ?1 ORDER BY arn LIMIT ?2")
                .map_err(backend)?;
            let rows = st
                .query_map(params![after, limit as i64], |r| {
                    Ok(ActivityRow { arn: r.get(0)?, name: r.get(1)?, created: r.get(2)? })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn put_map_runs(&self, rows: &[MapRunRow]) -> Result<()> {
        let rows = rows.to_vec();
        self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            for r in &rows {
                tx.execute(
                    "INSERT OR REPLACE INTO map_runs (arn, execution_arn, start, record) VALUES (?1, ?2, ?3, ?4)",
                    params![r.arn, r.execution_arn, r.start, r.record],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRow>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row("SELECT arn, execution_arn, start, record FROM map_runs WHERE arn = ?1", params![arn], |r| {
                Ok(MapRunRow { arn: r.get(0)?, execution_arn: r.get(1)?, start: r.get(2)?, record: r.get(3)? })
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRow>> {
        let execution_arn = execution_arn.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT arn, execution_arn, start, record FROM map_runs WHERE execution_arn = ?1 ORDER BY start, arn",
                )
                .map_err(backend)?;
            let rows = st
                .query_map(params![execution_arn], |r| {
                    Ok(MapRunRow { arn: r.get(0)?, execution_arn: r.get(1)?, start: r.get(2)?, record: r.get(3)? })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn tag(&self, resource_arn: &str, tags: &[(String, String)]) -> Result<()> {
        let arn = resource_arn.to_owned();
        let tags = tags.to_vec();
        self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            for (k, v) in &tags {
                tx.execute(
                    "INSERT OR REPLACE INTO tags (resource_arn, key, value) VALUES (?1, ?2, ?3)",
                    params![arn, k, v],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn untag(&self, resource_arn: &str, keys: &[String]) -> Result<()> {
        let arn = resource_arn.to_owned();
        let keys = keys.to_vec();
        self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            for k in &keys {
                tx.execute("DELETE FROM tags WHERE resource_arn = ?1 AND key = ?2", params![arn, k])
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn tags(&self, resource_arn: &str) -> Result<Vec<(String, String)>> {
        let arn = resource_arn.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT key, value FROM tags WHERE resource_arn = ?1 ORDER BY key")
                .map_err(backend)?;
            let rows = st.query_map(params![arn], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn insert_execution(&self, row: &ExecutionRow, first: &Commit) -> Result<()> {
        let row = row.clone();
        let first = first.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            tx.execute(
                &format!(
                    "INSERT INTO executions ({EXEC_COLS}, state) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                ),
                params![
                    row.arn,
                    row.state_machine_arn,
                    row.name,
                    first.status,
                    row.input,
                    first.output,
                    first.error,
                    first.cause,
                    row.start,
                    first.stop,
                    row.version_arn,
                    row.alias_arn,
                    row.definition,
                    row.redrive_count,
                    row.redrive_date,
                    1i64,
                    row.parent,
                    row.started_by,
                    row.mock_test_case,
                    first.state
                ],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    StoreError::AlreadyExists(row.arn.clone())
                } else {
                    backend(e)
                }
            })?;
            apply_commit_children(&tx, &first).map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRow>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row(&format!("SELECT {EXEC_COLS} FROM executions WHERE arn = ?1"), params![arn], exec_from_row)
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>> {
        let sm = state_machine_arn.to_owned();
        let status = status.map(str::to_owned);
        let after = after.map(str::to_owned);
        self.read(move |c| {
            // Keyset paging on (start DESC, arn): the cursor is the last ARN of the previous page.
            let cursor: Option<(i64, String)> = match &after {
                None => None,
                Some(a) => c
                    .query_row("SELECT start, arn FROM executions WHERE arn = ?1", params![a], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                    .map_err(backend)?,
            };
            let (cstart, carn) = cursor.unwrap_or((i64::MAX, String::new()));
            // Two statements rather than `(?2 IS NULL OR status = ?2)`, which keeps SQLite off
            // the status index: a rare status would scan every execution of the machine.
            let filter = if status.is_some() { "AND status = ?2" } else { "AND ?2 IS NULL" };
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {EXEC_COLS} FROM executions WHERE state_machine_arn = ?1 \
                     {filter} AND (start < ?3 OR (start = ?3 AND arn > ?4)) \
                     ORDER BY start DESC, arn LIMIT ?5"
                ))
                .map_err(backend)?;
            let rows = st.query_map(params![sm, status, cstart, carn, limit as i64], exec_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn executions_by_prefix(
        &self,
        prefix: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>> {
        let (low, high, after) = (prefix.to_owned(), prefix_end(prefix), after.unwrap_or_default().to_owned());
        let status = status.map(str::to_owned);
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {EXEC_COLS} FROM executions WHERE arn >= ?1 AND arn < ?2 AND arn > ?3 \
                     AND (?4 IS NULL OR status = ?4) ORDER BY arn LIMIT ?5"
                ))
                .map_err(backend)?;
            let rows = st.query_map(params![low, high, after, status, limit as i64], exec_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn load_execution(&self, arn: &str) -> Result<Option<(ExecutionRow, Option<String>)>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            c.query_row(&format!("SELECT {EXEC_COLS}, state FROM executions WHERE arn = ?1"), params![arn], |r| {
                Ok((exec_from_row(r)?, r.get::<_, Option<String>>(EXEC_COLS.split(',').count())?))
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        let commit = commit.clone();
        // An execution's own step: no client waits for it, and should the power take it, the
        // events it consumed are still queued on disk and the step runs again.
        self.write_unsynced(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let n = tx
                .execute(
                    "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop = ?6, state = ?7, \
                     version = version + 1, \
                     lease_until = CASE WHEN lease_owner = ?9 THEN NULL ELSE lease_until END, \
                     lease_owner = CASE WHEN lease_owner = ?9 THEN NULL ELSE lease_owner END \
                     WHERE arn = ?1 AND version = ?8",
                    params![
                        commit.execution_arn,
                        commit.status,
                        commit.output,
                        commit.error,
                        commit.cause,
                        commit.stop,
                        commit.state,
                        commit.expected_version,
                        commit.release
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(commit.execution_arn.clone()));
            }
            apply_commit_children(&tx, &commit).map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn reopen_execution(&self, commit: &Commit, redrive_count: i64, redrive_date: Millis) -> Result<()> {
        let commit = commit.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let n = tx
                .execute(
                    "UPDATE executions SET status = ?2, output = NULL, error = NULL, cause = NULL, stop = NULL, \
                     state = ?3, redrive_count = ?4, redrive_date = ?5, version = version + 1 \
                     WHERE arn = ?1 AND version = ?6",
                    params![
                        commit.execution_arn,
                        commit.status,
                        commit.state,
                        redrive_count,
                        redrive_date,
                        commit.expected_version
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(commit.execution_arn.clone()));
            }
            apply_commit_children(&tx, &commit).map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn history(&self, arn: &str, after: Option<i64>, limit: usize, reverse: bool) -> Result<Vec<(i64, String)>> {
        let arn = arn.to_owned();
        self.read(move |c| {
            let sql = if reverse {
                "SELECT id, event FROM history WHERE execution_arn = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
            } else {
                "SELECT id, event FROM history WHERE execution_arn = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            };
            let bound = after.unwrap_or(if reverse { i64::MAX } else { 0 });
            let mut st = c.prepare_cached(sql).map_err(backend)?;
            let rows =
                st.query_map(params![arn, bound, limit as i64], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn push_event(&self, execution_arn: &str, payload: &str) -> Result<i64> {
        let arn = execution_arn.to_owned();
        let payload = payload.to_owned();
        self.write(move |c| {
            c.execute("INSERT INTO inbox (execution_arn, payload) VALUES (?1, ?2)", params![arn, payload])
                .map_err(backend)?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn pending_events(&self, execution_arn: &str) -> Result<Vec<(i64, String)>> {
        let arn = execution_arn.to_owned();
        // Read through the writer: an event pushed a moment ago must be seen.
        self.write_unsynced(move |c| {
            let mut st = c
                .prepare_cached("SELECT seq, payload FROM inbox WHERE execution_arn = ?1 ORDER BY seq")
                .map_err(backend)?;
            let rows = st.query_map(params![arn], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn executions_with_events(&self, limit: usize) -> Result<Vec<String>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached("SELECT DISTINCT execution_arn FROM inbox ORDER BY execution_arn LIMIT ?1")
                .map_err(backend)?;
            let rows = st.query_map(params![limit as i64], |r| r.get(0)).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn claim_execution(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<bool> {
        let arn = arn.to_owned();
        let owner = owner.to_owned();
        self.write_unsynced(move |c| {
            let n = c
                .execute(
                    &format!("UPDATE executions SET lease_owner = ?2, lease_until = ?4 WHERE {LEASE_FREE}"),
                    params![arn, owner, now, until],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn claim_pending(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<Claim> {
        let arn = arn.to_owned();
        let owner = owner.to_owned();
        // One job on the writer: no other write can come between the claim and the reads.
        self.write_unsynced(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let events = {
                let mut st = tx
                    .prepare_cached("SELECT seq, payload FROM inbox WHERE execution_arn = ?1 ORDER BY seq")
                    .map_err(backend)?;
                let rows = st.query_map(params![arn], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<(i64, String)>>>().map_err(backend)?
            };
            if events.is_empty() {
                // Nothing to apply: take no lease, only tell whether one could have been taken.
                let n: i64 = tx
                    .query_row(
                        &format!("SELECT COUNT(*) FROM executions WHERE {LEASE_FREE}"),
                        params![arn, owner, now],
                        |r| r.get(0),
                    )
                    .map_err(backend)?;
                return Ok(if n > 0 { Claim::Idle } else { Claim::Busy });
            }
            let n = tx
                .execute(
                    &format!("UPDATE executions SET lease_owner = ?2, lease_until = ?4 WHERE {LEASE_FREE}"),
                    params![arn, owner, now, until],
                )
                .map_err(backend)?;
            if n == 0 {
                return Ok(Claim::Busy);
            }
            let (row, state) = tx
                .query_row(&format!("SELECT {EXEC_COLS}, state FROM executions WHERE arn = ?1"), params![arn], |r| {
                    Ok((exec_from_row(r)?, r.get::<_, Option<String>>(EXEC_COLS.split(',').count())?))
                })
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(Claim::Claimed { row: Box::new(row), state, events })
        })
        .await
    }

    async fn release_execution(&self, arn: &str, owner: &str) -> Result<()> {
        let arn = arn.to_owned();
        let owner = owner.to_owned();
        self.write_unsynced(move |c| {
            c.execute(
                "UPDATE executions SET lease_owner = NULL, lease_until = NULL WHERE arn = ?1 AND lease_owner = ?2",
                params![arn, owner],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn due_timers(&self, now: Millis, limit: usize) -> Result<Vec<TimerRow>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT execution_arn, timer_id, fire_at FROM timers WHERE fire_at <= ?1 ORDER BY fire_at LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = st
                .query_map(params![now, limit as i64], |r| {
                    Ok(TimerRow { execution_arn: r.get(0)?, timer_id: r.get(1)?, fire_at: r.get(2)? })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn fire_timers(&self, fired: &[(TimerRow, String)]) -> Result<()> {
        let fired = fired.to_vec();
        self.write_unsynced(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            {
                let mut del = tx
                    .prepare_cached("DELETE FROM timers WHERE execution_arn = ?1 AND timer_id = ?2")
                    .map_err(backend)?;
                let mut ins =
                    tx.prepare_cached("INSERT INTO inbox (execution_arn, payload) VALUES (?1, ?2)").map_err(backend)?;
                for (t, payload) in &fired {
                    // Only a timer still armed fires: another node may have fired it already.
                    if del.execute(params![t.execution_arn, t.timer_id]).map_err(backend)? > 0 {
                        ins.execute(params![t.execution_arn, payload]).map_err(backend)?;
                    }
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn next_timer(&self) -> Result<Option<Millis>> {
        self.read(|c| c.query_row("SELECT MIN(fire_at) FROM timers", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn task_by_token(&self, token_hash: &[u8]) -> Result<Option<TaskRow>> {
        let hash = token_hash.to_vec();
        self.read(move |c| {
            c.query_row(&format!("SELECT {TASK_COLS} FROM tasks WHERE token_hash = ?1"), params![hash], task_from_row)
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn get_task(&self, execution_arn: &str, task_id: i64) -> Result<Option<TaskRow>> {
        let arn = execution_arn.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {TASK_COLS} FROM tasks WHERE execution_arn = ?1 AND task_id = ?2"),
                params![arn, task_id],
                task_from_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn open_tasks(&self, execution_arn: Option<&str>, limit: usize) -> Result<Vec<TaskRow>> {
        let arn = execution_arn.map(str::to_owned);
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {TASK_COLS} FROM tasks WHERE token_hash IS NOT NULL \
                     AND (kind = 'activity' OR status = 'submitted') AND (?1 IS NULL OR execution_arn = ?1) \
                     ORDER BY created, execution_arn, task_id LIMIT ?2"
                ))
                .map_err(backend)?;
            let rows = st.query_map(params![arn, limit as i64], task_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn claim_activity_task(
        &self,
        activity_arn: &str,
        worker: &str,
        started: AnswerFn,
    ) -> Result<Option<TaskRow>> {
        let activity = activity_arn.to_owned();
        let worker = worker.to_owned();
        self.write_unsynced(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let task = tx
                .query_row(
                    &format!(
                        "SELECT {TASK_COLS} FROM tasks WHERE kind = 'activity' AND status = 'queued' AND resource = ?1 \
                         ORDER BY created, execution_arn, task_id LIMIT 1"
                    ),
                    params![activity],
                    task_from_row,
                )
                .optional()
                .map_err(backend)?;
            let Some(mut task) = task else { return Ok(None) };
            // The token goes to this worker and is not kept: only its hash stays.
            tx.execute(
                "UPDATE tasks SET status = 'running', worker = ?3, request = '{}' WHERE execution_arn = ?1 AND task_id = ?2",
                params![task.execution_arn, task.task_id, worker],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO inbox (execution_arn, payload) VALUES (?1, ?2)",
                params![task.execution_arn, started(&task)],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            task.status = TaskStatus::Running;
            task.worker = Some(worker);
            Ok(Some(task))
        })
        .await
    }

    async fn claim_invocations(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<TaskRow>> {
        let owner = owner.to_owned();
        self.write_unsynced(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let tasks = {
                let mut st = tx
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLS} FROM tasks WHERE kind = 'invoke' AND (status = 'queued' OR \
                         (status = 'running' AND lease_until < ?1)) ORDER BY created LIMIT ?2"
                    ))
                    .map_err(backend)?;
                let rows = st.query_map(params![now, limit as i64], task_from_row).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)?
            };
            {
                let mut upd = tx
                    .prepare_cached(
                        "UPDATE tasks SET status = 'running', worker = ?4, lease_until = ?3 \
                         WHERE execution_arn = ?1 AND task_id = ?2",
                    )
                    .map_err(backend)?;
                for t in &tasks {
                    upd.execute(params![t.execution_arn, t.task_id, lease_until, owner]).map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)?;
            Ok(tasks
                .into_iter()
                .map(|mut t| {
                    t.status = TaskStatus::Running;
                    t.worker = Some(owner.clone());
                    t.lease_until = Some(lease_until);
                    t
                })
                .collect())
        })
        .await
    }

    async fn reclaim_invocations(&self, _owner: &str) -> Result<u64> {
        // One node per embedded store: every lease is the dead run's, whoever it names.
        self.write_unsynced(move |c| {
            let n = c
                .execute(
                    "UPDATE tasks SET status = 'queued', worker = NULL, lease_until = NULL \
                     WHERE kind = 'invoke' AND status = 'running'",
                    [],
                )
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn set_task_status(&self, execution_arn: &str, task_id: i64, status: TaskStatus) -> Result<()> {
        let arn = execution_arn.to_owned();
        self.write_unsynced(move |c| {
            let sql = if status == TaskStatus::Submitted {
                "UPDATE tasks SET status = ?3, lease_until = NULL, request = '{}' WHERE execution_arn = ?1 AND task_id = ?2"
            } else {
                "UPDATE tasks SET status = ?3, lease_until = NULL WHERE execution_arn = ?1 AND task_id = ?2"
            };
            c.execute(sql, params![arn, task_id, status.as_str()]).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn answer_task(&self, token_hash: &[u8], payload: AnswerFn) -> Result<Option<TaskRow>> {
        let hash = token_hash.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let task = tx
                .query_row(
                    &format!("SELECT {TASK_COLS} FROM tasks WHERE token_hash = ?1"),
                    params![hash],
                    task_from_row,
                )
                .optional()
                .map_err(backend)?;
            let Some(task) = task else { return Ok(None) };
            // An invocation still in flight keeps its row, without the token, so a restart
            // makes the call again and its submission still comes.
            let sql =
                if task.kind == TaskKind::Invoke && matches!(task.status, TaskStatus::Queued | TaskStatus::Running) {
                    "UPDATE tasks SET token_hash = NULL WHERE execution_arn = ?1 AND task_id = ?2"
                } else {
                    "DELETE FROM tasks WHERE execution_arn = ?1 AND task_id = ?2"
                };
            tx.execute(sql, params![task.execution_arn, task.task_id]).map_err(backend)?;
            tx.execute(
                "INSERT INTO inbox (execution_arn, payload) VALUES (?1, ?2)",
                params![task.execution_arn, payload(&task)],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(Some(task))
        })
        .await
    }

    async fn create_queue(&self, row: &QueueRow) -> Result<QueueRow> {
        let row = row.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO queues (name, attributes, created) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                params![row.name, row.attributes, row.created],
            )
            .map_err(backend)?;
            c.query_row("SELECT name, attributes, created FROM queues WHERE name = ?1", [&row.name], queue_from_row)
                .map_err(backend)
        })
        .await
    }

    async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>> {
        let name = name.to_owned();
        self.read(move |c| {
            c.query_row("SELECT name, attributes, created FROM queues WHERE name = ?1", [&name], queue_from_row)
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<QueueRow>> {
        let prefix = prefix.unwrap_or("").to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT name, attributes, created FROM queues WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name",
                )
                .map_err(backend)?;
            let rows = st.query_map([&prefix], queue_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn delete_queue(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            tx.execute("DELETE FROM messages WHERE queue = ?1", [&name]).map_err(backend)?;
            let n = tx.execute("DELETE FROM queues WHERE name = ?1", [&name]).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn send_message(&self, m: &MessageRow) -> Result<()> {
        let m = m.clone();
        self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM queues WHERE name = ?1", [&m.queue], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            if exists.is_none() {
                return Err(StoreError::NotFound(m.queue.clone()));
            }
            insert_message(&tx, &m).map_err(|e| {
                if unique_violation(&e) {
                    StoreError::AlreadyExists(m.id.clone())
                } else {
                    backend(e)
                }
            })?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn receive_messages(
        &self,
        queue: &str,
        now: Millis,
        visible_until: Millis,
        limit: usize,
    ) -> Result<Vec<MessageRow>> {
        let queue = queue.to_owned();
        self.write_unsynced(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let mut taken = {
                let mut st = tx
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLS} FROM messages WHERE queue = ?1 AND visible_at <= ?2 ORDER BY seq LIMIT ?3"
                    ))
                    .map_err(backend)?;
                let rows = st.query_map(params![queue, now, limit as i64], message_from_row).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)?
            };
            for m in &mut taken {
                m.visible_at = visible_until;
                m.receive_count += 1;
                m.first_received = m.first_received.or(Some(now));
                tx.execute(
                    "UPDATE messages SET visible_at = ?1, receive_count = ?2, first_received = ?3 WHERE id = ?4",
                    params![m.visible_at, m.receive_count, m.first_received, m.id],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(taken)
        })
        .await
    }

    async fn peek_messages(&self, queue: &str, limit: usize) -> Result<Vec<MessageRow>> {
        let queue = queue.to_owned();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE queue = ?1 ORDER BY seq DESC LIMIT ?2"
                ))
                .map_err(backend)?;
            let rows = st.query_map(params![queue, limit as i64], message_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn delete_message(&self, queue: &str, id: &str) -> Result<bool> {
        let (queue, id) = (queue.to_owned(), id.to_owned());
        self.write(move |c| {
            let n = c.execute("DELETE FROM messages WHERE queue = ?1 AND id = ?2", [&queue, &id]).map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn set_message_visibility(&self, queue: &str, id: &str, visible_at: Millis) -> Result<bool> {
        let (queue, id) = (queue.to_owned(), id.to_owned());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE messages SET visible_at = ?1 WHERE queue = ?2 AND id = ?3",
                    params![visible_at, queue, id],
                )
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn purge_queue(&self, queue: &str) -> Result<u64> {
        let queue = queue.to_owned();
        self.write(move |c| {
            let n = c.execute("DELETE FROM messages WHERE queue = ?1", [&queue]).map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn queue_counts(&self, queue: &str, now: Millis) -> Result<(i64, i64)> {
        let queue = queue.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0) FROM messages WHERE queue = ?1",
                params![queue, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(backend)
        })
        .await
    }

    async fn gauges(&self) -> Result<Gauges> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT status, COUNT(*) FROM executions GROUP BY status").map_err(backend)?;
            let by_status = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            let open_tasks = c.query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0)).map_err(backend)?;
            let queued = c
                .query_row("SELECT COUNT(*) FROM tasks WHERE kind = 'activity' AND status = 'queued'", [], |r| r.get(0))
                .map_err(backend)?;
            let timers = c.query_row("SELECT COUNT(*) FROM timers", [], |r| r.get(0)).map_err(backend)?;
            Ok(Gauges {
                executions_by_status: by_status,
                open_tasks,
                queued_activity_tasks: queued,
                pending_timers: timers,
            })
        })
        .await
    }
}
