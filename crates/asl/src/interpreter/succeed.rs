//! Succeed states: the frame ends successfully with the state's output (InputPath and
//! OutputPath in JSONPath; JSONata's `Output`).

use super::{Flow, FrameId, Run};
use crate::definition::{QueryLanguage, State};

impl<'a> Run<'a, '_> {
    pub(super) fn run_succeed(&mut self, f: FrameId, state: &'a State) -> Flow {
        if state.query_language == QueryLanguage::Jsonata {
            let raw = self.frame(f).input.clone();
            // A Succeed state has no `Assign`.
            return match self.jsonata_exit(f, state.output.as_ref(), None, &raw, None, None) {
                Ok((output, assigned)) => Flow::Exit(output.unwrap_or(raw), assigned),
                Err(q) => self.query_flow(f, q),
            };
        }
        let effective = match self.effective_input(f, None, None) {
            Ok(v) => v,
            Err(e) => return Flow::Fail(e),
        };
        self.output_path(f, effective)
    }
}
