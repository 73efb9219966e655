//! Field parsing shared by every state type, written once: transitions, paths, `ResultPath`,
//! payload templates, numbers given as values or paths, `Assign`, and JSONata fields with
//! what each may read of `$states`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;

/// What JSONata expressions in most fields may read of `$states`.
pub(super) const INPUT_CONTEXT: StatesRefs =
    StatesRefs { input: true, result: false, error_output: false, context: true };
/// `Output` and `Assign` of Task, Parallel and Map also read the result.
pub(super) const WITH_RESULT: StatesRefs = StatesRefs { input: true, result: true, error_output: false, context: true };
/// A catcher's `Output` and `Assign` read the error output instead.
pub(super) const WITH_ERROR_OUTPUT: StatesRefs =
    StatesRefs { input: true, result: false, error_output: true, context: true };

impl Parser {
    /// JSONata's `Arguments`: it reads the input and the context only.
    pub(super) fn arguments(&mut self, s: &Source) -> Option<JsonataTemplate> {
        let v = s.obj.get("Arguments")?;
        Some(self.jsonata_template(v, &format!("{}/Arguments", s.at), "Arguments", INPUT_CONTEXT))
    }

    /// How a JSONPath Task, Parallel or Map ends: `ResultSelector`, `ResultPath`, `Retry`,
    /// `Catch` and the transition, in that order.
    pub(super) fn path_recovery(&mut self, s: &Source) -> (PathResult, Vec<Retrier>, Transition) {
        let result_selector = self.template(s.obj, "ResultSelector", s.at);
        let result_path = self.result_path(s.obj, "ResultPath", s.at);
        let retry = self.retriers(s.obj, s.at);
        let catch = self.catchers(s, |parser, c, loc| PathCatch {
            result_path: parser.result_path(c, "ResultPath", loc),
            assign: parser.path_assign(c, loc),
        });
        let transition = self.transition(s.obj, s.at, s.index);
        (PathResult { result_selector, result_path, catch }, retry, transition)
    }

    /// How a JSONata Task, Parallel or Map ends: `Retry`, `Catch` and the transition (its
    /// `Output` reads `$states.result` instead of JSONPath's result stages).
    pub(super) fn jsonata_recovery(&mut self, s: &Source) -> (JsonataResult, Vec<Retrier>, Transition) {
        let retry = self.retriers(s.obj, s.at);
        let catch = self.catchers(s, |parser, c, loc| JsonataIo {
            assign: parser.jsonata_assign(c, loc, WITH_ERROR_OUTPUT),
            output: c
                .get("Output")
                .map(|v| parser.jsonata_template(v, &format!("{loc}/Output"), "Output", WITH_ERROR_OUTPUT)),
        });
        let transition = self.transition(s.obj, s.at, s.index);
        (JsonataResult { catch }, retry, transition)
    }

    /// `Output` and `Assign`, read after the type's own fields; `after` is what they may read
    /// of `$states`. A Fail state has neither, but what it wrote is still checked.
    pub(super) fn leaving_fields(
        &mut self,
        s: &Source,
        jsonata: bool,
        io: Option<Fields<&mut PathIo, &mut JsonataIo>>,
        after: StatesRefs,
    ) {
        let at = s.at;
        let output = match s.obj.get("Output") {
            Some(v) if jsonata => Some(self.jsonata_template(v, &format!("{at}/Output"), "Output", after)),
            _ => None,
        };
        if jsonata {
            let assign = self.jsonata_assign(s.obj, at, after);
            if let Some(Fields::Jsonata(io)) = io {
                io.output = output;
                io.assign = assign;
            }
        } else {
            let assign = self.path_assign(s.obj, at);
            if let Some(Fields::JsonPath(io)) = io {
                io.assign = assign;
            }
        }
    }

    /// A JSONata field value: compiled, with each expression checked for what it may read.
    pub(super) fn jsonata_template(
        &mut self,
        value: &Value,
        at: &str,
        field: &str,
        allowed: StatesRefs,
    ) -> JsonataTemplate {
        let mut problems = Vec::new();
        let template = JsonataTemplate::compile(value, at, &mut problems);
        for p in problems {
            self.problem(Code::SchemaValidationFailed, p.message, p.location);
        }
        for e in template.expressions() {
            self.check_states(e, at, field, allowed);
        }
        template
    }
    /// One `{% %}` string in a field that takes a single expression.
    pub(super) fn jsonata_expression(
        &mut self,
        text: &str,
        at: &str,
        field: &str,
        allowed: StatesRefs,
    ) -> Option<Expression> {
        match self.jsonata_template(&Value::String(text.to_owned()), at, field, allowed) {
            JsonataTemplate::Expression(e) => Some(*e),
            _ => None,
        }
    }
    pub(super) fn check_states(&mut self, e: &Expression, at: &str, field: &str, allowed: StatesRefs) {
        let used = e.states_refs();
        let misused =
            [(used.result && !allowed.result, "result"), (used.error_output && !allowed.error_output, "errorOutput")];
        for (bad, member) in misused {
            if bad {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!(
                        "The JSONata expression '{}' references '$states.{member}', which is not available in the field '{field}'",
                        e.as_str()
                    ),
                    at.to_owned(),
                );
            }
        }
    }
    /// A number field of a JSONata state: the number, or a `{% %}` expression.
    pub(super) fn jsonata_dynamic<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: impl Fn(&Value) -> Option<T>,
        what: &str,
    ) -> Option<JsonataDynamic<T>> {
        let v = obj.get(key)?;
        let loc = format!("{at}/{key}");
        if let Some(text) = v.as_str().filter(|t| expression_text(t).is_some()) {
            return self
                .jsonata_expression(text, &loc, key, INPUT_CONTEXT)
                .map(|e| JsonataDynamic::Expression(Box::new(e)));
        }
        match read(v) {
            Some(n) => Some(JsonataDynamic::Fixed(n)),
            None => {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The value for the field '{key}' must be {what} or a JSONata expression"),
                    loc,
                );
                None
            }
        }
    }
    /// A JSONPath `Assign`: each key a variable name, with `.$` for a dynamic value.
    pub(super) fn path_assign(&mut self, obj: &Map<String, Value>, at: &str) -> Option<Template> {
        let (value, loc) = self.assign_names(obj, at, false)?;
        Some(Template::compile(value, &loc, &mut self.problems))
    }

    /// A JSONata `Assign`: each key a variable name, each value JSON with expressions.
    pub(super) fn jsonata_assign(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        allowed: StatesRefs,
    ) -> Option<JsonataTemplate> {
        let (value, loc) = self.assign_names(obj, at, true)?;
        Some(self.jsonata_template(value, &loc, "Assign", allowed))
    }

    /// An `Assign` block with its variable names checked, and its location.
    fn assign_names<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        at: &str,
        jsonata: bool,
    ) -> Option<(&'v Value, String)> {
        let value = obj.get("Assign")?;
        let loc = format!("{at}/Assign");
        let Some(map) = value.as_object() else {
            self.problem(Code::SchemaValidationFailed, "The value for the field 'Assign' must be an OBJECT", loc);
            return None;
        };
        for key in map.keys() {
            let name = if jsonata { key.as_str() } else { key.strip_suffix(".$").unwrap_or(key) };
            if let Err(why) = check_variable_name(name) {
                self.problem(
                    Code::SchemaValidationFailed,
                    format!("The variable name '{name}' is not valid: {why}"),
                    format!("{loc}/{}", escape_pointer(key)),
                );
            }
        }
        Some((value, loc))
    }
    pub(super) fn transition(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        index: &HashMap<String, StateId>,
    ) -> Transition {
        match (obj.get("Next"), obj.get("End")) {
            (Some(_), Some(Value::Bool(true))) => {
                self.both_present("Next", "End", at);
                Transition::End
            }
            (Some(Value::String(next)), _) => Transition::Next(self.target(next, &format!("{at}/Next"), index)),
            (Some(_), _) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'Next' must be a STRING",
                    format!("{at}/Next"),
                );
                Transition::End
            }
            (None, Some(Value::Bool(true))) => Transition::End,
            (None, Some(Value::Bool(false))) | (None, None) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "This state must have either a 'Next' or an 'End' field",
                    at.to_owned(),
                );
                Transition::End
            }
            (None, Some(_)) => {
                self.problem(
                    Code::SchemaValidationFailed,
                    "The value for the field 'End' must be a BOOLEAN",
                    format!("{at}/End"),
                );
                Transition::End
            }
        }
    }
    pub(super) fn target(&mut self, name: &str, at: &str, index: &HashMap<String, StateId>) -> StateId {
        match index.get(name) {
            Some(&i) => i,
            None => {
                self.problem(Code::MissingTransitionTarget, format!("Missing 'Next' target: {name}"), at.to_owned());
                0
            }
        }
    }
    /// The problem of two fields of which only one may be given.
    pub(super) fn both_present(&mut self, first: &str, second: &str, at: &str) {
        self.problem(
            Code::SchemaValidationFailed,
            format!("The fields '{first}' and '{second}' cannot both be present"),
            at.to_owned(),
        );
    }
    /// The problem of a field that must be a string.
    pub(super) fn not_a_string(&mut self, key: &str, at: &str) {
        self.problem(
            Code::SchemaValidationFailed,
            format!("The value for the field '{key}' must be a STRING"),
            format!("{at}/{key}"),
        );
    }
    pub(super) fn opt_string(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<String> {
        match obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.not_a_string(key, at);
                None
            }
        }
    }
    pub(super) fn opt_positive_int(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<u64> {
        match obj.get(key) {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 && n <= 99_999_999 => Some(n),
                _ => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field '{key}' must be a positive INTEGER (at most 99999999)"),
                        format!("{at}/{key}"),
                    );
                    None
                }
            },
        }
    }
    pub(super) fn dynamic_int(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Dynamic<u64>> {
        self.dynamic_generic(obj, key, at, |v| v.as_u64().filter(|n| *n > 0 && *n <= 99_999_999), "a positive INTEGER")
    }
    pub(super) fn dynamic_int_allow_zero(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Option<Dynamic<u64>> {
        self.dynamic_generic(obj, key, at, |v| v.as_u64(), "a non-negative INTEGER")
    }
    pub(super) fn dynamic_number(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Dynamic<f64>> {
        self.dynamic_generic(obj, key, at, |v| v.as_f64(), "a NUMBER")
    }
    pub(super) fn dynamic_generic<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        read: impl Fn(&Value) -> Option<T>,
        what: &str,
    ) -> Option<Dynamic<T>> {
        let path_key = format!("{key}Path");
        match (obj.get(key), obj.get(&path_key)) {
            (Some(_), Some(_)) => {
                self.both_present(key, &path_key, at);
                None
            }
            (Some(v), None) => match read(v) {
                Some(n) => Some(Dynamic::Fixed(n)),
                None => {
                    self.problem(
                        Code::SchemaValidationFailed,
                        format!("The value for the field '{key}' must be {what}"),
                        format!("{at}/{key}"),
                    );
                    None
                }
            },
            (None, Some(v)) => self.reference_path_ref(v, &format!("{at}/{path_key}")).map(Dynamic::Path),
            (None, None) => None,
        }
    }
    pub(super) fn reference_path_ref(&mut self, v: &Value, at: &str) -> Option<PathRef> {
        let field = at.rsplit('/').next().unwrap_or(at).to_owned();
        let Some(text) = v.as_str() else {
            self.problem(
                Code::SchemaValidationFailed,
                format!("The value for the field '{field}' must be a STRING"),
                at.to_owned(),
            );
            return None;
        };
        match PathRef::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problem(
                    Code::InvalidReferencePath,
                    format!("The value for the field '{field}' must be a valid JSONPath: {e}"),
                    at.to_owned(),
                );
                None
            }
        }
    }
    pub(super) fn data_path(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> DataPath {
        match obj.get(key) {
            None => DataPath::Whole,
            Some(Value::Null) => DataPath::Empty,
            Some(Value::String(s)) => match PathRef::parse(s) {
                Ok(p) => DataPath::Path(p),
                Err(e) => {
                    self.problem(
                        Code::InvalidJsonPath,
                        format!("The value for the field '{key}' must be a valid JSONPath: {e}"),
                        format!("{at}/{key}"),
                    );
                    DataPath::Whole
                }
            },
            Some(_) => {
                self.not_a_string(key, at);
                DataPath::Whole
            }
        }
    }
    pub(super) fn result_path(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> ResultPath {
        match obj.get(key) {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(Value::String(s)) => match ReferencePath::parse(s) {
                Ok(p) if p.is_root() => ResultPath::Replace,
                Ok(p) => ResultPath::Path(p),
                Err(e) => {
                    self.problem(
                        Code::InvalidReferencePath,
                        format!("The value for the field '{key}' must be a valid ReferencePath: {e}"),
                        format!("{at}/{key}"),
                    );
                    ResultPath::Replace
                }
            },
            Some(_) => {
                self.not_a_string(key, at);
                ResultPath::Replace
            }
        }
    }
    pub(super) fn template(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<Template> {
        let v = obj.get(key)?;
        Some(Template::compile(v, &format!("{at}/{key}"), &mut self.problems))
    }
}
