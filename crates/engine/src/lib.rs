//! Runs ASL executions: feeds events to the pure interpreter and carries out the commands it
//! returns (invoke a task, arm or cancel a timer).
//!
//! This crate is the only door to Baton's state: the Step Functions API's operations are
//! its own ([`catalog`] for state machines, versions, aliases, activities and tags,
//! [`executions`] for starting and reading executions, answers in [`service`]), taking typed
//! values ([`ExecutionArn`], [`TaskToken`], [`MachineRef`]) and failing with [`EngineError`];
//! pages read through [`ConsoleView`].
//!
//! It holds the durable engine behind `baton serve` ([`service`]), the in-process
//! runner behind `baton run` ([`local`]) and the task integrations both reach ([`functions`], [`http_task`], [`aws`]). It owns time ([`clock`]) and randomness ([`random`]):
//! the interpreter receives both from here. `baton.toml` is [`config`]. The modules are
//! layered (see ARCHITECTURE.md): a module imports only modules below it.

pub mod arn;
pub mod aws;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod console_view;
pub mod error;
pub mod executions;
pub mod functions;
pub mod http_task;
pub mod integrations;
pub mod item_reader;
pub mod links;
pub mod local;
pub mod mail;
pub mod mocks;
pub mod page;
pub mod people;
pub mod queues;
pub mod random;
pub mod reminder_sender;
pub mod reminders;
pub mod result_writer;
pub mod sent_mail;
pub mod service;
pub mod task;
pub mod test_cases;
pub mod test_state;
pub mod token;
pub mod topics;

pub use arn::{ExecutionArn, MachineRef};
pub use console_view::ConsoleView;
pub use error::EngineError;
pub use local::{run_local, LocalOptions, LocalRun};
pub use store::{ExecutionStatus, StateMachineType};
pub use token::TaskToken;
