//! `baton bench`: a load generator for any Step Functions endpoint.
//!
//! It speaks only the public JSON API ([`client`]), so the same scenarios ([`scenarios`]) run
//! against Baton, a Baton cluster, or another emulator. Each scenario creates its own state
//! machine (and activity), drives it, and returns a [`report::Report`]: throughput, latency
//! percentiles, errors by AWS error name and, for a local server (`--pid`), its memory and
//! CPU from `/proc`. An action the endpoint lacks makes the scenario "unsupported", not a
//! failed run.
//!
//! Must not depend on Baton's own crates: it measures them from outside.

pub mod client;
pub mod procstat;
pub mod progress;
pub mod report;
pub mod scenarios;
pub mod stats;

pub use report::Report;
pub use scenarios::{run, Options, SCENARIOS};
