//! The PostgreSQL store: several Baton nodes share one database.
//!
//! The same contract as the embedded store, with the database doing the coordination: a
//! commit is conditional on the execution's version; executions are claimed with leases;
//! activity tasks, invocations and queue messages are claimed with `FOR UPDATE SKIP LOCKED`
//! (the dialect's spelling of the shared statements), so two nodes never take the same one;
//! `LISTEN/NOTIFY` carries wake-ups between nodes so a callback answered on one node resumes
//! the execution on whichever node claims it within milliseconds. Migrations are numbered and
//! append-only (written once for both backends, in [`crate::sql`]; `baton_schema`), applied
//! under an advisory lock so one node migrates at a time.
//!
//! This module provides the connection the shared statements run on (a pooled client,
//! statements prepared once per connection) and the wake-ups; everything else is written once.

use std::borrow::Borrow;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls, Row};

use crate::sql::{backend, Access, Backend, Conn, Dialect, Param, RowMap, Sql, SqlError, SqlResult};
use crate::{Durability, Result, StoreError, Wake};

const CHANNEL: &str = "baton_wake";

/// PostgreSQL-backed [`Store`](crate::Store).
pub struct PostgresStore {
    pool: Pool,
    wakes: broadcast::Sender<Wake>,
    _listener: tokio_postgres::Client,
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
        for (i, sql) in crate::sql::migrations(Dialect::Postgres).iter().enumerate() {
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

/// A pooled client, as the shared statements use it.
pub(crate) struct PgConn {
    /// Always `Some` until dropped.
    client: Option<deadpool_postgres::Object>,
    /// A transaction is open: should the connection be dropped with it open (its operation
    /// cancelled halfway), it is closed rather than returned to the pool.
    in_transaction: bool,
}

impl PgConn {
    fn client(&self) -> Result<&deadpool_postgres::Object> {
        self.client.as_ref().ok_or_else(|| StoreError::Backend("the connection was closed".into()))
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if let (true, Some(client)) = (self.in_transaction, self.client.take()) {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

fn sql_error(e: tokio_postgres::Error) -> SqlError {
    let unique_violation = e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION);
    SqlError { unique_violation, message: e.to_string() }
}

impl Conn for PgConn {
    const DIALECT: Dialect = Dialect::Postgres;
    const SHARED: bool = true;

    async fn execute(&mut self, sql: &'static Sql, params: &[&dyn Param]) -> SqlResult<u64> {
        let client = self.client().map_err(|e| SqlError { unique_violation: false, message: e.to_string() })?;
        let statement = client.prepare_cached(sql.text(Dialect::Postgres)).await.map_err(sql_error)?;
        client.execute_raw(&statement, params.iter().map(|p| p.postgres())).await.map_err(sql_error)
    }

    async fn query<T: Send>(&mut self, sql: &'static Sql, params: &[&dyn Param], map: RowMap<T>) -> Result<Vec<T>> {
        let client = self.client()?;
        let statement = client.prepare_cached(sql.text(Dialect::Postgres)).await.map_err(backend)?;
        let rows: Vec<Row> = client
            .query_raw(&statement, params.iter().map(|p| p.postgres()))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        rows.iter().map(|r| map(r)).collect()
    }

    async fn begin(&mut self) -> Result<()> {
        self.client()?.batch_execute("BEGIN").await.map_err(backend)?;
        self.in_transaction = true;
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        self.client()?.batch_execute("COMMIT").await.map_err(backend)?;
        self.in_transaction = false;
        Ok(())
    }
}

crate::sql::read_row!(Row, try_get);

impl Backend for PostgresStore {
    type Conn = PgConn;

    async fn run<D, T, F>(&self, _access: Access, input: &D, op: F) -> Result<T>
    where
        D: ToOwned + Sync + ?Sized,
        D::Owned: Borrow<D> + Send + 'static,
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConn, &'c D) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let mut conn = PgConn { client: Some(self.client().await?), in_transaction: false };
        let result = op(&mut conn, input).await;
        if conn.in_transaction {
            // The operation returned halfway (an error, or nothing to do): undo it. Should
            // that fail too, dropping the connection closes it.
            match conn.client()?.batch_execute("ROLLBACK").await {
                Ok(()) => conn.in_transaction = false,
                Err(e) => tracing::warn!(error = %e, "rolling back an unfinished transaction"),
            }
        }
        result
    }

    async fn publish_wake(&self, wake: &Wake) -> Result<()> {
        self.client().await?.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &wake.encode()]).await.map_err(backend)?;
        Ok(())
    }

    fn subscribe_wakes(&self) -> Option<broadcast::Receiver<Wake>> {
        Some(self.wakes.subscribe())
    }
}
