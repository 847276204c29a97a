//! [`BaseServer`]: the server loop and its hooks.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use selectors::{DefaultSelector, Events, Interest, Selector, Token, Waker};

use crate::dispatch::{Dispatch, Job, LoopWaker, RequestJob};
use crate::handler::{DatagramRequest, RequestHandler, StreamRequest};
use crate::hooks::{DefaultHooks, ServerHooks};
use crate::request::Request;
use crate::sys::{self, AcceptErrorClass};
use crate::transport::{TcpServer, TcpSocket, UdpSocket, UnixDatagramSocket, UnixStreamSocket};
use crate::{Error, ShutdownHandle};

const WAKER: Token = Token(0);
const LISTENER: Token = Token(1);
const STOP: Token = Token(2);
/// Requests accepted per wake-up before the loop looks at shutdown and service actions again.
const ACCEPTS_PER_WAKE: usize = 64;
/// The first pause after running out of descriptors or memory; it doubles up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A server: a transport `S` (bind, listen, accept), a dispatch strategy `M` (how requests
/// run), a handler `H` (what requests do) and hooks `K` (policy). Python's `BaseServer`, with
/// its subclasses and mix-ins as type parameters.
///
/// Use it through the named combinations: [`ThreadingTcpServer`](crate::ThreadingTcpServer),
/// [`SequentialTcpServer`](crate::SequentialTcpServer).
///
/// Methods for callers: [`serve_forever`](Self::serve_forever),
/// [`handle_request`](Self::handle_request), [`shutdown`](Self::shutdown) /
/// [`shutdown_handle`](Self::shutdown_handle), [`server_close`](Self::server_close) (also run on
/// drop), [`server_address`](Self::server_address).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use socketserver::{StreamRequest, ThreadingTcpServer};
///
/// let echo = |req: &mut StreamRequest| {
///     std::io::copy(&mut req.rfile, &mut req.wfile)?;
///     Ok(())
/// };
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", echo)?;
/// let address = server.server_address()?;
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(b"ping")?;
/// client.shutdown(std::net::Shutdown::Write)?;
/// let mut reply = Vec::new();
/// client.read_to_end(&mut reply)?;
/// assert_eq!(reply, b"ping");
///
/// handle.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BaseServer<S: TcpServer, M: Dispatch, H, K = DefaultHooks> {
    selector: DefaultSelector,
    events: Events,
    /// The listener's descriptor while it is registered with the selector.
    listener_registered: Option<RawFd>,
    activated: bool,
    timeout: Option<Duration>,
    service_interval: Option<Duration>,
    /// Set while accepting is paused because descriptors or memory ran out.
    backoff: Option<Duration>,
    next_request_id: u64,
    shutdown: ShutdownHandle,
    handler: H,
    hooks: Arc<K>,
    core: Core<S, M>,
}

/// The parts that must be closed when the server goes away, in Python's order: the socket,
/// then the strategy (which may wait for requests in flight).
struct Core<S: TcpServer, M: Dispatch> {
    socket: S,
    dispatch: M,
    closed: bool,
}

impl<S: TcpServer, M: Dispatch> Core<S, M> {
    fn close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            self.socket.server_close();
            self.dispatch.server_close();
            tracing::info!(strategy = self.dispatch.name(), "server closed");
        }
    }
}

impl<S: TcpServer, M: Dispatch> Drop for Core<S, M> {
    fn drop(&mut self) {
        self.close();
    }
}

/// What one wait of the loop found.
struct Wake {
    accept: bool,
}

/// What one accept attempt did.
#[derive(PartialEq, Eq)]
enum Accepted {
    /// A request was taken and dispatched (or rejected).
    Request,
    /// A transient error: try again.
    Retry,
    /// Nothing to take, or accepting is paused.
    Nothing,
}

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
                Self::with_bind_and_activate(address, handler, true)
            }

            /// Like [`new`](Self::new), but with `bind_and_activate` off the socket is only
            /// created, so the caller can change [its options](Self::socket_mut) and then call
            /// [`server_bind`](Self::server_bind) and [`server_activate`](Self::server_activate).
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new).
            pub fn with_bind_and_activate<A>(address: A, handler: H, bind_and_activate: bool) -> Result<Self, Error>
            where
                A: ToSocketAddrs + fmt::Debug,
            {
                let address = resolve(address)?;
                let socket = <$transport>::new(address).map_err(|source| Error::Bind {
                    address: address.to_string(),
                    source,
                })?;
                Self::from_socket(socket, handler, bind_and_activate)
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
                Self::with_bind_and_activate(path, handler, true)
            }

            /// Like [`new`](Self::new), but with `bind_and_activate` off, so the caller can
            /// change options (e.g. the file mode) and then bind and activate.
            ///
            /// # Errors
            ///
            /// As [`new`](Self::new).
            pub fn with_bind_and_activate(path: impl AsRef<Path>, handler: H, bind_and_activate: bool) -> Result<Self, Error> {
                let path = path.as_ref();
                let socket = <$transport>::new(path).map_err(|source| Error::Bind {
                    address: path.display().to_string(),
                    source,
                })?;
                Self::from_socket(socket, handler, bind_and_activate)
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
                Self::from_socket(socket, handler, true)
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

/// Construction from a transport, and the methods for callers.
impl<S, M, H> BaseServer<S, M, H, DefaultHooks>
where
    S: TcpServer,
    M: Dispatch + Default,
    H: RequestHandler<S::Request>,
{
    /// Creates a server around a transport socket, binding and activating it when
    /// `bind_and_activate` is true.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the selector or waker cannot be created; [`Error::Bind`] or
    /// [`Error::Listen`] as in [`server_bind`](Self::server_bind) and
    /// [`server_activate`](Self::server_activate). On error the socket is closed.
    pub fn from_socket(socket: S, handler: H, bind_and_activate: bool) -> Result<Self, Error> {
        let mut core = Core {
            socket,
            dispatch: M::default(),
            closed: false,
        };
        let waker = Waker::new()?;
        let stop = Waker::new()?;
        let mut selector = DefaultSelector::new()?;
        selector
            .register(waker.as_fd(), Interest::READABLE, WAKER)
            .map_err(io::Error::from)?;
        selector
            .register(stop.as_fd(), Interest::READABLE, STOP)
            .map_err(io::Error::from)?;
        let shutdown = ShutdownHandle::new(waker, stop);
        core.dispatch.attach(LoopWaker::new(shutdown.clone()));
        let mut server = BaseServer {
            selector,
            events: Events::with_capacity(16),
            listener_registered: None,
            activated: false,
            timeout: core.dispatch.default_timeout(),
            service_interval: None,
            backoff: None,
            next_request_id: 1,
            shutdown,
            handler,
            hooks: Arc::new(DefaultHooks),
            core,
        };
        if bind_and_activate {
            server.server_bind()?;
            server.server_activate()?;
        }
        Ok(server)
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
            selector: self.selector,
            events: self.events,
            listener_registered: self.listener_registered,
            activated: self.activated,
            timeout: self.timeout,
            service_interval: self.service_interval,
            backoff: self.backoff,
            next_request_id: self.next_request_id,
            shutdown: self.shutdown,
            handler: self.handler,
            hooks: Arc::new(hooks),
            core: self.core,
        }
    }

    /// Handles requests until [`shutdown`](ShutdownHandle::shutdown) is called: Python's
    /// `serve_forever`.
    ///
    /// The loop sleeps in the selector on the listening socket and a waker, so it uses no CPU
    /// while idle and stops at once on shutdown. It can be called again after it returns.
    /// A shutdown asked for before the loop started makes it return at once (once).
    ///
    /// Accept errors are classified: transient ones (`ECONNABORTED`, `EINTR`, network errors
    /// of the new connection) are retried; running out of descriptors or memory (`EMFILE`,
    /// `ENFILE`, `ENOBUFS`, `ENOMEM`) pauses accepting (10 ms, doubling up to 1 s, logged once
    /// per episode) without spinning; anything else ends the loop with [`Error::Accept`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`server_close`](Self::server_close), [`Error::NotActivated`]
    /// before [`server_activate`](Self::server_activate), [`Error::Accept`] as above,
    /// [`Error::Io`] if the selector fails.
    pub fn serve_forever(&mut self) -> Result<(), Error> {
        self.ensure_listening()?;
        let shutdown = self.shutdown.clone();
        let Some(_running) = shutdown.enter_loop() else {
            return Ok(());
        };
        let span = tracing::info_span!(
            "serve_forever",
            address = ?self.core.socket.server_address().ok(),
            strategy = self.core.dispatch.name()
        );
        let _entered = span.enter();
        tracing::info!("serving");
        let result = self.run_loop();
        match &result {
            Ok(()) => tracing::info!("stopped"),
            Err(error) => tracing::error!(%error, "stopped by an error"),
        }
        result
    }

    fn run_loop(&mut self) -> Result<(), Error> {
        loop {
            let wake = self.wait(self.loop_timeout(None))?;
            if self.shutdown.take_pending() {
                return Ok(());
            }
            if wake.accept {
                for _ in 0..ACCEPTS_PER_WAKE {
                    if !self.core.dispatch.has_capacity() || self.accept_one()? == Accepted::Nothing
                    {
                        break;
                    }
                }
            }
            self.core.dispatch.service_actions();
            self.hooks.service_actions();
        }
    }

    /// Waits for and handles at most one request: Python's `handle_request`.
    ///
    /// Waits up to [`timeout`](Self::timeout) (forever when `None`); when it passes with no
    /// request, calls [`handle_timeout`](ServerHooks::handle_timeout) and returns `Ok`.
    /// Signals do not shorten or lengthen the wait. A shutdown request does not end the wait; it
    /// stays pending for the next [`serve_forever`](Self::serve_forever).
    ///
    /// # Errors
    ///
    /// As [`serve_forever`](Self::serve_forever).
    pub fn handle_request(&mut self) -> Result<(), Error> {
        self.ensure_listening()?;
        let deadline = self.timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let remaining = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => {
                        tracing::debug!(timeout = ?self.timeout, "no request before the timeout");
                        self.hooks.handle_timeout();
                        return Ok(());
                    }
                },
            };
            let wake = self.wait(self.loop_timeout(remaining))?;
            self.core.dispatch.service_actions();
            if wake.accept
                && self.core.dispatch.has_capacity()
                && self.accept_one()? == Accepted::Request
            {
                return Ok(());
            }
        }
    }

    /// The shortest of: what the caller allows, the accept back-off, the service interval.
    fn loop_timeout(&self, limit: Option<Duration>) -> Option<Duration> {
        [limit, self.backoff, self.service_interval]
            .into_iter()
            .flatten()
            .min()
    }

    fn ensure_listening(&self) -> Result<(), Error> {
        if self.core.closed || self.core.socket.fileno().is_none() {
            Err(Error::Closed)
        } else if !self.activated {
            Err(Error::NotActivated)
        } else {
            Ok(())
        }
    }

    /// One wait in the selector.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Wake, Error> {
        self.sync_listener()?;
        self.selector.select(&mut self.events, timeout)?;
        let mut wake = Wake { accept: false };
        for event in &self.events {
            if event.token() == WAKER {
                self.shutdown.waker().drain()?;
            } else if event.token() == STOP {
                self.shutdown.stop_signalled();
            } else if event.token() == LISTENER {
                wake.accept = true;
            }
        }
        // After a back-off pause, try again without waiting for readiness.
        if self.backoff.is_some() && self.events.is_empty() {
            wake.accept = true;
        }
        Ok(wake)
    }

    /// Watches the listener only while accepting is possible; otherwise a readable listener
    /// would wake the loop again and again.
    fn sync_listener(&mut self) -> Result<(), Error> {
        let want = self.backoff.is_none() && self.core.dispatch.has_capacity();
        match (want, self.listener_registered) {
            (true, None) => {
                let fd = self.core.socket.fileno().ok_or(Error::Closed)?;
                self.selector
                    .register(fd, Interest::READABLE, LISTENER)
                    .map_err(io::Error::from)?;
                self.listener_registered = Some(fd.as_raw_fd());
            }
            (false, Some(_)) => self.unregister_listener(),
            _ => {}
        }
        Ok(())
    }

    /// Takes one request and dispatches it, classifying accept errors.
    fn accept_one(&mut self) -> Result<Accepted, Error> {
        match self.core.socket.get_request(&self.shutdown) {
            Ok(request) => {
                if let Some(pause) = self.backoff.take() {
                    tracing::info!(last_pause = ?pause, "accepting again");
                }
                self.dispatch_request(request);
                Ok(Accepted::Request)
            }
            Err(error) => match sys::classify_accept_error(&error) {
                AcceptErrorClass::WouldBlock => Ok(Accepted::Nothing),
                AcceptErrorClass::Transient => {
                    tracing::debug!(%error, "transient accept error; retrying");
                    Ok(Accepted::Retry)
                }
                AcceptErrorClass::Exhausted => {
                    let pause = match self.backoff {
                        None => {
                            tracing::warn!(%error, "out of resources: pausing accept until they free up");
                            BACKOFF_START
                        }
                        Some(pause) => (pause * 2).min(BACKOFF_MAX),
                    };
                    self.backoff = Some(pause);
                    Ok(Accepted::Nothing)
                }
                AcceptErrorClass::Fatal => Err(Error::Accept {
                    address: self.address_for_messages(),
                    source: error,
                }),
            },
        }
    }

    /// Python's `_handle_request_noblock` after `get_request`: verify, then `process_request`;
    /// every path ends the request exactly once.
    fn dispatch_request(&mut self, request: S::Request) {
        let id = self.next_request_id;
        self.next_request_id += 1;
        tracing::debug!(conn_id = id, peer = ?request.client_address(), "accepted");
        let hooks = &self.hooks;
        let verdict = panic::catch_unwind(AssertUnwindSafe(|| hooks.verify_request(&request)));
        let listener = match self.core.socket.child_closes_socket() {
            true => self.core.socket.fileno().map(|fd| fd.as_raw_fd()),
            false => None,
        };
        let job = |request| RequestJob {
            id,
            request,
            handler: self.handler.clone(),
            hooks: Arc::clone(&self.hooks),
            listener,
        };
        match verdict {
            Ok(Ok(true)) => {
                tracing::trace!(
                    conn_id = id,
                    strategy = self.core.dispatch.name(),
                    "dispatching"
                );
                self.core.dispatch.process_request(job(request));
            }
            Ok(Ok(false)) => {
                tracing::debug!(conn_id = id, "rejected by verify_request");
                request.shutdown_request();
            }
            Ok(Err(error)) => job(request).fail(Error::Handler(error)),
            Err(payload) => job(request).fail(Error::from_panic(payload)),
        }
    }
}

/// Setup, settings and accessors.
impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
{
    /// Binds the socket: Python's `server_bind`. Called by the constructor unless
    /// `bind_and_activate` was off.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] with the OS error (e.g. the port is in use).
    pub fn server_bind(&mut self) -> Result<(), Error> {
        if self.core.closed {
            return Err(Error::Closed);
        }
        self.core
            .socket
            .server_bind()
            .map_err(|source| Error::Bind {
                address: self.address_for_messages(),
                source,
            })
    }

    /// Starts listening: Python's `server_activate`. Called by the constructor after
    /// [`server_bind`](Self::server_bind) unless `bind_and_activate` was off.
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] with the OS error.
    pub fn server_activate(&mut self) -> Result<(), Error> {
        if self.core.closed {
            return Err(Error::Closed);
        }
        self.core
            .socket
            .server_activate()
            .map_err(|source| Error::Listen {
                address: self.address_for_messages(),
                source,
            })?;
        self.activated = true;
        Ok(())
    }

    /// Closes the listening socket, then lets the strategy wait for requests in flight (a
    /// threading server with `block_on_close` joins its handlers): Python's `server_close`.
    /// Runs once; later calls and the drop do nothing more.
    pub fn server_close(&mut self) {
        self.unregister_listener();
        self.core.close();
    }

    fn unregister_listener(&mut self) {
        if self.listener_registered.take().is_some() {
            if let Some(fd) = self.core.socket.fileno() {
                if let Err(error) = self.selector.unregister(fd) {
                    tracing::debug!(%error, "unregistering the listener");
                }
            }
        }
    }

    fn address_for_messages(&self) -> String {
        match self.core.socket.server_address() {
            Ok(address) => {
                let shown = format!("{address:?}");
                // std shows Unix addresses as `"/path" (pathname)`; keep the path.
                shown
                    .strip_suffix(" (pathname)")
                    .unwrap_or(&shown)
                    .trim_matches('"')
                    .to_owned()
            }
            Err(_) => "a closed socket".to_owned(),
        }
    }

    /// Stops a running [`serve_forever`](Self::serve_forever); see [`ShutdownHandle::shutdown`].
    /// Callers on other threads use [`shutdown_handle`](Self::shutdown_handle).
    pub fn shutdown(&self) {
        self.shutdown.shutdown();
    }

    /// A cloneable, `Send + Sync` handle that stops the loop from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The address the server is bound to, with the real port when port 0 was asked for.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] after [`server_close`](Self::server_close).
    pub fn server_address(&self) -> io::Result<S::Address> {
        self.core.socket.server_address()
    }

    /// The listening socket's descriptor (Python's `fileno()`); `None` once closed.
    pub fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.core.socket.fileno()
    }

    /// The transport socket (Python's `server.socket`).
    pub fn socket(&self) -> &S {
        &self.core.socket
    }

    /// The transport socket, to change its options before binding.
    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.core.socket
    }

    /// The dispatch strategy (Python's mix-in attributes).
    pub fn dispatch(&self) -> &M {
        &self.core.dispatch
    }

    /// The dispatch strategy, to change its knobs.
    pub fn dispatch_mut(&mut self) -> &mut M {
        &mut self.core.dispatch
    }

    /// The handler prototype that every request gets a clone of.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The server's hooks.
    pub fn hooks(&self) -> &K {
        &self.hooks
    }

    /// How long [`handle_request`](Self::handle_request) waits; `None` (the default, as in
    /// Python) waits forever.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Sets how long [`handle_request`](Self::handle_request) waits before calling
    /// `handle_timeout`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// The longest the loop sleeps between calls of `service_actions`; `None` (the default)
    /// means it only wakes for work.
    pub fn service_interval(&self) -> Option<Duration> {
        self.service_interval
    }

    /// Makes the loop wake at least this often to run `service_actions` (Python's loop wakes
    /// every `poll_interval`, 0.5 s, whether or not there is work; ours sleeps until there is,
    /// unless you ask for this).
    pub fn set_service_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.service_interval = interval;
        self
    }
}

impl<S, M, H, K> fmt::Debug for BaseServer<S, M, H, K>
where
    S: TcpServer + fmt::Debug,
    M: Dispatch + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaseServer")
            .field("socket", &self.core.socket)
            .field("dispatch", &self.core.dispatch)
            .field("closed", &self.core.closed)
            .field("timeout", &self.timeout)
            .field("service_interval", &self.service_interval)
            .finish_non_exhaustive()
    }
}
