//! Platform-specific pieces of the framework. All `cfg` switches live here.
//!
//! Every platform must provide: the default listen backlog, `SO_REUSEPORT` (or an
//! `Unsupported` error), making an accepted socket blocking, and classifying `accept(2)` errors.

use std::io;

use socket2::Socket;

/// The default `listen(2)` backlog: the platform's `SOMAXCONN`.
pub(crate) const DEFAULT_BACKLOG: i32 = libc::SOMAXCONN;

/// Sets `SO_REUSEPORT`.
#[cfg(all(unix, not(target_os = "solaris"), not(target_os = "illumos")))]
pub(crate) fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// Sets `SO_REUSEPORT`: not available here.
#[cfg(not(all(unix, not(target_os = "solaris"), not(target_os = "illumos"))))]
pub(crate) fn set_reuse_port(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not supported on this platform",
    ))
}

/// Linux's `accept4` gives a blocking socket whatever the listener is; BSDs copy `O_NONBLOCK`
/// from the listener, so clear it there.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn make_accepted_blocking(_socket: &Socket) -> io::Result<()> {
    Ok(())
}

/// Linux's `accept4` gives a blocking socket whatever the listener is; BSDs copy `O_NONBLOCK`
/// from the listener, so clear it there.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn make_accepted_blocking(socket: &Socket) -> io::Result<()> {
    socket.set_nonblocking(false)
}

/// What the loop should do about an `accept(2)` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptErrorClass {
    /// Nothing to accept after all (another process took it): wait for readiness again.
    WouldBlock,
    /// The connection died before we took it, or a signal arrived: try again at once.
    Transient,
    /// Out of descriptors or memory: stop accepting for a while, then retry.
    Exhausted,
    /// The listening socket is unusable: stop serving.
    Fatal,
}

/// Classifies an `accept(2)` error (see accept(2), "Error handling": Linux passes pending
/// network errors of the new connection through `accept`, which must be treated like EAGAIN).
pub(crate) fn classify_accept_error(error: &io::Error) -> AcceptErrorClass {
    if error.kind() == io::ErrorKind::WouldBlock {
        return AcceptErrorClass::WouldBlock;
    }
    match error.raw_os_error() {
        Some(
            libc::EINTR
            | libc::ECONNABORTED
            | libc::ECONNRESET
            | libc::EPROTO
            | libc::EPERM
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::ETIMEDOUT,
        ) => AcceptErrorClass::Transient,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(libc::ENONET) => AcceptErrorClass::Transient,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
            AcceptErrorClass::Exhausted
        }
        _ if error.kind() == io::ErrorKind::Interrupted => AcceptErrorClass::Transient,
        _ => AcceptErrorClass::Fatal,
    }
}
