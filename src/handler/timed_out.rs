//! [`TimedOut`]: the error a blocking read or write gets when one of the connection's timeouts
//! passes, carrying which one.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::stats::CloseReason;

/// One of [`StreamOptions`](crate::StreamOptions)' timeouts passed. Carried inside an
/// `io::Error` of kind `TimedOut`, so a handler that propagates it with `?` ends the
/// connection with the right [`CloseReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedOut {
    pub(crate) reason: CloseReason,
    pub(crate) after: Duration,
}

impl TimedOut {
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, self)
    }

    /// The timeout inside `error`, if it is one of ours.
    pub(crate) fn of(error: &io::Error) -> Option<TimedOut> {
        error.get_ref()?.downcast_ref::<TimedOut>().copied()
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after = self.after;
        match self.reason {
            CloseReason::FirstByteTimeout => {
                write!(f, "no first byte within {after:?} (StreamOptions::first_byte_timeout)")
            }
            CloseReason::WriteTimeout => write!(
                f,
                "the peer read nothing for {after:?} while output was pending (StreamOptions::write_timeout)"
            ),
            CloseReason::ReadTimeout => write!(
                f,
                "a message took longer than {after:?} to arrive (StreamOptions::read_timeout)"
            ),
            CloseReason::TooSlow => write!(
                f,
                "a message arrived too slowly, after {after:?} (StreamOptions::min_rate)"
            ),
            _ => write!(f, "no input for {after:?} (StreamOptions::idle_timeout)"),
        }
    }
}

impl std::error::Error for TimedOut {}
