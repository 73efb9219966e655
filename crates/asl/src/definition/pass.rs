//! Pass states: `Result`, `Parameters`, `ResultPath` (JSONPath); `Output` (JSONata).

use serde_json::Value;

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub fields: Fields<PassPath, JsonataIo>,
    pub transition: Transition,
}

/// A JSONPath Pass state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct PassPath {
    pub io: PathIo,
    pub result: Option<Value>,
    pub parameters: Option<Template>,
    pub result_path: ResultPath,
}

impl Parser {
    pub(super) fn pass(&mut self, s: &Source, io: Io) -> Pass {
        let fields = match io {
            Fields::JsonPath(io) => Fields::JsonPath(PassPath {
                io,
                result: s.obj.get("Result").cloned(),
                parameters: self.template(s.obj, "Parameters", s.at),
                result_path: self.result_path(s.obj, "ResultPath", s.at),
            }),
            Fields::Jsonata(io) => Fields::Jsonata(io),
        };
        Pass { fields, transition: self.transition(s.obj, s.at, s.index) }
    }
}

/// The fields of a Pass state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[&["Parameters", "Result", "ResultPath"], PATH_IO, TRANSITION],
    jsonata: &[JSONATA_IO, TRANSITION],
};
