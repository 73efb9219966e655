//! Choice states: the first rule that holds decides where to go (`Default` when none does).
//! A JSONPath rule is a typed [`crate::choice::Condition`]; a JSONata rule is a `Condition`
//! expression that must give a boolean. The rule taken brings its own `Assign` and `Output`;
//! the state's own apply to `Default`.

use serde_json::Value;

use super::{state_context, Failure, Flow, FrameId, FrameVars, Run};
use crate::definition::{Choice, ChoiceJsonata, ChoicePath, Fields, JsonataBranch, JsonataCondition, State};
use crate::error::names;
use crate::eval::Scope;
use crate::jsonata::QueryFailure;

impl<'a> Run<'a, '_> {
    pub(super) fn run_choice(&mut self, f: FrameId, state: &'a State, c: &'a Choice) -> Flow {
        match &c.fields {
            Fields::JsonPath(fields) => self.run_path_choice(f, state, c, fields),
            Fields::Jsonata(fields) => self.run_jsonata_choice(f, state, c, fields),
        }
    }

    fn run_path_choice(&mut self, f: FrameId, state: &'a State, c: &'a Choice, fields: &'a ChoicePath) -> Flow {
        let effective = match self.effective_input(f, &fields.io.input_path, None, None) {
            Ok(v) => v,
            Err(e) => return Flow::Fail(e),
        };
        let chosen = {
            let vars = FrameVars { def: self.def, exec: self.exec, frame: f };
            let ctx = state_context(self.def, self.exec, f, None);
            let scope = Scope::new(&effective, &ctx).with_variables(&vars);
            let mut chosen = None;
            for branch in &fields.rules {
                match branch.condition.eval(&scope) {
                    Ok(true) => {
                        chosen = Some(branch);
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => return Flow::Fail(self.eval_failure(f, e)),
                }
            }
            chosen
        };
        let (next, assign) = match (chosen, c.default) {
            (Some(branch), _) => (branch.next, branch.assign.as_ref()),
            (None, Some(default)) => (default, fields.io.assign.as_ref()),
            (None, None) => return Flow::Fail(no_choice_matched(state)),
        };
        let assigned = match self.assign_path(f, assign, &effective) {
            Ok(a) => a,
            Err(failure) => return Flow::Fail(failure),
        };
        match self.output_path(f, &fields.io.output_path, effective) {
            Flow::Exit(output, _) => Flow::Caught { output, next, assigned },
            other => other,
        }
    }

    fn run_jsonata_choice(&mut self, f: FrameId, state: &'a State, c: &'a Choice, fields: &'a ChoiceJsonata) -> Flow {
        let raw = self.frame(f).input.clone();
        let mut chosen: Option<&JsonataBranch> = None;
        for branch in &fields.rules {
            let holds = match &branch.condition {
                JsonataCondition::Constant(b) => *b,
                JsonataCondition::Expression(e) => match self.jsonata_value(f, e, &raw, "Condition", None) {
                    Ok(Value::Bool(b)) => b,
                    Ok(other) => {
                        return self.query_flow(f, QueryFailure::unexpected_type(e, "Condition", "boolean", &other))
                    }
                    Err(q) => return self.query_flow(f, q),
                },
            };
            if holds {
                chosen = Some(branch);
                break;
            }
        }
        let (next, leaving) = match (chosen, c.default) {
            (Some(b), _) => (b.next, &b.leaving),
            (None, Some(default)) => (default, &fields.io),
            (None, None) => return Flow::Fail(no_choice_matched(state)),
        };
        match self.jsonata_exit(f, leaving, &raw, None, None) {
            Ok((output, assigned)) => Flow::Caught { output: output.unwrap_or(raw), next, assigned },
            Err(q) => self.query_flow(f, q),
        }
    }
}

fn no_choice_matched(state: &State) -> Failure {
    Failure {
        from_task_result: false,
        heartbeat: false,
        error: Some(names::NO_CHOICE_MATCHED.into()),
        cause: Some(format!("No Matches! in state '{}'", state.name)),
    }
}
