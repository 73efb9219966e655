//! Succeed states: no fields of their own besides the input and output stages.

use super::*;

/// The fields of a Succeed state, besides `Type`, `Comment` and `QueryLanguage`.
pub(super) const FIELDS: StateFields =
    StateFields { json_path: &[&["InputPath", "OutputPath"]], jsonata: &[&["Output"]] };
