//! The engine's one clock. Every "now" the engine (and the server, for the engine's purposes)
//! asks for comes from here: the execution clock in the interpreter's [`Millis`], and the
//! wall-clock forms the integrations need (HTTP dates, ISO 8601 timestamps, the SigV4 signing
//! time). The interpreter never reads a clock: it is handed `now` from one of these.
//!
//! [`Clock`] is what a runner reads: [`SystemClock`] for `baton serve`, and [`RunClock`] for
//! the in-process runner and TestState, which either follows the wall clock or, with
//! `fast_forward` (always, for TestState), keeps a virtual time that jumps to the next timer
//! instead of sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use asl::timestamp::Millis;
use chrono::{DateTime, Utc};

/// Where an execution's time comes from.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> Millis;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        now_ms()
    }
}

/// The wall clock in the interpreter's milliseconds since the Unix epoch.
pub fn now_ms() -> Millis {
    system_time().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
}

/// The wall clock as a [`SystemTime`] (credential expiry, the SigV4 signing and checking time).
pub fn system_time() -> SystemTime {
    SystemTime::now()
}

/// The wall clock as a UTC date and time.
pub fn utc_now() -> DateTime<Utc> {
    Utc::now()
}

/// Now as an HTTP `Date` header gives it (`Tue, 15 Nov 1994 08:12:31 GMT`).
pub fn http_date() -> String {
    utc_now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Now as an ISO 8601 UTC timestamp with milliseconds (`2024-01-31T12:00:00.000Z`).
pub fn iso8601_millis() -> String {
    utc_now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The in-process runner's clock: the wall clock, or with `fast_forward` a virtual clock that
/// starts at the wall clock's now and moves only when the runner waits for a timer.
#[derive(Debug, Clone)]
pub struct RunClock {
    fast_forward: bool,
    virtual_now: Millis,
}

impl RunClock {
    pub fn new(fast_forward: bool) -> Self {
        Self { fast_forward, virtual_now: now_ms() }
    }

    /// A virtual clock that starts at `start` (TestState's: it never sleeps).
    pub fn virtual_from(start: Millis) -> Self {
        Self { fast_forward: true, virtual_now: start }
    }

    /// Wait until `at`: jump there when fast-forwarding, sleep otherwise.
    pub fn wait_until(&mut self, at: Millis) {
        if self.fast_forward {
            self.virtual_now = self.virtual_now.max(at);
            return;
        }
        let now = now_ms();
        if at > now {
            std::thread::sleep(Duration::from_millis((at - now) as u64));
        }
    }
}

impl Clock for RunClock {
    fn now(&self) -> Millis {
        if self.fast_forward {
            self.virtual_now
        } else {
            now_ms()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_forward_clock_moves_only_when_waiting_and_never_back() {
        let mut clock = RunClock::new(true);
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.wait_until(start + 86_400_000);
        assert_eq!(clock.now(), start + 86_400_000);
        clock.wait_until(start);
        assert_eq!(clock.now(), start + 86_400_000);
    }

    #[test]
    fn a_virtual_clock_starts_where_it_is_told() {
        let mut clock = RunClock::virtual_from(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.wait_until(61_000);
        assert_eq!(clock.now(), 61_000);
    }

    #[test]
    fn http_dates_have_the_rfc_7231_shape() {
        let d = http_date();
        assert!(d.ends_with(" GMT") && d.len() == 29, "{d}");
    }
}
