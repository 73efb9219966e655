//! Timers: when an execution's Wait, retry backoff or task timeout is due. A fired timer
//! becomes a queued event of its execution, in the same transaction.

use async_trait::async_trait;

use crate::sql::{run, sql, Access, Backend, Conn, ReadRow};
use crate::{Millis, Result, TimerRow};

#[async_trait]
pub trait Timers: Send + Sync {
    async fn due_timers(&self, now: Millis, limit: usize) -> Result<Vec<TimerRow>>;
    /// Turn fired timers into queued events (`payload` for each), atomically.
    async fn fire_timers(&self, fired: &[(TimerRow, String)]) -> Result<()>;
    async fn next_timer(&self) -> Result<Option<Millis>>;
}

fn timer(r: &dyn ReadRow) -> Result<TimerRow> {
    Ok(TimerRow { execution_arn: r.text(0)?, timer_id: r.int(1)?, fire_at: r.int(2)? })
}

#[async_trait]
impl<B: Backend> Timers for B {
    async fn due_timers(&self, now: Millis, limit: usize) -> Result<Vec<TimerRow>> {
        let limit = limit as i64;
        run!(self, Access::Read, &(), |c, _| {
            let statement = sql!(
                "SELECT execution_arn, timer_id, fire_at FROM timers WHERE fire_at <= ?1 ORDER BY fire_at LIMIT ?2"
            );
            c.query(statement, &[&now, &limit], timer).await
        })
    }

    async fn fire_timers(&self, fired: &[(TimerRow, String)]) -> Result<()> {
        run!(self, Access::Unsynced, fired, |c, fired| {
            c.begin().await?;
            for (t, payload) in fired {
                // Only a timer still armed fires: another node may have fired it already.
                let statement = sql!("DELETE FROM timers WHERE execution_arn = ?1 AND timer_id = ?2");
                if c.execute(statement, &[&t.execution_arn, &t.timer_id]).await? > 0 {
                    crate::executions::push(c, &t.execution_arn, payload).await?;
                }
            }
            c.commit().await
        })
    }

    async fn next_timer(&self) -> Result<Option<Millis>> {
        run!(self, Access::Read, &(), |c, _| {
            c.query_one(sql!("SELECT MIN(fire_at) FROM timers"), &[], |r| r.opt_int(0)).await
        })
    }
}
