//! The PostgreSQL store: several Baton nodes share one database.
//!
//! The same contract as the embedded store, with the database doing the coordination: a
//! commit is conditional on the execution's version; executions are claimed with leases;
//! activity tasks and invocations are claimed with `FOR UPDATE SKIP LOCKED`, so two nodes
//! never take the same one; `LISTEN/NOTIFY` carries wake-ups between nodes so a callback
//! answered on one node resumes the execution on whichever node claims it within
//! milliseconds. Migrations are numbered and append-only (`baton_schema`).

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls, Row};

use crate::{
    prefix_end, ActivityRow, AliasRow, AnswerFn, Claim, Commit, Durability, ExecutionRow, Gauges, MapRunRow,
    MessageRow, Millis, QueueRow, Result, StateMachineRow, Store, StoreError, TaskKind, TaskRow, TaskStatus, TimerRow,
    VersionRow, Wake,
};

const CHANNEL: &str = "baton_wake";

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema (the embedded store's migrations 1 and 2).
    r#"
    CREATE TABLE state_machines (
        arn TEXT PRIMARY KEY, name TEXT NOT NULL, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
        kind TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL, revision_id TEXT NOT NULL,
        description TEXT, config TEXT NOT NULL
    );
    CREATE TABLE versions (
        arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, version BIGINT NOT NULL, definition TEXT NOT NULL,
        role_arn TEXT NOT NULL, revision_id TEXT NOT NULL, description TEXT, created BIGINT NOT NULL
    );
    CREATE INDEX versions_by_machine ON versions(state_machine_arn, version);
    CREATE TABLE aliases (
        arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
        routing TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL
    );
    CREATE INDEX aliases_by_machine ON aliases(state_machine_arn);
    CREATE TABLE activities (arn TEXT PRIMARY KEY, name TEXT NOT NULL, created BIGINT NOT NULL);
    CREATE TABLE tags (resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (resource_arn, key));
    CREATE TABLE executions (
        arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
        input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, start BIGINT NOT NULL, stop BIGINT,
        version_arn TEXT, alias_arn TEXT, definition TEXT NOT NULL, redrive_count BIGINT NOT NULL DEFAULT 0,
        redrive_date BIGINT, version BIGINT NOT NULL, parent TEXT, state TEXT,
        lease_owner TEXT, lease_until BIGINT
    );
    CREATE INDEX executions_by_machine ON executions(state_machine_arn, start DESC, arn);
    CREATE TABLE history (
        execution_arn TEXT NOT NULL, id BIGINT NOT NULL, event TEXT NOT NULL, PRIMARY KEY (execution_arn, id)
    );
    CREATE TABLE inbox (seq BIGSERIAL PRIMARY KEY, execution_arn TEXT NOT NULL, payload TEXT NOT NULL);
    CREATE INDEX inbox_by_execution ON inbox(execution_arn, seq);
    CREATE TABLE timers (
        execution_arn TEXT NOT NULL, timer_id BIGINT NOT NULL, fire_at BIGINT NOT NULL,
        PRIMARY KEY (execution_arn, timer_id)
    );
    CREATE INDEX timers_by_time ON timers(fire_at);
    CREATE TABLE tasks (
        execution_arn TEXT NOT NULL, task_id BIGINT NOT NULL, kind TEXT NOT NULL, resource TEXT NOT NULL,
        state_name TEXT NOT NULL, request TEXT NOT NULL, token_hash BYTEA, status TEXT NOT NULL, worker TEXT,
        created BIGINT NOT NULL, lease_until BIGINT,
        PRIMARY KEY (execution_arn, task_id)
    );
    CREATE UNIQUE INDEX tasks_by_token ON tasks(token_hash) WHERE token_hash IS NOT NULL;
    CREATE INDEX tasks_by_queue ON tasks(kind, status, resource, created);
    "#,
    // 2: built-in queues and their messages (the embedded store's migration 3).
    r#"
    CREATE TABLE queues (name TEXT PRIMARY KEY, attributes TEXT NOT NULL, created BIGINT NOT NULL);
    CREATE TABLE messages (
        seq BIGSERIAL PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
        attributes TEXT NOT NULL, sent BIGINT NOT NULL, visible_at BIGINT NOT NULL,
        receive_count BIGINT NOT NULL DEFAULT 0, first_received BIGINT
    );
    CREATE INDEX messages_by_queue ON messages(queue, visible_at, seq);
    "#,
    // 3: lists filtered by status (the console, ListExecutions with statusFilter) walk an
    // index of their own, so a rare status does not scan every execution of the machine.
    r#"
    CREATE INDEX executions_by_machine_status ON executions(state_machine_arn, status, start DESC, arn);
    "#,
    // 4: audit records of people's answers (console inbox, signed links).
    r#"
    CREATE TABLE answers (
        seq BIGSERIAL PRIMARY KEY, execution_arn TEXT NOT NULL, at BIGINT NOT NULL, entry TEXT NOT NULL
    );
    CREATE INDEX answers_by_execution ON answers(execution_arn, seq);
    "#,
    // 5: who started an execution (separation of duties); people's answers are audited in
    // the execution's history now, not in a table of their own.
    r#"
    ALTER TABLE executions ADD COLUMN started_by TEXT;
    DROP TABLE answers;
    "#,
    // 6: what a person answering a task is shown (its message, with the restrictions it
    // names, and its deadline), kept with the task rather than found in the history (the
    // embedded store's migration 7).
    r#"
    ALTER TABLE tasks ADD COLUMN message TEXT;
    ALTER TABLE tasks ADD COLUMN deadline BIGINT;
    "#,
    // 7: the mock test case an execution runs with (`stateMachineArn#TestCase`; the
    // embedded store's migration 8).
    r#"
    ALTER TABLE executions ADD COLUMN mock_test_case TEXT;
    "#,
    // 8: distributed Maps' Map Runs, for DescribeMapRun and
    // ListMapRuns once their execution has ended (the embedded store's migration 9).
    r#"
    CREATE TABLE map_runs (
        arn TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, start BIGINT NOT NULL, record TEXT NOT NULL
    );
    CREATE INDEX map_runs_by_execution ON map_runs(execution_arn, start);
    "#,
];

/// An execution no other owner holds: `$1` the ARN, `$2` the claiming owner, `$3` now.
const LEASE_FREE: &str = "arn = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3)";

const SM_COLS: &str = "arn, name, definition, role_arn, kind, created, updated, revision_id, description, config";
const EXEC_COLS: &str = "arn, state_machine_arn, name, status, input, output, error, cause, start, stop, version_arn, \
                         alias_arn, definition, redrive_count, redrive_date, version, parent, started_by, \
                         mock_test_case";
const TASK_COLS: &str =
    "execution_arn, task_id, kind, resource, state_name, request, token_hash, status, worker, created, lease_until, \
     message, deadline";
const VERSION_COLS: &str = "arn, state_machine_arn, version, definition, role_arn, revision_id, description, created";
const ALIAS_COLS: &str = "arn, state_machine_arn, name, description, routing, created, updated";

/// PostgreSQL-backed [`Store`].
pub struct PostgresStore {
    pool: Pool,
    wakes: broadcast::Sender<Wake>,
    _listener: tokio_postgres::Client,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

const MESSAGE_COLS: &str = "queue, id, body, attributes, sent, visible_at, receive_count, first_received";

fn message_from_row(r: &Row) -> MessageRow {
    MessageRow {
        queue: r.get(0),
        id: r.get(1),
        body: r.get(2),
        attributes: r.get(3),
        sent: r.get(4),
        visible_at: r.get(5),
        receive_count: r.get(6),
        first_received: r.get(7),
    }
}

fn queue_from_row(r: &Row) -> QueueRow {
    QueueRow { name: r.get(0), attributes: r.get(1), created: r.get(2) }
}

fn sm_from_row(r: &Row) -> StateMachineRow {
    StateMachineRow {
        arn: r.get(0),
        name: r.get(1),
        definition: r.get(2),
        role_arn: r.get(3),
        kind: r.get(4),
        created: r.get(5),
        updated: r.get(6),
        revision_id: r.get(7),
        description: r.get(8),
        config: r.get(9),
    }
}

fn exec_from_row(r: &Row) -> ExecutionRow {
    ExecutionRow {
        arn: r.get(0),
        state_machine_arn: r.get(1),
        name: r.get(2),
        status: r.get(3),
        input: r.get(4),
        output: r.get(5),
        error: r.get(6),
        cause: r.get(7),
        start: r.get(8),
        stop: r.get(9),
        version_arn: r.get(10),
        alias_arn: r.get(11),
        definition: r.get(12),
        redrive_count: r.get(13),
        redrive_date: r.get(14),
        version: r.get(15),
        parent: r.get(16),
        started_by: r.get(17),
        mock_test_case: r.get(18),
    }
}

fn task_from_row(r: &Row) -> TaskRow {
    let kind: String = r.get(2);
    let status: String = r.get(7);
    TaskRow {
        execution_arn: r.get(0),
        task_id: r.get(1),
        kind: TaskKind::parse(&kind),
        resource: r.get(3),
        state_name: r.get(4),
        request: r.get(5),
        token_hash: r.get(6),
        status: TaskStatus::parse(&status),
        worker: r.get(8),
        created: r.get(9),
        lease_until: r.get(10),
        message: r.get(11),
        deadline: r.get(12),
    }
}

fn version_from_row(r: &Row) -> VersionRow {
    VersionRow {
        arn: r.get(0),
        state_machine_arn: r.get(1),
        version: r.get(2),
        definition: r.get(3),
        role_arn: r.get(4),
        revision_id: r.get(5),
        description: r.get(6),
        created: r.get(7),
    }
}

fn alias_from_row(r: &Row) -> AliasRow {
    AliasRow {
        arn: r.get(0),
        state_machine_arn: r.get(1),
        name: r.get(2),
        description: r.get(3),
        routing: r.get(4),
        created: r.get(5),
        updated: r.get(6),
    }
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:pass@host/db`), apply pending migrations and start
    /// listening for other nodes' wake-ups.
    pub async fn connect(url: &str) -> Result<Self> {
        let pg: tokio_postgres::Config = url.parse().map_err(backend)?;
        Self::connect_with(pg).await
    }

    /// Connect to `url` with the durability asked for: PostgreSQL answers a commit once its
    /// WAL is flushed (`synchronous_commit`, on by default), and group-commits on its own;
    /// [`Durability::Relaxed`] turns `synchronous_commit` off for Baton's sessions.
    pub async fn connect_durable(url: &str, durability: Durability) -> Result<Self> {
        let mut pg: tokio_postgres::Config = url.parse().map_err(backend)?;
        if durability == Durability::Relaxed {
            let options = match pg.get_options() {
                Some(given) => format!("{given} -c synchronous_commit=off"),
                None => "-c synchronous_commit=off".to_owned(),
            };
            pg.options(&options);
        }
        Self::connect_with(pg).await
    }

    /// Connect with a prepared configuration (e.g. with a `search_path` option).
    pub async fn connect_with(pg: tokio_postgres::Config) -> Result<Self> {
        let manager =
            Manager::from_config(pg.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(backend)?;
        let wakes = broadcast::channel(4096).0;
        let listener = Self::listen(&pg, wakes.clone()).await?;
        let store = Self { pool, wakes, _listener: listener };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(backend)?;
        // One migrating node at a time.
        tx.execute("SELECT pg_advisory_xact_lock(727274)", &[]).await.map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS baton_schema (version BIGINT NOT NULL)").await.map_err(backend)?;
        let current: i64 =
            tx.query_one("SELECT COALESCE(MAX(version), 0) FROM baton_schema", &[]).await.map_err(backend)?.get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current {
                continue;
            }
            tx.batch_execute(sql).await.map_err(backend)?;
            tx.execute("INSERT INTO baton_schema (version) VALUES ($1)", &[&version]).await.map_err(backend)?;
            tracing::debug!(version, "store schema migrated");
        }
        tx.commit().await.map_err(backend)
    }

    /// A dedicated connection that LISTENs and forwards notifications to subscribers. Its
    /// client is returned so the store keeps it (dropping it would close the connection).
    async fn listen(pg: &tokio_postgres::Config, wakes: broadcast::Sender<Wake>) -> Result<tokio_postgres::Client> {
        let (client, mut connection) = pg.connect(NoTls).await.map_err(backend)?;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        tokio::spawn(async move {
            while let Some(msg) = messages.next().await {
                match msg {
                    Ok(AsyncMessage::Notification(n)) => {
                        if let Some(w) = Wake::decode(n.payload()) {
                            let _ = wakes.send(w);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the notification connection failed; other nodes' work is polled");
                        break;
                    }
                }
            }
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(backend)?;
        Ok(client)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(backend)
    }
}

async fn apply_commit_children(tx: &deadpool_postgres::Transaction<'_>, c: &Commit) -> Result<()> {
    if !c.events.is_empty() {
        let ins = tx
            .prepare_cached("INSERT INTO history (execution_arn, id, event) VALUES ($1, $2, $3)")
            .await
            .map_err(backend)?;
        for (id, event) in &c.events {
            tx.execute(&ins, &[&c.execution_arn, id, event]).await.map_err(backend)?;
        }
    }
    for id in &c.timers_removed {
        tx.execute("DELETE FROM timers WHERE execution_arn = $1 AND timer_id = $2", &[&c.execution_arn, id])
            .await
            .map_err(backend)?;
    }
    for (id, at) in &c.timers_added {
        tx.execute(
            "INSERT INTO timers (execution_arn, timer_id, fire_at) VALUES ($1, $2, $3) \
             ON CONFLICT (execution_arn, timer_id) DO UPDATE SET fire_at = EXCLUDED.fire_at",
            &[&c.execution_arn, id, at],
        )
        .await
        .map_err(backend)?;
    }
    for id in &c.tasks_removed {
        tx.execute("DELETE FROM tasks WHERE execution_arn = $1 AND task_id = $2", &[&c.execution_arn, id])
            .await
            .map_err(backend)?;
    }
    for t in &c.tasks_added {
        tx.execute(
            &format!(
                "INSERT INTO tasks ({TASK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (execution_arn, task_id) DO NOTHING"
            ),
            &[
                &t.execution_arn,
                &t.task_id,
                &t.kind.as_str(),
                &t.resource,
                &t.state_name,
                &t.request,
                &t.token_hash,
                &t.status.as_str(),
                &t.worker,
                &t.created,
                &t.lease_until,
                &t.message,
                &t.deadline,
            ],
        )
        .await
        .map_err(backend)?;
    }
    for seq in &c.consumed_events {
        tx.execute("DELETE FROM inbox WHERE seq = $1", &[seq]).await.map_err(backend)?;
    }
    for m in &c.messages {
        tx.execute(
            &format!("INSERT INTO messages ({MESSAGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[&m.queue, &m.id, &m.body, &m.attributes, &m.sent, &m.visible_at, &m.receive_count, &m.first_received],
        )
        .await
        .map_err(backend)?;
    }
    if c.state.is_none() {
        tx.execute("DELETE FROM timers WHERE execution_arn = $1", &[&c.execution_arn]).await.map_err(backend)?;
        tx.execute("DELETE FROM tasks WHERE execution_arn = $1", &[&c.execution_arn]).await.map_err(backend)?;
    }
    Ok(())
}

fn already(arn: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |e| if unique_violation(&e) { StoreError::AlreadyExists(arn.to_owned()) } else { backend(e) }
}

#[async_trait]
impl Store for PostgresStore {
    async fn insert_state_machine(&self, r: &StateMachineRow) -> Result<()> {
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO state_machines ({SM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    &r.arn,
                    &r.name,
                    &r.definition,
                    &r.role_arn,
                    &r.kind,
                    &r.created,
                    &r.updated,
                    &r.revision_id,
                    &r.description,
                    &r.config,
                ],
            )
            .await
            .map_err(already(&r.arn))?;
        Ok(())
    }

    async fn update_state_machine(&self, r: &StateMachineRow) -> Result<()> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE state_machines SET definition = $2, role_arn = $3, updated = $4, revision_id = $5, \
                 description = $6, config = $7 WHERE arn = $1",
                &[&r.arn, &r.definition, &r.role_arn, &r.updated, &r.revision_id, &r.description, &r.config],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(r.arn.clone()));
        }
        Ok(())
    }

    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRow>> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {SM_COLS} FROM state_machines WHERE arn = $1"), &[&arn])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(sm_from_row))
    }

    async fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let n = tx.execute("DELETE FROM state_machines WHERE arn = $1", &[&arn]).await.map_err(backend)?;
        tx.execute("DELETE FROM versions WHERE state_machine_arn = $1", &[&arn]).await.map_err(backend)?;
        tx.execute("DELETE FROM aliases WHERE state_machine_arn = $1", &[&arn]).await.map_err(backend)?;
        tx.execute("DELETE FROM tags WHERE resource_arn = $1", &[&arn]).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_state_machines(&self, after: Option<&str>, limit: usize) -> Result<Vec<StateMachineRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {SM_COLS} FROM state_machines WHERE arn > $1 ORDER BY arn LIMIT $2"),
                &[&after.unwrap_or(""), &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(sm_from_row).collect())
    }

    async fn insert_version(&self, r: &VersionRow) -> Result<()> {
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO versions ({VERSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
                &[
                    &r.arn,
                    &r.state_machine_arn,
                    &r.version,
                    &r.definition,
                    &r.role_arn,
                    &r.revision_id,
                    &r.description,
                    &r.created,
                ],
            )
            .await
            .map_err(already(&r.arn))?;
        Ok(())
    }

    async fn get_version(&self, arn: &str) -> Result<Option<VersionRow>> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {VERSION_COLS} FROM versions WHERE arn = $1"), &[&arn])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(version_from_row))
    }

    async fn delete_version(&self, arn: &str) -> Result<bool> {
        let n = self.client().await?.execute("DELETE FROM versions WHERE arn = $1", &[&arn]).await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {VERSION_COLS} FROM versions WHERE state_machine_arn = $1 ORDER BY version DESC"),
                &[&state_machine_arn],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(version_from_row).collect())
    }

    async fn insert_alias(&self, r: &AliasRow) -> Result<()> {
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO aliases ({ALIAS_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
                &[&r.arn, &r.state_machine_arn, &r.name, &r.description, &r.routing, &r.created, &r.updated],
            )
            .await
            .map_err(already(&r.arn))?;
        Ok(())
    }

    async fn update_alias(&self, r: &AliasRow) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE aliases SET description = $2, routing = $3, updated = $4 WHERE arn = $1",
                &[&r.arn, &r.description, &r.routing, &r.updated],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_alias(&self, arn: &str) -> Result<Option<AliasRow>> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {ALIAS_COLS} FROM aliases WHERE arn = $1"), &[&arn])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(alias_from_row))
    }

    async fn delete_alias(&self, arn: &str) -> Result<bool> {
        let n = self.client().await?.execute("DELETE FROM aliases WHERE arn = $1", &[&arn]).await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {ALIAS_COLS} FROM aliases WHERE state_machine_arn = $1 ORDER BY created"),
                &[&state_machine_arn],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(alias_from_row).collect())
    }

    async fn insert_activity(&self, r: &ActivityRow) -> Result<()> {
        self.client()
            .await?
            .execute("INSERT INTO activities (arn, name, created) VALUES ($1, $2, $3)", &[&r.arn, &r.name, &r.created])
            .await
            .map_err(already(&r.arn))?;
        Ok(())
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRow>> {
        let rows = self
            .client()
            .await?
            .query("SELECT arn, name, created FROM activities WHERE arn = $1", &[&arn])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(|r| ActivityRow { arn: r.get(0), name: r.get(1), created: r.get(2) }))
    }

    async fn delete_activity(&self, arn: &str) -> Result<bool> {
        let c = self.client().await?;
        let n = c.execute("DELETE FROM activities WHERE arn = $1", &[&arn]).await.map_err(backend)?;
        c.execute("DELETE FROM tags WHERE resource_arn = $1", &[&arn]).await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_activities(&self, after: Option<&str>, limit: usize) -> Result<Vec<ActivityRow>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT arn, name, created FROM activities WHERE arn > $1 ORDER BY arn LIMIT $2",
                &[&after.unwrap_or(""), &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| ActivityRow { arn: r.get(0), name: r.get(1), created: r.get(2) }).collect())
    }

    async fn put_map_runs(&self, rows: &[MapRunRow]) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        for r in rows {
            tx.execute(
                "INSERT INTO map_runs (arn, execution_arn, start, record) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (arn) DO UPDATE SET record = EXCLUDED.record",
                &[&r.arn, &r.execution_arn, &r.start, &r.record],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRow>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT arn, execution_arn, start, record FROM map_runs WHERE arn = $1", &[&arn])
            .await
            .map_err(backend)?;
        Ok(row.map(|r| MapRunRow { arn: r.get(0), execution_arn: r.get(1), start: r.get(2), record: r.get(3) }))
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRow>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT arn, execution_arn, start, record FROM map_runs WHERE execution_arn = $1 ORDER BY start, arn",
                &[&execution_arn],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| MapRunRow { arn: r.get(0), execution_arn: r.get(1), start: r.get(2), record: r.get(3) })
            .collect())
    }

    async fn tag(&self, resource_arn: &str, tags: &[(String, String)]) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        for (k, v) in tags {
            tx.execute(
                "INSERT INTO tags (resource_arn, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (resource_arn, key) DO UPDATE SET value = EXCLUDED.value",
                &[&resource_arn, k, v],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn untag(&self, resource_arn: &str, keys: &[String]) -> Result<()> {
        let c = self.client().await?;
        for k in keys {
            c.execute("DELETE FROM tags WHERE resource_arn = $1 AND key = $2", &[&resource_arn, k])
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn tags(&self, resource_arn: &str) -> Result<Vec<(String, String)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT key, value FROM tags WHERE resource_arn = $1 ORDER BY key", &[&resource_arn])
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn insert_execution(&self, row: &ExecutionRow, first: &Commit) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        tx.execute(
            &format!(
                "INSERT INTO executions ({EXEC_COLS}, state) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            ),
            &[
                &row.arn,
                &row.state_machine_arn,
                &row.name,
                &first.status,
                &row.input,
                &first.output,
                &first.error,
                &first.cause,
                &row.start,
                &first.stop,
                &row.version_arn,
                &row.alias_arn,
                &row.definition,
                &row.redrive_count,
                &row.redrive_date,
                &1i64,
                &row.parent,
                &row.started_by,
                &row.mock_test_case,
                &first.state,
            ],
        )
        .await
        .map_err(already(&row.arn))?;
        apply_commit_children(&tx, first).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRow>> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {EXEC_COLS} FROM executions WHERE arn = $1"), &[&arn])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(exec_from_row))
    }

    async fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>> {
        let c = self.client().await?;
        let (cstart, carn) = match after {
            None => (i64::MAX, String::new()),
            Some(a) => {
                let rows = c.query("SELECT start, arn FROM executions WHERE arn = $1", &[&a]).await.map_err(backend)?;
                rows.first().map_or((i64::MAX, String::new()), |r| (r.get(0), r.get(1)))
            }
        };
        let rows = c
            .query(
                &format!(
                    "SELECT {EXEC_COLS} FROM executions WHERE state_machine_arn = $1 \
                     {} AND start <= $3 AND (start < $3 OR (start = $3 AND arn > $4)) \
                     ORDER BY start DESC, arn LIMIT $5",
                    // Not `($2 IS NULL OR status = $2)`: a generic plan would not use the status index.
                    // `start <= $3` is implied by what follows, but only it bounds the index scan:
                    // without it a page deep in the list reads every row before the cursor.
                    if status.is_some() { "AND status = $2" } else { "AND $2::TEXT IS NULL" }
                ),
                &[&state_machine_arn, &status, &cstart, &carn, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(exec_from_row).collect())
    }

    async fn executions_by_prefix(
        &self,
        prefix: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>> {
        let (low, high, after) = (prefix.to_owned(), prefix_end(prefix), after.unwrap_or_default().to_owned());
        // The range walks the primary key in byte order (a C collation); `starts_with` keeps
        // the answer right under any other collation.
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {EXEC_COLS} FROM executions WHERE arn >= $1 AND arn < $2 AND arn > $3 \
                     AND starts_with(arn, $1) AND ($4::TEXT IS NULL OR status = $4) ORDER BY arn LIMIT $5"
                ),
                &[&low, &high, &after, &status, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(exec_from_row).collect())
    }

    async fn load_execution(&self, arn: &str) -> Result<Option<(ExecutionRow, Option<String>)>> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {EXEC_COLS}, state FROM executions WHERE arn = $1"), &[&arn])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(|r| (exec_from_row(r), r.get(EXEC_COLS.split(',').count()))))
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE executions SET status = $2, output = $3, error = $4, cause = $5, stop = $6, state = $7, \
                 version = version + 1, \
                 lease_until = CASE WHEN lease_owner = $9 THEN NULL ELSE lease_until END, \
                 lease_owner = CASE WHEN lease_owner = $9 THEN NULL ELSE lease_owner END \
                 WHERE arn = $1 AND version = $8",
                &[
                    &commit.execution_arn,
                    &commit.status,
                    &commit.output,
                    &commit.error,
                    &commit.cause,
                    &commit.stop,
                    &commit.state,
                    &commit.expected_version,
                    &commit.release,
                ],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::Conflict(commit.execution_arn.clone()));
        }
        apply_commit_children(&tx, commit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn reopen_execution(&self, commit: &Commit, redrive_count: i64, redrive_date: Millis) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE executions SET status = $2, output = NULL, error = NULL, cause = NULL, stop = NULL, \
                 state = $3, redrive_count = $4, redrive_date = $5, version = version + 1 \
                 WHERE arn = $1 AND version = $6",
                &[
                    &commit.execution_arn,
                    &commit.status,
                    &commit.state,
                    &redrive_count,
                    &redrive_date,
                    &commit.expected_version,
                ],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::Conflict(commit.execution_arn.clone()));
        }
        apply_commit_children(&tx, commit).await?;
        tx.commit().await.map_err(backend)
    }

    async fn history(&self, arn: &str, after: Option<i64>, limit: usize, reverse: bool) -> Result<Vec<(i64, String)>> {
        let sql = if reverse {
            "SELECT id, event FROM history WHERE execution_arn = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        } else {
            "SELECT id, event FROM history WHERE execution_arn = $1 AND id > $2 ORDER BY id LIMIT $3"
        };
        let bound = after.unwrap_or(if reverse { i64::MAX } else { 0 });
        let rows = self.client().await?.query(sql, &[&arn, &bound, &(limit as i64)]).await.map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn push_event(&self, execution_arn: &str, payload: &str) -> Result<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO inbox (execution_arn, payload) VALUES ($1, $2) RETURNING seq",
                &[&execution_arn, &payload],
            )
            .await
            .map_err(backend)?;
        Ok(row.get(0))
    }

    async fn pending_events(&self, execution_arn: &str) -> Result<Vec<(i64, String)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT seq, payload FROM inbox WHERE execution_arn = $1 ORDER BY seq", &[&execution_arn])
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn executions_with_events(&self, limit: usize) -> Result<Vec<String>> {
        let rows = self
            .client()
            .await?
            .query("SELECT DISTINCT execution_arn FROM inbox ORDER BY execution_arn LIMIT $1", &[&(limit as i64)])
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn claim_execution(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                &format!("UPDATE executions SET lease_owner = $2, lease_until = $4 WHERE {LEASE_FREE}"),
                &[&arn, &owner, &now, &until],
            )
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn claim_pending(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<Claim> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let events: Vec<(i64, String)> = tx
            .query("SELECT seq, payload FROM inbox WHERE execution_arn = $1 ORDER BY seq", &[&arn])
            .await
            .map_err(backend)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if events.is_empty() {
            // Nothing to apply: take no lease (and so write nothing), only tell whether one
            // could have been taken.
            let n: i64 = tx
                .query_one(&format!("SELECT COUNT(*) FROM executions WHERE {LEASE_FREE}"), &[&arn, &owner, &now])
                .await
                .map_err(backend)?
                .get(0);
            tx.rollback().await.map_err(backend)?;
            return Ok(if n > 0 { Claim::Idle } else { Claim::Busy });
        }
        let rows = tx
            .query(
                &format!(
                    "UPDATE executions SET lease_owner = $2, lease_until = $4 WHERE {LEASE_FREE} RETURNING {EXEC_COLS}, state"
                ),
                &[&arn, &owner, &now, &until],
            )
            .await
            .map_err(backend)?;
        let Some(r) = rows.first() else {
            tx.rollback().await.map_err(backend)?;
            return Ok(Claim::Busy);
        };
        let (row, state) = (exec_from_row(r), r.get(EXEC_COLS.split(',').count()));
        tx.commit().await.map_err(backend)?;
        Ok(Claim::Claimed { row: Box::new(row), state, events })
    }

    async fn release_execution(&self, arn: &str, owner: &str) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE executions SET lease_owner = NULL, lease_until = NULL WHERE arn = $1 AND lease_owner = $2",
                &[&arn, &owner],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn due_timers(&self, now: Millis, limit: usize) -> Result<Vec<TimerRow>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT execution_arn, timer_id, fire_at FROM timers WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2",
                &[&now, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(|r| TimerRow { execution_arn: r.get(0), timer_id: r.get(1), fire_at: r.get(2) }).collect())
    }

    async fn fire_timers(&self, fired: &[(TimerRow, String)]) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        for (t, payload) in fired {
            // Only a timer still armed fires: another node may have fired it already.
            let n = tx
                .execute(
                    "DELETE FROM timers WHERE execution_arn = $1 AND timer_id = $2",
                    &[&t.execution_arn, &t.timer_id],
                )
                .await
                .map_err(backend)?;
            if n > 0 {
                tx.execute("INSERT INTO inbox (execution_arn, payload) VALUES ($1, $2)", &[&t.execution_arn, payload])
                    .await
                    .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)
    }

    async fn next_timer(&self) -> Result<Option<Millis>> {
        let row = self.client().await?.query_one("SELECT MIN(fire_at) FROM timers", &[]).await.map_err(backend)?;
        Ok(row.get(0))
    }

    async fn task_by_token(&self, token_hash: &[u8]) -> Result<Option<TaskRow>> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {TASK_COLS} FROM tasks WHERE token_hash = $1"), &[&token_hash])
            .await
            .map_err(backend)?;
        Ok(rows.first().map(task_from_row))
    }

    async fn open_tasks(&self, execution_arn: Option<&str>, limit: usize) -> Result<Vec<TaskRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {TASK_COLS} FROM tasks WHERE token_hash IS NOT NULL \
                     AND (kind = 'activity' OR status = 'submitted') AND ($1::TEXT IS NULL OR execution_arn = $1) \
                     ORDER BY created, execution_arn, task_id LIMIT $2"
                ),
                &[&execution_arn, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    async fn get_task(&self, execution_arn: &str, task_id: i64) -> Result<Option<TaskRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {TASK_COLS} FROM tasks WHERE execution_arn = $1 AND task_id = $2"),
                &[&execution_arn, &task_id],
            )
            .await
            .map_err(backend)?;
        Ok(rows.first().map(task_from_row))
    }

    async fn claim_activity_task(
        &self,
        activity_arn: &str,
        worker: &str,
        started: AnswerFn,
    ) -> Result<Option<TaskRow>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {TASK_COLS} FROM tasks WHERE kind = 'activity' AND status = 'queued' AND resource = $1 \
                     ORDER BY created, execution_arn, task_id LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                &[&activity_arn],
            )
            .await
            .map_err(backend)?;
        let Some(mut task) = rows.first().map(task_from_row) else { return Ok(None) };
        // The token goes to this worker and is not kept: only its hash stays.
        tx.execute(
            "UPDATE tasks SET status = 'running', worker = $3, request = '{}' WHERE execution_arn = $1 AND task_id = $2",
            &[&task.execution_arn, &task.task_id, &worker],
        )
        .await
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO inbox (execution_arn, payload) VALUES ($1, $2)",
            &[&task.execution_arn, &started(&task)],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        task.status = TaskStatus::Running;
        task.worker = Some(worker.to_owned());
        Ok(Some(task))
    }

    async fn claim_invocations(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<TaskRow>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {TASK_COLS} FROM tasks WHERE kind = 'invoke' AND (status = 'queued' OR \
                     (status = 'running' AND lease_until < $1)) ORDER BY created LIMIT $2 FOR UPDATE SKIP LOCKED"
                ),
                &[&now, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        let mut tasks: Vec<TaskRow> = rows.iter().map(task_from_row).collect();
        for t in &mut tasks {
            tx.execute(
                "UPDATE tasks SET status = 'running', worker = $4, lease_until = $3 \
                 WHERE execution_arn = $1 AND task_id = $2",
                &[&t.execution_arn, &t.task_id, &lease_until, &owner],
            )
            .await
            .map_err(backend)?;
            t.status = TaskStatus::Running;
            t.worker = Some(owner.to_owned());
            t.lease_until = Some(lease_until);
        }
        tx.commit().await.map_err(backend)?;
        Ok(tasks)
    }

    async fn reclaim_invocations(&self, owner: &str) -> Result<u64> {
        // Only this node's: another node's lease may be live, and runs out on its own if not.
        self.client()
            .await?
            .execute(
                "UPDATE tasks SET status = 'queued', worker = NULL, lease_until = NULL \
                 WHERE kind = 'invoke' AND status = 'running' AND worker = $1",
                &[&owner],
            )
            .await
            .map_err(backend)
    }

    async fn set_task_status(&self, execution_arn: &str, task_id: i64, status: TaskStatus) -> Result<()> {
        let sql = if status == TaskStatus::Submitted {
            "UPDATE tasks SET status = $3, lease_until = NULL, request = '{}' WHERE execution_arn = $1 AND task_id = $2"
        } else {
            "UPDATE tasks SET status = $3, lease_until = NULL WHERE execution_arn = $1 AND task_id = $2"
        };
        self.client().await?.execute(sql, &[&execution_arn, &task_id, &status.as_str()]).await.map_err(backend)?;
        Ok(())
    }

    async fn answer_task(&self, token_hash: &[u8], payload: AnswerFn) -> Result<Option<TaskRow>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        // An invocation still in flight keeps its row, without the token, so a restart makes
        // the call again and its submission still comes.
        let mut rows = tx
            .query(
                &format!(
                    "UPDATE tasks SET token_hash = NULL WHERE token_hash = $1 AND kind = 'invoke' \
                     AND status IN ('queued', 'running') RETURNING {TASK_COLS}"
                ),
                &[&token_hash],
            )
            .await
            .map_err(backend)?;
        if rows.is_empty() {
            rows = tx
                .query(&format!("DELETE FROM tasks WHERE token_hash = $1 RETURNING {TASK_COLS}"), &[&token_hash])
                .await
                .map_err(backend)?;
        }
        let Some(task) = rows.first().map(task_from_row) else { return Ok(None) };
        tx.execute(
            "INSERT INTO inbox (execution_arn, payload) VALUES ($1, $2)",
            &[&task.execution_arn, &payload(&task)],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(task))
    }

    async fn create_queue(&self, row: &QueueRow) -> Result<QueueRow> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO queues (name, attributes, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                &[&row.name, &row.attributes, &row.created],
            )
            .await
            .map_err(backend)?;
        let r = client
            .query_one("SELECT name, attributes, created FROM queues WHERE name = $1", &[&row.name])
            .await
            .map_err(backend)?;
        Ok(queue_from_row(&r))
    }

    async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>> {
        let r = self
            .client()
            .await?
            .query_opt("SELECT name, attributes, created FROM queues WHERE name = $1", &[&name])
            .await
            .map_err(backend)?;
        Ok(r.as_ref().map(queue_from_row))
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<QueueRow>> {
        let prefix = prefix.unwrap_or("");
        let rows = self
            .client()
            .await?
            .query(
                "SELECT name, attributes, created FROM queues WHERE left(name, length($1)) = $1 ORDER BY name",
                &[&prefix],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(queue_from_row).collect())
    }

    async fn delete_queue(&self, name: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("DELETE FROM messages WHERE queue = $1", &[&name]).await.map_err(backend)?;
        let n = tx.execute("DELETE FROM queues WHERE name = $1", &[&name]).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn send_message(&self, m: &MessageRow) -> Result<()> {
        let n = self
            .client()
            .await?
            .execute(
                &format!(
                    "INSERT INTO messages ({MESSAGE_COLS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                     WHERE EXISTS (SELECT 1 FROM queues WHERE name = $1)"
                ),
                &[&m.queue, &m.id, &m.body, &m.attributes, &m.sent, &m.visible_at, &m.receive_count, &m.first_received],
            )
            .await
            .map_err(already(&m.id))?;
        if n == 0 {
            return Err(StoreError::NotFound(m.queue.clone()));
        }
        Ok(())
    }

    async fn receive_messages(
        &self,
        queue: &str,
        now: Millis,
        visible_until: Millis,
        limit: usize,
    ) -> Result<Vec<MessageRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "UPDATE messages SET visible_at = $3, receive_count = receive_count + 1, \
                     first_received = COALESCE(first_received, $2) \
                     WHERE seq IN (SELECT seq FROM messages WHERE queue = $1 AND visible_at <= $2 \
                                   ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) \
                     RETURNING {MESSAGE_COLS}, seq"
                ),
                &[&queue, &now, &visible_until, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        let mut taken: Vec<(i64, MessageRow)> = rows.iter().map(|r| (r.get(8), message_from_row(r))).collect();
        taken.sort_by_key(|(seq, _)| *seq);
        Ok(taken.into_iter().map(|(_, m)| m).collect())
    }

    async fn peek_messages(&self, queue: &str, limit: usize) -> Result<Vec<MessageRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {MESSAGE_COLS} FROM messages WHERE queue = $1 ORDER BY seq DESC LIMIT $2"),
                &[&queue, &(limit as i64)],
            )
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(message_from_row).collect())
    }

    async fn delete_message(&self, queue: &str, id: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM messages WHERE queue = $1 AND id = $2", &[&queue, &id])
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn set_message_visibility(&self, queue: &str, id: &str, visible_at: Millis) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute("UPDATE messages SET visible_at = $1 WHERE queue = $2 AND id = $3", &[&visible_at, &queue, &id])
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn purge_queue(&self, queue: &str) -> Result<u64> {
        self.client().await?.execute("DELETE FROM messages WHERE queue = $1", &[&queue]).await.map_err(backend)
    }

    async fn queue_counts(&self, queue: &str, now: Millis) -> Result<(i64, i64)> {
        let r = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE visible_at <= $2), COUNT(*) FILTER (WHERE visible_at > $2) \
                 FROM messages WHERE queue = $1",
                &[&queue, &now],
            )
            .await
            .map_err(backend)?;
        Ok((r.get(0), r.get(1)))
    }

    async fn gauges(&self) -> Result<Gauges> {
        let c = self.client().await?;
        let by_status = c
            .query("SELECT status, COUNT(*) FROM executions GROUP BY status", &[])
            .await
            .map_err(backend)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let count = |sql: &'static str| {
            let c = &c;
            async move { c.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0)).map_err(backend) }
        };
        Ok(Gauges {
            executions_by_status: by_status,
            open_tasks: count("SELECT COUNT(*) FROM tasks").await?,
            queued_activity_tasks: count("SELECT COUNT(*) FROM tasks WHERE kind = 'activity' AND status = 'queued'")
                .await?,
            pending_timers: count("SELECT COUNT(*) FROM timers").await?,
        })
    }

    async fn publish(&self, wake: Wake) -> Result<()> {
        self.client().await?.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &wake.encode()]).await.map_err(backend)?;
        Ok(())
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Wake>> {
        Some(self.wakes.subscribe())
    }
}
