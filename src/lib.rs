//! Python's `socketserver` framework in Rust: blocking network servers with pluggable request
//! handlers and dispatch strategies, and no async runtime.
//!
//! # The pieces
//!
//! A server is four things, each a type parameter of [`BaseServer<S, M, H, K>`](BaseServer):
//!
//! * a **transport** `S` owns the socket — bind, listen, accept. It implements the
//!   [`TcpServer`] trait (Python's `TCPServer` class, which the other transports subclass):
//!   [`TcpSocket`] for TCP over IPv4 and IPv6, [`UdpSocket`], [`UnixStreamSocket`],
//!   [`UnixDatagramSocket`];
//! * a **dispatch strategy** `M` decides how each accepted request runs (Python's mix-ins):
//!   [`Sequential`] on the serving thread, [`ThreadingMixIn`] on a thread per request,
//!   [`ForkingMixIn`] in a child process per request, [`ThreadPool`] on a fixed set of
//!   workers, [`EventLoop`] as callbacks on a few event-loop threads, [`Coroutines`] on a
//!   coroutine per connection on a few loop threads;
//! * a **handler** `H` serves one request ([`RequestHandler`]: `setup`, `handle`, `finish`),
//!   reading and writing a [`StreamRequest`] (`rfile`, a buffered [`SocketReader`]; `wfile`,
//!   over a [`SocketHalf`]; `client_address`; on a Unix stream,
//!   [`peer_credentials`](StreamRequest::peer_credentials) as [`PeerCredentials`]) or a
//!   [`DatagramRequest`]; or, written as callbacks, a [`Protocol`] wrapped in
//!   [`ProtocolHandler`], which sees its connection as a [`Connection`];
//! * **hooks** `K` set policy ([`ServerHooks`]: `verify_request`, `handle_error`,
//!   `handle_timeout`, `service_actions`); [`DefaultHooks`] unless you say otherwise.
//!
//! Python's inheritance chain becomes type composition:
//!
//! ```text
//!         Python                                     Rust
//! +------------+
//! | BaseServer |                            BaseServer<S, M, H, K>  (the loop, the hooks)
//! +------------+
//!       |
//!       v
//! +-----------+        +------------------+
//! | TCPServer |------->| UnixStreamServer |  S: TcpServer trait  ->  TcpSocket, ...
//! +-----------+        +------------------+
//!       |
//!       v
//! +-----------+        +--------------------+
//! | UDPServer |------->| UnixDatagramServer |
//! +-----------+        +--------------------+
//!
//! class ThreadingTCPServer(ThreadingMixIn, TCPServer)     M: Dispatch -> Sequential, ThreadingMixIn
//! type ThreadingTcpServer<H> = BaseServer<TcpSocket, ThreadingMixIn, H>;
//! ```
//!
//! The named combinations are one-line aliases carrying Python's names for rustdoc search
//! ([`SequentialTcpServer`] is Python's `TCPServer`; the name `TcpServer` is the trait):
//!
//! | transport | [`Sequential`] | [`ThreadingMixIn`] | [`ForkingMixIn`] | [`ThreadPool`] | [`EventLoop`] | [`Coroutines`] |
//! |---|---|---|---|---|---|---|
//! | [`TcpSocket`] | [`SequentialTcpServer`] | [`ThreadingTcpServer`] | [`ForkingTcpServer`] | [`PoolTcpServer`] | [`EventTcpServer`] | [`CoroutineTcpServer`] |
//! | [`UdpSocket`] | [`UdpServer`] | [`ThreadingUdpServer`] | [`ForkingUdpServer`] | [`PoolUdpServer`] | — | (`BaseServer<UdpSocket, Coroutines, H>`) |
//! | [`UnixStreamSocket`] | [`UnixStreamServer`] | [`ThreadingUnixStreamServer`] | [`ForkingUnixStreamServer`] | [`PoolUnixStreamServer`] | [`EventUnixStreamServer`] | [`CoroutineUnixStreamServer`] |
//! | [`UnixDatagramSocket`] | [`UnixDatagramServer`] | [`ThreadingUnixDatagramServer`] | [`ForkingUnixDatagramServer`] | [`PoolUnixDatagramServer`] | — | (`BaseServer<UnixDatagramSocket, Coroutines, H>`) |
//!
//! # Four ways a request can run
//!
//! | way | strategies | a waiting connection costs | pick it for |
//! |---|---|---|---|
//! | a thread or a process for the connection's whole life (Python's way) | [`Sequential`], [`ThreadingMixIn`], [`ForkingMixIn`], [`ThreadPool`] | a thread (or a process) | short requests, handlers that block on other things (a database), isolation (forking) |
//! | **parked** between messages: a blocking handler calls [`StreamRequest::park`] and returns | [`ThreadPool`], [`ThreadingMixIn`] (the others wait in place) | a registration in the strategy's selector (the pool's idle workers, or threading's parker thread, watch it); no thread | persistent connections (keep-alive, chat) served by plain blocking code under a bounded pool |
//! | **callbacks** on an event loop: a [`Protocol`] (`data_received`, …) | [`EventLoop`] ([`EventTcpServer`], [`EventUnixStreamServer`]) | a slab entry and the protocol's fields; no thread, no buffer | many connections, high message rates, the least memory; handlers that never block |
//! | **blocking code on coroutines**: the same handler, each connection on a stackful coroutine that suspends where its socket would block (Go, gevent, Java's virtual threads) | [`Coroutines`] ([`CoroutineTcpServer`], [`CoroutineUnixStreamServer`]) | a suspended stack: the pages it touched (about 12 KiB for an echo), no thread | many connections with plain blocking handlers, at the event loop's speed; handlers whose other blocking work goes through [`coroutine::offload`] |
//!
//! The last three share one mechanism: connections registered in a selector (epoll on Linux)
//! with their deadlines ([`StreamOptions::idle_timeout`] and the others) in a timer heap, held
//! by one loop thread (the strategy's parker, each event-loop thread, or each coroutine loop),
//! so a waiting connection costs no thread of its own. [`coroutine`] says what blocks a
//! coroutine's loop and the way out.
//!
//! A parked handler can also wait for a whole message, not just its first byte:
//! [`StreamRequest::park_until`] with a [`MessageFraming`] ([`Delimited`] for lines and other
//! delimited messages, or your own, which answers with [`Framed`]) has the bytes gathered
//! without a worker, so a peer that sends slowly costs a buffer and a timer.
//! [`StreamRequest::send_file`] sends a response head and a file after it; under a strategy
//! that parks, what the client has not taken goes from the page cache (`sendfile(2)`) as it
//! reads, and the worker moves on at once.
//!
//! # Methods for callers
//!
//! * `new(address, handler)` on a named combination (e.g. `ThreadingTcpServer::new`) — create,
//!   bind and activate; [`with_dispatch`](BaseServer::with_dispatch)`(address, handler,
//!   strategy)` to give the strategy with its settings ([`ThreadPool::with_workers`],
//!   [`EventLoop::with_workers`], [`Coroutines::with_workers`],
//!   [`ThreadingMixIn::with_max_threads`],
//!   [`ForkingMixIn::with_max_children`]); or `unbound(address, handler)` (Python's
//!   `bind_and_activate=False`) to set socket options first, then
//!   [`server_bind`](BaseServer::server_bind) and
//!   [`server_activate`](BaseServer::server_activate); or
//!   [`from_inherited`](BaseServer::from_inherited) for a socket a service manager passed in
//!   (see [Deployment](#deployment));
//! * [`serve_forever`](BaseServer::serve_forever) — handle requests until shut down;
//! * [`handle_request`](BaseServer::handle_request) — handle one, waiting at most
//!   [`timeout`](BaseServer::set_timeout);
//! * [`shutdown`](ShutdownHandle::shutdown) through a [`ShutdownHandle`] — from any thread,
//!   a handler included; stops the loop at once (no polling interval);
//! * [`server_close`](BaseServer::server_close) — close the socket and wait for handlers in
//!   flight; dropping the server does it too (Python's `with` block).
//!
//! # Hooks, and who overrides them
//!
//! | hook | where | default | overridden by |
//! |---|---|---|---|
//! | `server_bind`, `server_activate`, `server_close`, `get_request` | [`TcpServer`] | bind / listen / close / accept | transports |
//! | `verify_request` | [`ServerHooks`] | accept all | applications |
//! | `process_request` | [`Dispatch`] | — | strategies |
//! | `finish_request` | [`RequestHandler`] | `setup`, `handle`, `finish` | handlers |
//! | `handle_error` | [`ServerHooks`] | `tracing` error event | applications |
//! | `handle_timeout`, `service_actions` | [`ServerHooks`] | nothing | applications |
//! | `shutdown_request`, `close_request` | [`Request`] | `shutdown(SHUT_WR)` + close / close | request types |
//!
//! Every request, whatever happens to it — served, rejected by `verify_request`, failed,
//! panicked — is shut down and closed exactly once. An `Err` or a panic from a handler reaches
//! `handle_error` (while the request is still open) and the server keeps serving.
//!
//! # Errors
//!
//! * [`Error`] — what goes wrong in the server's life: its address, bind, listen, accept, pid
//!   file, privileges, inherited sockets, hot restart, panic budget, or its selector; each
//!   variant says which step failed and keeps the OS error.
//! * [`RequestError`] — why one request ended in failure: what
//!   [`handle_error`](ServerHooks::handle_error) and
//!   [`Protocol::connection_lost`] receive.
//! * [`TimedOut`] — which of [`StreamOptions`]' timeouts passed, and after how long: inside
//!   an `io::Error` of kind `TimedOut` for a blocking handler ([`TimedOut::of`] finds it), in
//!   [`RequestError::TimedOut`] for an event protocol.
//!
//! # Handlers
//!
//! The handler you pass is cloned for every request (Python instantiates the handler class per
//! request): plain fields are per-request state, `Arc` fields are shared by the application, and
//! a closure works for the simplest case.
//!
//! ```
//! use std::io::{BufRead, Write};
//! use std::sync::{Arc, Mutex};
//! use socketserver::{RequestHandler, StreamRequest, ThreadingTcpServer};
//!
//! /// Remembers every line any client sent (a stand-in for a database handle).
//! #[derive(Clone, Default)]
//! struct Log {
//!     lines: Arc<Mutex<Vec<String>>>,
//! }
//!
//! impl RequestHandler<StreamRequest> for Log {
//!     fn handle(&mut self, req: &mut StreamRequest) -> std::io::Result<()> {
//!         for line in (&mut req.rfile).lines() {
//!             let line = line?;
//!             writeln!(req.wfile, "ok {}", line.len())?;
//!             self.lines.lock().unwrap().push(line);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let log = Log::default();
//! let mut server = ThreadingTcpServer::new("127.0.0.1:0", log.clone())?;
//! let address = server.server_address()?;
//! let stop = server.shutdown_handle();
//! let serving = std::thread::spawn(move || server.serve_forever());
//!
//! let mut client = std::net::TcpStream::connect(address)?;
//! client.write_all(b"one\ntwo\n")?;
//! client.shutdown(std::net::Shutdown::Write)?;
//! let mut reply = String::new();
//! std::io::Read::read_to_string(&mut client, &mut reply)?;
//! assert_eq!(reply, "ok 3\nok 3\n");
//!
//! stop.shutdown();
//! serving.join().unwrap()?;
//! assert_eq!(*log.lines.lock().unwrap(), ["one", "two"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Running on networks you do not control
//!
//! * [`StreamOptions`] (on the transport): first-byte, idle and write timeouts, finite by
//!   default (60 s, 300 s, 60 s), kept as socket deadlines for blocking handlers and in the
//!   loops' timer heaps for parked and event connections; a minimum rate for a message in
//!   flight ([`MinRate`], 500 bytes/s after 20 s), against peers that trickle a message a
//!   byte at a time;
//! * [`Limits`] ([`BaseServer::set_limits`]): the most connections in all and per source, what
//!   happens past the bound ([`Overload`]), and a descriptor reserve that pauses accepting
//!   before `EMFILE` ([`raise_fd_limit`] lifts the soft limit);
//! * [`PanicPolicy`] ([`BaseServer::set_panic_policy`]): isolate, a budget, or abort;
//! * [`ServerStats`] ([`BaseServer::stats`], [`StatsHandle`]): open, peak, accepted, refused
//!   and closed connections by cause, each connection with exactly one [`CloseReason`];
//! * graceful drain ([`ShutdownHandle::shutdown_gracefully`], [`DrainReport`]): the backlog
//!   served, idle connections closed at once, messages in flight finished, a deadline for the
//!   rest; [`SignalHandling`] with [`BaseServer::serve_until_signal`] runs it on SIGINT/SIGTERM
//!   in an application's `main`. [`DrainOptions`] ([`BaseServer::set_drain_options`]) sets how
//!   long a connection that has sent nothing yet waits before it counts as idle. A handler
//!   that reads one message in several steps marks it in flight with
//!   [`StreamRequest::busy`] (a [`BusySpan`]);
//! * [`TestServer`], for your own tests: run a server, stop or drain it with a deadline, and
//!   fail with a [`Leak`] when a connection, a thread or a child outlives it; a clean stop
//!   gives the closed server and its counters as [`Stopped`].
//!
//! # TLS
//!
//! [`tls::TlsSocket`] wraps a stream transport: every strategy serves TLS, handlers keep
//! `rfile`/`wfile` (over a [`tls::TlsStream`], Python's `SSLSocket`), protocols keep receiving
//! plaintext. The handshake waits where input waits (no worker, thread or loop is held by a
//! silent client) under an absolute deadline; [`tls::TlsConfig`] sets certificates (by SNI),
//! ALPN, client certificates and limits; [`tls::TlsAcceptor::reload`] swaps certificates
//! without a restart; failures are [`TlsError`]s counted by [`TlsFailure`] in
//! [`ServerStats::closed_tls`]. See the [`tls`] module.
//!
//! # Deployment
//!
//! What a service around the server needs, each one call:
//!
//! | for | what happens | the call |
//! |---|---|---|
//! | socket activation | a service manager (systemd, `systemd-socket-activate`) opens the socket and passes it in (`LISTEN_FDS`); the server serves it without binding | [`InheritedSocket::take_all`], then a transport's `from_inherited` ([`TcpSocket::from_inherited`], [`UdpSocket::from_inherited`], [`UnixStreamSocket::from_inherited`], [`UnixDatagramSocket::from_inherited`]: each checks the [`SocketKind`]), then [`BaseServer::from_inherited`] |
//! | readiness | `READY=1` once `serve_forever` serves, `STOPPING=1` when a drain begins, and `WATCHDOG=1` from the loop itself when the unit asks for a watchdog (`WATCHDOG_USEC`), so a wedged loop gets restarted | none: automatic when `NOTIFY_SOCKET` is set (a `Type=notify` unit); best effort, a failure is logged |
//! | hot restart | a new copy of the program (same executable, arguments and environment) inherits the listening sockets and says it is ready; then this one drains. Both accept meanwhile, so no connection is refused or reset | [`start_successor`], then [`ShutdownHandle::drain`]; the new copy serves what it inherits ([`InheritedSocket`]) |
//! | pre-fork workers | a master binds once and keeps N forked worker processes serving the shared socket, each with the server's own strategy; it replaces a worker that ends, recycles one after [`max_requests`](Prefork::max_requests), drains them all on SIGTERM, and speaks for them to the service manager | [`Prefork::new`]`(n).run(&mut server)`, which returns a [`PreforkReport`] |
//! | pid file | this process's pid in a file while it serves, never written over a live process's pid, removed on drop; a hot restart's new copy takes it over | [`PidFile::create`], once the server listens |
//! | privileges | bind a port below 1024 as root, then serve as a plain user (and group) | [`Privileges::user`]`(name).apply()`, after binding |
//! | behind a load balancer | a PROXY protocol header (v1 or v2) required from trusted networks: the client address it carries is what handlers, `verify_request`, limits and logs see; other connections are closed and counted | [`TcpSocket::set_proxy_protocol`] (through [`socket_mut`](BaseServer::socket_mut)) with a [`ProxyPolicy`](proxy_protocol::ProxyPolicy); [`proxy_protocol::parse`] reads a header by itself |
//!
//! A `main` for a `Type=notify` unit that may be socket-activated and restarts itself on
//! SIGHUP:
//!
//! ```no_run
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//! use socketserver::{
//!     start_successor, InheritedSocket, PidFile, SignalHandling, StreamRequest, TcpSocket,
//!     ThreadingTcpServer,
//! };
//!
//! let echo = |req: &mut StreamRequest| std::io::copy(&mut req.rfile, &mut req.wfile).map(drop);
//! // Started by systemd, or by an older copy of this program: serve what it passed; else bind.
//! let mut server = match InheritedSocket::take_all()?.into_iter().next() {
//!     Some(inherited) => {
//!         ThreadingTcpServer::from_inherited(TcpSocket::from_inherited(inherited)?, echo)?
//!     }
//!     None => ThreadingTcpServer::new("0.0.0.0:8000", echo)?,
//! };
//! let _pid_file = PidFile::create("/run/echo/echo.pid")?;
//!
//! // SIGHUP: a new copy takes over the listening socket, then this one drains.
//! let listener = server.fileno().expect("a listening socket").as_raw_fd();
//! let stop = server.shutdown_handle();
//! let signals = SignalHandling::new().on_hangup(move || {
//!     match start_successor(&[listener], &["echo"], Duration::from_secs(10)) {
//!         Ok(_pid) => stop.drain(Duration::from_secs(30)),
//!         Err(error) => eprintln!("{error}"), // nothing was handed over: go on serving
//!     }
//! });
//! // READY=1 once serving, STOPPING=1 on the drain (SIGTERM or SIGHUP).
//! server.serve_until_signal(signals)?;
//! # Ok::<(), socketserver::Error>(())
//! ```
//!
//! # Timers, fan-out and talking between connections
//!
//! A protocol on an [`EventLoop`] sets timers on its own loop thread
//! ([`Connection::call_later`], [`call_at`](Connection::call_at),
//! [`cancel_timer`](Connection::cancel_timer); they come back in
//! [`Protocol::timer_fired`] and end with the connection). Other threads and other
//! connections reach it through a [`ConnectionHandle`] ([`Connection::handle`]): write, close,
//! or run a closure on its loop. A blocking handler's connection is reached through a
//! [`ConnectionWriter`] ([`StreamRequest::writer`]). A peer that reads slower than others
//! write to it cannot grow the server's memory: past its high watermark each write says what
//! happens ([`WhenFull`]: refuse, drop, or disconnect). `examples/chat.rs` is a chat server
//! built on both.
//!
//! # Coming from
//!
//! Each familiar name is a rustdoc alias: searching for `call_later`, `ThreadingTCPServer` or
//! `spawn_blocking` finds the item. The full Python table is `docs/python-mapping.md`.
//!
//! | from | the familiar thing | here |
//! |---|---|---|
//! | Python `socketserver` | `ThreadingTCPServer(addr, Handler)`, `serve_forever`, `shutdown` | [`ThreadingTcpServer::new`](BaseServer::new)`(addr, handler)`, [`BaseServer::serve_forever`], [`ShutdownHandle::shutdown`] |
//! | | `StreamRequestHandler.rfile` / `wfile`, `handle()` | [`StreamRequest::rfile`] / [`wfile`](StreamRequest::wfile), [`RequestHandler::handle`] |
//! | | `ThreadingMixIn`, `ForkingMixIn` | [`ThreadingMixIn`], [`ForkingMixIn`]; also [`ThreadPool`], [`EventLoop`], [`Coroutines`] |
//! | Python `http.server` | `BaseHTTPRequestHandler`, `do_GET`, `send_error` | crate `socketserver-http`: `HttpHandler`, `do_get`, `Exchange::send_error` (its "Coming from" section) |
//! | asyncio | `loop.create_server(factory)`, `Protocol`, `Transport.write` | [`EventTcpServer`]`::new(addr, `[`ProtocolHandler::new`]`(protocol))`, [`Protocol`], [`Connection::write`] |
//! | | `loop.call_later`, `loop.call_at`, `TimerHandle.cancel` | [`Connection::call_later`], [`Connection::call_at`], [`Connection::cancel_timer`] |
//! | | `loop.call_soon_threadsafe(transport.write, data)` | [`ConnectionHandle::write`], [`ConnectionHandle::call_soon`] |
//! | | `set_write_buffer_limits`, `pause_writing` | [`EventLoop::set_watermarks`], [`Protocol::pause_writing`] |
//! | tokio | `tokio::spawn` per accepted connection | a [`RequestHandler`] under a strategy: [`Coroutines`] runs each on a coroutine of its own, blocking code unchanged |
//! | | `tokio::time::sleep`, `interval` | [`coroutine::sleep`] in a handler; [`Connection::call_later`] in a protocol |
//! | | `spawn_blocking`, `block_in_place` | [`coroutine::offload`] |
//! | | an `mpsc`/`broadcast` channel per client for fan-out | [`ConnectionHandle`] or [`ConnectionWriter`], with [`WhenFull`] for slow receivers |
//! | | `AsyncRead`/`AsyncWrite`, `BufReader::lines` | [`StreamRequest::rfile`] (`BufRead`), [`StreamRequest::wfile`] (`Write`) |
//! | | `axum::serve(listener, app)` with graceful shutdown | [`BaseServer::serve_until_signal`], [`ShutdownHandle::drain`] |
//! | hyper | `service_fn`, `Request`/`Response`, `StatusCode` | crate `socketserver-http`: `HttpHandler`, the `http` crate's types on `HttpRequest` and `Exchange` (its "Coming from" section) |
//!
//! # Writing a transport or a strategy
//!
//! A transport implements [`TcpServer`]: its `get_request` receives a [`RequestContext`]
//! (what the server gives every request: the handle that stops or drains it) and passes it on
//! unread to the [`Request`] it makes — a [`StreamRequest`] over a [`StreamSocket`], or a
//! [`DatagramRequest`] over a [`DatagramSocket`]. A strategy implements [`Dispatch`]: each
//! verified request reaches it as a boxed [`Job`], which it ends exactly once (a job run
//! until its handler parks comes back as a [`RunOutcome`]). A strategy with a bound wakes the
//! waiting loop through the [`LoopWaker`] it is given; a connection's place in the counts is
//! its [`ConnectionGuard`]; a callback handler goes to an event loop as an [`EventSession`];
//! a graceful drain tells the strategy each [`DrainStage`] it reaches
//! ([`drain_idle`](Dispatch::drain_idle)), so it closes the idle connections it holds.
//!
//! # Logging
//!
//! The library never prints. Lifecycle events (bind, listen, accept, dispatch, errors,
//! shutdown, close) are `tracing` events inside a `serve_forever` span and a per-request
//! `request` span with `conn_id` and `peer` fields; install a subscriber to see them.

mod activation;
mod connections;
pub mod coroutine;
mod dispatch;
mod drain;
mod error;
mod event;
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod hooks;
mod ip_prefix;
mod limits;
mod prefork;
mod process_control;
pub mod proxy_protocol;
mod reactor;
mod request;
mod server;
mod session;
mod shutdown;
mod signals;
mod stats;
mod sys;
mod testing;
pub mod tls;
mod transport;

pub use activation::{start_successor, InheritedSocket, SocketKind};
pub use connections::{ConnectionGuard, PanicPolicy, StatsHandle};
pub use dispatch::{
    Coroutines, Dispatch, ForkingMixIn, Job, RunOutcome, Sequential, ThreadPool, ThreadingMixIn,
};
pub use drain::{BusySpan, DrainOptions, DrainReport, DrainStage};
pub use error::{Error, HandleError, RequestError, TimedOut, TlsError};
pub use event::{Connection, ConnectionHandle, EventLoop, Protocol, ProtocolHandler, TimerId};
pub use handler::RequestHandler;
pub use hooks::{DefaultHooks, ServerHooks};
pub use limits::{Limits, Overload};
pub use prefork::{Prefork, PreforkReport};
pub use process_control::{PidFile, Privileges};
pub use request::{
    ConnectionWriter, DatagramRequest, DatagramSocket, Delimited, Framed, Handshake,
    MessageFraming, MinRate, PeerCredentials, Request, RequestContext, SocketHalf, SocketReader,
    StreamOptions, StreamRequest, StreamSocket, WhenFull, Written,
};
pub use server::BaseServer;
pub use session::{EventSession, SessionParts};
pub use shutdown::{LoopWaker, ShutdownHandle};
pub use signals::SignalHandling;
pub use stats::{CloseReason, ServerStats, TlsFailure, TlsFailures};
pub use sys::raise_fd_limit;
pub use testing::{Leak, Stopped, TestServer};
pub use transport::{
    ConnectedSocket, ConnectedStream, TcpServer, TcpSocket, UdpSocket, UnixDatagramSocket,
    UnixStreamSocket,
};

/// A TCP server that handles one request at a time on the serving thread: Python's
/// `TCPServer`.
///
/// Python's name is taken by the [`TcpServer`] trait (the socket-owning role every transport
/// implements), so this combination says what it does instead.
#[doc(alias = "TCPServer")]
pub type SequentialTcpServer<H, K = DefaultHooks> = BaseServer<TcpSocket, Sequential, H, K>;

/// A TCP server that handles each request on a thread of its own: Python's
/// `ThreadingTCPServer` (`ThreadingMixIn` + `TCPServer`).
#[doc(alias = "ThreadingTCPServer")]
pub type ThreadingTcpServer<H, K = DefaultHooks> = BaseServer<TcpSocket, ThreadingMixIn, H, K>;

/// A UDP server that handles one datagram at a time on the serving thread: Python's
/// `UDPServer`.
#[doc(alias = "UDPServer")]
pub type UdpServer<H, K = DefaultHooks> = BaseServer<UdpSocket, Sequential, H, K>;

/// A UDP server that handles each datagram on a thread of its own: Python's
/// `ThreadingUDPServer`. Replies from the threads share the server's socket.
#[doc(alias = "ThreadingUDPServer")]
pub type ThreadingUdpServer<H, K = DefaultHooks> = BaseServer<UdpSocket, ThreadingMixIn, H, K>;

/// A Unix stream server that handles one connection at a time: Python's `UnixStreamServer`.
pub type UnixStreamServer<H, K = DefaultHooks> = BaseServer<UnixStreamSocket, Sequential, H, K>;

/// A Unix stream server with a thread per connection: Python's `ThreadingUnixStreamServer`.
pub type ThreadingUnixStreamServer<H, K = DefaultHooks> =
    BaseServer<UnixStreamSocket, ThreadingMixIn, H, K>;

/// A Unix datagram server that handles one datagram at a time: Python's
/// `UnixDatagramServer`.
pub type UnixDatagramServer<H, K = DefaultHooks> = BaseServer<UnixDatagramSocket, Sequential, H, K>;

/// A Unix datagram server with a thread per datagram: Python's
/// `ThreadingUnixDatagramServer`.
pub type ThreadingUnixDatagramServer<H, K = DefaultHooks> =
    BaseServer<UnixDatagramSocket, ThreadingMixIn, H, K>;

/// A TCP server that handles each connection in a child process: Python's `ForkingTCPServer`.
#[doc(alias = "ForkingTCPServer")]
pub type ForkingTcpServer<H, K = DefaultHooks> = BaseServer<TcpSocket, ForkingMixIn, H, K>;

/// A UDP server that handles each datagram in a child process: Python's `ForkingUDPServer`.
#[doc(alias = "ForkingUDPServer")]
pub type ForkingUdpServer<H, K = DefaultHooks> = BaseServer<UdpSocket, ForkingMixIn, H, K>;

/// A Unix stream server with a child process per connection: Python's
/// `ForkingUnixStreamServer`.
pub type ForkingUnixStreamServer<H, K = DefaultHooks> =
    BaseServer<UnixStreamSocket, ForkingMixIn, H, K>;

/// A Unix datagram server with a child process per datagram: Python's
/// `ForkingUnixDatagramServer`.
pub type ForkingUnixDatagramServer<H, K = DefaultHooks> =
    BaseServer<UnixDatagramSocket, ForkingMixIn, H, K>;

/// A TCP server whose connections are handled by a fixed [`ThreadPool`] (Python has none).
pub type PoolTcpServer<H, K = DefaultHooks> = BaseServer<TcpSocket, ThreadPool, H, K>;

/// A UDP server whose datagrams are handled by a fixed [`ThreadPool`].
pub type PoolUdpServer<H, K = DefaultHooks> = BaseServer<UdpSocket, ThreadPool, H, K>;

/// A Unix stream server whose connections are handled by a fixed [`ThreadPool`].
pub type PoolUnixStreamServer<H, K = DefaultHooks> = BaseServer<UnixStreamSocket, ThreadPool, H, K>;

/// A Unix datagram server whose datagrams are handled by a fixed [`ThreadPool`].
pub type PoolUnixDatagramServer<H, K = DefaultHooks> =
    BaseServer<UnixDatagramSocket, ThreadPool, H, K>;

/// A TCP server whose connections run their blocking handler on a coroutine of their own
/// ([`Coroutines`]: Go's goroutines, gevent's greenlets).
#[doc(alias = "gevent.server.StreamServer")]
pub type CoroutineTcpServer<H, K = DefaultHooks> = BaseServer<TcpSocket, Coroutines, H, K>;

/// A Unix stream server whose connections run their blocking handler on a coroutine of
/// their own ([`Coroutines`]).
pub type CoroutineUnixStreamServer<H, K = DefaultHooks> =
    BaseServer<UnixStreamSocket, Coroutines, H, K>;

/// A TCP server whose connections are [`Protocol`] callbacks on an [`EventLoop`] (asyncio's
/// `loop.create_server(protocol_factory, host, port)`).
#[doc(alias = "create_server")]
#[doc(alias = "asyncio.start_server")]
pub type EventTcpServer<P, K = DefaultHooks> =
    BaseServer<TcpSocket, EventLoop, ProtocolHandler<P>, K>;

/// A Unix stream server whose connections are [`Protocol`] callbacks on an [`EventLoop`]
/// (asyncio's `loop.create_unix_server`).
#[doc(alias = "create_unix_server")]
pub type EventUnixStreamServer<P, K = DefaultHooks> =
    BaseServer<UnixStreamSocket, EventLoop, ProtocolHandler<P>, K>;
