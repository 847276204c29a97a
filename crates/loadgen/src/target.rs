//! Where the load goes: a [`Target`], and the [`Stream`] and [`Datagram`] sockets that reach it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A server address: TCP/UDP over IPv4 or IPv6, or a Unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `HOST:PORT` or `[IPV6]:PORT`, resolved once at start-up.
    Inet {
        /// What the user typed, for reports.
        text: String,
        /// The first address it resolved to.
        address: SocketAddr,
    },
    /// `unix:/path`: a Unix stream socket, or a Unix datagram socket in udp mode.
    Unix(PathBuf),
}

impl Target {
    /// Parses `HOST:PORT`, `[IPV6]:PORT` or `unix:/path`.
    ///
    /// # Errors
    ///
    /// A message saying which forms are accepted, or why the host did not resolve.
    pub fn parse(text: &str) -> Result<Target, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("bad --target \"unix:\": give a path, e.g. unix:/tmp/echo.sock".into());
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        let bad =
            || format!("bad --target {text:?}: expected HOST:PORT, [IPV6]:PORT or unix:/path");
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Target::Inet {
                text: text.to_owned(),
                address,
            });
        }
        // A name such as localhost:9999; a bare IPv6 address without brackets is refused here
        // because its last colon would be taken for the port's.
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || host.contains(':') || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        let address = text
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve --target {text:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("--target {text:?} resolved to no address"))?;
        Ok(Target::Inet {
            text: text.to_owned(),
            address,
        })
    }

    /// Opens a stream connection (TCP with `TCP_NODELAY`, or Unix), with read and write
    /// timeouts set to `timeout`.
    ///
    /// # Errors
    ///
    /// The OS error of `connect(2)`; `TimedOut` if a TCP connect took longer than `timeout`.
    /// A Unix connect has no timeout in std: it waits while the server's backlog is full.
    pub fn connect(&self, timeout: Duration) -> io::Result<Stream> {
        let stream = match self {
            Target::Inet { address, .. } => {
                let tcp = TcpStream::connect_timeout(address, timeout)?;
                tcp.set_nodelay(true)?;
                Stream::Tcp(tcp)
            }
            Target::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
        };
        stream.set_timeout(timeout)?;
        Ok(stream)
    }

    /// Opens a datagram socket connected to the target, with a read timeout of `timeout`.
    ///
    /// For a Unix target the socket is bound to a fresh path under the temporary directory
    /// (so the server has an address to reply to), removed when the socket is dropped.
    ///
    /// # Errors
    ///
    /// The OS error of `bind(2)` or `connect(2)`.
    pub fn datagram(&self, timeout: Duration) -> io::Result<Datagram> {
        let socket = match self {
            Target::Inet { address, .. } => {
                let local: SocketAddr = if address.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let udp = UdpSocket::bind(local)?;
                udp.connect(address)?;
                Datagram::Udp(udp)
            }
            Target::Unix(path) => {
                let own = ClientPath::fresh();
                let _ = std::fs::remove_file(&own.0);
                let unix = UnixDatagram::bind(&own.0)?;
                unix.connect(path)?;
                Datagram::Unix {
                    socket: unix,
                    _path: own,
                }
            }
        };
        socket.set_read_timeout(Some(timeout))?;
        Ok(socket)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Inet { text, .. } => f.write_str(text),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A connected stream socket.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix stream.
    Unix(UnixStream),
}

impl Stream {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))
            }
            Stream::Unix(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))
            }
        }
    }

    /// Sets how long a read may wait.
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    /// Half-closes the connection: the server reads EOF.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connected datagram socket.
#[derive(Debug)]
pub enum Datagram {
    /// UDP.
    Udp(UdpSocket),
    /// Unix datagram.
    Unix {
        /// The socket.
        socket: UnixDatagram,
        /// The client path it is bound to, removed when this is dropped (after the socket).
        _path: ClientPath,
    },
}

impl Datagram {
    /// Sends one datagram to the target.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Datagram::Udp(s) => s.send(buf),
            Datagram::Unix { socket: s, .. } => s.send(buf),
        }
    }

    /// Receives one datagram, waiting at most the read timeout.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Datagram::Udp(s) => s.recv(buf),
            Datagram::Unix { socket: s, .. } => s.recv(buf),
        }
    }

    /// Sets how long [`recv`](Self::recv) waits.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Datagram::Udp(s) => s.set_read_timeout(timeout),
            Datagram::Unix { socket: s, .. } => s.set_read_timeout(timeout),
        }
    }
}

/// A Unix datagram client's own socket path, removed on drop.
#[derive(Debug)]
pub struct ClientPath(PathBuf);

impl ClientPath {
    /// A path unique to this process and call: `$TMPDIR/loadgen-<pid>-<n>.sock`.
    fn fresh() -> ClientPath {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("loadgen-{}-{n}.sock", std::process::id());
        ClientPath(std::env::temp_dir().join(name))
    }
}

impl Drop for ClientPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
