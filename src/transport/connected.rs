//! [`ConnectedSocket`]: a transport of one connection that another program accepted (inetd's
//! standard input, systemd's `Accept=yes`, socat's `EXEC:`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use crate::activation::{InheritedSocket, SocketKind};
use crate::error::Error;
use crate::request::{RequestContext, StreamOptions, StreamRequest, StreamSocket};
use crate::transport::TcpServer;

/// Serves one connection that another program accepted and handed to this one, then stops:
/// Perl's Net::Server "inetd personality", systemd's per-connection activation (`Accept=yes`).
/// The same handler code as for a listening server; the strategy, limits, timeouts and drain
/// apply to the one connection as to any.
///
/// Where the connection comes from: [`InheritedSocket::from_stdin`] (inetd, xinetd,
/// `systemd-socket-activate --inetd`, socat's `EXEC:`), or
/// [`InheritedSocket::take_all`] (systemd's `Accept=yes` passes the connection as descriptor
/// 3). `T` is [`TcpStream`] or [`UnixStream`], by the socket's family
/// ([`InheritedSocket::kind`]).
///
/// The first [`get_request`](TcpServer::get_request) hands out the connection; then the
/// transport is [exhausted](TcpServer::exhausted), so
/// [`serve_forever`](crate::BaseServer::serve_forever) returns once the connection has ended,
/// whatever the strategy (parked between messages, on an event loop, in a forked child).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use socketserver::{BaseServer, ConnectedSocket, Sequential, StreamRequest};
///
/// // A socket pair stands in for the connection inetd would pass on standard input.
/// let (ours, mut peer) = UnixStream::pair()?;
/// let echo = |req: &mut StreamRequest<UnixStream>| {
///     std::io::copy(&mut req.rfile, &mut req.wfile).map(drop)
/// };
/// let socket = ConnectedSocket::new(ours)?;
/// let mut server = BaseServer::<_, Sequential, _>::from_socket(socket, echo)?;
/// peer.write_all(b"hello")?;
/// peer.shutdown(std::net::Shutdown::Write)?;
/// server.serve_forever()?; // serves the one connection, then returns
/// let mut echoed = String::new();
/// peer.read_to_string(&mut echoed)?;
/// assert_eq!(echoed, "hello");
/// # Ok::<(), socketserver::Error>(())
/// ```
#[doc(alias = "inetd")]
pub struct ConnectedSocket<T: ConnectedStream> {
    connection: Option<T>,
    local: T::Address,
    peer: T::Address,
    /// Readable until the connection is taken: what the server loop waits on in place of a
    /// listening socket.
    pending: UnixStream,
    /// The other end, which wrote the one byte `pending` holds.
    _writer: UnixStream,
    options: StreamOptions,
    closed: bool,
}

/// A connected stream [`ConnectedSocket`] can serve: [`TcpStream`] or [`UnixStream`].
pub trait ConnectedStream: StreamSocket + From<OwnedFd> + sealed::Sealed {
    /// The kind of inherited socket this stream is made from.
    const KIND: SocketKind;
    /// What the error says a wrong socket should have been.
    const NEEDS: &'static str;
    /// The peer's address (`getpeername(2)`).
    ///
    /// # Errors
    ///
    /// The OS error (e.g. `NotConnected` when the peer is gone).
    fn peer(&self) -> io::Result<Self::Address>;
    /// The local address (`getsockname(2)`).
    ///
    /// # Errors
    ///
    /// The OS error.
    fn local(&self) -> io::Result<Self::Address>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::net::TcpStream {}
    impl Sealed for std::os::unix::net::UnixStream {}
}

impl ConnectedStream for TcpStream {
    const KIND: SocketKind = SocketKind::Tcp { listening: false };
    const NEEDS: &'static str = "a connected TCP socket";
    fn peer(&self) -> io::Result<Self::Address> {
        self.peer_addr()
    }
    fn local(&self) -> io::Result<Self::Address> {
        self.local_addr()
    }
}

impl ConnectedStream for UnixStream {
    const KIND: SocketKind = SocketKind::UnixStream { listening: false };
    const NEEDS: &'static str = "a connected Unix stream socket";
    fn peer(&self) -> io::Result<Self::Address> {
        self.peer_addr()
    }
    fn local(&self) -> io::Result<Self::Address> {
        self.local_addr()
    }
}

impl<T: ConnectedStream> ConnectedSocket<T> {
    /// A transport of `connection`, with the default [`StreamOptions`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the connection has no peer address (it is not connected) or the
    /// socket pair the loop waits on cannot be made.
    pub fn new(connection: T) -> Result<Self, Error> {
        // The program that passed it may have left it non-blocking; handlers expect blocking.
        socket2::SockRef::from(&connection.as_fd()).set_nonblocking(false)?;
        let local = connection.local()?;
        let peer = connection.peer()?;
        let (pending, mut writer) = UnixStream::pair()?;
        writer.write_all(&[1])?;
        Ok(ConnectedSocket {
            connection: Some(connection),
            local,
            peer,
            pending,
            _writer: writer,
            options: StreamOptions::default(),
            closed: false,
        })
    }

    /// A transport of an inherited connection ([`InheritedSocket::from_stdin`], or systemd's
    /// `Accept=yes`).
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the socket is not a connected socket of `T`'s kind (a
    /// listening socket, a pipe, another family), saying what it is.
    pub fn from_inherited(inherited: InheritedSocket) -> Result<Self, Error> {
        let fd = inherited.expect(T::KIND, T::NEEDS)?;
        Self::new(T::from(fd))
    }

    /// The options each request's socket gets (timeouts, buffer sizes, `TCP_NODELAY`).
    pub fn stream_options(&self) -> &StreamOptions {
        &self.options
    }

    /// Sets the options the connection is served with.
    pub fn set_stream_options(&mut self, options: StreamOptions) -> &mut Self {
        self.options = options;
        self
    }

    /// The peer of the connection.
    pub fn peer_address(&self) -> &T::Address {
        &self.peer
    }
}

impl<T: ConnectedStream> TcpServer for ConnectedSocket<T> {
    type Address = T::Address;
    type Request = StreamRequest<T>;

    /// Nothing to bind: the connection exists.
    fn server_bind(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Nothing to listen on.
    fn server_activate(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The connection, the first time; `WouldBlock` after.
    fn get_request(&mut self, context: &RequestContext) -> io::Result<Self::Request> {
        let Some(connection) = self.connection.take() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // No longer readable: the loop has nothing more to take.
        let _ = (&self.pending).read(&mut [0u8; 1]);
        tracing::info!(peer = ?self.peer, "serving the one connection handed over");
        Ok(StreamRequest::new(
            connection,
            self.peer.clone(),
            self.options,
            context,
        ))
    }

    /// The connection's local address.
    fn server_address(&self) -> io::Result<Self::Address> {
        if self.closed {
            return Err(io::ErrorKind::NotConnected.into());
        }
        Ok(self.local.clone())
    }

    fn display_address(&self) -> String {
        format!("the connection from {:?}", self.peer)
    }

    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        (!self.closed).then(|| self.pending.as_fd())
    }

    fn exhausted(&self) -> bool {
        self.connection.is_none()
    }

    /// Closes the connection if it was never taken.
    fn server_close(&mut self) {
        self.closed = true;
        self.connection = None;
    }
}

impl<T: ConnectedStream> fmt::Debug for ConnectedSocket<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedSocket")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("taken", &self.connection.is_none())
            .finish()
    }
}
