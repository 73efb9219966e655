//! Parallel states: `Branches`, each a nested `{StartAt, States}` flattened into a graph.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<GraphId>,
    pub fields: Fields<ParallelPath, ParallelJsonata>,
    pub retry: Vec<Retrier>,
    pub transition: Transition,
}

/// A JSONPath Parallel state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelPath {
    pub io: PathIo,
    pub parameters: Option<Template>,
    pub result: PathResult,
}

/// A JSONata Parallel state's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelJsonata {
    pub io: JsonataIo,
    /// Every branch's input. Absent: the state's input.
    pub arguments: Option<JsonataTemplate>,
    pub result: JsonataResult,
}

impl Parser {
    pub(super) fn parallel(&mut self, s: &Source, io: Io) -> Parallel {
        let mut branches = Vec::new();
        match s.obj.get("Branches") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("{}/Branches/{i}", s.at);
                    branches.push(self.sub_graph(item, &loc));
                }
            }
            _ => self.problem(
                Code::SchemaValidationFailed,
                "The field 'Branches' is required and must be a non-empty array",
                format!("{}/Branches", s.at),
            ),
        }
        let (fields, retry, transition) = match io {
            Fields::JsonPath(io) => {
                let parameters = self.template(s.obj, "Parameters", s.at);
                let (result, retry, transition) = self.path_recovery(s);
                (Fields::JsonPath(ParallelPath { io, parameters, result }), retry, transition)
            }
            Fields::Jsonata(io) => {
                let arguments = self.arguments(s);
                let (result, retry, transition) = self.jsonata_recovery(s);
                (Fields::Jsonata(ParallelJsonata { io, arguments, result }), retry, transition)
            }
        };
        Parallel { branches, fields, retry, transition }
    }
}

/// The fields of a Parallel state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &[&["Branches", "Parameters"], PATH_IO, PATH_RESULT],
    jsonata: &[&["Branches", "Arguments"], JSONATA_IO, JSONATA_RESULT],
};
