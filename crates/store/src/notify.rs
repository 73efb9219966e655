//! Waking the other engines that share a store, and the counts `/metrics` shows.
//!
//! Publishing is a no-op where only one engine can use the store (SQLite); the PostgreSQL
//! store carries wake-ups between nodes with `LISTEN/NOTIFY`.

use async_trait::async_trait;

use crate::executions::count;
use crate::sql::{named, run, sql, Access, Backend, Conn};
use crate::{Gauges, Result};

#[async_trait]
pub trait Notify: Send + Sync {
    async fn gauges(&self) -> Result<Gauges>;

    /// Tell every engine sharing this store that there is work (a no-op where only one
    /// engine can use the store).
    async fn publish(&self, wake: Wake) -> Result<()>;

    /// Wake-ups published by any engine sharing this store, when the store can carry them.
    fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Wake>>;
}

/// Work another engine should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// Events were queued for this execution.
    Execution(String),
    /// Activity tasks were queued.
    Activity,
    /// Invocations were queued.
    Dispatch,
    /// Timers were armed.
    Timers,
    /// A message was sent to this queue.
    Queue(String),
}

impl Wake {
    pub fn encode(&self) -> String {
        match self {
            Wake::Execution(arn) => format!("e:{arn}"),
            Wake::Activity => "a".into(),
            Wake::Dispatch => "d".into(),
            Wake::Timers => "t".into(),
            Wake::Queue(name) => format!("q:{name}"),
        }
    }

    pub fn decode(s: &str) -> Option<Wake> {
        match s {
            "a" => Some(Wake::Activity),
            "d" => Some(Wake::Dispatch),
            "t" => Some(Wake::Timers),
            _ => match s.strip_prefix("q:") {
                Some(name) => Some(Wake::Queue(name.to_owned())),
                None => s.strip_prefix("e:").map(|arn| Wake::Execution(arn.to_owned())),
            },
        }
    }
}

#[async_trait]
impl<B: Backend> Notify for B {
    async fn gauges(&self) -> Result<Gauges> {
        run!(self, Access::Read, &(), |c, _| {
            let statement = sql!("SELECT status, COUNT(*) FROM executions GROUP BY status");
            let executions_by_status = c.query(statement, &[], |r| Ok((named(r, 0)?, r.int(1)?))).await?;
            let open_tasks = c.query_one(sql!("SELECT COUNT(*) FROM tasks"), &[], count).await?;
            let statement = sql!("SELECT COUNT(*) FROM tasks WHERE kind = 'activity' AND status = 'queued'");
            let queued_activity_tasks = c.query_one(statement, &[], count).await?;
            let pending_timers = c.query_one(sql!("SELECT COUNT(*) FROM timers"), &[], count).await?;
            Ok(Gauges { executions_by_status, open_tasks, queued_activity_tasks, pending_timers })
        })
    }

    async fn publish(&self, wake: Wake) -> Result<()> {
        self.publish_wake(&wake).await
    }

    fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Wake>> {
        self.subscribe_wakes()
    }
}
