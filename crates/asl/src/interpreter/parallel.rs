//! Parallel states: every branch runs on the same input (after InputPath and Parameters,
//! or JSONata's `Arguments`); the result is the array of branch outputs. Branches run in the
//! iteration model of [`super::fanout`].

use super::fanout::Tolerance;
use super::{Flow, FrameId, Run, Stage};
use crate::definition::{Fields, Parallel};
use crate::history::{Details, EventType};

impl<'a> Run<'a, '_> {
    pub(super) fn run_parallel(&mut self, f: FrameId, p: &'a Parallel) -> Flow {
        let effective = match &p.fields {
            Fields::JsonPath(fields) => {
                match self.effective_input(f, &fields.io.input_path, fields.parameters.as_ref(), None) {
                    Ok(v) => v,
                    Err(e) => return Flow::Fail(e),
                }
            }
            Fields::Jsonata(fields) => {
                let raw = self.frame(f).input.clone();
                match &fields.arguments {
                    None => raw,
                    Some(args) => match self.jsonata_template(f, args, &raw, "Arguments", None) {
                        Ok(v) => {
                            self.observe(f, Stage::AfterArguments, &v);
                            v
                        }
                        Err(q) => return self.query_flow(f, q),
                    },
                }
            }
        };
        self.emit(f, EventType::ParallelStateStarted, Details::None);
        let inputs = vec![effective; p.branches.len()];
        self.start_fanout(f, inputs, 0, Tolerance { count: None, percentage: None })
    }
}
