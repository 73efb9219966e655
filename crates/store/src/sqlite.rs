//! The embedded store: one SQLite database file in WAL mode.
//!
//! One connection writes (SQLite has one writer at a time anyway); a few more read, so
//! Describe/List/GetExecutionHistory never wait behind a commit. Each connection is owned by
//! a thread of its own that runs the calls sent to it in arrival order: under load it stays
//! busy instead of handing a lock from one parked thread to the next, and the threads stay
//! few and fixed, so the heap does not spread over ever more malloc arenas. Migrations are
//! numbered and append-only (written once for both backends, in [`crate::sql`]); the
//! schema's version is SQLite's `user_version`.
//!
//! The statements are the ones both backends share: this module provides the connection
//! they run on ([`Conn`] for SQLite's `Connection`, each a thread's own) and decides on which
//! thread each operation runs and when it is answered ([`Backend::run`]).
//!
//! Durability ([`Durability`]): with `Full` (the default) a write is answered once the WAL
//! is synced past its commit, one sync for many writes ([`group_commit`]); writes no client
//! is answered about do not wait. With `Relaxed` every write is answered at once.

mod group_commit;

use std::borrow::Borrow;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::{BoxFuture, FutureExt};
use rusqlite::{params_from_iter, Connection, Row};

use crate::sql::{backend, Access, Backend, Conn, Dialect, Param, RowMap, Sql, SqlError, SqlResult};
use crate::{Durability, Result, StoreError};

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
                // Whatever a job left open (it failed, or panicked, halfway) is undone.
                if !conn.is_autocommit() {
                    if let Err(e) = conn.execute_batch("ROLLBACK") {
                        tracing::warn!(error = %e, "rolling back an unfinished transaction");
                    }
                }
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

/// SQLite-backed [`Store`](crate::Store).
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
    // A failing checkpoint (a full disk) fails again every round: said when it starts, then
    // once a minute with the count, and when it ends, rather than ten times a second.
    let mut failing: Option<(u64, std::time::Instant)> = None;
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let passive =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        let checkpointed = passive.is_ok();
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
            Err(e) => match &mut failing {
                None => {
                    tracing::warn!(error = %e, "checkpointing the write-ahead log");
                    failing = Some((1, std::time::Instant::now()));
                }
                Some((count, since)) => {
                    *count += 1;
                    if since.elapsed() >= std::time::Duration::from_secs(60) {
                        tracing::warn!(error = %e, failures = *count, "checkpointing the write-ahead log still fails");
                        *since = std::time::Instant::now();
                    }
                }
            },
        }
        if checkpointed {
            if let Some((count, _)) = failing.take() {
                tracing::info!(failures = count, "checkpointing the write-ahead log works again");
            }
        }
    }
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
    conn.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
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

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
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
    for (i, sql) in crate::sql::migrations(Dialect::Sqlite).iter().enumerate() {
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

fn sql_error(e: rusqlite::Error) -> SqlError {
    let unique_violation = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    );
    SqlError { unique_violation, message: e.to_string() }
}

/// Statements kept prepared per connection: every statement the store runs, with room.
const PREPARED_STATEMENTS: usize = 96;

/// Every statement here completes in the first poll of its future: the connection is the
/// calling thread's own and SQLite waits on nothing but the disk, so an operation made of
/// them completes in one poll too ([`Backend::run`] relies on it).
impl Conn for Connection {
    const DIALECT: Dialect = Dialect::Sqlite;
    const SHARED: bool = false;

    async fn execute(&mut self, sql: &'static Sql, params: &[&dyn Param]) -> SqlResult<u64> {
        let mut statement = self.prepare_cached(sql.text(Dialect::Sqlite)).map_err(sql_error)?;
        let n = statement.execute(params_from_iter(params.iter().map(|p| p.sqlite()))).map_err(sql_error)?;
        Ok(n as u64)
    }

    async fn query<T: Send>(&mut self, sql: &'static Sql, params: &[&dyn Param], map: RowMap<T>) -> Result<Vec<T>> {
        let mut statement = self.prepare_cached(sql.text(Dialect::Sqlite)).map_err(backend)?;
        let mut rows = statement.query(params_from_iter(params.iter().map(|p| p.sqlite()))).map_err(backend)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(backend)? {
            out.push(map(row)?);
        }
        Ok(out)
    }

    async fn begin(&mut self) -> Result<()> {
        // The only writer takes the write lock at once: nothing can make it wait halfway.
        self.execute_batch("BEGIN IMMEDIATE").map_err(backend)
    }

    async fn commit(&mut self) -> Result<()> {
        self.execute_batch("COMMIT").map_err(backend)
    }
}

crate::sql::read_row!(Row<'_>, get);

impl Backend for SqliteStore {
    type Conn = Connection;

    fn run<D, T, F>(&self, access: Access, input: &D, op: F) -> impl Future<Output = Result<T>> + Send
    where
        D: ToOwned + Sync + ?Sized,
        D::Owned: Borrow<D> + Send + 'static,
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection, &'c D) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let input = input.to_owned();
        let job = move |conn: &mut Connection| {
            op(conn, <D::Owned as Borrow<D>>::borrow(&input))
                .now_or_never()
                .unwrap_or_else(|| Err(StoreError::Backend("an SQLite statement did not complete at once".into())))
        };
        async move {
            match access {
                Access::Read => self.read(job).await,
                Access::Write => self.write(job).await,
                Access::Unsynced => self.write_unsynced(job).await,
            }
        }
    }
}
