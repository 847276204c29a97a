//! [`UnixDatagramSocket`]: the Unix datagram transport.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::Arc;

use socket2::{Domain, SockRef, Socket, Type};

use crate::activation::{InheritedSocket, SocketKind};
use crate::error::Error;
use crate::request::{DatagramRequest, RequestContext};
use crate::transport::unix_path::{
    bind_unix, inherited_address, reported_address, SocketFile, UnixAddress,
};
use crate::transport::TcpServer;

/// A bound Unix datagram socket: the transport of
/// [`UnixDatagramServer`](crate::UnixDatagramServer) and
/// [`ThreadingUnixDatagramServer`](crate::ThreadingUnixDatagramServer). Each datagram is one
/// request.
///
/// The socket file is handled as [`UnixStreamSocket`](crate::UnixStreamSocket) handles it
/// (stale files replaced, live ones refused, our own removed on close). A client that wants
/// replies must bind its own socket to a path (or an abstract name) first; replies to an
/// unnamed client fail with a clear error through `handle_error`. `max_packet_size` and
/// `deliver_truncated` work as on [`UdpSocket`](crate::UdpSocket).
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixDatagram;
/// use socketserver::{DatagramRequest, UnixDatagramServer};
///
/// # let dir = std::env::temp_dir().join(format!("socketserver-doc-ud-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let echo = |req: &mut DatagramRequest<UnixDatagram>| { req.wfile = req.packet().to_vec(); Ok(()) };
/// let mut server = UnixDatagramServer::new(dir.join("server.sock"), echo)?;
/// let client = UnixDatagram::bind(dir.join("client.sock"))?;
/// client.send_to(b"ping", dir.join("server.sock"))?;
/// server.handle_request()?;
/// let mut reply = [0; 8];
/// let n = client.recv(&mut reply)?;
/// assert_eq!(&reply[..n], b"ping");
/// # drop(server);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct UnixDatagramSocket {
    address: UnixAddress,
    socket: Option<Arc<UnixDatagram>>,
    file: Option<SocketFile>,
    mode: Option<u32>,
    max_packet_size: usize,
    deliver_truncated: bool,
}

impl UnixDatagramSocket {
    /// Serves a bound Unix datagram socket inherited from a service manager (see
    /// [`InheritedSocket`]) instead of binding one; its socket file is left in place at close.
    /// Pass it to [`BaseServer::from_inherited`](crate::BaseServer::from_inherited).
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the socket is not a Unix datagram socket.
    pub fn from_inherited(inherited: InheritedSocket) -> Result<Self, Error> {
        let fd = inherited.expect(SocketKind::UnixDatagram, "a Unix datagram socket")?;
        let socket = UnixDatagram::from(fd);
        let address = inherited_address(socket.local_addr());
        Ok(Self::with_defaults(address, socket))
    }

    /// Creates an unbound Unix datagram socket for `path`.
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)`.
    pub fn new(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::create(UnixAddress::Path(path.as_ref().to_owned()))
    }

    /// Creates an unbound Unix datagram socket for `name` in Linux's abstract namespace.
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)`.
    pub fn new_abstract(name: &[u8]) -> io::Result<Self> {
        Self::create(UnixAddress::Abstract(name.to_owned()))
    }

    fn create(address: UnixAddress) -> io::Result<Self> {
        let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        let socket = UnixDatagram::from(OwnedFd::from(socket));
        Ok(Self::with_defaults(address, socket))
    }

    /// A transport for `socket` with every option at its default.
    fn with_defaults(address: UnixAddress, socket: UnixDatagram) -> Self {
        UnixDatagramSocket {
            address,
            socket: Some(Arc::new(socket)),
            file: None,
            mode: None,
            max_packet_size: 8192,
            deliver_truncated: false,
        }
    }

    fn open(&self) -> io::Result<&Arc<UnixDatagram>> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the socket is closed"))
    }

    /// The permission bits given to the socket file after binding.
    pub fn mode(&self) -> Option<u32> {
        self.mode
    }

    /// Sets the permission bits of the socket file (e.g. `0o600`).
    pub fn set_mode(&mut self, mode: Option<u32>) -> &mut Self {
        self.mode = mode;
        self
    }

    /// The largest datagram handed to a handler. Default 8192.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Sets the largest datagram handed to a handler.
    pub fn set_max_packet_size(&mut self, size: usize) -> &mut Self {
        self.max_packet_size = size;
        self
    }

    /// Whether datagrams longer than `max_packet_size` reach the handler, cut and flagged.
    pub fn deliver_truncated(&self) -> bool {
        self.deliver_truncated
    }

    /// `true`: hand cut datagrams to the handler instead of reporting them.
    pub fn set_deliver_truncated(&mut self, deliver: bool) -> &mut Self {
        self.deliver_truncated = deliver;
        self
    }
}

impl TcpServer for UnixDatagramSocket {
    type Address = SocketAddr;
    type Request = DatagramRequest<UnixDatagram>;

    fn server_bind(&mut self) -> io::Result<()> {
        let socket = self.open()?;
        self.file = bind_unix(SockRef::from(&**socket), &self.address, self.mode, |path| {
            UnixDatagram::unbound()?.connect(path)
        })?;
        Ok(())
    }

    fn server_activate(&mut self) -> io::Result<()> {
        self.open()?.set_nonblocking(true)?;
        tracing::info!(address = %self.address, max_packet_size = self.max_packet_size, "receiving");
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
        reported_address(self.open()?.local_addr()?, &self.address)
    }

    fn display_address(&self) -> String {
        self.address.to_string()
    }

    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.socket.as_ref().map(|socket| socket.as_fd())
    }

    fn child_closes_socket(&self) -> bool {
        false
    }

    fn server_close(&mut self) {
        if self.socket.take().is_some() {
            tracing::info!(address = %self.address, "closed Unix datagram socket");
        }
        if let Some(file) = self.file.take() {
            file.remove();
        }
    }
}

impl Drop for UnixDatagramSocket {
    /// A transport dropped without `server_close` still removes its socket file.
    fn drop(&mut self) {
        self.server_close();
    }
}

impl fmt::Debug for UnixDatagramSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagramSocket")
            .field("address", &self.address)
            .field("open", &self.socket.is_some())
            .field("max_packet_size", &self.max_packet_size)
            .finish_non_exhaustive()
    }
}
