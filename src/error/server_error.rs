//! [`Error`]: what ends or stops a server (not one request: that is a
//! [`RequestError`](crate::RequestError)).

use std::io;

/// What went wrong in a server's life: its address, bind, listen, accept, pid file,
/// privileges, inherited sockets, hot restart, panic budget, or its selector. What ends one
/// request is a [`RequestError`](crate::RequestError).
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

impl From<Error> for io::Error {
    /// Keeps the OS error kind where there is one, and the whole message.
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::Io(source) => return io::Error::new(source.kind(), error),
            Error::Bind { source, .. }
            | Error::Listen { source, .. }
            | Error::Accept { source, .. } => source.kind(),
            Error::Address { .. } | Error::Inherited { .. } => io::ErrorKind::InvalidInput,
            Error::PidFile { .. } => io::ErrorKind::AlreadyExists,
            Error::Privileges { .. } => io::ErrorKind::PermissionDenied,
            Error::Restart { .. } => io::ErrorKind::Other,
            Error::Closed | Error::NotActivated => io::ErrorKind::NotConnected,
            Error::PanicBudgetExceeded { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}
