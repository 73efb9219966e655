//! `Retry` and `Catch`: retriers (`ErrorEquals`, backoff, jitter) and catchers (`Next`, and
//! what they output and assign from the error output).

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

/// A member of `Catch`: the errors it matches, where it leads, and what it does with the error
/// output in the state's language (`H`: [`PathCatch`], or a JSONata catcher's `Output` and
/// `Assign`, both reading `$states.errorOutput`, as a [`JsonataIo`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher<H> {
    pub error_equals: Vec<String>,
    pub next: StateId,
    pub handling: H,
}

/// A JSONPath catcher: the error output placed by `ResultPath`, and `Assign` reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct PathCatch {
    pub result_path: ResultPath,
    pub assign: Option<Template>,
}

impl Parser {
    pub(super) fn error_equals(&mut self, obj: &Map<String, Value>, at: &str) -> Vec<String> {
        match obj.get("ErrorEquals") {
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push(s.to_owned()),
                        None => self.problem(
                            Code::SchemaValidationFailed,
                            "The values of the field 'ErrorEquals' must be STRINGs",
                            format!("{at}/ErrorEquals/{i}"),
                        ),
                    }
                }
                if out.iter().any(|e| e == crate::error::names::ALL) && out.len() > 1 {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "'States.ALL' must appear alone in 'ErrorEquals'",
                        format!("{at}/ErrorEquals"),
                    );
                }
                out
            }
            _ => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'ErrorEquals' is required and must be a non-empty array",
                    format!("{at}/ErrorEquals"),
                );
                Vec::new()
            }
        }
    }
    pub(super) fn retriers(&mut self, obj: &Map<String, Value>, at: &str) -> Vec<Retrier> {
        let mut out = Vec::new();
        for (i, item) in self.handlers(obj, "Retry", at).iter().enumerate() {
            let loc = format!("{at}/Retry/{i}");
            let Some(r) = self.handler(item, &loc, "A retrier", RETRIER_FIELDS) else { continue };
            let error_equals = self.error_equals(r, &loc);
            let interval_seconds = match r.get("IntervalSeconds") {
                None => 1,
                Some(v) => match v.as_u64() {
                    Some(n) if (1..=99_999_999).contains(&n) => n,
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'IntervalSeconds' must be an INTEGER from 1 to 99999999",
                            format!("{loc}/IntervalSeconds"),
                        );
                        1
                    }
                },
            };
            let max_attempts = match r.get("MaxAttempts") {
                None => 3,
                Some(v) => match v.as_u64() {
                    Some(n) if n <= 99_999_999 => n,
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'MaxAttempts' must be an INTEGER from 0 to 99999999",
                            format!("{loc}/MaxAttempts"),
                        );
                        3
                    }
                },
            };
            let backoff_rate = match r.get("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(n) if n >= 1.0 => n,
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'BackoffRate' must be a NUMBER of at least 1.0",
                            format!("{loc}/BackoffRate"),
                        );
                        2.0
                    }
                },
            };
            let max_delay_seconds = match r.get("MaxDelaySeconds") {
                None => None,
                Some(v) => match v.as_u64() {
                    Some(n) if n > 0 && n < 31_622_401 => Some(n),
                    _ => {
                        self.problem(
                            Code::SchemaValidationFailed,
                            "The value for the field 'MaxDelaySeconds' must be an INTEGER from 1 to 31622400",
                            format!("{loc}/MaxDelaySeconds"),
                        );
                        None
                    }
                },
            };
            let jitter = match r.get("JitterStrategy") {
                None => Jitter::None,
                Some(Value::String(s)) if s == "NONE" => Jitter::None,
                Some(Value::String(s)) if s == "FULL" => Jitter::Full,
                Some(_) => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The value for the field 'JitterStrategy' must be one of [FULL, NONE]",
                        format!("{loc}/JitterStrategy"),
                    );
                    Jitter::None
                }
            };
            out.push(Retrier { error_equals, interval_seconds, max_attempts, backoff_rate, max_delay_seconds, jitter });
        }
        self.check_all_last(out.iter().map(|r| &r.error_equals), &format!("{at}/Retry"));
        out
    }
    /// `Catch`; `handling` reads a catcher's language-specific fields.
    pub(super) fn catchers<H: CatchFields>(
        &mut self,
        s: &Source,
        handling: impl Fn(&mut Self, &Map<String, Value>, &str) -> H,
    ) -> Vec<Catcher<H>> {
        let at = s.at;
        let mut out = Vec::new();
        for (i, item) in self.handlers(s.obj, "Catch", at).iter().enumerate() {
            let loc = format!("{at}/Catch/{i}");
            let Some(c) = self.handler(item, &loc, "A catcher", H::ALLOWED) else { continue };
            let error_equals = self.error_equals(c, &loc);
            let next = match c.get("Next") {
                Some(Value::String(n)) => self.target(n, &format!("{loc}/Next"), s.index),
                _ => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        "The field 'Next' is required and must be a STRING",
                        format!("{loc}/Next"),
                    );
                    0
                }
            };
            let handling = handling(self, c, &loc);
            out.push(Catcher { error_equals, next, handling });
        }
        self.check_all_last(out.iter().map(|c| &c.error_equals), &format!("{at}/Catch"));
        out
    }
    /// `Retry` or `Catch`: an array (empty when absent).
    fn handlers<'v>(&mut self, obj: &'v Map<String, Value>, field: &str, at: &str) -> &'v [Value] {
        match obj.get(field) {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{field}' must be an array"),
                    format!("{at}/{field}"),
                );
                &[]
            }
        }
    }

    /// A retrier or catcher: an object with only the fields it may have.
    fn handler<'v>(
        &mut self,
        item: &'v Value,
        loc: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(handler) = item.as_object() else {
            self.problem(Code::SchemaValidationFailed, format!("{what} must be an object"), loc.to_owned());
            return None;
        };
        for key in handler.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The field '{key}' is not supported by Step Functions"),
                    format!("{loc}/{}", escape_pointer(key)),
                );
            }
        }
        Some(handler)
    }

    pub(super) fn check_all_last<'a>(&mut self, lists: impl Iterator<Item = &'a Vec<String>>, at: &str) {
        let lists: Vec<_> = lists.collect();
        for (i, list) in lists.iter().enumerate() {
            if list.iter().any(|e| e == crate::error::names::ALL) && i + 1 != lists.len() {
                self.problem(
                    Code::SchemaValidationFailed,
                    "'States.ALL' must appear only in the last retrier or catcher",
                    format!("{at}/{i}/ErrorEquals"),
                );
            }
        }
    }
}

/// The fields a retrier may have.
const RETRIER_FIELDS: &[&str] =
    &["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"];

/// The fields a catcher may have in its language.
pub(super) trait CatchFields {
    const ALLOWED: &'static [&'static str];
}

impl CatchFields for PathCatch {
    const ALLOWED: &'static [&'static str] = &["ErrorEquals", "Next", "ResultPath", "Assign", "Comment"];
}

impl CatchFields for JsonataIo {
    const ALLOWED: &'static [&'static str] = &["ErrorEquals", "Next", "Output", "Assign", "Comment"];
}
