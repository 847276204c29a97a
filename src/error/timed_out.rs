//! [`TimedOut`]: which of a connection's timeouts ended it.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::stats::CloseReason;

/// One of [`StreamOptions`](crate::StreamOptions)' timeouts passed: which one (as the
/// [`CloseReason`] the connection ends with) and after how long.
///
/// A blocking handler meets it inside an `io::Error` of kind `TimedOut` (so a handler that
/// propagates it with `?` ends the connection with the right reason; [`TimedOut::of`] finds
/// it); an event protocol in [`RequestError::TimedOut`](crate::RequestError::TimedOut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    reason: CloseReason,
    after: Duration,
    /// For a message below the minimum rate: that rate (bytes/s) and the bytes that came.
    rate: Option<(u64, u64)>,
}

impl TimedOut {
    pub(crate) fn new(reason: CloseReason, after: Duration) -> Self {
        TimedOut {
            reason,
            after,
            rate: None,
        }
    }

    /// A message that arrived at less than `bytes_per_second`: `bytes` in `after`.
    pub(crate) fn too_slow(bytes_per_second: u64, bytes: u64, after: Duration) -> Self {
        TimedOut {
            reason: CloseReason::TooSlow,
            after,
            rate: Some((bytes_per_second, bytes)),
        }
    }

    /// Which timeout: [`CloseReason::IdleTimeout`], `FirstByteTimeout`, `WriteTimeout`,
    /// `ReadTimeout` or `TooSlow`.
    pub fn reason(&self) -> CloseReason {
        self.reason
    }

    /// How long it waited (for a message: how long the message had been arriving).
    pub fn after(&self) -> Duration {
        self.after
    }

    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, self)
    }

    /// The timeout inside `error`, if it is one of the framework's.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver::TimedOut;
    ///
    /// let plain = std::io::Error::from(std::io::ErrorKind::TimedOut);
    /// assert_eq!(TimedOut::of(&plain), None);
    /// ```
    pub fn of(error: &io::Error) -> Option<TimedOut> {
        error.get_ref()?.downcast_ref::<TimedOut>().copied()
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after = self.after;
        match (self.reason, self.rate) {
            (CloseReason::FirstByteTimeout, _) => write!(
                f,
                "the peer sent nothing within {after:?} of connecting; raise StreamOptions::first_byte_timeout to wait longer"
            ),
            (CloseReason::WriteTimeout, _) => write!(
                f,
                "the peer read nothing for {after:?} while output was pending; raise StreamOptions::write_timeout to wait longer"
            ),
            (CloseReason::ReadTimeout, _) => write!(
                f,
                "a message took longer than {after:?} to arrive; raise StreamOptions::read_timeout to allow slower messages"
            ),
            (CloseReason::TooSlow, Some((bytes_per_second, bytes))) => write!(
                f,
                "a message arrived at less than {bytes_per_second} bytes/s ({bytes} bytes in {after:?}); lower StreamOptions::min_rate to allow slower peers"
            ),
            (CloseReason::TooSlow, None) => write!(
                f,
                "a message arrived too slowly, after {after:?}; lower StreamOptions::min_rate to allow slower peers"
            ),
            _ => write!(
                f,
                "the peer sent nothing for {after:?}; raise StreamOptions::idle_timeout to allow longer silences"
            ),
        }
    }
}

impl std::error::Error for TimedOut {}
