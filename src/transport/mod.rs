//! Transports: the sockets a server can own. Each implements [`TcpServer`].

mod connected;
mod tcp;
mod udp;
mod unix_datagram;
mod unix_path;
mod unix_stream;

pub use connected::{ConnectedSocket, ConnectedStream};
pub use tcp::TcpSocket;
pub use udp::UdpSocket;
pub use unix_datagram::UnixDatagramSocket;
pub use unix_stream::UnixStreamSocket;

use std::fmt::Debug;
use std::io;
use std::os::fd::BorrowedFd;

use crate::request::{Request, RequestContext};

/// The socket-owning role of a server: bind, listen, accept.
///
/// In Python, `TCPServer` owns the socket and `UDPServer`, `UnixStreamServer` and
/// `UnixDatagramServer` subclass it. Here `TCPServer` is this trait, and each socket type
/// ([`TcpSocket`], …) implements it, so every dispatch strategy works with every transport.
///
/// **Why UDP and Unix sockets implement a trait called `TcpServer`:** the name is the role
/// Python's class plays, not the protocol. Python's `TCPServer` is the base every socket server
/// inherits its `server_bind`, `server_activate`, `get_request` and `server_close` from — its
/// UDP and Unix servers are subclasses of it — so a Python user looking for that role finds it
/// under that name, and the design card keeps it. The TCP socket itself is [`TcpSocket`], and
/// Python's concrete `TCPServer` class is [`SequentialTcpServer`](crate::SequentialTcpServer).
/// [`BaseServer`](crate::BaseServer) drives it:
///
/// 1. [`server_bind`](Self::server_bind) then [`server_activate`](Self::server_activate) — once,
///    at construction (or by the caller when built without binding);
/// 2. [`get_request`](Self::get_request) — each time the loop sees the socket readable;
/// 3. [`server_close`](Self::server_close) — once, when the server closes or drops.
///
/// What happens to a request after `get_request` (its `shutdown_request` and `close_request`) is
/// the business of its [`Request`] type, because it may happen on another thread.
///
/// # Implementing a transport
///
/// A new transport supplies its request type (what handlers see), its address type, and these
/// methods; it gets the server loop, shutdown, hooks and all dispatch strategies for free.
/// Wrapping an existing transport and delegating is the way to override one step (Python's
/// "override `server_bind` in a subclass").
#[doc(alias = "TCPServer")]
pub trait TcpServer: Send + 'static {
    /// The address type of the server and of its clients.
    type Address: Clone + Debug + Send + Sync + 'static;
    /// What `get_request` produces and handlers receive.
    type Request: Request<Address = Self::Address>;

    /// Binds the socket to its address. Called by the constructor. May be overridden.
    ///
    /// # Errors
    ///
    /// The OS error of `bind(2)` (e.g. [`io::ErrorKind::AddrInUse`]).
    fn server_bind(&mut self) -> io::Result<()>;

    /// Starts listening (`listen(2)` for stream sockets; nothing for datagram sockets). Called by
    /// the constructor after [`server_bind`](Self::server_bind). May be overridden.
    ///
    /// # Errors
    ///
    /// The OS error of `listen(2)`.
    fn server_activate(&mut self) -> io::Result<()>;

    /// Takes one request from the socket without blocking (`accept(2)` for stream sockets);
    /// the request carries `context` (the server's shutdown handle), passed on unread.
    /// Called by the loop when the socket is readable.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] when there was nothing to take after all; any other
    /// OS error of `accept(2)`/`recvfrom(2)`, which the loop classifies (retry, back off, stop).
    fn get_request(&mut self, context: &RequestContext) -> io::Result<Self::Request>;

    /// The address the socket is bound to (the real port when port 0 was asked for).
    ///
    /// # Errors
    ///
    /// The OS error of `getsockname(2)`, or [`io::ErrorKind::NotConnected`] after close.
    fn server_address(&self) -> io::Result<Self::Address>;

    /// The socket's address as error messages and logs show it. Default: the `Debug` form of
    /// [`server_address`](Self::server_address).
    fn display_address(&self) -> String {
        match self.server_address() {
            Ok(address) => format!("{address:?}"),
            Err(_) => "a closed socket".to_owned(),
        }
    }

    /// The listening socket's descriptor, for the selector; `None` once closed.
    fn fileno(&self) -> Option<BorrowedFd<'_>>;

    /// Whether a forked child closes its copy of this socket before serving. `true` (the
    /// default) for listening sockets, so a long-lived child does not hold the address; datagram
    /// transports return `false`, because their requests reply through this socket.
    fn child_closes_socket(&self) -> bool {
        true
    }

    /// Whether the transport will never give another request: a
    /// [`ConnectedSocket`] whose one connection was taken. Then
    /// [`serve_forever`](crate::BaseServer::serve_forever) returns once every connection has
    /// ended. Default `false` (a listening socket always may).
    fn exhausted(&self) -> bool {
        false
    }

    /// Closes the socket. Called once by [`BaseServer::server_close`](crate::BaseServer::server_close).
    /// May be overridden (e.g. to remove a Unix socket file).
    fn server_close(&mut self);

    /// The PROXY protocol this transport requires from trusted balancers, if any (see
    /// [`ProxyPolicy`](crate::proxy_protocol::ProxyPolicy)). Default: none.
    fn proxy_policy(&self) -> Option<&crate::proxy_protocol::ProxyPolicy> {
        None
    }
}
