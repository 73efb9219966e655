//! Durable storage for Baton, split by concern into narrow traits a caller asks for by need
//! ([`Catalog`], [`Executions`], [`Timers`], [`Tasks`], [`Queues`], [`Notify`]), whose sum is
//! [`Store`], with an embedded SQLite implementation ([`sqlite::SqliteStore`]) and a shared
//! PostgreSQL one ([`postgres::PostgresStore`]).
//!
//! The store knows nothing of ASL: execution state, history events and queued events are
//! opaque text it keeps and returns. It owns durability and atomicity: a [`Commit`] (an
//! execution's new state, its new history events, timers, tasks and the queued events it
//! consumed) lands entirely or not at all, and only if nobody else advanced the execution
//! since it was read (`expected_version`), so several engines can share one store.
//!
//! Every statement both backends run is written once, in the module of its concern, and so
//! is the schema (`sql.rs`: the dialect, the connection seam, the migrations); a backend
//! keeps only what truly differs (its connections, durability, locking and wake-ups).

pub mod postgres;
pub mod sqlite;

mod catalog;
mod executions;
mod notify;
mod queues;
mod rows;
mod sql;
mod tasks;
mod timers;

pub use catalog::Catalog;
pub use executions::Executions;
pub use notify::{Notify, Wake};
pub use queues::Queues;
pub use rows::*;
pub use tasks::{AnswerFn, Tasks};
pub use timers::Timers;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row to create exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The execution moved on since it was read; read it again and retry.
    #[error("execution {0} was changed concurrently")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// When a write is answered, relative to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A write is answered once it is on disk (fsync), so it survives power loss. The
    /// embedded store syncs once for every write made while the previous sync ran (group
    /// commit).
    #[default]
    Full,
    /// A write is answered once it is in the operating system's hands: it survives the
    /// process crashing, but power loss may take the last moments of writes.
    Relaxed,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(Durability::Full),
            "relaxed" => Ok(Durability::Relaxed),
            other => Err(format!("unknown durability {other:?}: use full or relaxed")),
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Durability::Full => "full",
            Durability::Relaxed => "relaxed",
        })
    }
}

/// Everything Baton keeps: the sum of the narrow traits, for the engine, which needs them
/// all. Every type with all of them is a `Store`.
pub trait Store: Catalog + Executions + Timers + Tasks + Queues + Notify + Send + Sync + 'static {}

impl<T: Catalog + Executions + Timers + Tasks + Queues + Notify + Send + Sync + 'static> Store for T {}

/// The end of the range of strings that start with `prefix` (exclusive): nothing with the
/// prefix sorts above it, U+10FFFF being the largest character.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}
