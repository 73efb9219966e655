//! Parallel states: every branch runs on the same input (after InputPath and Parameters,
//! or JSONata's `Arguments`); the result is the array of branch outputs. Branches run in the
//! iteration model of [`super::fanout`].

use super::fanout::Tolerance;
use super::{Flow, FrameId, Run, Stage};
use crate::definition::{Parallel, QueryLanguage, State};
use crate::history::{Details, EventType};

impl<'a> Run<'a, '_> {
    pub(super) fn run_parallel(&mut self, f: FrameId, state: &'a State, p: &'a Parallel) -> Flow {
        let effective = if state.query_language == QueryLanguage::Jsonata {
            let raw = self.frame(f).input.clone();
            match &p.arguments {
                None => raw,
                Some(args) => match self.jsonata_template(f, args, &raw, "Arguments", None) {
                    Ok(v) => {
                        self.observe(f, Stage::AfterArguments, &v);
                        v
                    }
                    Err(q) => return self.query_flow(f, q),
                },
            }
        } else {
            match self.effective_input(f, p.parameters.as_ref(), None) {
                Ok(v) => v,
                Err(e) => return Flow::Fail(e),
            }
        };
        self.emit(f, EventType::ParallelStateStarted, Details::None);
        let inputs = vec![effective; p.branches.len()];
        self.start_fanout(f, inputs, 0, Tolerance { count: None, percentage: None })
    }
}
