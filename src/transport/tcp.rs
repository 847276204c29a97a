//! [`TcpSocket`]: the TCP transport (IPv4 and IPv6).

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::activation::{InheritedSocket, SocketKind};
use crate::error::Error;
use crate::proxy_protocol::ProxyPolicy;
use crate::request::{RequestContext, StreamOptions, StreamRequest};
use crate::sys;
use crate::transport::TcpServer;

/// A listening TCP socket: the transport of [`ThreadingTcpServer`](crate::ThreadingTcpServer)
/// and [`SequentialTcpServer`](crate::SequentialTcpServer).
///
/// Created by the server constructors; reach it with
/// [`BaseServer::socket`](crate::BaseServer::socket) to read or change its options. Options are
/// applied by [`server_bind`](TcpServer::server_bind) and
/// [`server_activate`](TcpServer::server_activate), so change them on a server built with
/// `bind_and_activate` off (Python's `bind_and_activate=False`).
///
/// | option | default | Python's default |
/// |---|---|---|
/// | [`allow_reuse_address`](Self::set_allow_reuse_address) | `true` | `False` |
/// | [`allow_reuse_port`](Self::set_allow_reuse_port) | `false` | `False` |
/// | [`request_queue_size`](Self::set_request_queue_size) | `SOMAXCONN` | `5` |
/// | [`stream_options`](Self::set_stream_options) | see [`StreamOptions`] | the `StreamRequestHandler` class attributes |
///
/// `allow_reuse_address` is on because a restarted server should not fail for a minute while old
/// connections sit in `TIME_WAIT` (std's `TcpListener` and Python's own `HTTPServer` do the same;
/// on Linux it never lets two live servers share a port). The backlog is `SOMAXCONN` (as Python
/// 3.15 chose) because a bounded dispatch strategy relies on the kernel queue to hold the
/// connections it is not yet accepting; 5 drops them under any burst.
///
/// # Examples
///
/// ```
/// use socketserver::{StreamRequest, ThreadingTcpServer};
///
/// let handler = |_req: &mut StreamRequest| Ok(());
/// let mut server = ThreadingTcpServer::unbound("127.0.0.1:0", handler)?;
/// server.socket_mut().set_request_queue_size(16).set_allow_reuse_port(true);
/// server.server_bind()?;
/// server.server_activate()?;
/// assert_ne!(server.server_address()?.port(), 0);
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct TcpSocket {
    requested: SocketAddr,
    socket: Option<Socket>,
    bound: Option<SocketAddr>,
    allow_reuse_address: bool,
    allow_reuse_port: bool,
    request_queue_size: i32,
    stream_options: StreamOptions,
    proxy_policy: Option<ProxyPolicy>,
}

impl TcpSocket {
    /// Creates an unbound TCP socket for `address` (`socket(2)`, close-on-exec).
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)` (e.g. out of descriptors).
    pub fn new(address: SocketAddr) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::for_address(address),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        Ok(Self::with_defaults(address, socket))
    }

    /// A transport for `socket`, meant for `requested` and not bound yet, with every option
    /// at its default.
    fn with_defaults(requested: SocketAddr, socket: Socket) -> Self {
        TcpSocket {
            requested,
            socket: Some(socket),
            bound: None,
            allow_reuse_address: true,
            allow_reuse_port: false,
            request_queue_size: sys::DEFAULT_BACKLOG,
            stream_options: StreamOptions::default(),
            proxy_policy: None,
        }
    }

    /// The underlying socket, `None` once closed.
    pub fn socket(&self) -> Option<&Socket> {
        self.socket.as_ref()
    }

    fn open(&self) -> io::Result<&Socket> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the socket is closed"))
    }
}

/// Options applied at bind and listen time (`SOL_SOCKET` level and `listen(2)`).
impl TcpSocket {
    /// Serves a listening TCP socket inherited from a service manager (see
    /// [`InheritedSocket`]) instead of binding one; pass it to
    /// [`BaseServer::from_inherited`](crate::BaseServer::from_inherited).
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the socket is not a listening TCP socket (it says what it is).
    pub fn from_inherited(inherited: InheritedSocket) -> Result<Self, Error> {
        let fd = inherited.expect(
            SocketKind::Tcp { listening: true },
            "a listening TCP socket",
        )?;
        let socket = Socket::from(fd);
        let bound = socket
            .local_addr()
            .ok()
            .and_then(|address| address.as_socket());
        let requested = bound.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Ok(TcpSocket {
            bound,
            ..Self::with_defaults(requested, socket)
        })
    }

    /// The PROXY protocol required from trusted balancers, if any.
    pub fn proxy_protocol(&self) -> Option<&ProxyPolicy> {
        self.proxy_policy.as_ref()
    }

    /// Requires a PROXY protocol header (v1 or v2) from the networks of `policy` before a
    /// connection reaches anything else, and refuses connections from other networks (see
    /// [`ProxyPolicy`]). `None` (the default): no PROXY protocol.
    pub fn set_proxy_protocol(&mut self, policy: Option<ProxyPolicy>) -> &mut Self {
        self.proxy_policy = policy;
        self
    }

    /// Whether `SO_REUSEADDR` is set before binding. Default `true`.
    pub fn allow_reuse_address(&self) -> bool {
        self.allow_reuse_address
    }

    /// Sets `SO_REUSEADDR` for the next bind.
    pub fn set_allow_reuse_address(&mut self, on: bool) -> &mut Self {
        self.allow_reuse_address = on;
        self
    }

    /// Whether `SO_REUSEPORT` is set before binding. Default `false`.
    pub fn allow_reuse_port(&self) -> bool {
        self.allow_reuse_port
    }

    /// Sets `SO_REUSEPORT` for the next bind, letting several servers share a port with the
    /// kernel balancing connections between them.
    ///
    /// # Platform-specific behavior
    ///
    /// Unix only; elsewhere the bind fails with [`io::ErrorKind::Unsupported`] when this is on.
    pub fn set_allow_reuse_port(&mut self, on: bool) -> &mut Self {
        self.allow_reuse_port = on;
        self
    }

    /// The `listen(2)` backlog. Default `SOMAXCONN`.
    pub fn request_queue_size(&self) -> i32 {
        self.request_queue_size
    }

    /// Sets the `listen(2)` backlog for the next activation. The kernel caps it at
    /// `net.core.somaxconn` on Linux.
    pub fn set_request_queue_size(&mut self, backlog: i32) -> &mut Self {
        self.request_queue_size = backlog;
        self
    }

    /// The settings every accepted connection gets (buffer sizes, timeout, `TCP_NODELAY`).
    pub fn stream_options(&self) -> &StreamOptions {
        &self.stream_options
    }

    /// Sets what every connection accepted from now on gets.
    pub fn set_stream_options(&mut self, options: StreamOptions) -> &mut Self {
        self.stream_options = options;
        self
    }
}

impl TcpServer for TcpSocket {
    type Address = SocketAddr;
    type Request = StreamRequest<TcpStream>;

    fn server_bind(&mut self) -> io::Result<()> {
        let socket = self.open()?;
        socket.set_reuse_address(self.allow_reuse_address)?;
        if self.allow_reuse_port {
            sys::set_reuse_port(socket)?;
        }
        socket.bind(&self.requested.into())?;
        let bound = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("bound TCP socket has a non-inet address"))?;
        tracing::info!(address = %bound, "bound");
        self.bound = Some(bound);
        Ok(())
    }

    fn server_activate(&mut self) -> io::Result<()> {
        let socket = self.open()?;
        socket.listen(self.request_queue_size)?;
        // The loop only accepts after the selector says "readable", but another process may
        // take the connection first; non-blocking turns that race into WouldBlock.
        socket.set_nonblocking(true)?;
        tracing::info!(address = ?self.bound, backlog = self.request_queue_size, "listening");
        Ok(())
    }

    fn get_request(&mut self, context: &RequestContext) -> io::Result<Self::Request> {
        let (socket, peer) = self.open()?.accept()?;
        sys::make_accepted_blocking(socket.as_fd())?;
        let peer = peer
            .as_socket()
            .ok_or_else(|| io::Error::other("accepted TCP connection has a non-inet address"))?;
        Ok(StreamRequest::new(
            TcpStream::from(socket),
            peer,
            self.stream_options,
            context,
        ))
    }

    fn server_address(&self) -> io::Result<SocketAddr> {
        self.open()?;
        Ok(self.bound.unwrap_or(self.requested))
    }

    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.socket.as_ref().map(|socket| socket.as_fd())
    }

    fn server_close(&mut self) {
        if self.socket.take().is_some() {
            tracing::info!(address = ?self.bound, "closed listening socket");
        }
    }

    fn proxy_policy(&self) -> Option<&ProxyPolicy> {
        self.proxy_policy.as_ref()
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("address", &self.bound.unwrap_or(self.requested))
            .field("open", &self.socket.is_some())
            .field("allow_reuse_address", &self.allow_reuse_address)
            .field("allow_reuse_port", &self.allow_reuse_port)
            .field("request_queue_size", &self.request_queue_size)
            .field("stream_options", &self.stream_options)
            .finish()
    }
}
