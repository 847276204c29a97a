//! [`PreforkReport`]: what a pre-fork master did.

/// What [`Prefork::run`](crate::Prefork::run) did, for the application's last log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreforkReport {
    /// Worker processes started, replacements included.
    pub started: u64,
    /// Workers that ended before the master stopped (died, were killed, or recycled after
    /// `max_requests`), each replaced.
    pub replaced: u64,
    /// Workers still alive when the master returned (0: every one was reaped).
    pub still_running: usize,
}
