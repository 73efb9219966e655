//! People in the loop, a Baton extension to ASL: answers people give to a waiting Task
//! (recorded with their audit record as `TaskAnswerRecorded`), and approvals that need
//! several people's votes.
//!
//! The answer itself ends the task as any `TaskSucceeded`/`TaskFailed` would; what this
//! module adds is the record and the counting. Votes come one at a time (the execution's
//! events are applied in order), so exactly one vote decides.

use serde_json::{json, Map, Value};

use super::{Event, Phase, Run, TaskId};
use crate::history::{Details, EventType};

impl<'a> Run<'a, '_> {
    /// A person's answer with its audit record: the record first, then the answer's own
    /// events; nothing when the task no longer waits.
    pub(super) fn task_answered(&mut self, audit: Map<String, Value>, answer: Box<Event>) {
        let Some(task) = answer.ending_task() else { return };
        let Some(f) = self.task_frame(task) else { return };
        if let Phase::Task(w) = &mut self.frame_mut(f).phase {
            if w.waits_for_submission && !w.submitted {
                if w.early_result.is_none() {
                    w.early_result = Some(Box::new(Event::TaskAnswered { audit, answer }));
                }
                return;
            }
        }
        self.emit(f, EventType::TaskAnswerRecorded, Details::Fields(audit));
        self.handle(*answer);
    }

    /// One person's vote on a task that needs `needed` approvals: counted once per person;
    /// the first rejection, or the last approval needed, decides the task's result.
    pub(super) fn task_vote(
        &mut self,
        task: TaskId,
        by: String,
        approve: bool,
        needed: u32,
        mut audit: Map<String, Value>,
    ) {
        let Some(f) = self.task_frame(task) else { return };
        let Phase::Task(w) = &mut self.frame_mut(f).phase else { return };
        if w.approvals.contains(&by) {
            return;
        }
        if approve {
            w.approvals.push(by.clone());
        }
        let approvals = w.approvals.clone();
        audit.insert("approvals".into(), Value::from(approvals.len()));
        audit.insert("approvalsNeeded".into(), Value::from(needed));
        self.emit(f, EventType::TaskAnswerRecorded, Details::Fields(audit));
        let decided = if !approve {
            Some(json!({"approved": false, "approvals": approvals, "rejectedBy": by}))
        } else if approvals.len() >= needed as usize {
            Some(json!({"approved": true, "approvals": approvals}))
        } else {
            None
        };
        if let Some(output) = decided {
            self.handle(Event::TaskSucceeded { task, output });
        }
    }
}
