//! [`DrainReport`]: what a graceful drain did.

use std::fmt;
use std::time::Duration;

/// What a graceful drain ([`ShutdownHandle::shutdown_gracefully`](crate::ShutdownHandle::shutdown_gracefully))
/// did, counted from the server's close reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Connections closed because they were idle (at once, or after the first-byte grace).
    pub idle_closed: u64,
    /// Connections that ended by themselves during the drain: a message finished and the
    /// connection closed at its boundary, or the peer or the handler ended it.
    pub finished: u64,
    /// Connections still open at the deadline, closed then.
    pub forced: u64,
    /// Connections taken from the listen backlog after the drain began (served, not reset).
    pub from_backlog: u64,
    /// Threads or child processes of the strategy still alive when the drain returned (0
    /// unless a handler ignored the forced close, e.g. a loop that never reads or writes).
    pub still_running: usize,
    /// From the drain's request to its end.
    pub elapsed: Duration,
}

impl fmt::Display for DrainReport {
    /// One line, e.g. `drained in 0.012 s: 3 idle closed, 2 finished, 0 forced, 0 still running`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drained in {:.3} s: {} idle closed, {} finished, {} forced, {} still running",
            self.elapsed.as_secs_f64(),
            self.idle_closed,
            self.finished,
            self.forced,
            self.still_running
        )
    }
}
