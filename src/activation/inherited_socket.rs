//! [`InheritedSocket`]: a socket a service manager opened for us (`LISTEN_FDS`).

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{Domain, SockRef, Type};

use crate::error::Error;
use crate::sys;

/// A socket handed to this process by a service manager through systemd's socket-activation
/// protocol (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`; `sd_listen_fds(3)`): systemd
/// itself, `systemd-socket-activate`, or a server restarting itself.
///
/// [`take_all`](Self::take_all) takes the descriptors once per process; each transport's
/// `from_inherited` (e.g. [`TcpSocket::from_inherited`](crate::TcpSocket::from_inherited))
/// checks that the socket is one it can serve (a socket at all, of the right type and family,
/// listening for a stream transport) and says precisely what is wrong otherwise; then
/// [`BaseServer::from_inherited`](crate::BaseServer::from_inherited) serves it without binding.
///
/// The environment is parsed by the `sd-notify` crate (it checks `LISTEN_PID` against our pid,
/// sets `FD_CLOEXEC`, and pairs `LISTEN_FDNAMES` with the descriptors): a small, pure-Rust,
/// maintained implementation of exactly these protocols, where `listenfd` does not give the
/// names.
///
/// # Examples
///
/// ```no_run
/// use socketserver::{BaseServer, InheritedSocket, StreamRequest, TcpSocket, ThreadingMixIn};
///
/// let echo = |req: &mut StreamRequest| std::io::copy(&mut req.rfile, &mut req.wfile).map(drop);
/// let inherited = InheritedSocket::take_all()?.into_iter().next().expect("started by systemd");
/// let socket = TcpSocket::from_inherited(inherited)?;
/// let mut server = BaseServer::<_, ThreadingMixIn, _>::from_inherited(socket, echo)?;
/// server.serve_forever()?;
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct InheritedSocket {
    fd: OwnedFd,
    name: String,
}

/// What an inherited descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketKind {
    /// A TCP socket (IPv4 or IPv6); `listening` for a stream socket that accepts.
    Tcp {
        /// `listen(2)` was called on it.
        listening: bool,
    },
    /// A UDP socket (IPv4 or IPv6).
    Udp,
    /// A Unix stream socket.
    UnixStream {
        /// `listen(2)` was called on it.
        listening: bool,
    },
    /// A Unix datagram socket.
    UnixDatagram,
    /// A socket of another family or type.
    Other,
    /// Not a socket (a file, a pipe).
    NotASocket,
}

/// Set once the descriptors have been taken: a second call must not own them twice.
static TAKEN: AtomicBool = AtomicBool::new(false);

impl InheritedSocket {
    /// Takes the sockets passed to this process, in order (none when `LISTEN_PID` is not our
    /// pid or the variables are unset). Only the first call in a process gets them; later
    /// calls return an empty list.
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the variables are malformed (e.g. more names than
    /// descriptors).
    pub fn take_all() -> Result<Vec<InheritedSocket>, Error> {
        let found = sd_notify::listen_fds_with_names().map_err(|error| Error::Inherited {
            fd: None,
            name: String::new(),
            problem: format!("the socket-activation environment is malformed: {error}"),
        })?;
        if found.len() == 0 || TAKEN.swap(true, Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        let sockets: Vec<InheritedSocket> = found
            .map(|(raw, name)| InheritedSocket {
                fd: sys::take_inherited_fd(raw),
                name,
            })
            .collect();
        tracing::info!(
            sockets = sockets.len(),
            names = ?sockets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "inherited sockets"
        );
        Ok(sockets)
    }

    /// Takes the connection on standard input, as inetd, xinetd, `systemd-socket-activate
    /// --inetd` (`StandardInput=socket`) and socat's `EXEC:` pass it (Net::Server's inetd
    /// personality): a new descriptor for it, named `"stdin"`, serve it with
    /// [`ConnectedSocket`](crate::ConnectedSocket). Descriptors 0 and 1, and 2 when it is the
    /// same socket, are pointed at `/dev/null`, so closing the connection reaches the peer at
    /// once and nothing printed or logged goes to it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when descriptor 0 is closed or `/dev/null` cannot be opened. Whether it
    /// is a socket at all is checked by the transport that takes it.
    #[doc(alias = "inetd")]
    pub fn from_stdin() -> Result<InheritedSocket, Error> {
        let fd = sys::take_stdin_connection()?;
        tracing::info!("took the connection on standard input");
        Ok(InheritedSocket {
            fd,
            name: "stdin".to_owned(),
        })
    }

    /// The name the service manager gave it (`FileDescriptorName=`; `LISTEN_FDNAMES`), or
    /// `"unknown"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What kind of socket it is.
    pub fn kind(&self) -> SocketKind {
        let socket = SockRef::from(&self.fd);
        let (Ok(ty), Ok(address)) = (socket.r#type(), socket.local_addr()) else {
            return SocketKind::NotASocket;
        };
        let listening = socket.is_listener().unwrap_or(false);
        match (address.domain(), ty) {
            (Domain::IPV4 | Domain::IPV6, Type::STREAM) => SocketKind::Tcp { listening },
            (Domain::IPV4 | Domain::IPV6, Type::DGRAM) => SocketKind::Udp,
            (Domain::UNIX, Type::STREAM) => SocketKind::UnixStream { listening },
            (Domain::UNIX, Type::DGRAM) => SocketKind::UnixDatagram,
            _ => SocketKind::Other,
        }
    }

    /// The descriptor, if it is the `wanted` kind; otherwise an error that says what it is.
    pub(crate) fn expect(self, wanted: SocketKind, needs: &str) -> Result<OwnedFd, Error> {
        let kind = self.kind();
        if kind == wanted {
            return Ok(self.fd);
        }
        let is = match kind {
            SocketKind::Tcp { listening: true } => "a listening TCP socket",
            SocketKind::Tcp { listening: false } => "a TCP socket that is not listening",
            SocketKind::Udp => "a UDP socket",
            SocketKind::UnixStream { listening: true } => "a listening Unix stream socket",
            SocketKind::UnixStream { listening: false } => {
                "a Unix stream socket that is not listening"
            }
            SocketKind::UnixDatagram => "a Unix datagram socket",
            SocketKind::Other => "a socket of another family or type",
            SocketKind::NotASocket => "not a socket",
        };
        Err(Error::Inherited {
            fd: Some(self.fd.as_raw_fd()),
            name: self.name,
            problem: format!("it is {is}; this server needs {needs}"),
        })
    }
}

impl AsFd for InheritedSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for InheritedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InheritedSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("name", &self.name)
            .field("kind", &self.kind())
            .finish()
    }
}
