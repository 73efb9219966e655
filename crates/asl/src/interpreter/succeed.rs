//! Succeed states: the frame ends successfully with the state's output (InputPath and
//! OutputPath in JSONPath; JSONata's `Output`).

use super::{Flow, FrameId, Run};
use crate::definition::{Fields, Io};

impl<'a> Run<'a, '_> {
    pub(super) fn run_succeed(&mut self, f: FrameId, io: &'a Io) -> Flow {
        match io {
            Fields::JsonPath(io) => match self.effective_input(f, &io.input_path, None, None) {
                Ok(effective) => self.output_path(f, &io.output_path, effective),
                Err(e) => Flow::Fail(e),
            },
            Fields::Jsonata(io) => {
                let raw = self.frame(f).input.clone();
                match self.jsonata_exit(f, io, &raw, None, None) {
                    Ok((output, assigned)) => Flow::Exit(output.unwrap_or(raw), assigned),
                    Err(q) => self.query_flow(f, q),
                }
            }
        }
    }
}
