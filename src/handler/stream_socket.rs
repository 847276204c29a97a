//! [`StreamSocket`]: what a connected stream socket must offer, and [`SocketHalf`], one
//! direction of it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

/// A connected stream socket that a [`StreamRequest`](crate::StreamRequest) can wrap:
/// [`TcpStream`] here, `UnixStream` with the Unix transports.
///
/// The methods take `&self` so that the reading and the writing half can share one socket.
pub trait StreamSocket: AsFd + Send + Sync + 'static {
    /// The address type of the peer.
    type Address: Clone + fmt::Debug + Send + Sync + 'static;

    /// Reads into `buf` (`recv(2)`).
    ///
    /// # Errors
    ///
    /// The OS error.
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes from `buf`, possibly partly (`send(2)`).
    ///
    /// # Errors
    ///
    /// The OS error.
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;

    /// Shuts down one or both directions (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// The OS error (e.g. `NotConnected` when the peer already reset).
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// Sets `SO_RCVTIMEO` and `SO_SNDTIMEO`; `None` blocks forever.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Sets `SO_RCVTIMEO` only; `None` blocks forever.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Sets `SO_SNDTIMEO` only; `None` blocks forever.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Sets `TCP_NODELAY`; a no-op for sockets without Nagle's algorithm.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;

    /// The IP address in a peer address, for per-source limits; `None` (the default) for
    /// address families without one.
    fn peer_ip(address: &Self::Address) -> Option<std::net::IpAddr> {
        let _ = address;
        None
    }

    /// The address type's form of an IP client address carried by a PROXY header, if it has
    /// one. Default: `None`.
    #[doc(hidden)]
    fn address_from_ip(address: std::net::SocketAddr) -> Option<Self::Address> {
        let _ = address;
        None
    }
}

impl StreamSocket for TcpStream {
    type Address = std::net::SocketAddr;

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }

    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }

    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(timeout)
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, nodelay)
    }

    fn peer_ip(address: &Self::Address) -> Option<std::net::IpAddr> {
        Some(address.ip())
    }

    fn address_from_ip(address: std::net::SocketAddr) -> Option<Self::Address> {
        Some(address)
    }
}

/// One direction of a shared stream socket; the inner type of `rfile` and `wfile`.
///
/// Reading retries `EINTR`. Writing is `sendall`: [`write`](Write::write) returns only when
/// every byte was written (partial writes and `EINTR` are retried) or an error occurred, so
/// even the unbuffered `wfile` never writes short.
pub struct SocketHalf<T> {
    socket: Arc<T>,
    /// The framework's write timeout, when `SO_SNDTIMEO` carries it: an expiry then writes as
    /// a [`TimedOut`](crate::handler::TimedOut) error.
    send_timeout: Option<Duration>,
    /// The write timeout passed: the peer is not reading.
    send_timed_out: bool,
}

impl<T: StreamSocket> SocketHalf<T> {
    pub(crate) fn new(socket: Arc<T>) -> Self {
        SocketHalf {
            socket,
            send_timeout: None,
            send_timed_out: false,
        }
    }

    /// Whether a write gave up because the write timeout passed (the peer stopped reading).
    pub(crate) fn send_timed_out(&self) -> bool {
        self.send_timed_out
    }

    /// Puts the framework's write timeout in force (`SO_SNDTIMEO`).
    pub(crate) fn arm_send_timeout(&mut self, after: Duration) -> io::Result<()> {
        self.socket.set_send_timeout(Some(after))?;
        self.send_timeout = Some(after);
        Ok(())
    }

    /// The socket this half reads from or writes to.
    pub fn socket(&self) -> &T {
        &self.socket
    }
}

impl<T: StreamSocket> Read for SocketHalf<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.socket.read_some(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

impl<T: StreamSocket> Write for SocketHalf<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            match self.socket.write_some(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.send_timeout.is_some() => {
                    self.send_timed_out = true;
                    return Err(crate::handler::TimedOut {
                        reason: crate::stats::CloseReason::WriteTimeout,
                        after: self.send_timeout.unwrap_or_default(),
                    }
                    .into_io());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T> fmt::Debug for SocketHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketHalf").finish_non_exhaustive()
    }
}

impl StreamSocket for std::os::unix::net::UnixStream {
    type Address = std::os::unix::net::SocketAddr;

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, how)
    }

    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }

    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(timeout)
    }

    /// Unix sockets have no Nagle's algorithm: nothing to do.
    fn set_nodelay(&self, _nodelay: bool) -> io::Result<()> {
        Ok(())
    }
}
