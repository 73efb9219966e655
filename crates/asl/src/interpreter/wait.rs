//! Wait states: `Seconds`, `Timestamp`, `SecondsPath`, `TimestampPath`, or JSONata's
//! `Seconds`/`Timestamp` expressions. The state arms a timer and leaves when it fires (at
//! once when the time has already come); what it outputs and assigns is computed on entry.

use serde_json::Value;

use super::{
    state_context, with_assigned, Assigned, Flow, FrameId, FrameVars, Phase, Run, StepError, TimerId, TimerPurpose,
    Work,
};
use crate::definition::{DataPath, Fields, JsonataDynamic, JsonataWaitFor, Wait, WaitFor};
use crate::error::EvalFailure;
use crate::eval::{PathRef, Scope};
use crate::jsonata::QueryFailure;
use crate::template::compact;
use crate::timestamp::{self, Millis};

impl<'a> Run<'a, '_> {
    pub(super) fn run_wait(&mut self, f: FrameId, w: &'a Wait) -> Flow {
        let fields = match &w.fields {
            Fields::JsonPath(fields) => fields,
            Fields::Jsonata(fields) => {
                let raw = self.frame(f).input.clone();
                let fire_at = match self.jsonata_wait_until(f, &fields.wait_for, &raw) {
                    Ok(t) => t,
                    Err(e) => return self.fail_flow(f, e),
                };
                return match self.jsonata_exit(f, &fields.io, &raw, None, None) {
                    Ok((output, assigned)) => {
                        let output = output.unwrap_or(raw);
                        self.wait_or_exit(f, fire_at, output, assigned, &DataPath::Whole)
                    }
                    Err(q) => self.query_flow(f, q),
                };
            }
        };
        let effective = match self.effective_input(f, &fields.io.input_path, None, None) {
            Ok(v) => v,
            Err(e) => return Flow::Fail(e),
        };
        let fire_at = match self.path_wait_until(f, &fields.wait_for, &effective) {
            Ok(t) => t,
            Err(e) => return Flow::Fail(self.eval_failure(f, e)),
        };
        let assigned = match self.assign_path(f, fields.io.assign.as_ref(), &effective) {
            Ok(a) => a,
            Err(failure) => return Flow::Fail(failure),
        };
        self.wait_or_exit(f, fire_at, effective, assigned, &fields.io.output_path)
    }

    /// Arm the Wait state's timer, or leave at once when the time has come.
    fn wait_or_exit(
        &mut self,
        f: FrameId,
        fire_at: Millis,
        effective: Value,
        assigned: Assigned,
        output_path: &DataPath,
    ) -> Flow {
        let delay = fire_at.saturating_sub(self.now);
        if delay <= 0 {
            return with_assigned(self.output_path(f, output_path, effective), assigned);
        }
        let timer = self.start_timer(TimerPurpose::Wait(f), delay as u64);
        self.frame_mut(f).phase = Phase::WaitTimer { timer, effective, assigned };
        Flow::Blocked
    }

    /// When a JSONPath Wait state's wait ends, from whichever of its fields it has.
    fn path_wait_until(&mut self, f: FrameId, wait_for: &WaitFor, effective: &Value) -> Result<Millis, EvalFailure> {
        let read = |run: &Self, p: &PathRef| -> Result<Value, EvalFailure> {
            let vars = FrameVars { def: run.def, exec: run.exec, frame: f };
            let ctx = state_context(run.def, run.exec, f, None);
            let scope = Scope::new(effective, &ctx).with_variables(&vars);
            scope.eval(p).map_err(|e| EvalFailure::runtime(format!("Invalid path '{}' : {e}", p.as_str())))
        };
        match wait_for {
            WaitFor::Seconds(s) => seconds_to_fire(self.now, *s as i64),
            WaitFor::Timestamp(t) => until(self.now, *t),
            WaitFor::SecondsPath(p) => {
                let v = read(self, p)?;
                match v.as_i64() {
                    Some(s) if s >= 0 => seconds_to_fire(self.now, s),
                    Some(_) => Err(EvalFailure::runtime(format!(
                        "The SecondsPath parameter does not reference a non-negative integer value: {} == {}",
                        p.as_str(),
                        compact(&v)
                    ))),
                    None => Err(EvalFailure::runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        p.as_str(),
                        compact(&v)
                    ))),
                }
            }
            WaitFor::TimestampPath(p) => {
                let v = read(self, p)?;
                match v.as_str().and_then(timestamp::parse) {
                    Some(t) => until(self.now, t),
                    None => Err(EvalFailure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        p.as_str(),
                        v.as_str().map_or_else(|| compact(&v), str::to_owned)
                    ))),
                }
            }
        }
    }

    /// When a JSONata Wait state's wait ends: `Seconds` or `Timestamp`, written or computed.
    fn jsonata_wait_until(
        &mut self,
        f: FrameId,
        wait_for: &JsonataWaitFor,
        input: &Value,
    ) -> Result<Millis, StepError> {
        let now = self.now;
        Ok(match wait_for {
            JsonataWaitFor::Seconds(JsonataDynamic::Fixed(s)) => seconds_to_fire(now, *s as i64)?,
            JsonataWaitFor::Timestamp(JsonataDynamic::Fixed(t)) => until(now, *t)?,
            JsonataWaitFor::Seconds(JsonataDynamic::Expression(e)) => {
                let secs = self.jsonata_count(f, e, input, "Seconds", 0)?;
                seconds_to_fire(now, i64::try_from(secs).unwrap_or(i64::MAX))?
            }
            JsonataWaitFor::Timestamp(JsonataDynamic::Expression(e)) => {
                let v = self.jsonata_value(f, e, input, "Timestamp", None)?;
                match v.as_str().and_then(timestamp::parse) {
                    Some(t) => until(now, t)?,
                    None => {
                        return Err(QueryFailure::new(
                            "Timestamp",
                            format!(
                                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                                v.as_str().map_or_else(|| compact(&v), str::to_owned)
                            ),
                        )
                        .into())
                    }
                }
            }
        })
    }

    /// The Wait state's timer fired: the state leaves with what it computed on entry.
    pub(super) fn wait_timer_fired(&mut self, f: FrameId, timer: TimerId) {
        if !self.live(f) {
            return;
        }
        let Phase::WaitTimer { timer: t, .. } = &self.frame(f).phase else { return };
        if *t != timer {
            return;
        }
        let Phase::WaitTimer { effective, assigned, .. } =
            std::mem::replace(&mut self.frame_mut(f).phase, Phase::Running)
        else {
            return;
        };
        // A JSONata state's output was computed on entry.
        static WHOLE: DataPath = DataPath::Whole;
        let output_path = match self.state_of(f).kind.io() {
            Some(Fields::JsonPath(io)) => &io.output_path,
            _ => &WHOLE,
        };
        let flow = match self.output_path(f, output_path, effective) {
            Flow::Exit(output, _) => Flow::Exit(output, assigned),
            other => other,
        };
        self.follow(f, flow);
        self.work.push(Work::Run(f));
    }
}

/// The time `secs` seconds from `now`, within AWS's longest wait.
fn seconds_to_fire(now: Millis, secs: i64) -> Result<Millis, EvalFailure> {
    if secs > i64::from(i32::MAX) {
        return Err(too_long());
    }
    Ok(now + secs.max(0) * 1000)
}

/// `t`, within AWS's longest wait from `now`.
fn until(now: Millis, t: Millis) -> Result<Millis, EvalFailure> {
    if (t - now) / 1000 > i64::from(i32::MAX) {
        return Err(too_long());
    }
    Ok(t)
}

fn too_long() -> EvalFailure {
    EvalFailure::runtime("Wait state delay is too long.")
}
