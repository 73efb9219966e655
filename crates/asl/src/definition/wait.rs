//! Wait states: `Seconds`, `Timestamp`, `SecondsPath`, `TimestampPath` (JSONata:
//! `Seconds`/`Timestamp`, numbers or expressions).

use serde_json::Value;

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub fields: Fields<WaitPath, WaitJsonata>,
    pub transition: Transition,
}

/// A JSONPath Wait state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitPath {
    pub io: PathIo,
    pub wait_for: WaitFor,
}

/// A JSONata Wait state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitJsonata {
    pub io: JsonataIo,
    pub wait_for: JsonataWaitFor,
}

/// How long a JSONPath Wait state waits.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    Timestamp(timestamp::Millis),
    SecondsPath(PathRef),
    TimestampPath(PathRef),
}

/// How long a JSONata Wait state waits: `Seconds` or `Timestamp`, each a value or an
/// expression.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonataWaitFor {
    Seconds(JsonataDynamic<u64>),
    Timestamp(JsonataDynamic<timestamp::Millis>),
}

impl Parser {
    pub(super) fn wait(&mut self, s: &Source, io: Io) -> Wait {
        let jsonata = matches!(io, Fields::Jsonata(_));
        let fields: &[&str] =
            if jsonata { &["Seconds", "Timestamp"] } else { &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"] };
        let present: Vec<&str> = fields.iter().copied().filter(|k| s.obj.contains_key(*k)).collect();
        let key = match present[..] {
            [key] => Some(key),
            _ => {
                let message = if jsonata {
                    "A Wait state must have exactly one of the fields 'Seconds' or 'Timestamp'"
                } else {
                    "A Wait state must have exactly one of the fields 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath'"
                };
                self.problem(Code::SchemaValidationFailed, message, s.at.to_owned());
                None
            }
        };
        let fields = match io {
            Fields::JsonPath(io) => {
                let wait_for = key.and_then(|key| self.path_wait_for(s, key)).unwrap_or(WaitFor::Seconds(0));
                Fields::JsonPath(WaitPath { io, wait_for })
            }
            Fields::Jsonata(io) => {
                let wait_for = key
                    .and_then(|key| self.jsonata_wait_for(s, key))
                    .unwrap_or(JsonataWaitFor::Seconds(JsonataDynamic::Fixed(0)));
                Fields::Jsonata(WaitJsonata { io, wait_for })
            }
        };
        Wait { fields, transition: self.transition(s.obj, s.at, s.index) }
    }

    fn path_wait_for(&mut self, s: &Source, key: &str) -> Option<WaitFor> {
        let loc = format!("{}/{key}", s.at);
        let v = &s.obj[key];
        Some(match key {
            "Seconds" => WaitFor::Seconds(self.wait_seconds(v, loc)?),
            "Timestamp" => WaitFor::Timestamp(self.wait_timestamp(v, loc)?),
            "SecondsPath" => WaitFor::SecondsPath(self.reference_path_ref(v, &loc)?),
            _ => WaitFor::TimestampPath(self.reference_path_ref(v, &loc)?),
        })
    }

    fn jsonata_wait_for(&mut self, s: &Source, key: &str) -> Option<JsonataWaitFor> {
        let loc = format!("{}/{key}", s.at);
        let v = &s.obj[key];
        let text = v.as_str().filter(|text| expression_text(text).is_some());
        let expression =
            |parser: &mut Self, text: &str| parser.jsonata_expression(text, &loc, key, INPUT_CONTEXT).map(Box::new);
        Some(match (key, text) {
            ("Seconds", Some(text)) => JsonataWaitFor::Seconds(JsonataDynamic::Expression(expression(self, text)?)),
            ("Seconds", None) => JsonataWaitFor::Seconds(JsonataDynamic::Fixed(self.wait_seconds(v, loc)?)),
            (_, Some(text)) => JsonataWaitFor::Timestamp(JsonataDynamic::Expression(expression(self, text)?)),
            (_, None) => JsonataWaitFor::Timestamp(JsonataDynamic::Fixed(self.wait_timestamp(v, loc)?)),
        })
    }

    fn wait_seconds(&mut self, v: &Value, loc: String) -> Option<u64> {
        match v.as_u64() {
            Some(secs) if secs <= 99_999_999 => Some(secs),
            _ => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Seconds' must be a non-negative INTEGER",
                    loc,
                );
                None
            }
        }
    }

    fn wait_timestamp(&mut self, v: &Value, loc: String) -> Option<timestamp::Millis> {
        let parsed = v.as_str().and_then(timestamp::parse);
        if parsed.is_none() {
            self.problem(
                Code::SchemaValidationFailed,
                "The value for the field 'Timestamp' must be a valid ISO-8601 extended offset date-time format string",
                loc,
            );
        }
        parsed
    }
}

/// The fields of a Wait state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[&["Seconds", "Timestamp", "SecondsPath", "TimestampPath"], PATH_IO, TRANSITION],
    jsonata: &[&["Seconds", "Timestamp"], JSONATA_IO, TRANSITION],
};
