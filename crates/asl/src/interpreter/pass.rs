//! Pass states: the input (or `Result`) passed on, through the JSONPath stages or JSONata's
//! `Output`.

use super::{Flow, FrameId, Run, Stage};
use crate::definition::{Fields, Pass};

impl<'a> Run<'a, '_> {
    pub(super) fn run_pass(&mut self, f: FrameId, p: &'a Pass) -> Flow {
        let fields = match &p.fields {
            Fields::JsonPath(fields) => fields,
            Fields::Jsonata(io) => {
                let raw = self.frame(f).input.clone();
                return match self.jsonata_exit(f, io, &raw, None, None) {
                    Ok((output, assigned)) => Flow::Exit(output.unwrap_or(raw), assigned),
                    Err(q) => self.query_flow(f, q),
                };
            }
        };
        let effective = match self.effective_input(f, &fields.io.input_path, fields.parameters.as_ref(), None) {
            Ok(v) => v,
            Err(e) => return Flow::Fail(e),
        };
        let result = match &fields.result {
            Some(r) => r.clone(),
            None => effective,
        };
        self.observe(f, Stage::Result, &result);
        let assigned = match self.assign_path(f, fields.io.assign.as_ref(), &result) {
            Ok(a) => a,
            Err(failure) => return Flow::Fail(failure),
        };
        self.result_path_and_output(f, &fields.io, &fields.result_path, result, assigned)
    }
}
