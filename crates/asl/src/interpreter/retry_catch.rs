//! Retry and Catch: what happens to a state's failure.
//!
//! A retrier whose `ErrorEquals` matches runs the state again after its backoff (no new
//! entry event); otherwise a matching catcher leaves to its `Next` with the error output
//! (through its `ResultPath` in JSONPath, its `Output` in JSONata) and its `Assign`. Terminal
//! errors (`States.Runtime`, `States.DataLimitExceeded`) are neither retried nor caught,
//! except a task result over the size limit, which AWS lets `States.ALL` see.

use super::{Failure, Flow, FrameId, Phase, Run, Stage, TimerId, TimerPurpose, Work};
use crate::definition::{Fields, Jitter, Retrier, StateKind};
use crate::error::names;
use crate::eval::Randomness;
use crate::history::{Details, EventType};
use crate::io;

impl<'a> Run<'a, '_> {
    /// Retry (re-running the state after a backoff) or Catch (leaving to the catcher's
    /// state); a failure neither handles comes back as `Flow::Fail`.
    pub(super) fn handle_failure(&mut self, f: FrameId, failure: Failure, children_failed: bool) -> Flow {
        if self.observer.is_some() {
            let error_output = failure.error_output();
            self.observe(f, Stage::Failure, &error_output);
        }
        let state = self.state_of(f);
        let retriers = state.kind.retry();
        let error = failure.error_name().to_owned();
        // A task result over the size limit is terminal elsewhere, but a catcher or retrier
        // for States.ALL (or for the error by name) sees it, as AWS records.
        let catchable_limit = failure.from_task_result && error == names::DATA_LIMIT_EXCEEDED;
        let terminal = failure.is_terminal() && !catchable_limit;
        let heartbeat = failure.heartbeat;
        let matches = |list: &[String]| {
            error_matches(list, &error)
                || (catchable_limit && list.iter().any(|e| e == names::ALL))
                || (heartbeat && list.iter().any(|e| e == names::HEARTBEAT_TIMEOUT))
        };
        if !terminal {
            if let Some((i, r)) = retriers.iter().enumerate().find(|(_, r)| matches(&r.error_equals)) {
                let fr = self.frame_mut(f);
                if fr.retry_counts.len() < retriers.len() {
                    fr.retry_counts.resize(retriers.len(), 0);
                }
                let attempt = fr.retry_counts[i];
                if attempt < r.max_attempts {
                    fr.retry_counts[i] += 1;
                    fr.retry_total += 1;
                    let delay_ms = retry_delay_ms(r, attempt, &mut *self.random);
                    let timer = self.start_timer(TimerPurpose::RetryBackoff(f), delay_ms);
                    self.frame_mut(f).phase = Phase::RetryTimer { timer };
                    return Flow::Blocked;
                }
            }
        }
        if children_failed {
            let ty = if matches!(state.kind, StateKind::Map(_)) {
                EventType::MapStateFailed
            } else {
                EventType::ParallelStateFailed
            };
            self.emit(f, ty, Details::None);
        }
        if terminal {
            return Flow::Fail(failure);
        }
        // A catcher that fails itself ends the frame: catching its own failure again would
        // loop.
        match state.kind.recovery() {
            Some(Fields::JsonPath((_, result))) => {
                let Some(c) = result.catch.iter().find(|c| matches(&c.error_equals)) else {
                    return Flow::Fail(failure);
                };
                let raw = self.frame(f).input.clone();
                let error_output = failure.error_output();
                let assigned = match self.assign_path(f, c.handling.assign.as_ref(), &error_output) {
                    Ok(a) => a,
                    Err(failure) => return self.fail_frame_now(f, failure),
                };
                match io::merge_result(&c.handling.result_path, &raw, error_output) {
                    Ok(output) => Flow::Caught { output, next: c.next, assigned },
                    Err(e) => Flow::Fail(self.eval_failure(f, e)),
                }
            }
            Some(Fields::Jsonata((_, result))) => {
                let Some(c) = result.catch.iter().find(|c| matches(&c.error_equals)) else {
                    return Flow::Fail(failure);
                };
                let raw = self.frame(f).input.clone();
                let error_output = failure.error_output();
                match self.jsonata_exit(f, &c.handling, &raw, None, Some(&error_output)) {
                    Ok((output, assigned)) => {
                        Flow::Caught { output: output.unwrap_or(error_output), next: c.next, assigned }
                    }
                    Err(q) => {
                        let failure = self.query_failure(f, q);
                        self.fail_frame_now(f, failure)
                    }
                }
            }
            None => Flow::Fail(failure),
        }
    }

    // ----- ending the execution ------------------------------------------------------------

    /// A retrier's backoff is over: run the state again.
    pub(super) fn retry_timer_fired(&mut self, f: FrameId, timer: TimerId) {
        if !self.live(f) {
            return;
        }
        if matches!(self.frame(f).phase, Phase::RetryTimer { timer: t } if t == timer) {
            self.frame_mut(f).phase = Phase::Running;
            self.work.push(Work::Run(f));
        }
    }
}

/// Does `error` match an `ErrorEquals` list? `States.ALL` matches everything but the
/// terminal errors; `States.TaskFailed` matches everything but timeouts.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| match e.as_str() {
        names::ALL => !matches!(error, names::RUNTIME | names::DATA_LIMIT_EXCEEDED),
        names::TASK_FAILED => {
            !matches!(error, names::TIMEOUT | names::HEARTBEAT_TIMEOUT | names::RUNTIME | names::DATA_LIMIT_EXCEEDED)
        }
        names::TIMEOUT => error == names::TIMEOUT || error == names::HEARTBEAT_TIMEOUT,
        other => other == error,
    })
}

/// The backoff before retry number `attempt + 1`: IntervalSeconds × BackoffRate^attempt,
/// capped by MaxDelaySeconds, then jittered when asked.
pub fn retry_delay_ms(r: &Retrier, attempt: u64, random: &mut dyn Randomness) -> u64 {
    let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut secs = r.interval_seconds as f64 * r.backoff_rate.powi(exp);
    if let Some(max) = r.max_delay_seconds {
        secs = secs.min(max as f64);
    }
    secs = secs.min(99_999_999.0);
    let ms = (secs * 1000.0) as u64;
    match r.jitter {
        Jitter::None => ms,
        Jitter::Full => {
            if ms == 0 {
                0
            } else {
                random.next_u64() % (ms + 1)
            }
        }
    }
}
