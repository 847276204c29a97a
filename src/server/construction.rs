//! Creating a server: from an address or a path, from a transport, and with other hooks.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::sync::Arc;

use selectors::{Interest, Waker};

use crate::activation::Notifier;
use crate::connections::Registry;
use crate::dispatch::Dispatch;
use crate::drain::DrainTarget;
use crate::error::Error;
use crate::handler::RequestHandler;
use crate::hooks::{DefaultHooks, ServerHooks};
use crate::reactor::Reactor;
use crate::request::{DatagramRequest, RequestContext, StreamRequest};
use crate::shutdown::{LoopWaker, ShutdownHandle};
use crate::transport::{TcpServer, TcpSocket, UdpSocket, UnixDatagramSocket, UnixStreamSocket};

use super::base_server::{BaseServer, ServingState, SocketAndDispatch, STOP};

/// Inherent constructors from an address for the inet transports (TCP and UDP).
macro_rules! inet_constructors {
    ($transport:ty, $request:ty, $python:literal) => {
        /// Construction from an address.
        impl<M, H> BaseServer<$transport, M, H, DefaultHooks>
        where
            M: Dispatch + Default,
            H: RequestHandler<$request>,
        {
            #[doc = concat!("Creates a server on `address` (e.g. `\"127.0.0.1:8000\"`, `\"[::1]:0\"`), binds and activates it: Python's `", $python, "(server_address, RequestHandlerClass)`.")]
            ///
            /// # Errors
            ///
            /// [`Error::Address`] when `address` does not resolve, [`Error::Bind`] when the
            /// port is in use or not allowed, [`Error::Listen`] when activation fails. A failed
            /// construction closes its socket.
            pub fn new<A>(address: A, handler: H) -> Result<Self, Error>
            where
                A: ToSocketAddrs + fmt::Debug,
            {
                Self::with_dispatch(address, handler, M::default())
            }

            /// Like [`new`](Self::new), with the dispatch strategy and its settings given here
            /// (e.g. [`ThreadPool::with_workers`](crate::ThreadPool::with_workers)).
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new).
            pub fn with_dispatch<A>(address: A, handler: H, dispatch: M) -> Result<Self, Error>
            where
                A: ToSocketAddrs + fmt::Debug,
            {
                Self::listening(Self::inet_socket(address)?, handler, dispatch)
            }

            /// The socket only, neither bound nor listening (Python's
            /// `bind_and_activate=False`): the caller changes [its options](Self::socket_mut),
            /// then calls [`server_bind`](Self::server_bind) and
            /// [`server_activate`](Self::server_activate).
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new), without the bind and listen errors.
            #[doc(alias = "bind_and_activate")]
            pub fn unbound<A>(address: A, handler: H) -> Result<Self, Error>
            where
                A: ToSocketAddrs + fmt::Debug,
            {
                Self::assemble(Self::inet_socket(address)?, handler, M::default())
            }

            fn inet_socket<A>(address: A) -> Result<$transport, Error>
            where
                A: ToSocketAddrs + fmt::Debug,
            {
                let address = resolve(address)?;
                <$transport>::new(address).map_err(|source| Error::Bind {
                    address: address.to_string(),
                    source,
                })
            }
        }
    };
}

/// Inherent constructors from a path for the Unix transports.
macro_rules! unix_constructors {
    ($transport:ty, $request:ty, $python:literal) => {
        /// Construction from a path.
        impl<M, H> BaseServer<$transport, M, H, DefaultHooks>
        where
            M: Dispatch + Default,
            H: RequestHandler<$request>,
        {
            #[doc = concat!("Creates a server on the socket file `path`, binds and activates it: Python's `", $python, "(path, RequestHandlerClass)`. A stale socket file at `path` is replaced; a live one is an error.")]
            ///
            /// # Errors
            ///
            /// [`Error::Bind`] when a server already answers at `path`, the path is too long,
            /// or its directory is missing or not writable; [`Error::Listen`] when activation
            /// fails. A failed construction closes its socket.
            pub fn new(path: impl AsRef<Path>, handler: H) -> Result<Self, Error> {
                Self::with_dispatch(path, handler, M::default())
            }

            /// Like [`new`](Self::new), with the dispatch strategy and its settings given here.
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new).
            pub fn with_dispatch(path: impl AsRef<Path>, handler: H, dispatch: M) -> Result<Self, Error> {
                Self::listening(Self::unix_socket(path.as_ref())?, handler, dispatch)
            }

            /// The socket only, neither bound nor listening (Python's
            /// `bind_and_activate=False`): the caller changes options (e.g. the file mode), then
            /// binds and activates.
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new), without the bind and listen errors.
            #[doc(alias = "bind_and_activate")]
            pub fn unbound(path: impl AsRef<Path>, handler: H) -> Result<Self, Error> {
                Self::assemble(Self::unix_socket(path.as_ref())?, handler, M::default())
            }

            fn unix_socket(path: &Path) -> Result<$transport, Error> {
                <$transport>::new(path).map_err(|source| Error::Bind {
                    address: path.display().to_string(),
                    source,
                })
            }

            /// Creates, binds and activates a server on `name` in Linux's abstract namespace
            /// (no socket file).
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new).
            ///
            /// # Platform-specific behavior
            ///
            /// Linux and Android only; elsewhere binding fails.
            pub fn new_abstract(name: &[u8], handler: H) -> Result<Self, Error> {
                let socket = <$transport>::new_abstract(name).map_err(|source| Error::Bind {
                    address: format!("@{}", String::from_utf8_lossy(name)),
                    source,
                })?;
                Self::from_socket(socket, handler)
            }
        }
    };
}

inet_constructors!(TcpSocket, StreamRequest<TcpStream>, "TCPServer");
inet_constructors!(UdpSocket, DatagramRequest<std::net::UdpSocket>, "UDPServer");
unix_constructors!(
    UnixStreamSocket,
    StreamRequest<UnixStream>,
    "UnixStreamServer"
);
unix_constructors!(
    UnixDatagramSocket,
    DatagramRequest<UnixDatagram>,
    "UnixDatagramServer"
);

/// The first address `address` resolves to.
fn resolve(address: impl ToSocketAddrs + fmt::Debug) -> Result<SocketAddr, Error> {
    let shown = format!("{address:?}").trim_matches('"').to_owned();
    let mut found = address.to_socket_addrs().map_err(|e| Error::Address {
        address: shown.clone(),
        reason: e.to_string(),
    })?;
    found.next().ok_or(Error::Address {
        address: shown,
        reason: "it resolves to no address".to_owned(),
    })
}

/// The serving loop's reactor, watching its waker and its stop descriptor (the listener and
/// PROXY connections are added as the loop goes).
pub(super) fn new_reactor<E: AsFd>(waker: &Waker, stop: &Waker) -> io::Result<Reactor<E>> {
    let mut reactor = Reactor::new(16)?;
    reactor.watch_waker(waker)?;
    reactor.watch_fixed(stop.as_fd(), Interest::READABLE, STOP)?;
    Ok(reactor)
}

/// Construction from a transport, and the methods for callers.
impl<S, M, H> BaseServer<S, M, H, DefaultHooks>
where
    S: TcpServer,
    M: Dispatch + Default,
    H: RequestHandler<S::Request>,
{
    /// Creates a server around a transport socket (a custom [`TcpServer`]), binds and
    /// activates it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the selector or waker cannot be created; [`Error::Bind`] or
    /// [`Error::Listen`] as in [`server_bind`](Self::server_bind) and
    /// [`server_activate`](Self::server_activate). On error the socket is closed.
    pub fn from_socket(socket: S, handler: H) -> Result<Self, Error> {
        Self::listening(socket, handler, M::default())
    }
}

/// The one assembly every constructor goes through.
impl<S, M, H> BaseServer<S, M, H, DefaultHooks>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    /// [`from_socket`](Self::from_socket) with the strategy and its settings given: a server
    /// around a transport built by hand (a [`TlsSocket`](crate::tls::TlsSocket), a custom
    /// [`TcpServer`]), bound and activated.
    ///
    /// # Errors
    ///
    /// As [`from_socket`](Self::from_socket).
    pub fn with_transport(socket: S, handler: H, dispatch: M) -> Result<Self, Error> {
        Self::listening(socket, handler, dispatch)
    }

    /// [`from_inherited`](Self::from_inherited) with the strategy and its settings given.
    ///
    /// # Errors
    ///
    /// As [`from_socket`](Self::from_socket).
    pub fn inherited_with(socket: S, handler: H, dispatch: M) -> Result<Self, Error> {
        let mut server = Self::assemble(socket, handler, dispatch)?;
        server.server_activate()?;
        Ok(server)
    }

    /// A server around `socket`, bound and activated.
    fn listening(socket: S, handler: H, dispatch: M) -> Result<Self, Error> {
        let mut server = Self::assemble(socket, handler, dispatch)?;
        server.server_bind()?;
        server.server_activate()?;
        Ok(server)
    }

    /// A server around `socket`, neither bound nor activated.
    fn assemble(socket: S, handler: H, dispatch: M) -> Result<Self, Error> {
        let mut parts = SocketAndDispatch {
            socket,
            dispatch,
            closed: false,
        };
        let waker = Waker::new()?;
        let stop = Waker::new()?;
        let reactor = new_reactor(&waker, &stop)?;
        let shutdown = ShutdownHandle::new(waker, stop);
        parts.dispatch.attach(LoopWaker::new(shutdown.clone()));
        let registry = Registry::new(LoopWaker::new(shutdown.clone()), shutdown.clone());
        let target: std::sync::Weak<dyn DrainTarget> = Arc::downgrade(&registry) as _;
        shutdown.attach_drain_target(target);
        Ok(BaseServer {
            serving: ServingState {
                reactor,
                listener_registered: false,
                activated: false,
                timeout: parts.dispatch.default_timeout(),
                service_interval: None,
                backoff: None,
                next_request_id: 1,
                notifier: Notifier::from_env(),
                request_budget: None,
                context: RequestContext::new(shutdown.clone()),
            },
            shutdown,
            handler,
            hooks: Arc::new(DefaultHooks),
            registry,
            parts,
        })
    }
}

/// Serving a socket inherited from a service manager.
impl<S, M, H> BaseServer<S, M, H>
where
    S: TcpServer,
    M: Dispatch + Default,
    H: RequestHandler<S::Request>,
{
    /// A server over a socket that is already bound (and, for a stream transport, listening):
    /// one a service manager passed in, made with a transport's `from_inherited` (e.g.
    /// [`TcpSocket::from_inherited`](crate::TcpSocket::from_inherited)). Nothing is bound;
    /// `server_activate` runs (a second `listen(2)` only sets the backlog).
    ///
    /// # Errors
    ///
    /// As [`from_socket`](Self::from_socket).
    pub fn from_inherited(socket: S, handler: H) -> Result<Self, Error> {
        Self::inherited_with(socket, handler, M::default())
    }
}

/// Replacing the hooks.
impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// Replaces the server's [`ServerHooks`] (Python: overriding `verify_request`,
    /// `handle_error`, `handle_timeout` or `service_actions` in a subclass).
    pub fn with_hooks<K2: ServerHooks<S::Request>>(self, hooks: K2) -> BaseServer<S, M, H, K2> {
        BaseServer {
            serving: self.serving,
            shutdown: self.shutdown,
            handler: self.handler,
            hooks: Arc::new(hooks),
            registry: self.registry,
            parts: self.parts,
        }
    }
}
