//! Pass states: the input (or `Result`) passed on, through the JSONPath stages or JSONata's
//! `Output`.

use super::{Flow, FrameId, Run, Stage};
use crate::definition::{Pass, QueryLanguage, State};
use crate::io;

impl<'a> Run<'a, '_> {
    pub(super) fn run_pass(&mut self, f: FrameId, state: &'a State, p: &'a Pass) -> Flow {
        if state.query_language == QueryLanguage::Jsonata {
            let raw = self.frame(f).input.clone();
            return match self.jsonata_exit(f, state.output.as_ref(), state.assign.as_ref(), &raw, None, None) {
                Ok((output, assigned)) => Flow::Exit(output.unwrap_or(raw), assigned),
                Err(q) => self.query_flow(f, q),
            };
        }
        let effective = match self.effective_input(f, p.parameters.as_ref(), None) {
            Ok(v) => v,
            Err(e) => return Flow::Fail(e),
        };
        let result = match &p.result {
            Some(r) => r.clone(),
            None => effective,
        };
        self.observe(f, Stage::Result, &result);
        let assigned = match self.assign_path(f, state.assign.as_ref(), &result) {
            Ok(a) => a,
            Err(failure) => return Flow::Fail(failure),
        };
        match io::merge_result(&p.result_path, &self.frame(f).input, result) {
            Ok(v) => {
                self.observe(f, Stage::AfterResultPath, &v);
                super::with_assigned(self.output_path(f, v), assigned)
            }
            Err(e) => Flow::Fail(self.eval_failure(f, e)),
        }
    }
}
