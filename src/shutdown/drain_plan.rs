//! [`DrainPlan`]: when a drain began, when its first-byte grace ends, and its deadline.

use std::time::Instant;

use crate::drain::DrainLevel;

/// When a drain began and when it must end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DrainPlan {
    pub(crate) started: Instant,
    pub(crate) grace_over: Instant,
    pub(crate) deadline: Instant,
}

impl DrainPlan {
    /// The level that has fallen due at `now` and not been applied yet: [`DrainLevel::Forced`]
    /// at the deadline, [`DrainLevel::GraceOver`] once the first-byte grace has passed (unless
    /// `grace_done` says it was applied already).
    pub(crate) fn due(&self, now: Instant, grace_done: bool) -> Option<DrainLevel> {
        if now >= self.deadline {
            Some(DrainLevel::Forced)
        } else if !grace_done && now >= self.grace_over {
            Some(DrainLevel::GraceOver)
        } else {
            None
        }
    }

    /// When the next level falls due.
    pub(crate) fn next_step(&self, grace_done: bool) -> Instant {
        if grace_done {
            self.deadline
        } else {
            self.grace_over.min(self.deadline)
        }
    }
}
