//! [`BaseServer`]: the type, its parts, and its settings and accessors.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::activation::Notifier;
use crate::connections::{PanicPolicy, Registry, StatsHandle};
use crate::dispatch::Dispatch;
use crate::drain::{DrainOptions, DrainReport};
use crate::hooks::DefaultHooks;
use crate::limits::Limits;
use crate::reactor::Reactor;
use crate::request::RequestContext;
use crate::stats::ServerStats;
use crate::transport::TcpServer;

use super::construction::new_reactor;
use super::proxy_stage::PendingProxy;
use crate::error::Error;
use crate::shutdown::ShutdownHandle;

/// The serving loop's own descriptors in its reactor (the waker is the reactor's own token).
pub(super) const LISTENER: usize = 1;
pub(super) const STOP: usize = 2;

/// A server: a transport `S` (bind, listen, accept), a dispatch strategy `M` (how requests
/// run), a handler `H` (what requests do) and hooks `K` (policy). Python's `BaseServer`, with
/// its subclasses and mix-ins as type parameters.
///
/// Use it through the named combinations: [`ThreadingTcpServer`](crate::ThreadingTcpServer),
/// [`SequentialTcpServer`](crate::SequentialTcpServer).
///
/// Methods for callers: [`serve_forever`](Self::serve_forever),
/// [`handle_request`](Self::handle_request), [`shutdown_handle`](Self::shutdown_handle)`.shutdown()`,
/// [`server_close`](Self::server_close) (also run on
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
    /// The serving loop's own state and settings.
    pub(super) serving: ServingState<S::Request>,
    pub(super) shutdown: ShutdownHandle,
    pub(super) handler: H,
    pub(super) hooks: Arc<K>,
    pub(super) registry: Arc<Registry>,
    pub(super) parts: SocketAndDispatch<S, M>,
}

/// What the serving loop keeps between its turns, and its settings.
pub(super) struct ServingState<R> {
    /// The serving loop's waits: its waker, stop descriptor and listener, and the connections
    /// waiting for their PROXY protocol header (entries, with their deadlines).
    pub(super) reactor: Reactor<PendingProxy<R>>,
    /// Whether the listener is registered with the selector.
    pub(super) listener_registered: bool,
    pub(super) activated: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) service_interval: Option<Duration>,
    /// Set while accepting is paused because descriptors or memory ran out.
    pub(super) backoff: Option<Duration>,
    pub(super) next_request_id: u64,
    /// Readiness, stopping and watchdog notices to a service manager (`NOTIFY_SOCKET`).
    pub(super) notifier: Notifier,
    /// Connections this server may still take before it drains itself (a recycled pre-fork
    /// worker), and the drain's timeout.
    pub(super) request_budget: Option<(u64, Duration)>,
    /// What every accepted request is given (the shutdown handle).
    pub(super) context: RequestContext,
}

/// The parts that must be closed when the server goes away, in Python's order: the socket,
/// then the strategy (which may wait for requests in flight).
pub(super) struct SocketAndDispatch<S: TcpServer, M: Dispatch> {
    pub(super) socket: S,
    pub(super) dispatch: M,
    pub(super) closed: bool,
}

impl<S: TcpServer, M: Dispatch> SocketAndDispatch<S, M> {
    pub(super) fn close(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            self.socket.server_close();
            self.dispatch.server_close();
            tracing::info!(strategy = self.dispatch.name(), "server closed");
        }
    }
}

impl<S: TcpServer, M: Dispatch> Drop for SocketAndDispatch<S, M> {
    fn drop(&mut self) {
        self.close();
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
        if self.parts.closed {
            return Err(Error::Closed);
        }
        self.parts
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
        if self.parts.closed {
            return Err(Error::Closed);
        }
        self.parts
            .socket
            .server_activate()
            .map_err(|source| Error::Listen {
                address: self.address_for_messages(),
                source,
            })?;
        self.serving.activated = true;
        Ok(())
    }

    /// Closes the listening socket, then lets the strategy wait for requests in flight (a
    /// threading server with `block_on_close` joins its handlers): Python's `server_close`.
    /// Runs once; later calls and the drop do nothing more.
    pub fn server_close(&mut self) {
        self.unregister_listener();
        self.parts.close();
    }

    pub(super) fn unregister_listener(&mut self) {
        if std::mem::take(&mut self.serving.listener_registered) {
            if let Some(fd) = self.parts.socket.fileno() {
                if let Err(error) = self.serving.reactor.unwatch_fixed(fd) {
                    tracing::debug!(%error, "unregistering the listener");
                }
            }
        }
    }

    pub(super) fn address_for_messages(&self) -> String {
        self.parts.socket.display_address()
    }

    /// A cloneable, `Send + Sync` handle that stops the loop from any thread: Python's
    /// `server.shutdown()` is `server.shutdown_handle().shutdown()` (the loop borrows the
    /// server while it runs, so the handle is what another thread holds).
    #[doc(alias = "shutdown")]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The address the server is bound to, with the real port when port 0 was asked for.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] after [`server_close`](Self::server_close).
    pub fn server_address(&self) -> io::Result<S::Address> {
        self.parts.socket.server_address()
    }

    /// The listening socket's descriptor (Python's `fileno()`); `None` once closed.
    pub fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.parts.socket.fileno()
    }

    /// The transport socket (Python's `server.socket`).
    pub fn socket(&self) -> &S {
        &self.parts.socket
    }

    /// The transport socket, to change its options before binding.
    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.parts.socket
    }

    /// The dispatch strategy (Python's mix-in attributes).
    pub fn dispatch(&self) -> &M {
        &self.parts.dispatch
    }

    /// The dispatch strategy, to change its knobs.
    pub fn dispatch_mut(&mut self) -> &mut M {
        &mut self.parts.dispatch
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
        self.serving.timeout
    }

    /// Sets how long [`handle_request`](Self::handle_request) waits before calling
    /// `handle_timeout`.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.serving.timeout = timeout;
        self
    }

    /// The longest the loop sleeps between calls of `service_actions`; `None` (the default)
    /// means it only wakes for work.
    pub fn service_interval(&self) -> Option<Duration> {
        self.serving.service_interval
    }

    /// The bounds on connections (see [`Limits`]).
    pub fn limits(&self) -> Limits {
        self.registry.limits()
    }

    /// Sets the bounds on connections; takes effect for the next connection accepted (and a
    /// raised bound wakes a loop that waits for a slot).
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.registry.set_limits(limits);
        self
    }

    /// What the server does when a handler panics (see [`PanicPolicy`]).
    pub fn panic_policy(&self) -> PanicPolicy {
        self.registry.panic_policy()
    }

    /// Sets what the server does when a handler panics. Default [`PanicPolicy::Isolate`].
    pub fn set_panic_policy(&mut self, policy: PanicPolicy) -> &mut Self {
        self.registry.set_panic_policy(policy);
        self
    }

    /// How the server's graceful drains treat connections that have not spoken yet (see
    /// [`DrainOptions`]).
    pub fn drain_options(&self) -> DrainOptions {
        self.shutdown.drain_options()
    }

    /// Sets how the server's graceful drains treat connections that have not spoken yet.
    pub fn set_drain_options(&mut self, options: DrainOptions) -> &mut Self {
        self.shutdown.set_drain_options(options);
        self
    }

    /// The report of the server's last graceful drain (after `serve_forever` returned from
    /// one), if any.
    pub fn last_drain_report(&self) -> Option<DrainReport> {
        self.shutdown.last_drain_report()
    }

    /// In a forked pre-fork worker: a selector and wake-up descriptors of its own. After
    /// `fork` they are the very kernel objects the master and the other workers use (an epoll
    /// instance, eventfds): one worker's registrations and stop requests would reach them all.
    pub(crate) fn renew_after_fork(&mut self) -> io::Result<()> {
        use std::os::fd::AsFd;
        self.shutdown.adopt_this_process();
        // The master notifies the service manager for the whole tree.
        self.serving.notifier.silence();
        for waker in [self.shutdown.waker(), self.shutdown.stop_waker()] {
            let fresh = selectors::Waker::new()?;
            crate::sys::replace_descriptor(waker.as_fd(), fresh.as_fd())?;
        }
        self.serving.reactor = new_reactor(self.shutdown.waker(), self.shutdown.stop_waker())?;
        self.serving.listener_registered = false;
        Ok(())
    }

    /// Makes the server drain itself (with `drain_timeout`) after `max` more connections: a
    /// pre-fork worker's recycling. `None`: no limit.
    pub(crate) fn set_max_requests(&mut self, max: Option<u64>, drain_timeout: Duration) {
        self.serving.request_budget = max.map(|max| (max.max(1), drain_timeout));
    }

    /// A snapshot of the server's counters: open and peak connections, accepted, refused and
    /// closed ones by cause, panics, accept pauses, parked connections.
    pub fn stats(&self) -> ServerStats {
        self.registry.stats()
    }

    /// A handle that reads [`stats`](Self::stats) from any thread while the server serves.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle::new(Arc::clone(&self.registry))
    }

    /// Makes the loop wake at least this often to run `service_actions` (Python's loop wakes
    /// every `poll_interval`, 0.5 s, whether or not there is work; ours sleeps until there is,
    /// unless you ask for this).
    pub fn set_service_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.serving.service_interval = interval;
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
            .field("socket", &self.parts.socket)
            .field("dispatch", &self.parts.dispatch)
            .field("closed", &self.parts.closed)
            .field("timeout", &self.serving.timeout)
            .field("service_interval", &self.serving.service_interval)
            .finish_non_exhaustive()
    }
}
