//! The drain timer's thread: moves a drain on at its grace and its deadline, even while the
//! serving thread is busy (a sequential server's handler).

use std::sync::Weak;
use std::time::Instant;

use crate::drain::DrainLevel;
use crate::shutdown::shutdown_handle::Shared;

/// The drain timer's thread: moves the connections to [`DrainLevel::GraceOver`] when the
/// first-byte grace passes and to [`DrainLevel::Forced`] at the deadline, then ends; it ends
/// as soon as its drain (the one numbered `drain` among the finished ones) is over or the loop
/// has stopped, even if it started late and another drain was asked for meanwhile. It wakes
/// the loop at each step, so the strategies follow.
pub(super) fn drain_timer(shared: &Shared, drain: u64) {
    let mut grace_done = false;
    let mut state = shared.state.lock();
    loop {
        let current = state.drains_finished == drain && state.serving_thread.is_some();
        let Some(plan) = state.drain.filter(|_| current) else {
            return;
        };
        if let Some(level) = plan.due(Instant::now(), grace_done) {
            grace_done |= level == DrainLevel::GraceOver;
            let target = state.target.as_ref().and_then(Weak::upgrade);
            drop(state);
            if let Some(target) = target {
                target.advance_drain(level);
            }
            let _ = shared.stop.wake();
            if level == DrainLevel::Forced {
                return;
            }
            state = shared.state.lock();
            continue;
        }
        shared
            .stopped
            .wait_until(&mut state, plan.next_step(grace_done));
    }
}
