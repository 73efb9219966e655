//! Runs executions.
