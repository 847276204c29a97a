//! [`Liveness`]: what a drain needs to know about one connection served by a blocking handler,
//! and the one thing it does to it.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::drain::{DrainLevel, DrainProgress};
use crate::sys;

/// One connection's drain state, shared by its reader (`rfile`), its job, the registry (which
/// drives drains) and — in a forked child — a signal handler. Only atomics, so the signal
/// handler may touch it.
///
/// The protocol between a reader and a drainer is Dekker's: the reader sets `waiting` and then
/// reads the level; the drainer sets the level and then reads `waiting`. Whichever comes second
/// sees the other, so a reader is never left blocked in `recv` once it counts as idle: either it
/// does not block, or the drainer shuts its reading side down (`shutdown(SHUT_RD)`), which ends
/// the blocked `recv` with an end-of-file after any bytes already queued.
#[derive(Debug)]
pub struct Liveness {
    /// The connection's descriptor while it is open; -1 before and after.
    fd: AtomicI32,
    /// Held while the drainer uses `fd` and while the connection gives it up, so a descriptor
    /// number reused by a newer connection is never shut down by mistake. A forked child's
    /// signal handler does not take it (it must not lock; the child is single-threaded, so
    /// the descriptor cannot be closed under it).
    fd_lock: Mutex<()>,
    /// The server's drain level (a forked child's own).
    progress: Arc<DrainProgress>,
    /// Blocked (or about to block) waiting for input at a message boundary: in `recv` with
    /// nothing buffered, or parked in place.
    waiting: AtomicBool,
    /// A byte has arrived.
    spoken: AtomicBool,
    /// Open [`BusySpan`](crate::BusySpan)s: while any is, the connection is never idle.
    busy: AtomicUsize,
    /// Outermost busy spans begun: each is a new message, with a fresh read-timeout clock.
    spans: AtomicU64,
    /// The drain ended it as idle.
    idle_closed: AtomicBool,
    /// Input arrived, or a message was in flight, while a drain was on: its close at a message
    /// boundary counts as a finished connection, not an idle one.
    served_while_draining: AtomicBool,
    /// The drain's deadline ended it.
    forced: AtomicBool,
    /// Payload bytes received and sent, recorded as the connection closes (its registry
    /// entry carries them to the server's counters).
    received: AtomicU64,
    sent: AtomicU64,
}

impl Liveness {
    pub(crate) fn new(progress: Arc<DrainProgress>) -> Self {
        Liveness {
            fd: AtomicI32::new(-1),
            fd_lock: Mutex::new(()),
            progress,
            waiting: AtomicBool::new(false),
            spoken: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            spans: AtomicU64::new(0),
            idle_closed: AtomicBool::new(false),
            served_while_draining: AtomicBool::new(false),
            forced: AtomicBool::new(false),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    /// The connection is closing: the bytes it carried, for the server's counters.
    pub(crate) fn record_traffic(&self, received: u64, sent: u64) {
        self.received.store(received, SeqCst);
        self.sent.store(sent, SeqCst);
    }

    /// The bytes [`record_traffic`](Self::record_traffic) recorded (none yet: zeros).
    pub(crate) fn traffic(&self) -> (u64, u64) {
        (self.received.load(SeqCst), self.sent.load(SeqCst))
    }

    pub(crate) fn level(&self) -> DrainLevel {
        self.progress.level()
    }

    /// The connection's descriptor, which the drainer may shut down until [`detach_fd`](Self::detach_fd).
    pub(crate) fn attach_fd(&self, fd: RawFd) {
        self.fd.store(fd, SeqCst);
        // Forced before the connection got here: it must not block in its socket at all.
        if self.level() == DrainLevel::Forced {
            sys::shutdown_raw(fd, std::net::Shutdown::Both);
        }
    }

    /// The connection is about to close its descriptor: the drainer must not touch it again.
    pub(crate) fn detach_fd(&self) {
        let _held = self.fd_lock.lock();
        self.fd.store(-1, SeqCst);
    }

    pub(crate) fn note_spoken(&self) {
        if !self.spoken.load(SeqCst) {
            self.spoken.store(true, SeqCst);
        }
    }

    /// Input arrived for the handler.
    pub(crate) fn note_input(&self) {
        if self.level() != DrainLevel::Serving && !self.served_while_draining.load(SeqCst) {
            self.served_while_draining.store(true, SeqCst);
        }
    }

    /// Whether the connection served a message while a drain was on (so a close at its next
    /// boundary is a message finished, not an idle connection closed).
    pub(crate) fn served_while_draining(&self) -> bool {
        self.served_while_draining.load(SeqCst)
    }

    pub(crate) fn busy_started(&self) {
        if self.busy.fetch_add(1, SeqCst) == 0 {
            self.spans.fetch_add(1, SeqCst);
        }
    }

    /// The message in flight (which outermost busy span), if any.
    pub(crate) fn busy_span(&self) -> Option<u64> {
        (self.busy.load(SeqCst) > 0).then(|| self.spans.load(SeqCst))
    }

    pub(crate) fn busy_ended(&self) {
        self.busy.fetch_sub(1, SeqCst);
    }

    /// Whether a drain may close this connection if it waits for input now.
    pub(crate) fn idle_may_close(&self) -> bool {
        let level = self.level();
        if self.busy.load(SeqCst) > 0 && level != DrainLevel::Forced {
            return false;
        }
        match level {
            DrainLevel::Serving => false,
            DrainLevel::Draining => self.spoken.load(SeqCst),
            DrainLevel::GraceOver | DrainLevel::Forced => true,
        }
    }

    /// The reader is about to wait for input at a message boundary. Returns `true` when it
    /// must not wait (a drain counts it as idle): it takes what has already arrived, if
    /// anything, and otherwise ends with an end-of-file.
    pub(crate) fn enter_wait(&self) -> bool {
        if self.busy.load(SeqCst) > 0 && self.level() != DrainLevel::Forced {
            return false;
        }
        self.waiting.store(true, SeqCst);
        if self.idle_may_close() {
            self.waiting.store(false, SeqCst);
            self.idle_closed.store(true, SeqCst);
            return true;
        }
        false
    }

    /// The wait is over (input, end-of-file or error).
    pub(crate) fn leave_wait(&self) {
        self.waiting.store(false, SeqCst);
    }

    /// Whether the drain ended this connection as idle (its end-of-file is ours, not the
    /// peer's).
    pub(crate) fn closed_as_idle(&self) -> bool {
        self.idle_closed.load(SeqCst)
    }

    pub(crate) fn was_forced(&self) -> bool {
        self.forced.load(SeqCst)
    }

    /// Marks the connection as ended by the drain while parked.
    pub(crate) fn mark_closed_as_idle(&self) {
        self.idle_closed.store(true, SeqCst);
    }

    /// Raises the level to `level` (the registry has already; a no-op then) and, if the
    /// connection now counts as idle while it waits, ends the wait. From a thread of the
    /// serving process.
    pub(crate) fn advance(&self, level: DrainLevel) {
        self.progress.raise(level);
        if self.busy.load(SeqCst) > 0 {
            // A message in flight when the drain began finishes during it.
            self.served_while_draining.store(true, SeqCst);
        }
        if level == DrainLevel::Forced {
            self.forced.store(true, SeqCst);
            let _held = self.fd_lock.lock();
            let fd = self.fd.load(SeqCst);
            if fd >= 0 {
                sys::shutdown_raw(fd, std::net::Shutdown::Both);
            }
        } else if self.waiting.load(SeqCst) && self.idle_may_close() {
            let _held = self.fd_lock.lock();
            self.nudge_locked();
        }
    }

    /// Ends this one connection as a drain's deadline would (its errors are the server's, not
    /// the handler's): both directions of its socket are shut down. For a loop that stops.
    pub(crate) fn force_end(&self) {
        self.forced.store(true, SeqCst);
        let _held = self.fd_lock.lock();
        let fd = self.fd.load(SeqCst);
        if fd >= 0 {
            sys::shutdown_raw(fd, std::net::Shutdown::Both);
        }
    }

    /// [`advance`](Self::advance) for a signal handler in a forked child: no lock, no
    /// allocation, only atomics and `shutdown(2)`.
    pub(crate) fn advance_from_signal(&self, level: DrainLevel) {
        self.progress.raise(level);
        if self.busy.load(SeqCst) > 0 {
            self.served_while_draining.store(true, SeqCst);
        }
        if self.waiting.load(SeqCst) && self.idle_may_close() {
            self.nudge_locked();
        }
    }

    fn nudge_locked(&self) {
        let fd = self.fd.load(SeqCst);
        if fd >= 0 {
            self.idle_closed.store(true, SeqCst);
            sys::shutdown_raw(fd, std::net::Shutdown::Read);
        }
    }
}

/// A forked child's drain signals act on its one connection.
impl sys::ChildDrain for Liveness {
    fn drain_signalled(&self) -> bool {
        let begins = self.level() == DrainLevel::Serving;
        self.advance_from_signal(DrainLevel::Draining);
        begins
    }

    fn grace_over(&self) {
        self.advance_from_signal(DrainLevel::GraceOver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_connection_is_idle_only_after_the_grace() {
        let liveness = Liveness::new(DrainProgress::new());
        assert!(!liveness.enter_wait());
        liveness.leave_wait();
        liveness.advance(DrainLevel::Draining);
        assert!(!liveness.enter_wait(), "not spoken yet: within the grace");
        liveness.leave_wait();
        liveness.advance(DrainLevel::GraceOver);
        assert!(liveness.enter_wait());
        assert!(liveness.closed_as_idle());
    }

    #[test]
    fn a_busy_span_keeps_a_connection_from_being_idle() {
        let progress = DrainProgress::new();
        progress.raise(DrainLevel::GraceOver);
        let liveness = Liveness::new(progress);
        liveness.note_spoken();
        liveness.busy_started();
        assert!(!liveness.enter_wait());
        liveness.busy_ended();
        assert!(liveness.enter_wait());
    }
}
