//! Amazon States Language: definitions, validation and a pure interpreter.
//!
//! Nothing in this crate does I/O, reads a clock or draws random numbers: time and randomness
//! are handed in by the caller through [`interpreter::Env`], and every side effect the
//! interpreter wants is returned as a [`interpreter::Command`]. The same definition, input and
//! events always give the same history.

pub mod choice;
pub mod context;
pub mod definition;
pub mod error;
pub mod eval;
pub mod history;
pub mod interpreter;
pub mod intrinsics;
pub mod io;
pub mod jsonata;
pub mod jsonpath;
pub mod simulator;
pub mod template;
pub mod test_state;
pub mod timestamp;

pub use definition::Definition;
pub use error::{DefinitionError, EvalFailure};
