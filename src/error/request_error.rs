//! [`RequestError`]: why one request (a connection or a datagram) ended in failure.

use std::io;

use crate::error::{TimedOut, TlsError};
use crate::stats::CloseReason;

/// Why one request ended in failure: what [`handle_error`](crate::ServerHooks::handle_error)
/// and [`Protocol::connection_lost`](crate::Protocol::connection_lost) receive. The server's
/// own failures (bind, accept, pid file…) are [`Error`](crate::Error).
///
/// # Examples
///
/// ```
/// use socketserver::{CloseReason, RequestError};
///
/// let failed = RequestError::Handler(std::io::Error::other("refused"));
/// assert_eq!(failed.to_string(), "handler failed: refused");
/// assert_eq!(failed.close_reason(), CloseReason::Error);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A handler (or a hook) returned an error, or the peer's connection failed.
    #[error("handler failed: {0}")]
    Handler(#[source] io::Error),
    /// A handler (or a hook) panicked; the panic was caught and the server went on.
    #[error("handler panicked: {message}")]
    HandlerPanicked {
        /// The panic payload, when it was a string.
        message: String,
    },
    /// One of the connection's timeouts passed and it was closed. Given to
    /// [`Protocol::connection_lost`](crate::Protocol::connection_lost) as the reason; not
    /// reported through `handle_error` (it is the server's policy at work, not a failure).
    #[error("{0}; the connection was closed")]
    TimedOut(TimedOut),
    /// A datagram was larger than the server's `max_packet_size`; it was not handed to the
    /// handler (Python silently truncates it).
    #[error("a datagram from {peer} is longer than max_packet_size ({max_packet_size} bytes) and was dropped; raise max_packet_size or have clients send less")]
    DatagramTooLarge {
        /// The server's limit.
        max_packet_size: usize,
        /// The sender.
        peer: String,
    },
    /// TLS ended the connection (its handshake, or a record later). Not reported through
    /// `handle_error` (the peer failed, not the handler; after a failed handshake the handler
    /// never had the connection): logged instead, at `debug` for a peer that closed before its
    /// first byte or ended with an alert, at `info` otherwise.
    #[error("{0}")]
    Tls(TlsError),
    /// The dispatch strategy could not start the request (e.g. no thread could be spawned).
    #[error("cannot dispatch the request: {0}; the system is out of threads or processes")]
    Dispatch(#[source] io::Error),
}

impl RequestError {
    /// A handler's error: [`TimedOut`](Self::TimedOut) when it carries one of the
    /// framework's timeouts, else [`Handler`](Self::Handler).
    pub(crate) fn from_io(error: io::Error) -> Self {
        if let Some(tls) = TlsError::of(&error) {
            return RequestError::Tls(tls.clone());
        }
        match TimedOut::of(&error) {
            Some(timed_out) => RequestError::TimedOut(timed_out),
            None => RequestError::Handler(error),
        }
    }

    /// [`from_io`](Self::from_io) for an error the caller keeps (it still returns it): a
    /// timeout is copied, any other error kept as its kind and message.
    pub(crate) fn from_io_ref(error: &io::Error) -> Self {
        if let Some(tls) = TlsError::of(error) {
            return RequestError::Tls(tls.clone());
        }
        match TimedOut::of(error) {
            Some(timed_out) => RequestError::TimedOut(timed_out),
            None => RequestError::Handler(io::Error::new(error.kind(), error.to_string())),
        }
    }

    /// Logs why an opening handshake failed: a TLS failure by its kind
    /// ([`TlsError::log`]), anything else (a reset during the handshake) at `debug`.
    pub(crate) fn log_handshake_failure(&self, conn_id: u64, peer: &dyn std::fmt::Debug) {
        match self {
            RequestError::Tls(tls) => tls.log(conn_id, peer),
            other => tracing::debug!(conn_id, ?peer, error = %other, "handshake failed"),
        }
    }

    /// Turns a caught panic payload into [`RequestError::HandlerPanicked`].
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "a panic with a non-string payload".to_owned()
        };
        RequestError::HandlerPanicked { message }
    }

    /// How the connection it ended counts in [`ServerStats`](crate::ServerStats): its
    /// timeout's reason, [`CloseReason::Panicked`], or [`CloseReason::Error`].
    pub fn close_reason(&self) -> CloseReason {
        match self {
            RequestError::TimedOut(timed_out) => timed_out.reason(),
            RequestError::HandlerPanicked { .. } => CloseReason::Panicked,
            RequestError::Tls(tls) => CloseReason::Tls(tls.failure()),
            _ => CloseReason::Error,
        }
    }
}

impl From<RequestError> for io::Error {
    /// Keeps the OS error kind where there is one, and the whole message.
    fn from(error: RequestError) -> Self {
        let kind = match &error {
            RequestError::Handler(source) | RequestError::Dispatch(source) => source.kind(),
            RequestError::HandlerPanicked { .. } => io::ErrorKind::Other,
            RequestError::TimedOut(_) => io::ErrorKind::TimedOut,
            RequestError::DatagramTooLarge { .. } => io::ErrorKind::InvalidData,
            RequestError::Tls(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}
