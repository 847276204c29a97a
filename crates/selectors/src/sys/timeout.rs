//! Timeouts shared by the backends: a deadline taken on entry, `EINTR` retried with the time left,
//! and conversions to each system call's unit.

use std::io;
use std::time::{Duration, Instant};

use libc::c_int;

/// The longest timeout handed to `select(2)` in one call: 31 days, the minimum POSIX requires an
/// implementation to accept (macOS refuses more than 10^8 seconds).
const SELECT_MAX: Duration = Duration::from_secs(31 * 24 * 60 * 60);

/// Runs `once` (one blocking system call given the time left) until it reports a ready count
/// above zero, the deadline passes, or it fails with something other than `EINTR`.
///
/// An interrupted call, and a call that returned early with nothing ready (a timeout clamped to
/// the call's maximum), are made again with the time left until `now + timeout` taken here, so a
/// signal neither shortens nor lengthens the wait. `None` waits forever.
pub(crate) fn wait(
    timeout: Option<Duration>,
    mut once: impl FnMut(Option<Duration>) -> io::Result<usize>,
) -> io::Result<usize> {
    // A timeout too large for an `Instant` is as good as infinite: keep asking for the
    // (clamped) maximum, never give up.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut remaining = timeout;
    loop {
        match once(remaining) {
            Ok(0) => {}
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            remaining = Some(deadline - now);
        }
    }
}

/// The timeout argument of `poll(2)` and `epoll_wait(2)`: `-1` for `None`, otherwise milliseconds
/// rounded *up* (half a millisecond must not become a busy zero-timeout poll; zero stays zero),
/// clamped to `c_int::MAX`.
pub(crate) fn as_millis(timeout: Option<Duration>) -> c_int {
    match timeout {
        None => -1,
        Some(t) => c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(c_int::MAX),
    }
}

/// The timeout argument of `select(2)`: microseconds rounded up, clamped to [`SELECT_MAX`].
pub(crate) fn as_timeval(timeout: Duration) -> libc::timeval {
    let micros = timeout.min(SELECT_MAX).as_nanos().div_ceil(1_000);
    // Both parts fit: at most 31 days of seconds, and below a million microseconds.
    libc::timeval {
        tv_sec: (micros / 1_000_000) as libc::time_t,
        tv_usec: (micros % 1_000_000) as libc::suseconds_t,
    }
}

#[cfg(test)]
mod tests;
