//! [`UnixStreamSocket`]: the Unix stream transport.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::Path;

use socket2::{Domain, SockRef, Socket, Type};

use crate::activation::{InheritedSocket, SocketKind};
use crate::error::Error;
use crate::request::{RequestContext, StreamOptions, StreamRequest};
use crate::sys;
use crate::transport::unix_path::{
    bind_unix, inherited_address, reported_address, SocketFile, UnixAddress,
};
use crate::transport::TcpServer;

/// A listening Unix stream socket: the transport of
/// [`UnixStreamServer`](crate::UnixStreamServer) and
/// [`ThreadingUnixStreamServer`](crate::ThreadingUnixStreamServer).
///
/// The socket file is handled safely (Python handles it not at all):
///
/// * an existing file where no server answers (left by a crash) is replaced;
/// * a file where a live server answers is an "address in use" error, and that server is left
///   alone; so is a path that is not a socket;
/// * the file is removed when the server closes, but only if it is still the file this server
///   created (same device and inode);
/// * [`set_mode`](Self::set_mode) sets its permission bits (default: as the umask allows).
///
/// Handlers get each client's [`peer_credentials`](crate::StreamRequest::peer_credentials).
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use socketserver::{StreamRequest, UnixStreamServer};
///
/// # let dir = std::env::temp_dir().join(format!("socketserver-doc-us-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("app.sock");
/// let hello = |req: &mut StreamRequest<UnixStream>| std::io::Write::write_all(&mut req.wfile, b"hello");
/// let mut server = UnixStreamServer::unbound(&path, hello)?;
/// server.socket_mut().set_mode(Some(0o600));
/// server.server_bind()?;
/// server.server_activate()?;
/// assert_eq!(server.server_address()?.as_pathname(), Some(path.as_path()));
/// drop(server);
/// assert!(!path.exists(), "the socket file is removed on close");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Platform-specific behavior
///
/// [`new_abstract`](Self::new_abstract) (Linux and Android) binds in the abstract namespace:
/// no file, nothing to clean up, gone with the socket.
pub struct UnixStreamSocket {
    address: UnixAddress,
    listener: Option<UnixListener>,
    file: Option<SocketFile>,
    mode: Option<u32>,
    request_queue_size: i32,
    stream_options: StreamOptions,
}

impl UnixStreamSocket {
    /// Serves a listening Unix stream socket inherited from a service manager (see
    /// [`InheritedSocket`]) instead of binding one; its socket file belongs to the manager and
    /// is left in place at close. Pass it to
    /// [`BaseServer::from_inherited`](crate::BaseServer::from_inherited).
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the socket is not a listening Unix stream socket.
    pub fn from_inherited(inherited: InheritedSocket) -> Result<Self, Error> {
        let fd = inherited.expect(
            SocketKind::UnixStream { listening: true },
            "a listening Unix stream socket",
        )?;
        let listener = UnixListener::from(fd);
        let address = inherited_address(listener.local_addr());
        Ok(Self::with_defaults(address, listener))
    }

    /// Creates an unbound Unix stream socket for `path`.
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)`.
    pub fn new(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::create(UnixAddress::Path(path.as_ref().to_owned()))
    }

    /// Creates an unbound Unix stream socket for `name` in Linux's abstract namespace.
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)`.
    pub fn new_abstract(name: &[u8]) -> io::Result<Self> {
        Self::create(UnixAddress::Abstract(name.to_owned()))
    }

    fn create(address: UnixAddress) -> io::Result<Self> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        let listener = UnixListener::from(OwnedFd::from(socket));
        Ok(Self::with_defaults(address, listener))
    }

    /// A transport for `listener` with every option at its default.
    fn with_defaults(address: UnixAddress, listener: UnixListener) -> Self {
        UnixStreamSocket {
            address,
            listener: Some(listener),
            file: None,
            mode: None,
            request_queue_size: sys::DEFAULT_BACKLOG,
            stream_options: StreamOptions::default(),
        }
    }

    fn open(&self) -> io::Result<&UnixListener> {
        self.listener
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the socket is closed"))
    }

    /// The permission bits given to the socket file after binding; `None` leaves the umask's.
    pub fn mode(&self) -> Option<u32> {
        self.mode
    }

    /// Sets the permission bits of the socket file (e.g. `0o600`: only this user may connect).
    pub fn set_mode(&mut self, mode: Option<u32>) -> &mut Self {
        self.mode = mode;
        self
    }

    /// The `listen(2)` backlog. Default `SOMAXCONN`.
    pub fn request_queue_size(&self) -> i32 {
        self.request_queue_size
    }

    /// Sets the `listen(2)` backlog for the next activation.
    pub fn set_request_queue_size(&mut self, backlog: i32) -> &mut Self {
        self.request_queue_size = backlog;
        self
    }

    /// The settings every accepted connection gets (`disable_nagle_algorithm` does not apply).
    pub fn stream_options(&self) -> &StreamOptions {
        &self.stream_options
    }

    /// Sets what every connection accepted from now on gets.
    pub fn set_stream_options(&mut self, options: StreamOptions) -> &mut Self {
        self.stream_options = options;
        self
    }
}

impl TcpServer for UnixStreamSocket {
    type Address = SocketAddr;
    type Request = StreamRequest<UnixStream>;

    fn server_bind(&mut self) -> io::Result<()> {
        let listener = self.open()?;
        self.file = bind_unix(SockRef::from(listener), &self.address, self.mode, |path| {
            UnixStream::connect(path).map(drop)
        })?;
        Ok(())
    }

    fn server_activate(&mut self) -> io::Result<()> {
        let listener = self.open()?;
        SockRef::from(listener).listen(self.request_queue_size)?;
        listener.set_nonblocking(true)?;
        tracing::info!(address = %self.address, backlog = self.request_queue_size, "listening");
        Ok(())
    }

    fn get_request(&mut self, context: &RequestContext) -> io::Result<Self::Request> {
        let (stream, peer) = self.open()?.accept()?;
        sys::make_accepted_blocking(stream.as_fd())?;
        Ok(StreamRequest::new(
            stream,
            peer,
            self.stream_options,
            context,
        ))
    }

    fn server_address(&self) -> io::Result<SocketAddr> {
        reported_address(self.open()?.local_addr()?, &self.address)
    }

    fn display_address(&self) -> String {
        self.address.to_string()
    }

    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.listener.as_ref().map(|listener| listener.as_fd())
    }

    fn server_close(&mut self) {
        if self.listener.take().is_some() {
            tracing::info!(address = %self.address, "closed listening socket");
        }
        if let Some(file) = self.file.take() {
            file.remove();
        }
    }
}

impl Drop for UnixStreamSocket {
    /// A transport dropped without `server_close` still removes its socket file.
    fn drop(&mut self) {
        self.server_close();
    }
}

impl fmt::Debug for UnixStreamSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStreamSocket")
            .field("address", &self.address)
            .field("open", &self.listener.is_some())
            .field("mode", &self.mode)
            .field("request_queue_size", &self.request_queue_size)
            .finish_non_exhaustive()
    }
}
