//! The crate's error type for failures that are not plain OS errors.

use std::io;

/// What went wrong in a server, a request or a handler.
///
/// OS failures keep their [`io::Error`] (with its `ErrorKind` and errno) inside a variant that
/// says which step failed, so callers can match on the step and still inspect the OS cause.
/// Every message says what to do about it.
///
/// # Examples
///
/// ```
/// use socketserver::{Error, SequentialTcpServer, StreamRequest};
///
/// let handler = |_req: &mut StreamRequest| -> std::io::Result<()> { Ok(()) };
/// let first = SequentialTcpServer::new("127.0.0.1:0", handler)?;
/// let taken = first.server_address()?;
/// match SequentialTcpServer::new(taken, handler) {
///     Err(Error::Bind { address, .. }) => assert_eq!(address, taken.to_string()),
///     other => panic!("expected a bind error, got {other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be parsed or resolved to a socket address.
    #[error("bad address {address:?}: {reason}; give HOST:PORT, e.g. 127.0.0.1:8000 or [::1]:0")]
    Address {
        /// The address as the caller gave it.
        address: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Creating the socket or binding it failed (most often: the port is in use).
    #[error("cannot bind to {address}: {source}{}", bind_hint(.source))]
    Bind {
        /// The address the server tried to bind.
        address: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `listen(2)` failed.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The bound address.
        address: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `accept(2)` failed in a way that retrying cannot fix; `serve_forever` stopped.
    #[error("accept failed on {address}: {source}; the listening socket is unusable: close the server and create a new one")]
    Accept {
        /// The listening address.
        address: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The server was closed by [`server_close`](crate::BaseServer::server_close).
    #[error("the server is closed; create a new server to serve again")]
    Closed,
    /// The server was created without binding and has not been bound and activated yet.
    #[error("the server is not listening; call server_bind() and server_activate() first")]
    NotActivated,
    /// A handler (or a hook) returned an error.
    #[error("handler failed: {0}")]
    Handler(#[source] io::Error),
    /// A handler (or a hook) panicked; the panic was caught and the server went on.
    #[error("handler panicked: {message}")]
    HandlerPanicked {
        /// The panic payload, when it was a string.
        message: String,
    },
    /// A datagram was larger than the server's `max_packet_size`; it was not handed to the
    /// handler (Python silently truncates it).
    #[error("a datagram from {peer} is longer than max_packet_size ({max_packet_size} bytes) and was dropped; raise max_packet_size or have clients send less")]
    DatagramTooLarge {
        /// The server's limit.
        max_packet_size: usize,
        /// The sender.
        peer: String,
    },
    /// The dispatch strategy could not start the request (e.g. no thread could be spawned).
    #[error("cannot dispatch the request: {0}; the system is out of threads or processes")]
    Dispatch(#[source] io::Error),
    /// A connection waiting for input sent nothing for its
    /// [`idle_timeout`](crate::StreamOptions::idle_timeout) and was closed. Given to
    /// [`Protocol::connection_lost`](crate::Protocol::connection_lost) as the reason; not
    /// reported through `handle_error` (it is the server's policy at work, not a failure).
    #[error("the peer sent nothing for {after:?} and the connection was closed; raise StreamOptions::idle_timeout to allow longer silences")]
    IdleTimeout {
        /// The timeout that passed.
        after: std::time::Duration,
    },
    /// A new connection sent nothing within its
    /// [`first_byte_timeout`](crate::StreamOptions::first_byte_timeout) and was closed (a reason
    /// for `connection_lost`, like [`IdleTimeout`](Self::IdleTimeout)).
    #[error("the peer sent nothing within {after:?} of connecting and the connection was closed; raise StreamOptions::first_byte_timeout to wait longer")]
    FirstByteTimeout {
        /// The timeout that passed.
        after: std::time::Duration,
    },
    /// The peer read nothing for the
    /// [`write_timeout`](crate::StreamOptions::write_timeout) while output was pending, and the
    /// connection was closed (a reason for `connection_lost`).
    #[error("the peer read nothing for {after:?} while output was pending and the connection was closed; raise StreamOptions::write_timeout to wait longer")]
    WriteTimeout {
        /// The timeout that passed.
        after: std::time::Duration,
    },
    /// The pid file cannot be used: a live process owns it, or it cannot be written.
    #[error("pid file {}: {problem}", .path.display())]
    PidFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A hot restart could not hand over (see [`start_successor`](crate::start_successor)); the
    /// running server goes on.
    #[error("hot restart failed: {problem}")]
    Restart {
        /// What went wrong.
        problem: String,
    },
    /// Privileges could not be dropped (see [`Privileges`](crate::Privileges)).
    #[error("cannot drop privileges: {problem}")]
    Privileges {
        /// What went wrong.
        problem: String,
    },
    /// A socket inherited from a service manager cannot be served (see
    /// [`InheritedSocket`](crate::InheritedSocket)).
    #[error("inherited socket{} ({name:?}): {problem}", .fd.map(|fd| format!(" on descriptor {fd}")).unwrap_or_default())]
    Inherited {
        /// The descriptor, when one is at fault.
        fd: Option<i32>,
        /// Its name from `LISTEN_FDNAMES`.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A message in flight (a [`BusySpan`](crate::BusySpan), or an event protocol's
    /// `set_busy(true)`) did not finish arriving within its
    /// [`read_timeout`](crate::StreamOptions::read_timeout), and the connection was closed (a
    /// reason for `connection_lost`).
    #[error("a message took longer than {after:?} to arrive and the connection was closed; raise StreamOptions::read_timeout to allow slower messages")]
    ReadTimeout {
        /// The timeout that passed.
        after: std::time::Duration,
    },
    /// A message in flight arrived slower than the
    /// [`min_rate`](crate::StreamOptions::min_rate) allows, and the connection was closed (a
    /// reason for `connection_lost`).
    #[error("a message arrived at less than {bytes_per_second} bytes/s ({bytes} bytes in {after:?}) and the connection was closed; lower StreamOptions::min_rate to allow slower peers")]
    TooSlow {
        /// The minimum rate.
        bytes_per_second: u64,
        /// The bytes of the message received.
        bytes: u64,
        /// How long the message had been arriving.
        after: std::time::Duration,
    },
    /// More handlers panicked within the window than
    /// [`PanicPolicy::Budget`](crate::PanicPolicy::Budget) allows: `serve_forever` stopped so
    /// that a supervisor can restart a process whose state may be inconsistent.
    #[error("more than {panics} handler panics within {window:?}: the server stopped (PanicPolicy::Budget); restart it, and look at the panics logged through handle_error")]
    PanicBudgetExceeded {
        /// The panics the budget allows within `window`.
        panics: u32,
        /// The budget's window.
        window: std::time::Duration,
    },
    /// Any other OS error, e.g. from the selector that the loop waits in.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What to do about a failed bind, by its cause.
fn bind_hint(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::AddrInUse => "; is another server using it? choose another port (port 0 picks any free one) or path",
        io::ErrorKind::NotFound => "; does the directory exist?",
        io::ErrorKind::PermissionDenied => {
            "; may this user bind there? (ports below 1024 need privileges, socket files a writable directory)"
        }
        io::ErrorKind::AddrNotAvailable => "; is that address one of this machine's?",
        _ => "",
    }
}

impl Error {
    /// Turns a caught panic payload into [`Error::HandlerPanicked`].
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "a panic with a non-string payload".to_owned()
        };
        Error::HandlerPanicked { message }
    }
}

impl From<Error> for io::Error {
    /// Keeps the OS error kind where there is one, and the whole message.
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::Io(source) => return io::Error::new(source.kind(), error),
            Error::Bind { source, .. }
            | Error::Listen { source, .. }
            | Error::Accept { source, .. }
            | Error::Handler(source)
            | Error::Dispatch(source) => source.kind(),
            Error::Address { .. } | Error::Inherited { .. } => io::ErrorKind::InvalidInput,
            Error::PidFile { .. } => io::ErrorKind::AlreadyExists,
            Error::Privileges { .. } => io::ErrorKind::PermissionDenied,
            Error::Restart { .. } => io::ErrorKind::Other,
            Error::Closed | Error::NotActivated => io::ErrorKind::NotConnected,
            Error::HandlerPanicked { .. } | Error::PanicBudgetExceeded { .. } => {
                io::ErrorKind::Other
            }
            Error::DatagramTooLarge { .. } => io::ErrorKind::InvalidData,
            Error::IdleTimeout { .. }
            | Error::FirstByteTimeout { .. }
            | Error::WriteTimeout { .. }
            | Error::ReadTimeout { .. }
            | Error::TooSlow { .. } => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, error)
    }
}
