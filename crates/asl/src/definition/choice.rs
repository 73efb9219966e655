//! Choice states: `Choices` (JSONPath rules parsed by [`crate::choice`], or JSONata
//! `Condition`s) and `Default`.

use std::collections::HashMap;

use serde_json::Value;

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub fields: Fields<ChoicePath, ChoiceJsonata>,
    pub default: Option<StateId>,
}

/// A JSONPath Choice state: its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoicePath {
    pub io: PathIo,
    pub rules: Vec<PathBranch>,
}

/// A JSONata Choice state: its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceJsonata {
    pub io: JsonataIo,
    pub rules: Vec<JsonataBranch>,
}

/// One member of a JSONPath `Choices`: a typed rule (`Variable` and an operator, or
/// `And`/`Or`/`Not`), where it leads, and what it assigns when it is the one taken (the
/// state's own `Assign` applies only to `Default`).
#[derive(Debug, Clone, PartialEq)]
pub struct PathBranch {
    pub condition: Condition,
    pub next: StateId,
    pub assign: Option<Template>,
}

/// One member of a JSONata `Choices`: its `Condition`, where it leads, and what it assigns
/// and outputs when it is the one taken (the state's own apply only to `Default`).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonataBranch {
    pub condition: JsonataCondition,
    pub next: StateId,
    pub leaving: JsonataIo,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonataCondition {
    /// Written as `true` or `false`.
    Constant(bool),
    /// An expression; it must produce a boolean.
    Expression(Box<Expression>),
}

impl Parser {
    pub(super) fn choice(&mut self, s: &Source, io: Io) -> Choice {
        let items = match s.obj.get("Choices") {
            Some(Value::Array(items)) if !items.is_empty() => items.as_slice(),
            _ => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The field 'Choices' is required and must be a non-empty array",
                    format!("{}/Choices", s.at),
                );
                &[]
            }
        };
        let located = items.iter().enumerate().map(|(i, item)| (item, format!("{}/Choices/{i}", s.at)));
        let fields = match io {
            Fields::JsonPath(io) => Fields::JsonPath(ChoicePath {
                io,
                rules: located.filter_map(|(item, loc)| self.path_rule(item, &loc, s.index)).collect(),
            }),
            Fields::Jsonata(io) => Fields::Jsonata(ChoiceJsonata {
                io,
                rules: located.filter_map(|(item, loc)| self.jsonata_rule(item, &loc, s.index)).collect(),
            }),
        };
        let default = match s.obj.get("Default") {
            None => None,
            Some(Value::String(name)) => Some(self.target(name, &format!("{}/Default", s.at), s.index)),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Default' must be a STRING",
                    format!("{}/Default", s.at),
                );
                None
            }
        };
        Choice { fields, default }
    }
    pub(super) fn path_rule(
        &mut self,
        item: &Value,
        loc: &str,
        index: &HashMap<String, StateId>,
    ) -> Option<PathBranch> {
        match ChoiceRule::parse(item, loc) {
            Ok(rule) => {
                let next = self.target(&rule.next, &format!("{loc}/Next"), index);
                let assign = item.as_object().and_then(|r| self.path_assign(r, loc));
                Some(PathBranch { condition: rule.condition, next, assign })
            }
            Err(e) => {
                self.problems.extend(e.problems);
                None
            }
        }
    }
    pub(super) fn jsonata_rule(
        &mut self,
        item: &Value,
        loc: &str,
        index: &HashMap<String, StateId>,
    ) -> Option<JsonataBranch> {
        let Some(rule) = item.as_object() else {
            self.problem(Code::SchemaValidationFailed, "Expected value of type Object", loc.to_owned());
            return None;
        };
        for key in rule.keys() {
            if ["Condition", "Next", "Assign", "Output", "Comment"].contains(&key.as_str()) {
                continue;
            }
            let message = if key == "Variable" || key == "And" || key == "Or" || key == "Not" || is_choice_operator(key)
            {
                format!("Field '{key}' is only supported in JSONPath Choice states; JSONata rules use 'Condition'")
            } else {
                format!("Field '{key}' is not supported")
            };
            self.problem(Code::SchemaValidationFailed, message, loc.to_owned());
        }
        let cond_at = format!("{loc}/Condition");
        let condition = match rule.get("Condition") {
            Some(Value::Bool(b)) => Some(JsonataCondition::Constant(*b)),
            Some(Value::String(s)) if expression_text(s).is_some() => self
                .jsonata_expression(s, &cond_at, "Condition", INPUT_CONTEXT)
                .map(|e| JsonataCondition::Expression(Box::new(e))),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Condition' must be a BOOLEAN or a JSONata expression",
                    cond_at,
                );
                None
            }
            None => {
                self.problem(Code::SchemaValidationFailed, "These fields are required: [Condition]", loc.to_owned());
                None
            }
        };
        let next = match rule.get("Next") {
            Some(Value::String(n)) => Some(self.target(n, &format!("{loc}/Next"), index)),
            _ => {
                self.problem(Code::SchemaValidationFailed, "These fields are required: [Next]", loc.to_owned());
                None
            }
        };
        let assign = self.jsonata_assign(rule, loc, INPUT_CONTEXT);
        let output =
            rule.get("Output").map(|v| self.jsonata_template(v, &format!("{loc}/Output"), "Output", INPUT_CONTEXT));
        Some(JsonataBranch { condition: condition?, next: next?, leaving: JsonataIo { output, assign } })
    }
}

/// A JSONPath Choice operator's field name (`StringEquals`, `NumericLessThanPath`, `IsNull`).
fn is_choice_operator(key: &str) -> bool {
    ["String", "Numeric", "Boolean", "Timestamp", "Is"].iter().any(|p| key.starts_with(p))
}

/// The fields of a Choice state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields =
    StateFields { json_path: &[&["Choices", "Default"], PATH_IO], jsonata: &[&["Choices", "Default"], JSONATA_IO] };
