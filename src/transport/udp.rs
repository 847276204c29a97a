//! [`UdpSocket`]: the UDP transport (IPv4 and IPv6).

use std::fmt;
use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::activation::{InheritedSocket, SocketKind};
use crate::error::Error;
use crate::request::{DatagramRequest, RequestContext};
use crate::sys;
use crate::transport::TcpServer;

/// A bound UDP socket: the transport of [`UdpServer`](crate::UdpServer) and
/// [`ThreadingUdpServer`](crate::ThreadingUdpServer). Each datagram is one request.
///
/// | option | default | Python's default |
/// |---|---|---|
/// | [`max_packet_size`](Self::set_max_packet_size) | 8192 | 8192 |
/// | [`deliver_truncated`](Self::set_deliver_truncated) | `false` | (always truncates silently) |
/// | [`allow_reuse_address`](Self::set_allow_reuse_address) | `false` | `False` |
/// | [`allow_reuse_port`](Self::set_allow_reuse_port) | `false` | `False` |
///
/// `allow_reuse_address` stays off for UDP, as in Python: on a datagram socket it would let a
/// second server bind the same port and take some of the datagrams.
///
/// # Examples
///
/// ```
/// use socketserver::{DatagramRequest, UdpServer};
///
/// let echo = |req: &mut DatagramRequest| { req.wfile = req.packet().to_vec(); Ok(()) };
/// let mut server = UdpServer::unbound("127.0.0.1:0", echo)?;
/// server.socket_mut().set_max_packet_size(65_507);
/// server.server_bind()?;
/// server.server_activate()?;
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct UdpSocket {
    requested: SocketAddr,
    socket: Option<Arc<net::UdpSocket>>,
    bound: Option<SocketAddr>,
    allow_reuse_address: bool,
    allow_reuse_port: bool,
    max_packet_size: usize,
    deliver_truncated: bool,
}

impl UdpSocket {
    /// Serves a bound UDP socket inherited from a service manager (see [`InheritedSocket`])
    /// instead of binding one; pass it to
    /// [`BaseServer::from_inherited`](crate::BaseServer::from_inherited).
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the socket is not a UDP socket (it says what it is).
    pub fn from_inherited(inherited: InheritedSocket) -> Result<Self, Error> {
        let fd = inherited.expect(SocketKind::Udp, "a UDP socket")?;
        let socket = net::UdpSocket::from(fd);
        let bound = socket.local_addr().ok();
        let requested = bound.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Ok(UdpSocket {
            bound,
            ..Self::with_defaults(requested, socket)
        })
    }

    /// Creates an unbound UDP socket for `address` (`socket(2)`, close-on-exec).
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)`.
    pub fn new(address: SocketAddr) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::for_address(address),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        Ok(Self::with_defaults(address, socket.into()))
    }

    /// A transport for `socket`, meant for `requested` and not bound yet, with every option
    /// at its default.
    fn with_defaults(requested: SocketAddr, socket: net::UdpSocket) -> Self {
        UdpSocket {
            requested,
            socket: Some(Arc::new(socket)),
            bound: None,
            allow_reuse_address: false,
            allow_reuse_port: false,
            max_packet_size: 8192,
            deliver_truncated: false,
        }
    }

    /// The socket shared by the server and its requests; `None` once closed.
    pub fn socket(&self) -> Option<&net::UdpSocket> {
        self.socket.as_deref()
    }

    fn open(&self) -> io::Result<&Arc<net::UdpSocket>> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the socket is closed"))
    }

    /// The largest datagram handed to a handler. Default 8192.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Sets the largest datagram handed to a handler; longer ones are reported as
    /// [`RequestError::DatagramTooLarge`](crate::RequestError::DatagramTooLarge) (or delivered cut, see
    /// [`set_deliver_truncated`](Self::set_deliver_truncated)).
    pub fn set_max_packet_size(&mut self, size: usize) -> &mut Self {
        self.max_packet_size = size;
        self
    }

    /// Whether datagrams longer than `max_packet_size` reach the handler, cut and flagged.
    pub fn deliver_truncated(&self) -> bool {
        self.deliver_truncated
    }

    /// `true`: hand cut datagrams to the handler with
    /// [`is_truncated`](crate::DatagramRequest::is_truncated) set, instead of reporting them.
    pub fn set_deliver_truncated(&mut self, deliver: bool) -> &mut Self {
        self.deliver_truncated = deliver;
        self
    }

    /// Whether `SO_REUSEADDR` is set before binding. Default `false`.
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

    /// Sets `SO_REUSEPORT` for the next bind.
    pub fn set_allow_reuse_port(&mut self, on: bool) -> &mut Self {
        self.allow_reuse_port = on;
        self
    }
}

impl TcpServer for UdpSocket {
    type Address = SocketAddr;
    type Request = DatagramRequest<net::UdpSocket>;

    fn server_bind(&mut self) -> io::Result<()> {
        let socket = SockRef::from(&**self.open()?);
        socket.set_reuse_address(self.allow_reuse_address)?;
        if self.allow_reuse_port {
            sys::set_reuse_port(&socket)?;
        }
        socket.bind(&self.requested.into())?;
        let bound = self.open()?.local_addr()?;
        tracing::info!(address = %bound, "bound");
        self.bound = Some(bound);
        Ok(())
    }

    fn server_activate(&mut self) -> io::Result<()> {
        // No listen for datagrams; non-blocking so a spurious wake-up cannot block the loop.
        self.open()?.set_nonblocking(true)?;
        tracing::info!(address = ?self.bound, max_packet_size = self.max_packet_size, "receiving");
        Ok(())
    }

    fn get_request(&mut self, context: &RequestContext) -> io::Result<Self::Request> {
        DatagramRequest::receive(
            self.open()?,
            self.max_packet_size,
            self.deliver_truncated,
            context,
        )
    }

    fn server_address(&self) -> io::Result<SocketAddr> {
        self.open()?;
        Ok(self.bound.unwrap_or(self.requested))
    }

    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.socket.as_ref().map(|socket| socket.as_fd())
    }

    fn child_closes_socket(&self) -> bool {
        false
    }

    fn server_close(&mut self) {
        // Requests in flight keep their clone of the socket until they have replied.
        if self.socket.take().is_some() {
            tracing::info!(address = ?self.bound, "closed UDP socket");
        }
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("address", &self.bound.unwrap_or(self.requested))
            .field("open", &self.socket.is_some())
            .field("max_packet_size", &self.max_packet_size)
            .field("deliver_truncated", &self.deliver_truncated)
            .finish_non_exhaustive()
    }
}
