//! [`TlsError`]: why TLS ended a connection.

use std::fmt;
use std::io;

use crate::stats::TlsFailure;

/// TLS ended a connection: the handshake failed or ran out of time, or a record did not
/// decrypt. A handler meets it inside an `io::Error` of kind `InvalidData` (`TimedOut` for the
/// handshake's deadline); [`TlsError::of`] finds it. Counted in
/// [`ServerStats::closed_tls`](crate::ServerStats::closed_tls) by its [`TlsFailure`].
///
/// # Examples
///
/// ```
/// use socketserver::{TlsError, TlsFailure};
///
/// let error = std::io::Error::other("not ours");
/// assert!(TlsError::of(&error).is_none());
/// # let _ = TlsFailure::NotTls;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    failure: TlsFailure,
    message: String,
}

impl TlsError {
    pub(crate) fn new(failure: TlsFailure, message: impl Into<String>) -> Self {
        TlsError {
            failure,
            message: message.into(),
        }
    }

    /// Which kind of failure.
    pub fn failure(&self) -> TlsFailure {
        self.failure
    }

    /// The TLS error inside `error`, if it carries one.
    pub fn of(error: &io::Error) -> Option<&TlsError> {
        error.get_ref()?.downcast_ref::<TlsError>()
    }

    /// Logs it for the connection it ended: at `debug` for a peer that closed before its
    /// first byte (port scans, health checks) or ended with an alert of its own, at `info`
    /// otherwise. Never through `handle_error`: it is the peer's failure, not the handler's.
    pub(crate) fn log(&self, conn_id: u64, peer: &dyn fmt::Debug) {
        match self.failure {
            TlsFailure::ClosedBeforeHello | TlsFailure::AlertReceived => {
                tracing::debug!(conn_id, ?peer, error = %self, "TLS failed");
            }
            _ => tracing::info!(conn_id, ?peer, error = %self, "TLS failed"),
        }
    }

    /// The handshake's absolute deadline passed.
    pub(crate) fn handshake_timed_out() -> Self {
        TlsError::new(
            TlsFailure::HandshakeTimeout,
            "the handshake was not over by its deadline",
        )
    }

    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self.failure {
            TlsFailure::HandshakeTimeout => io::ErrorKind::TimedOut,
            TlsFailure::ClosedBeforeHello => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS: {}", self.message)
    }
}

impl std::error::Error for TlsError {}
