//! Tasks an execution waits on: activities handed to workers, invocations the engine makes
//! (leased in the name of the node making them), and the answers to their tokens.
//!
//! A task row that holds a token also keeps what a person answering it is shown (its
//! message, the token left out, and its deadline) from its scheduling to its end. Task
//! tokens are kept as SHA-256 only; a token stays in a task's request only until it has been
//! handed out (activity poll, initial call). [`Tasks::answer_task`] spends a token once.

use async_trait::async_trait;

use crate::sql::{run, sql, Access, Backend, Conn, ReadRow};
use crate::{Millis, Result, TaskKind, TaskRow, TaskStatus};

/// Builds the event that answers a task (see [`Tasks::answer_task`]).
pub type AnswerFn = Box<dyn FnOnce(&TaskRow) -> String + Send>;

#[async_trait]
pub trait Tasks: Send + Sync {
    async fn task_by_token(&self, token_hash: &[u8]) -> Result<Option<TaskRow>>;
    async fn get_task(&self, execution_arn: &str, task_id: i64) -> Result<Option<TaskRow>>;
    /// Tasks a person or a worker can answer (they hold a token): activities not yet done and
    /// invocations waiting for their callback. Oldest first, of one execution or of all.
    async fn open_tasks(&self, execution_arn: Option<&str>, limit: usize) -> Result<Vec<TaskRow>>;
    /// Hand the oldest queued task of an activity to `worker` and queue the event `started`
    /// builds from it, in one transaction. Answered without waiting for the disk: should the
    /// hand-out be lost with power, the task is queued again, with the same token.
    async fn claim_activity_task(&self, activity_arn: &str, worker: &str, started: AnswerFn)
        -> Result<Option<TaskRow>>;
    /// Claim invocations for `owner` to carry out: queued ones, and running ones whose lease
    /// expired (their node died).
    async fn claim_invocations(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<TaskRow>>;
    /// Called once when a node starts, before it claims anything: put back in the queue the
    /// invocations an earlier run of node `owner` was carrying out when it died, so they are
    /// made again at once instead of when their lease runs out. Where several nodes share the
    /// store only `owner`'s are taken back (the others' run out as usual); the embedded store
    /// has a single node, so whatever is leased there was leased by a run that is gone.
    /// Returns how many were taken back.
    async fn reclaim_invocations(&self, owner: &str) -> Result<u64>;
    /// Move a task to `status`. Once it is `Submitted` its request (which may carry the task
    /// token) is dropped: from then on only the token's hash is kept.
    async fn set_task_status(&self, execution_arn: &str, task_id: i64, status: TaskStatus) -> Result<()>;
    /// Answer the task holding this token, once: remove it and queue the event `payload`
    /// builds from it, in one transaction. `None` when no open task has the token. An
    /// invocation whose initial call is still in flight (queued or running) loses only its
    /// token: its row stays, so a restart makes the call again and the submission the
    /// answer waits for still comes; the commit that applies the answer removes it.
    async fn answer_task(&self, token_hash: &[u8], payload: AnswerFn) -> Result<Option<TaskRow>>;
}

fn task(r: &dyn ReadRow) -> Result<TaskRow> {
    Ok(TaskRow {
        execution_arn: r.text(0)?,
        task_id: r.int(1)?,
        kind: TaskKind::parse(&r.text(2)?),
        resource: r.text(3)?,
        state_name: r.text(4)?,
        request: r.text(5)?,
        token_hash: r.opt_blob(6)?,
        status: TaskStatus::parse(&r.text(7)?),
        worker: r.opt_text(8)?,
        created: r.int(9)?,
        lease_until: r.opt_int(10)?,
        message: r.opt_text(11)?,
        deadline: r.opt_int(12)?,
    })
}

#[async_trait]
impl<B: Backend> Tasks for B {
    async fn task_by_token(&self, token_hash: &[u8]) -> Result<Option<TaskRow>> {
        run!(self, Access::Read, token_hash, |c, hash| {
            c.query_opt(sql!("SELECT {TASK_COLS} FROM tasks WHERE token_hash = ?1"), &[&hash], task).await
        })
    }

    async fn get_task(&self, execution_arn: &str, task_id: i64) -> Result<Option<TaskRow>> {
        run!(self, Access::Read, execution_arn, |c, arn| {
            let statement = sql!("SELECT {TASK_COLS} FROM tasks WHERE execution_arn = ?1 AND task_id = ?2");
            c.query_opt(statement, &[&arn, &task_id], task).await
        })
    }

    async fn open_tasks(&self, execution_arn: Option<&str>, limit: usize) -> Result<Vec<TaskRow>> {
        let (arn, limit) = (execution_arn.map(str::to_owned), limit as i64);
        run!(self, Access::Read, &(), |c, _| {
            let statement = sql!(
                "SELECT {TASK_COLS} FROM tasks WHERE token_hash IS NOT NULL \
                 AND (kind = 'activity' OR status = 'submitted') \
                 AND (CAST(?1 AS TEXT) IS NULL OR execution_arn = ?1) \
                 ORDER BY created, execution_arn, task_id LIMIT ?2"
            );
            c.query(statement, &[&arn, &limit], task).await
        })
    }

    async fn claim_activity_task(
        &self,
        activity_arn: &str,
        worker: &str,
        started: AnswerFn,
    ) -> Result<Option<TaskRow>> {
        let worker = worker.to_owned();
        run!(self, Access::Unsynced, activity_arn, |c, activity| {
            c.begin().await?;
            let statement = sql!(
                "SELECT {TASK_COLS} FROM tasks WHERE kind = 'activity' AND status = 'queued' AND resource = ?1 \
                 ORDER BY created, execution_arn, task_id LIMIT 1{SKIP_LOCKED}"
            );
            let Some(mut t) = c.query_opt(statement, &[&activity], task).await? else { return Ok(None) };
            // The token goes to this worker and is not kept: only its hash stays.
            let statement = sql!(
                "UPDATE tasks SET status = 'running', worker = ?3, request = '{}' \
                 WHERE execution_arn = ?1 AND task_id = ?2"
            );
            c.execute(statement, &[&t.execution_arn, &t.task_id, &worker]).await?;
            crate::executions::push(c, &t.execution_arn, &started(&t)).await?;
            c.commit().await?;
            t.status = TaskStatus::Running;
            t.worker = Some(worker);
            Ok(Some(t))
        })
    }

    async fn claim_invocations(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<TaskRow>> {
        let limit = limit as i64;
        run!(self, Access::Unsynced, owner, |c, owner| {
            c.begin().await?;
            let statement = sql!(
                "SELECT {TASK_COLS} FROM tasks WHERE kind = 'invoke' AND (status = 'queued' OR \
                 (status = 'running' AND lease_until < ?1)) ORDER BY created LIMIT ?2{SKIP_LOCKED}"
            );
            let mut tasks = c.query(statement, &[&now, &limit], task).await?;
            for t in &mut tasks {
                let statement = sql!(
                    "UPDATE tasks SET status = 'running', worker = ?4, lease_until = ?3 \
                     WHERE execution_arn = ?1 AND task_id = ?2"
                );
                c.execute(statement, &[&t.execution_arn, &t.task_id, &lease_until, &owner]).await?;
                t.status = TaskStatus::Running;
                t.worker = Some(owner.to_owned());
                t.lease_until = Some(lease_until);
            }
            c.commit().await?;
            Ok(tasks)
        })
    }

    async fn reclaim_invocations(&self, owner: &str) -> Result<u64> {
        run!(self, Access::Unsynced, owner, |c, owner| {
            if <B::Conn as Conn>::SHARED {
                // Only this node's: another node's lease may be live, and runs out on its own
                // if not.
                let statement = sql!(
                    "UPDATE tasks SET status = 'queued', worker = NULL, lease_until = NULL \
                     WHERE kind = 'invoke' AND status = 'running' AND worker = ?1"
                );
                Ok(c.execute(statement, &[&owner]).await?)
            } else {
                // One node per store: every lease is the dead run's, whoever it names.
                let statement = sql!(
                    "UPDATE tasks SET status = 'queued', worker = NULL, lease_until = NULL \
                     WHERE kind = 'invoke' AND status = 'running'"
                );
                Ok(c.execute(statement, &[]).await?)
            }
        })
    }

    async fn set_task_status(&self, execution_arn: &str, task_id: i64, status: TaskStatus) -> Result<()> {
        run!(self, Access::Unsynced, execution_arn, |c, arn| {
            let statement = if status == TaskStatus::Submitted {
                sql!(
                    "UPDATE tasks SET status = ?3, lease_until = NULL, request = '{}' \
                     WHERE execution_arn = ?1 AND task_id = ?2"
                )
            } else {
                sql!("UPDATE tasks SET status = ?3, lease_until = NULL WHERE execution_arn = ?1 AND task_id = ?2")
            };
            c.execute(statement, &[&arn, &task_id, &status.as_str()]).await?;
            Ok(())
        })
    }

    async fn answer_task(&self, token_hash: &[u8], payload: AnswerFn) -> Result<Option<TaskRow>> {
        run!(self, Access::Write, token_hash, |c, hash| {
            c.begin().await?;
            // An invocation still in flight keeps its row, without the token, so a restart
            // makes the call again and its submission still comes. Each statement both finds
            // and changes the task, so two nodes answering at once cannot both succeed.
            let statement = sql!(
                "UPDATE tasks SET token_hash = NULL WHERE token_hash = ?1 AND kind = 'invoke' \
                 AND status IN ('queued', 'running') RETURNING {TASK_COLS}"
            );
            let mut answered = c.query_opt(statement, &[&hash], task).await?;
            if answered.is_none() {
                let statement = sql!("DELETE FROM tasks WHERE token_hash = ?1 RETURNING {TASK_COLS}");
                answered = c.query_opt(statement, &[&hash], task).await?;
            }
            let Some(t) = answered else { return Ok(None) };
            crate::executions::push(c, &t.execution_arn, &payload(&t)).await?;
            c.commit().await?;
            Ok(Some(t))
        })
    }
}
