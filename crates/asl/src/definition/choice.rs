//! Choice states: `Choices` (JSONPath rules parsed by [`crate::choice`], or JSONata
//! `Condition`s) and `Default`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub rules: Vec<ChoiceBranch>,
    pub default: Option<StateId>,
}

/// One member of `Choices`: its test, where it leads, and what it assigns and outputs when it
/// is the one taken (the state's own `Assign`/`Output` apply only to `Default`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    pub test: ChoiceTest,
    pub next: StateId,
    pub assign: Option<Assign>,
    pub output: Option<JsonataTemplate>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChoiceTest {
    /// A JSONPath rule (`Variable` and an operator, or `And`/`Or`/`Not`).
    Rule(Condition),
    /// A JSONata `Condition` written as `true` or `false`.
    Constant(bool),
    /// A JSONata `Condition` expression; it must produce a boolean.
    Jsonata(Box<Expression>),
}

impl Parser {
    pub(super) fn choice(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
        jsonata: bool,
    ) -> Choice {
        let mut rules = Vec::new();
        match obj.get("Choices") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("{at}/Choices/{i}");
                    let branch =
                        if jsonata { self.jsonata_rule(item, &loc, index) } else { self.path_rule(item, &loc, index) };
                    rules.extend(branch);
                }
            }
            _ => self.problem(
                Code::SchemaValidationFailed,
                "The field 'Choices' is required and must be a non-empty array",
                format!("{at}/Choices"),
            ),
        }
        let default = match obj.get("Default") {
            None => None,
            Some(Value::String(s)) => Some(self.target(s, &format!("{at}/Default"), index)),
            Some(_) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Default' must be a STRING",
                    format!("{at}/Default"),
                );
                None
            }
        };
        Choice { rules, default }
    }
    pub(super) fn path_rule(
        &mut self,
        item: &Value,
        loc: &str,
        index: &HashMap<String, StateId>,
    ) -> Option<ChoiceBranch> {
        match ChoiceRule::parse(item, loc) {
            Ok(rule) => {
                let next = self.target(&rule.next, &format!("{loc}/Next"), index);
                let assign = item.as_object().and_then(|r| self.assign(r, loc, false, INPUT_CONTEXT));
                Some(ChoiceBranch { test: ChoiceTest::Rule(rule.condition), next, assign, output: None })
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
    ) -> Option<ChoiceBranch> {
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
        let test = match rule.get("Condition") {
            Some(Value::Bool(b)) => Some(ChoiceTest::Constant(*b)),
            Some(Value::String(s)) if expression_text(s).is_some() => self
                .jsonata_expression(s, &cond_at, "Condition", INPUT_CONTEXT)
                .map(|e| ChoiceTest::Jsonata(Box::new(e))),
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
        let assign = self.assign(rule, loc, true, INPUT_CONTEXT);
        let output =
            rule.get("Output").map(|v| self.jsonata_template(v, &format!("{loc}/Output"), "Output", INPUT_CONTEXT));
        Some(ChoiceBranch { test: test?, next: next?, assign, output })
    }
}

/// A JSONPath Choice operator's field name (`StringEquals`, `NumericLessThanPath`, `IsNull`).
fn is_choice_operator(key: &str) -> bool {
    ["String", "Numeric", "Boolean", "Timestamp", "Is"].iter().any(|p| key.starts_with(p))
}

/// The fields of a Choice state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields = StateFields {
    json_path: &["Choices", "Default", "InputPath", "OutputPath", "Assign"],
    jsonata: &["Choices", "Default", "Output", "Assign"],
};
