//! Built-in queues (served over the SQS protocol) and their messages. A message is received
//! by one receiver at a time: receiving hides it until its visibility timeout ends.

use async_trait::async_trait;

use crate::sql::{already, run, sql, Access, Backend, Conn, ReadRow};
use crate::{MessageRow, Millis, QueueRow, Result, StoreError};

#[async_trait]
pub trait Queues: Send + Sync {
    /// Create a queue; an existing queue of that name is returned as it is.
    async fn create_queue(&self, row: &QueueRow) -> Result<QueueRow>;
    async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>>;
    /// Ordered by name; only names starting with `prefix` when given.
    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<QueueRow>>;
    /// Delete a queue with its messages; false when there was none.
    async fn delete_queue(&self, name: &str) -> Result<bool>;
    /// Append a message ([`StoreError::NotFound`] when its queue does not exist).
    async fn send_message(&self, row: &MessageRow) -> Result<()>;
    /// Receive up to `limit` messages visible at `now`, oldest first: each becomes
    /// invisible until `visible_until` and its receive count goes up, atomically, so two
    /// receivers never get the same message within its visibility timeout.
    async fn receive_messages(
        &self,
        queue: &str,
        now: Millis,
        visible_until: Millis,
        limit: usize,
    ) -> Result<Vec<MessageRow>>;
    /// The newest `limit` messages of a queue, newest first, leaving them as they are (not
    /// received): for queues kept as logs, such as the mail Baton sent.
    async fn peek_messages(&self, queue: &str, limit: usize) -> Result<Vec<MessageRow>>;
    /// Delete a message; false when it was not there (already deleted).
    async fn delete_message(&self, queue: &str, id: &str) -> Result<bool>;
    /// Make a message visible again at `visible_at`; false when it is not there.
    async fn set_message_visibility(&self, queue: &str, id: &str, visible_at: Millis) -> Result<bool>;
    /// Delete every message of a queue; the number deleted.
    async fn purge_queue(&self, queue: &str) -> Result<u64>;
    /// (visible, in flight) message counts at `now`.
    async fn queue_counts(&self, queue: &str, now: Millis) -> Result<(i64, i64)>;
}

fn queue(r: &dyn ReadRow) -> Result<QueueRow> {
    Ok(QueueRow { name: r.text(0)?, attributes: r.text(1)?, created: r.int(2)? })
}

fn message(r: &dyn ReadRow) -> Result<MessageRow> {
    Ok(MessageRow {
        queue: r.text(0)?,
        id: r.text(1)?,
        body: r.text(2)?,
        attributes: r.text(3)?,
        sent: r.int(4)?,
        visible_at: r.int(5)?,
        receive_count: r.int(6)?,
        first_received: r.opt_int(7)?,
    })
}

/// A message with its place in the queue (`{MESSAGE_COLS}, seq`).
fn message_and_seq(r: &dyn ReadRow) -> Result<(i64, MessageRow)> {
    Ok((r.int(8)?, message(r)?))
}

fn message_params(m: &MessageRow) -> [&dyn crate::sql::Param; 8] {
    [&m.queue, &m.id, &m.body, &m.attributes, &m.sent, &m.visible_at, &m.receive_count, &m.first_received]
}

/// Append a message in the caller's transaction (its queue is not checked).
pub(crate) async fn insert_message(c: &mut impl Conn, m: &MessageRow) -> Result<()> {
    let statement = sql!("INSERT INTO messages ({MESSAGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    c.execute(statement, &message_params(m)).await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> Queues for B {
    async fn create_queue(&self, row: &QueueRow) -> Result<QueueRow> {
        run!(self, Access::Write, row, |c, row| {
            let statement = sql!(
                "INSERT INTO queues (name, attributes, created) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING"
            );
            c.execute(statement, &[&row.name, &row.attributes, &row.created]).await?;
            c.query_one(sql!("SELECT name, attributes, created FROM queues WHERE name = ?1"), &[&row.name], queue).await
        })
    }

    async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>> {
        run!(self, Access::Read, name, |c, name| {
            c.query_opt(sql!("SELECT name, attributes, created FROM queues WHERE name = ?1"), &[&name], queue).await
        })
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<QueueRow>> {
        run!(self, Access::Read, prefix.unwrap_or(""), |c, prefix| {
            let statement = sql!(
                "SELECT name, attributes, created FROM queues WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name"
            );
            c.query(statement, &[&prefix], queue).await
        })
    }

    async fn delete_queue(&self, name: &str) -> Result<bool> {
        run!(self, Access::Write, name, |c, name| {
            c.begin().await?;
            c.execute(sql!("DELETE FROM messages WHERE queue = ?1"), &[&name]).await?;
            let n = c.execute(sql!("DELETE FROM queues WHERE name = ?1"), &[&name]).await?;
            c.commit().await?;
            Ok(n > 0)
        })
    }

    async fn send_message(&self, row: &MessageRow) -> Result<()> {
        run!(self, Access::Write, row, |c, m| {
            let statement = sql!(
                "INSERT INTO messages ({MESSAGE_COLS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
                 WHERE EXISTS (SELECT 1 FROM queues WHERE name = ?1)"
            );
            if c.execute(statement, &message_params(m)).await.map_err(already(&m.id))? == 0 {
                return Err(StoreError::NotFound(m.queue.clone()));
            }
            Ok(())
        })
    }

    async fn receive_messages(
        &self,
        queue: &str,
        now: Millis,
        visible_until: Millis,
        limit: usize,
    ) -> Result<Vec<MessageRow>> {
        let limit = limit as i64;
        run!(self, Access::Unsynced, queue, |c, queue| {
            let statement = sql!(
                "UPDATE messages SET visible_at = ?3, receive_count = receive_count + 1, \
                 first_received = COALESCE(first_received, ?2) \
                 WHERE seq IN (SELECT seq FROM messages WHERE queue = ?1 AND visible_at <= ?2 \
                               ORDER BY seq LIMIT ?4{SKIP_LOCKED}) \
                 RETURNING {MESSAGE_COLS}, seq"
            );
            let mut taken = c.query(statement, &[&queue, &now, &visible_until, &limit], message_and_seq).await?;
            taken.sort_by_key(|(seq, _)| *seq);
            Ok(taken.into_iter().map(|(_, m)| m).collect())
        })
    }

    async fn peek_messages(&self, queue: &str, limit: usize) -> Result<Vec<MessageRow>> {
        let limit = limit as i64;
        run!(self, Access::Read, queue, |c, queue| {
            let statement = sql!("SELECT {MESSAGE_COLS} FROM messages WHERE queue = ?1 ORDER BY seq DESC LIMIT ?2");
            c.query(statement, &[&queue, &limit], message).await
        })
    }

    async fn delete_message(&self, queue: &str, id: &str) -> Result<bool> {
        let id = id.to_owned();
        run!(self, Access::Write, queue, |c, queue| {
            Ok(c.execute(sql!("DELETE FROM messages WHERE queue = ?1 AND id = ?2"), &[&queue, &id]).await? > 0)
        })
    }

    async fn set_message_visibility(&self, queue: &str, id: &str, visible_at: Millis) -> Result<bool> {
        let id = id.to_owned();
        run!(self, Access::Write, queue, |c, queue| {
            let statement = sql!("UPDATE messages SET visible_at = ?1 WHERE queue = ?2 AND id = ?3");
            Ok(c.execute(statement, &[&visible_at, &queue, &id]).await? > 0)
        })
    }

    async fn purge_queue(&self, queue: &str) -> Result<u64> {
        run!(self, Access::Write, queue, |c, queue| {
            Ok(c.execute(sql!("DELETE FROM messages WHERE queue = ?1"), &[&queue]).await?)
        })
    }

    async fn queue_counts(&self, queue: &str, now: Millis) -> Result<(i64, i64)> {
        run!(self, Access::Read, queue, |c, queue| {
            let statement = sql!(
                "SELECT COUNT(*) FILTER (WHERE visible_at <= ?2), COUNT(*) FILTER (WHERE visible_at > ?2) \
                 FROM messages WHERE queue = ?1"
            );
            c.query_one(statement, &[&queue, &now], |r| Ok((r.int(0)?, r.int(1)?))).await
        })
    }
}
