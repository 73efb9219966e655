//! SQL written once for both backends: the dialect layer, the seam a backend implements
//! ([`Conn`], [`Backend`]) and the schema's migrations.
//!
//! Statements are written in one spelling, SQLite's placeholders (`?1`) with named pieces in
//! braces (`{EXEC_COLS}`, `{SKIP_LOCKED}`), and rendered once per dialect ([`Sql::text`]):
//! PostgreSQL gets `$1`, `FOR UPDATE SKIP LOCKED` where rows are claimed, and its own type
//! names in the schema. The statements themselves live beside the function that runs them,
//! in the module of their concern (`catalog.rs`, `executions.rs`, ...); those functions run
//! on any [`Conn`], so the logic of an operation (which statements, in which transaction,
//! what a changed row count means) is also written once.
//!
//! A backend provides a [`Conn`] (statements, rows, transactions) and [`Backend::run`], which
//! hands an operation a connection: the SQLite store on the thread that owns the connection
//! (every statement there completes at once, so the operation completes in one poll), the
//! PostgreSQL store on a pooled client. What truly differs stays in the backend: SQLite's
//! connection threads, group commit, WAL and checkpoints; PostgreSQL's pool, `LISTEN/NOTIFY`
//! and the advisory lock around migrations.
//!
//! Must not touch: ASL or the engine's notions; text here is opaque to the store.

use std::borrow::Borrow;
use std::future::Future;
use std::sync::OnceLock;

use futures_util::future::BoxFuture;

use crate::{Result, StoreError};

/// The SQL spelling a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// Column lists and conditions several statements share, by the name statements use in
/// braces.
const PIECES: &[(&str, &str)] = &[
    ("{SM_COLS}", "arn, name, definition, role_arn, kind, created, updated, revision_id, description, config"),
    ("{VERSION_COLS}", "arn, state_machine_arn, version, definition, role_arn, revision_id, description, created"),
    ("{ALIAS_COLS}", "arn, state_machine_arn, name, description, routing, created, updated"),
    (
        "{EXEC_COLS}",
        "arn, state_machine_arn, name, status, input, output, error, cause, start, stop, version_arn, alias_arn, \
         definition, redrive_count, redrive_date, version, parent, started_by, mock_test_case",
    ),
    (
        "{TASK_COLS}",
        "execution_arn, task_id, kind, resource, state_name, request, token_hash, status, worker, created, \
         lease_until, message, deadline",
    ),
    ("{MESSAGE_COLS}", "queue, id, body, attributes, sent, visible_at, receive_count, first_received"),
    // An execution no other owner holds: `?1` the ARN, `?2` the claiming owner, `?3` now.
    ("{LEASE_FREE}", "arn = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until < ?3)"),
];

impl Dialect {
    /// `text` in this dialect: shared pieces filled in, then the dialect's own spelling.
    fn render(self, text: &str) -> String {
        let mut out = PIECES.iter().fold(text.to_owned(), |t, (name, piece)| t.replace(name, piece));
        match self {
            Dialect::Sqlite => out = out.replace("{SKIP_LOCKED}", ""),
            // Claimed rows are locked, and rows another node holds are passed over.
            Dialect::Postgres => out = out.replace("{SKIP_LOCKED}", " FOR UPDATE SKIP LOCKED").replace('?', "$"),
        }
        out
    }

    /// A migration written in SQLite's types, in this dialect's.
    fn render_schema(self, text: &str) -> String {
        match self {
            Dialect::Sqlite => text.replace("{INITIAL_PARENT}", ""),
            Dialect::Postgres => text
                // PostgreSQL's first schema came with the column SQLite's second one added.
                .replace("{INITIAL_PARENT}", "parent TEXT, ")
                .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
                .replace("INTEGER", "BIGINT")
                .replace("BLOB", "BYTEA")
                .replace(") WITHOUT ROWID;", ");"),
        }
    }
}

/// One statement, written once and rendered for each dialect at its first use.
pub(crate) struct Sql {
    /// The text of each dialect, before rendering: the same unless a statement truly differs.
    texts: [&'static str; 2],
    rendered: [OnceLock<String>; 2],
}

impl Sql {
    pub(crate) const fn new(text: &'static str) -> Sql {
        Sql::each(text, text)
    }

    /// A statement whose meaning differs between the dialects, so it is written for each.
    pub(crate) const fn each(sqlite: &'static str, postgres: &'static str) -> Sql {
        Sql { texts: [sqlite, postgres], rendered: [OnceLock::new(), OnceLock::new()] }
    }

    pub(crate) fn text(&self, dialect: Dialect) -> &str {
        let i = dialect as usize;
        self.rendered[i].get_or_init(|| dialect.render(self.texts[i]))
    }
}

/// A statement written in place: `sql!("SELECT ...")` is a `&'static Sql`, rendered once;
/// `sql!(sqlite: "...", postgres: "...")` one written for each dialect.
macro_rules! sql {
    ($text:expr) => {{
        static STATEMENT: $crate::sql::Sql = $crate::sql::Sql::new($text);
        &STATEMENT
    }};
    (sqlite: $sqlite:expr, postgres: $postgres:expr) => {{
        static STATEMENT: $crate::sql::Sql = $crate::sql::Sql::each($sqlite, $postgres);
        &STATEMENT
    }};
}
pub(crate) use sql;

/// A value bound to a placeholder: anything both drivers can bind.
pub(crate) trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync> Param for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

/// A row as either driver returns it, read by column index.
pub(crate) trait ReadRow {
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>>;
}

/// `ReadRow` for a driver's row type, through its fallible getter by index.
macro_rules! read_row {
    ($row:ty, $get:ident) => {
        impl $crate::sql::ReadRow for $row {
            fn text(&self, i: usize) -> $crate::Result<String> {
                self.$get(i).map_err($crate::sql::backend)
            }
            fn opt_text(&self, i: usize) -> $crate::Result<Option<String>> {
                self.$get(i).map_err($crate::sql::backend)
            }
            fn int(&self, i: usize) -> $crate::Result<i64> {
                self.$get(i).map_err($crate::sql::backend)
            }
            fn opt_int(&self, i: usize) -> $crate::Result<Option<i64>> {
                self.$get(i).map_err($crate::sql::backend)
            }
            fn opt_blob(&self, i: usize) -> $crate::Result<Option<Vec<u8>>> {
                self.$get(i).map_err($crate::sql::backend)
            }
        }
    };
}
pub(crate) use read_row;

/// A column holding the name of a stored enum (an execution's status, ...).
pub(crate) fn named<T: std::str::FromStr>(r: &dyn ReadRow, i: usize) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    r.text(i)?.parse().map_err(|e: T::Err| StoreError::Backend(e.to_string()))
}

/// How a row becomes a value.
pub(crate) type RowMap<T> = fn(&dyn ReadRow) -> Result<T>;

/// A driver's failure, as the store reports it.
pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A failed statement; a unique violation is told apart, since it means "already exists".
#[derive(Debug)]
pub(crate) struct SqlError {
    pub(crate) unique_violation: bool,
    pub(crate) message: String,
}

impl From<SqlError> for StoreError {
    fn from(e: SqlError) -> StoreError {
        StoreError::Backend(e.message)
    }
}

/// A failed insert of the row named `key`: [`StoreError::AlreadyExists`] on a unique
/// violation.
pub(crate) fn already(key: &str) -> impl Fn(SqlError) -> StoreError + '_ {
    move |e| if e.unique_violation { StoreError::AlreadyExists(key.to_owned()) } else { e.into() }
}

pub(crate) type SqlResult<T> = std::result::Result<T, SqlError>;

/// One connection of a backend, as the operations written once use it.
pub(crate) trait Conn: Send {
    const DIALECT: Dialect;
    /// Several nodes may share the database (so a lease names the node holding it).
    const SHARED: bool;

    /// Run a statement; the number of rows it changed.
    fn execute(&mut self, sql: &'static Sql, params: &[&dyn Param]) -> impl Future<Output = SqlResult<u64>> + Send;

    /// Run a query; its rows, each through `map`.
    fn query<T: Send>(
        &mut self,
        sql: &'static Sql,
        params: &[&dyn Param],
        map: RowMap<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// Start a transaction (a writing one, on SQLite); [`Backend::run`] rolls back any
    /// transaction an operation leaves open, so an early return undoes its writes.
    fn begin(&mut self) -> impl Future<Output = Result<()>> + Send;

    fn commit(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// The first row of a query, if any.
    fn query_opt<T: Send>(
        &mut self,
        sql: &'static Sql,
        params: &[&dyn Param],
        map: RowMap<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        async move { Ok(self.query(sql, params, map).await?.into_iter().next()) }
    }

    /// The one row a query always has (an aggregate).
    fn query_one<T: Send>(
        &mut self,
        sql: &'static Sql,
        params: &[&dyn Param],
        map: RowMap<T>,
    ) -> impl Future<Output = Result<T>> + Send {
        async move {
            self.query_opt(sql, params, map)
                .await?
                .ok_or_else(|| StoreError::Backend(format!("no row from {}", sql.text(Self::DIALECT))))
        }
    }
}

/// What an operation does, which decides where a backend runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads only; may run beside writes and see the state of a moment ago.
    Read,
    /// Writes a client is answered about: answered once durable (see [`crate::Durability`]).
    Write,
    /// Writes nobody is told about (claims, leases, an execution's own steps), which a
    /// restart derives again from what is on disk, or reads that must see every write made
    /// so far: answered without waiting for the disk.
    Unsynced,
}

/// A backend: where operations run. The narrow traits are implemented once, for every
/// backend, on top of this.
pub(crate) trait Backend: Send + Sync + 'static {
    type Conn: Conn;

    /// Run `op` on a connection with `input`, lent to it. The SQLite store copies `input` to
    /// the thread that owns its connection; the PostgreSQL store lends it as it is.
    fn run<D, T, F>(&self, access: Access, input: &D, op: F) -> impl Future<Output = Result<T>> + Send
    where
        D: ToOwned + Sync + ?Sized,
        D::Owned: Borrow<D> + Send + 'static,
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::Conn, &'c D) -> BoxFuture<'c, Result<T>> + Send + 'static;

    /// Tell the other nodes sharing the database (none, by default).
    fn publish_wake(&self, _wake: &crate::Wake) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    fn subscribe_wakes(&self) -> Option<tokio::sync::broadcast::Receiver<crate::Wake>> {
        None
    }
}

/// `run` an operation written as `|c, input| async { ... }` on a backend.
macro_rules! run {
    ($backend:expr, $access:expr, $input:expr, |$c:ident, $i:pat_param| $body:expr) => {
        $crate::sql::Backend::run($backend, $access, $input, move |$c, $i| Box::pin(async move { $body })).await
    };
}
pub(crate) use run;

/// The schema's migrations, in order: each is one version in every dialect it names. The
/// two backends' lists differ in their numbering (PostgreSQL's started later, with SQLite's
/// first two in one), so each keeps the version numbers its databases were created with.
const MIGRATIONS: &[(Option<Dialect>, &str)] = &[
    // SQLite 1, PostgreSQL 1: the initial schema.
    (
        None,
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
        redrive_date INTEGER, version INTEGER NOT NULL, {INITIAL_PARENT}state TEXT,
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
    ),
    // SQLite 2: executions started by a Task know their parent (PostgreSQL's 1 has it).
    (
        Some(Dialect::Sqlite),
        r#"
    ALTER TABLE executions ADD COLUMN parent TEXT;
    "#,
    ),
    // SQLite 3, PostgreSQL 2: built-in queues and their messages.
    (
        None,
        r#"
    CREATE TABLE queues (name TEXT PRIMARY KEY, attributes TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
        attributes TEXT NOT NULL, sent INTEGER NOT NULL, visible_at INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0, first_received INTEGER
    );
    CREATE INDEX messages_by_queue ON messages(queue, visible_at, seq);
    "#,
    ),
    // SQLite 4, PostgreSQL 3: lists filtered by status (the console, ListExecutions with
    // statusFilter) walk an index of their own, so a rare status does not scan every
    // execution of the machine.
    (
        None,
        r#"
    CREATE INDEX executions_by_machine_status ON executions(state_machine_arn, status, start DESC, arn);
    "#,
    ),
    // SQLite 5, PostgreSQL 4: audit records of people's answers (console inbox, signed links).
    (
        None,
        r#"
    CREATE TABLE answers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_arn TEXT NOT NULL, at INTEGER NOT NULL, entry TEXT NOT NULL
    );
    CREATE INDEX answers_by_execution ON answers(execution_arn, seq);
    "#,
    ),
    // SQLite 6, PostgreSQL 5: who started an execution (separation of duties); people's
    // answers are audited in the execution's history now, not in a table of their own.
    (
        None,
        r#"
    ALTER TABLE executions ADD COLUMN started_by TEXT;
    DROP TABLE answers;
    "#,
    ),
    // SQLite 7, PostgreSQL 6: what a person answering a task is shown (its message, with the
    // restrictions it names, and its deadline), kept with the task rather than found in the
    // history.
    (
        None,
        r#"
    ALTER TABLE tasks ADD COLUMN message TEXT;
    ALTER TABLE tasks ADD COLUMN deadline INTEGER;
    "#,
    ),
    // SQLite 8, PostgreSQL 7: the mock test case an execution runs with
    // (`stateMachineArn#TestCase`).
    (
        None,
        r#"
    ALTER TABLE executions ADD COLUMN mock_test_case TEXT;
    "#,
    ),
    // SQLite 9, PostgreSQL 8: distributed Maps' Map Runs, for DescribeMapRun and
    // ListMapRuns once their execution has ended.
    (
        None,
        r#"
    CREATE TABLE map_runs (
        arn TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, start INTEGER NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX map_runs_by_execution ON map_runs(execution_arn, start);
    "#,
    ),
];

/// The migrations of `dialect`, in its spelling: the one at index `i` makes version `i + 1`.
pub(crate) fn migrations(dialect: Dialect) -> Vec<String> {
    MIGRATIONS
        .iter()
        .filter(|(only, _)| only.is_none_or(|d| d == dialect))
        .map(|(_, text)| dialect.render_schema(text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_backend_keeps_its_version_numbers() {
        assert_eq!(migrations(Dialect::Sqlite).len(), 9);
        assert_eq!(migrations(Dialect::Postgres).len(), 8);
    }

    #[test]
    fn statements_render_per_dialect() {
        let s = Sql::new("SELECT {TASK_COLS} FROM tasks WHERE resource = ?1 AND x = '{}' LIMIT ?2{SKIP_LOCKED}");
        assert!(s.text(Dialect::Sqlite).ends_with("WHERE resource = ?1 AND x = '{}' LIMIT ?2"));
        assert!(s
            .text(Dialect::Postgres)
            .ends_with("WHERE resource = $1 AND x = '{}' LIMIT $2 FOR UPDATE SKIP LOCKED"));
        assert!(s.text(Dialect::Postgres).starts_with("SELECT execution_arn, task_id,"));
    }

    #[test]
    fn schema_types_follow_the_dialect() {
        let pg = migrations(Dialect::Postgres).join("");
        assert!(pg.contains("seq BIGSERIAL PRIMARY KEY, execution_arn TEXT NOT NULL"));
        assert!(pg.contains("version BIGINT NOT NULL, parent TEXT, state TEXT"));
        assert!(pg.contains("token_hash BYTEA"));
        assert!(!pg.contains("INTEGER") && !pg.contains("ROWID") && !pg.contains('{'));
        let lite = migrations(Dialect::Sqlite).join("");
        assert!(lite.contains("version INTEGER NOT NULL, state TEXT") && !lite.contains('{'));
    }
}
