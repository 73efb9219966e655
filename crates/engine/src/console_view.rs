//! The read-only view of the store that pages and `/metrics` read: state machines,
//! executions, histories, open tasks, gauges, console sign-outs. Nothing here writes:
//! everything that changes state is an operation of the engine ([`crate::catalog`],
//! [`crate::executions`], answers and votes in [`crate::service`],
//! [`Engine::record_sign_out`]).

use std::sync::Arc;

pub use store::{ExecutionRow, StateMachineRow, TaskKind, TaskRow};
use store::{Gauges, Store};

use crate::error::EngineError;
use crate::service::{Engine, Millis};
use crate::token::TaskToken;

/// Where console sign-outs are kept: one tag per person (their name → when they last signed
/// out, in ms) on a resource no ARN names, so the API's tag actions never reach it. Kept in
/// the store, so a sign-out holds across restarts and on every node.
const SIGNED_OUT: &str = "baton:console:signed-out";

/// Reads for pages. Cheap to clone.
#[derive(Clone)]
pub struct ConsoleView {
    store: Arc<dyn Store>,
}

impl ConsoleView {
    /// State machines in ARN order, after the cursor.
    pub async fn state_machines(&self, after: Option<&str>, limit: usize) -> Result<Vec<StateMachineRow>, EngineError> {
        Ok(self.store.list_state_machines(after, limit).await?)
    }

    pub async fn state_machine(&self, arn: &str) -> Result<Option<StateMachineRow>, EngineError> {
        Ok(self.store.get_state_machine(arn).await?)
    }

    /// A machine's executions (`status`: only those), newest first.
    pub async fn executions(
        &self,
        machine_arn: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>, EngineError> {
        Ok(self.store.list_executions(machine_arn, status, after, limit).await?)
    }

    /// Executions whose ARN starts with `prefix` (a machine's, by name), in ARN order.
    pub async fn executions_by_prefix(
        &self,
        prefix: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ExecutionRow>, EngineError> {
        Ok(self.store.executions_by_prefix(prefix, status, after, limit).await?)
    }

    pub async fn execution(&self, arn: &str) -> Result<Option<ExecutionRow>, EngineError> {
        Ok(self.store.get_execution(arn).await?)
    }

    /// History events `(id, AWS JSON text)` after `after`, oldest first unless `reverse`.
    pub async fn history(
        &self,
        arn: &str,
        after: Option<i64>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<(i64, String)>, EngineError> {
        Ok(self.store.history(arn, after, limit, reverse).await?)
    }

    /// Tasks waiting for an answer or a worker (of one execution, or all).
    pub async fn open_tasks(&self, execution_arn: Option<&str>, limit: usize) -> Result<Vec<TaskRow>, EngineError> {
        Ok(self.store.open_tasks(execution_arn, limit).await?)
    }

    pub async fn task(&self, execution_arn: &str, task_id: i64) -> Result<Option<TaskRow>, EngineError> {
        Ok(self.store.get_task(execution_arn, task_id).await?)
    }

    /// The open task a token answers, if any.
    pub async fn task_by_token(&self, token: &TaskToken) -> Result<Option<TaskRow>, EngineError> {
        Ok(self.store.task_by_token(&token.hash()).await?)
    }

    /// Counts for `/metrics`: executions by status, open tasks, queued activity tasks, timers.
    pub async fn gauges(&self) -> Result<Gauges, EngineError> {
        Ok(self.store.gauges().await?)
    }

    /// When `name` last signed out of the console ([`Engine::record_sign_out`]).
    pub async fn signed_out_at(&self, name: &str) -> Result<Option<Millis>, EngineError> {
        let tags = self.store.tags(SIGNED_OUT).await?;
        Ok(tags.into_iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse().ok()))
    }
}

impl Engine {
    /// The read-only view pages read through.
    pub fn console_view(&self) -> ConsoleView {
        ConsoleView { store: self.store().clone() }
    }

    /// Record that `name` signed out of the console at `at`: sessions issued before then are
    /// refused on every node.
    pub async fn record_sign_out(&self, name: &str, at: Millis) -> Result<(), EngineError> {
        Ok(self.store().tag(SIGNED_OUT, &[(name.to_owned(), at.to_string())]).await?)
    }
}
