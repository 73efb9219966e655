//! Executions and their history, the events queued for them (the inbox) and the leases
//! engines claim them with.
//!
//! Invariant: a [`Commit`] applies atomically and only if the execution's `version` is the
//! one read, so engines sharing a store never advance one execution twice. Executions are
//! claimed with leases ([`Executions::claim_pending`]: the lease and the queued events in one
//! transaction; the commit can end the lease), never with in-process locks.

use async_trait::async_trait;

use crate::sql::{already, named, run, sql, Access, Backend, Conn, ReadRow};
use crate::{Claim, Commit, ExecutionRow, Millis, Result, StoreError};

#[async_trait]
pub trait Executions: Send + Sync {
    /// Create an execution with its first step ([`StoreError::AlreadyExists`] when the ARN
    /// is taken).
    async fn insert_execution(&self, row: &ExecutionRow, first: &Commit) -> Result<()>;
    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRow>>;
    /// Newest first (by start time), optionally one status (as the API names it), starting
    /// after the cursor (an ARN from the previous page).
    async fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>>;
    /// Executions whose ARN starts with `prefix` (a machine's execution ARN prefix plus the
    /// start of a name: a search by name), in ARN order after the cursor `after`, optionally
    /// one status. A range of the primary key, so as fast with 100,000 executions as with ten.
    async fn executions_by_prefix(
        &self,
        prefix: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>>;
    /// The execution and its resumable state (`None` state once it has ended).
    async fn load_execution(&self, arn: &str) -> Result<Option<(ExecutionRow, Option<String>)>>;
    async fn commit(&self, commit: &Commit) -> Result<()>;
    /// Reopen an ended execution for redrive: new status, state and redrive count.
    async fn reopen_execution(&self, commit: &Commit, redrive_count: i64, redrive_date: Millis) -> Result<()>;
    /// History events with `id > after` (ascending) or `id < before` (descending).
    async fn history(&self, arn: &str, after: Option<i64>, limit: usize, reverse: bool) -> Result<Vec<(i64, String)>>;

    // --- events waiting to be applied ------------------------------------------------------
    /// Queue an event for an execution (a callback, a stop request, a fired timer).
    async fn push_event(&self, execution_arn: &str, payload: &str) -> Result<i64>;
    /// Queued events of one execution, oldest first.
    async fn pending_events(&self, execution_arn: &str) -> Result<Vec<(i64, String)>>;
    /// Executions with queued events (for a sweep after a restart).
    async fn executions_with_events(&self, limit: usize) -> Result<Vec<String>>;
    /// Claim an execution for processing until `until`; false when another owner holds it.
    async fn claim_execution(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<bool>;
    async fn release_execution(&self, arn: &str, owner: &str) -> Result<()>;
    /// Claim an execution and read what applying its queued events needs, in one
    /// transaction: the claim, the execution and its queued events. With nothing queued, the
    /// claim is not kept. A commit with [`Commit::release`] ends the claim.
    async fn claim_pending(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<Claim>;
}

const EXEC_COLUMNS: usize = 19;

fn execution(r: &dyn ReadRow) -> Result<ExecutionRow> {
    Ok(ExecutionRow {
        arn: r.text(0)?,
        state_machine_arn: r.text(1)?,
        name: r.text(2)?,
        status: named(r, 3)?,
        input: r.text(4)?,
        output: r.opt_text(5)?,
        error: r.opt_text(6)?,
        cause: r.opt_text(7)?,
        start: r.int(8)?,
        stop: r.opt_int(9)?,
        version_arn: r.opt_text(10)?,
        alias_arn: r.opt_text(11)?,
        definition: r.text(12)?,
        redrive_count: r.int(13)?,
        redrive_date: r.opt_int(14)?,
        version: r.int(15)?,
        parent: r.opt_text(16)?,
        started_by: r.opt_text(17)?,
        mock_test_case: r.opt_text(18)?,
    })
}

/// An execution read with its resumable state (`{EXEC_COLS}, state`).
fn execution_and_state(r: &dyn ReadRow) -> Result<(ExecutionRow, Option<String>)> {
    Ok((execution(r)?, r.opt_text(EXEC_COLUMNS)?))
}

/// An event with its sequence number or id.
pub(crate) fn numbered(r: &dyn ReadRow) -> Result<(i64, String)> {
    Ok((r.int(0)?, r.text(1)?))
}

fn text(r: &dyn ReadRow) -> Result<String> {
    r.text(0)
}

pub(crate) fn count(r: &dyn ReadRow) -> Result<i64> {
    r.int(0)
}

/// Queue an event for an execution, in the caller's transaction.
pub(crate) async fn push(c: &mut impl Conn, execution_arn: &str, payload: &str) -> Result<()> {
    c.execute(sql!("INSERT INTO inbox (execution_arn, payload) VALUES (?1, ?2)"), &[&execution_arn, &payload]).await?;
    Ok(())
}

/// The parts of a commit that are not the execution row itself.
async fn apply_children(c: &mut impl Conn, commit: &Commit) -> Result<()> {
    let arn = &commit.execution_arn;
    for (id, event) in &commit.events {
        c.execute(sql!("INSERT INTO history (execution_arn, id, event) VALUES (?1, ?2, ?3)"), &[arn, id, event])
            .await?;
    }
    for id in &commit.timers_removed {
        c.execute(sql!("DELETE FROM timers WHERE execution_arn = ?1 AND timer_id = ?2"), &[arn, id]).await?;
    }
    for (id, at) in &commit.timers_added {
        let statement = sql!(
            "INSERT INTO timers (execution_arn, timer_id, fire_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (execution_arn, timer_id) DO UPDATE SET fire_at = excluded.fire_at"
        );
        c.execute(statement, &[arn, id, at]).await?;
    }
    for id in &commit.tasks_removed {
        c.execute(sql!("DELETE FROM tasks WHERE execution_arn = ?1 AND task_id = ?2"), &[arn, id]).await?;
    }
    for t in &commit.tasks_added {
        // As each backend always did: SQLite replaces a task of the same id, PostgreSQL keeps it.
        let statement = sql!(
            sqlite: "INSERT OR REPLACE INTO tasks ({TASK_COLS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            postgres: "INSERT INTO tasks ({TASK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                       ON CONFLICT (execution_arn, task_id) DO NOTHING"
        );
        let (kind, status) = (t.kind.as_str(), t.status.as_str());
        let params: [&dyn crate::sql::Param; 13] = [
            &t.execution_arn,
            &t.task_id,
            &kind,
            &t.resource,
            &t.state_name,
            &t.request,
            &t.token_hash,
            &status,
            &t.worker,
            &t.created,
            &t.lease_until,
            &t.message,
            &t.deadline,
        ];
        c.execute(statement, &params).await?;
    }
    for seq in &commit.consumed_events {
        c.execute(sql!("DELETE FROM inbox WHERE seq = ?1"), &[seq]).await?;
    }
    for m in &commit.messages {
        crate::queues::insert_message(c, m).await?;
    }
    if commit.state.is_none() {
        // Ended: nothing is left to fire or answer.
        c.execute(sql!("DELETE FROM timers WHERE execution_arn = ?1"), &[arn]).await?;
        c.execute(sql!("DELETE FROM tasks WHERE execution_arn = ?1"), &[arn]).await?;
    }
    Ok(())
}

#[async_trait]
impl<B: Backend> Executions for B {
    async fn insert_execution(&self, row: &ExecutionRow, first: &Commit) -> Result<()> {
        let row = row.clone();
        run!(self, Access::Write, first, |c, first| {
            c.begin().await?;
            let statement = sql!(
                "INSERT INTO executions ({EXEC_COLS}, state) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            );
            let status = first.status.as_str();
            let params: [&dyn crate::sql::Param; 20] = [
                &row.arn,
                &row.state_machine_arn,
                &row.name,
                &status,
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
            ];
            c.execute(statement, &params).await.map_err(already(&row.arn))?;
            apply_children(c, first).await?;
            c.commit().await
        })
    }

    async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRow>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT {EXEC_COLS} FROM executions WHERE arn = ?1"), &[&arn], execution).await
        })
    }

    async fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>> {
        let (status, after, limit) = (status.map(str::to_owned), after.map(str::to_owned), limit as i64);
        run!(self, Access::Read, state_machine_arn, |c, sm| {
            // Keyset paging on (start DESC, arn): the cursor is the last ARN of the previous page.
            let cursor = match &after {
                None => None,
                Some(a) => {
                    let statement = sql!("SELECT start, arn FROM executions WHERE arn = ?1");
                    c.query_opt(statement, &[a], |r| Ok((r.int(0)?, r.text(1)?))).await?
                }
            };
            let (start, arn) = cursor.unwrap_or((i64::MAX, String::new()));
            // A statement for each case rather than `(?2 IS NULL OR status = ?2)`, which keeps
            // the planner off the status index: a rare status would scan every execution of
            // the machine. `start <= ?` is implied by what follows, but only it bounds the
            // index scan: without it a page deep in the list reads every row before the cursor.
            match &status {
                Some(status) => {
                    let statement = sql!(
                        "SELECT {EXEC_COLS} FROM executions WHERE state_machine_arn = ?1 AND status = ?2 \
                         AND start <= ?3 AND (start < ?3 OR (start = ?3 AND arn > ?4)) \
                         ORDER BY start DESC, arn LIMIT ?5"
                    );
                    c.query(statement, &[&sm, status, &start, &arn, &limit], execution).await
                }
                None => {
                    let statement = sql!(
                        "SELECT {EXEC_COLS} FROM executions WHERE state_machine_arn = ?1 \
                         AND start <= ?2 AND (start < ?2 OR (start = ?2 AND arn > ?3)) \
                         ORDER BY start DESC, arn LIMIT ?4"
                    );
                    c.query(statement, &[&sm, &start, &arn, &limit], execution).await
                }
            }
        })
    }

    async fn executions_by_prefix(
        &self,
        prefix: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>> {
        let (high, after) = (crate::prefix_end(prefix), after.unwrap_or_default().to_owned());
        let (status, limit) = (status.map(str::to_owned), limit as i64);
        run!(self, Access::Read, prefix, |c, low| {
            // The range walks the primary key in byte order (SQLite's, and PostgreSQL's C
            // collation); comparing the prefix itself keeps the answer right under any other.
            let statement = sql!(
                "SELECT {EXEC_COLS} FROM executions WHERE arn >= ?1 AND arn < ?2 AND arn > ?3 \
                 AND substr(arn, 1, length(?1)) = ?1 AND (CAST(?4 AS TEXT) IS NULL OR status = ?4) \
                 ORDER BY arn LIMIT ?5"
            );
            c.query(statement, &[&low, &high, &after, &status, &limit], execution).await
        })
    }

    async fn load_execution(&self, arn: &str) -> Result<Option<(ExecutionRow, Option<String>)>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT {EXEC_COLS}, state FROM executions WHERE arn = ?1"), &[&arn], execution_and_state)
                .await
        })
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        // An execution's own step: no client waits for it, and should the power take it, the
        // events it consumed are still queued on disk and the step runs again.
        run!(self, Access::Unsynced, commit, |c, commit| {
            c.begin().await?;
            let statement = sql!(
                "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop = ?6, state = ?7, \
                 version = version + 1, \
                 lease_until = CASE WHEN lease_owner = ?9 THEN NULL ELSE lease_until END, \
                 lease_owner = CASE WHEN lease_owner = ?9 THEN NULL ELSE lease_owner END \
                 WHERE arn = ?1 AND version = ?8"
            );
            let status = commit.status.as_str();
            let params: [&dyn crate::sql::Param; 9] = [
                &commit.execution_arn,
                &status,
                &commit.output,
                &commit.error,
                &commit.cause,
                &commit.stop,
                &commit.state,
                &commit.expected_version,
                &commit.release,
            ];
            if c.execute(statement, &params).await? == 0 {
                return Err(StoreError::Conflict(commit.execution_arn.clone()));
            }
            apply_children(c, commit).await?;
            c.commit().await
        })
    }

    async fn reopen_execution(&self, commit: &Commit, redrive_count: i64, redrive_date: Millis) -> Result<()> {
        run!(self, Access::Write, commit, |c, commit| {
            c.begin().await?;
            let statement = sql!(
                "UPDATE executions SET status = ?2, output = NULL, error = NULL, cause = NULL, stop = NULL, \
                 state = ?3, redrive_count = ?4, redrive_date = ?5, version = version + 1 \
                 WHERE arn = ?1 AND version = ?6"
            );
            let status = commit.status.as_str();
            let params: [&dyn crate::sql::Param; 6] = [
                &commit.execution_arn,
                &status,
                &commit.state,
                &redrive_count,
                &redrive_date,
                &commit.expected_version,
            ];
            if c.execute(statement, &params).await? == 0 {
                return Err(StoreError::Conflict(commit.execution_arn.clone()));
            }
            apply_children(c, commit).await?;
            c.commit().await
        })
    }

    async fn history(&self, arn: &str, after: Option<i64>, limit: usize, reverse: bool) -> Result<Vec<(i64, String)>> {
        let bound = after.unwrap_or(if reverse { i64::MAX } else { 0 });
        let limit = limit as i64;
        run!(self, Access::Read, arn, |c, arn| {
            let statement = if reverse {
                sql!("SELECT id, event FROM history WHERE execution_arn = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3")
            } else {
                sql!("SELECT id, event FROM history WHERE execution_arn = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
            };
            c.query(statement, &[&arn, &bound, &limit], numbered).await
        })
    }

    async fn push_event(&self, execution_arn: &str, payload: &str) -> Result<i64> {
        let payload = payload.to_owned();
        run!(self, Access::Write, execution_arn, |c, arn| {
            let statement = sql!("INSERT INTO inbox (execution_arn, payload) VALUES (?1, ?2) RETURNING seq");
            c.query_one(statement, &[&arn, &payload], count).await
        })
    }

    async fn pending_events(&self, execution_arn: &str) -> Result<Vec<(i64, String)>> {
        // Through the writer: an event pushed a moment ago must be seen.
        run!(self, Access::Unsynced, execution_arn, |c, arn| {
            c.query(sql!("SELECT seq, payload FROM inbox WHERE execution_arn = ?1 ORDER BY seq"), &[&arn], numbered)
                .await
        })
    }

    async fn executions_with_events(&self, limit: usize) -> Result<Vec<String>> {
        let limit = limit as i64;
        run!(self, Access::Read, &(), |c, _| {
            c.query(sql!("SELECT DISTINCT execution_arn FROM inbox ORDER BY execution_arn LIMIT ?1"), &[&limit], text)
                .await
        })
    }

    async fn claim_execution(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<bool> {
        let owner = owner.to_owned();
        run!(self, Access::Unsynced, arn, |c, arn| {
            let statement = sql!("UPDATE executions SET lease_owner = ?2, lease_until = ?4 WHERE {LEASE_FREE}");
            Ok(c.execute(statement, &[&arn, &owner, &now, &until]).await? > 0)
        })
    }

    async fn release_execution(&self, arn: &str, owner: &str) -> Result<()> {
        let owner = owner.to_owned();
        run!(self, Access::Unsynced, arn, |c, arn| {
            let statement = sql!(
                "UPDATE executions SET lease_owner = NULL, lease_until = NULL WHERE arn = ?1 AND lease_owner = ?2"
            );
            c.execute(statement, &[&arn, &owner]).await?;
            Ok(())
        })
    }

    async fn claim_pending(&self, arn: &str, owner: &str, now: Millis, until: Millis) -> Result<Claim> {
        let owner = owner.to_owned();
        // One transaction: no other write comes between the claim and the reads.
        run!(self, Access::Unsynced, arn, |c, arn| {
            c.begin().await?;
            let statement = sql!("SELECT seq, payload FROM inbox WHERE execution_arn = ?1 ORDER BY seq");
            let events = c.query(statement, &[&arn], numbered).await?;
            if events.is_empty() {
                // Nothing to apply: take no lease (and so write nothing), only tell whether
                // one could have been taken. The transaction is rolled back.
                let statement = sql!("SELECT COUNT(*) FROM executions WHERE {LEASE_FREE}");
                let free = c.query_one(statement, &[&arn, &owner, &now], count).await?;
                return Ok(if free > 0 { Claim::Idle } else { Claim::Busy });
            }
            let statement = sql!(
                "UPDATE executions SET lease_owner = ?2, lease_until = ?4 WHERE {LEASE_FREE} \
                 RETURNING {EXEC_COLS}, state"
            );
            let Some((row, state)) = c.query_opt(statement, &[&arn, &owner, &now, &until], execution_and_state).await?
            else {
                return Ok(Claim::Busy);
            };
            c.commit().await?;
            Ok(Claim::Claimed { row: Box::new(row), state, events })
        })
    }
}
