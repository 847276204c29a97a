//! The main job: an echo server (every byte back until the client closes; every datagram back
//! to its sender).
//!
//! Run:   cargo run --release --example echo [-- OPTIONS]
//!
//!   --addr HOST:PORT        TCP (or, with --udp, UDP) address; default 127.0.0.1:9999
//!   --mode MODE             threading (default) | sequential | forking | pool | event |
//!                           coroutine
//!   --workers N             pool size with --mode pool (default: CPUs × 4); loop threads
//!                           with --mode event or coroutine (default: CPUs)
//!   --max-connections N     hold at most N connections; more wait in the backlog (default: no
//!                           bound)
//!   --overload wait|refuse  past --max-connections: wait (default), or accept and close at once
//!   --max-per-ip N          at most N connections from one IP address (IPv6: one /64); the
//!                           next is closed at once
//!   --idle-timeout SECS     close a connection silent for SECS between messages (default 300)
//!   --first-byte-timeout SECS  close a new connection that sends nothing for SECS (default 60)
//!   --write-timeout SECS    close a connection whose peer stops reading for SECS while output
//!                           is pending (default 60); SECS may be decimal (0.5)
//!   --drain-timeout SECS    on SIGINT/SIGTERM, how long the graceful drain may take before
//!                           what remains is closed (default 30)
//!   --fd-name NAME          with socket activation, serve the inherited socket of this name
//!                           (LISTEN_FDNAMES) instead of the first
//!   --pid-file PATH         write the pid to PATH once listening, remove it at exit; a live
//!                           pid already there: exit 1 (a stale one is replaced)
//!   --user NAME [--group NAME]  after binding (and writing the pid file), drop root to this
//!                           user and group (default: the user's primary group)
//!   --proxy-protocol        (TCP) require a PROXY v1/v2 header from trusted balancers; the
//!                           client address it carries is what limits and logs see; others,
//!                           and malformed or missing headers (3 s), are closed
//!   --proxy-from CIDR,...   the trusted balancers (default 127.0.0.1/32,::1/128)
//!   --processes N           pre-fork: this process binds and supervises N worker processes
//!                           that serve (each with --mode); a worker that ends is replaced
//!   --max-requests N        with --processes: a worker drains and is replaced after N
//!                           connections
//!   --reuse-port            (TCP) bind with SO_REUSEPORT, so several echo processes can
//!                           share one port
//!   --udp                   serve UDP datagrams at --addr instead of TCP
//!   --unix PATH             serve a Unix stream socket at PATH instead
//!   --unix-dgram PATH       serve a Unix datagram socket at PATH instead
//!   --tls-cert PEM --tls-key PEM  (TCP) speak TLS (Python 3.14's flags): the certificate
//!                           chain and its key; SIGUSR1 reloads both files (a bad file keeps
//!                           the old ones, one stderr line says why; SIGHUP's hot restart
//!                           reads them anyway). Try: openssl s_client -connect 127.0.0.1:9999
//!   --metrics HOST:PORT     serve the server's counters in Prometheus' format at
//!                           http://HOST:PORT/metrics, on a listener and a thread of their own
//!                           (one stderr line `echo: metrics on http://ADDR/metrics` gives the
//!                           real port); with --mode pool or event also a histogram of the time
//!                           to echo each message. Not with --processes or --inetd (exit 2)
//!   --inetd                 serve the one connection on standard input (inetd, xinetd,
//!                           `systemd-socket-activate --inetd`, socat EXEC:) with --mode's
//!                           strategy, then exit 0; no ready line (standard output is the
//!                           connection); with --tls-cert the connection speaks TLS (TCP
//!                           only), as behind stunnel. Standard input that is not a connected
//!                           TCP or Unix stream socket: one stderr line, exit 1
//!
//! Try:   nc 127.0.0.1 9999                  (type lines; they come back)
//!        nc -u 127.0.0.1 9999               (with --udp)
//!        nc -U /tmp/echo.sock               (with --unix /tmp/echo.sock)
//!   or:  python3 -c "import socket; s=socket.create_connection(('127.0.0.1',9999)); s.sendall(b'hi'); print(s.recv(2))"
//!
//! In --mode pool a connection holds a worker only while a message is in flight: between
//! messages it is parked (StreamRequest::park). In --mode event the echo is a Protocol
//! (asyncio-style callbacks) on event-loop threads. Event mode serves TCP and --unix only.
//! In --mode coroutine the plain blocking echo (the threading mode's handler) runs on a
//! coroutine per connection, on loop threads (Go's goroutines, gevent).
//!
//! At start it raises its soft descriptor limit to the hard one (a descriptor per connection).
//!
//! Started by a service manager with sockets (systemd's socket activation: LISTEN_PID,
//! LISTEN_FDS, as `systemd-socket-activate -l 127.0.0.1:9999 echo` does), it serves the
//! inherited socket instead of binding --addr: a stream socket by default (TCP or Unix by its
//! family), a datagram socket with --udp or --unix-dgram; a socket of the wrong type is one
//! stderr line and exit 1. A connected socket (systemd's Accept=yes, `systemd-socket-activate
//! --accept`) is one connection: served as with --inetd, then exit 0. With NOTIFY_SOCKET set it sends READY=1 once listening, STOPPING=1
//! when a drain starts, and WATCHDOG=1 from its serving loop every third of WATCHDOG_USEC (so no
//! gap reaches half of it).
//!
//! Once listening it prints exactly one line to stdout, `listening on ADDR` (the real port when
//! port 0 was asked for; the path for Unix sockets). SIGINT or SIGTERM drains it gracefully:
//! the listener closes at once (connections already in the backlog are served), every idle
//! connection closes cleanly after its last answer, one that has not spoken yet after a 1 s
//! grace, and it exits 0 once none remain, or at --drain-timeout after closing the rest; one
//! stderr line `echo: drained in …` summarises the drain. A second SIGINT or SIGTERM closes
//! everything at once (exit 0). SIGHUP is a hot restart: a new copy of echo inherits the
//! listening socket, and once it is ready this one drains and exits 0 (with --processes: a new
//! master and its workers take over, then the old workers drain and the old master exits 0).
//! Under systemd (Type=notify, NotifyAccess=all) the new copy says MAINPID=<its pid> and
//! READY=1, and the old one says nothing more (no STOPPING=1: that would stop the service); a
//! failed restart is one stderr line `echo: hot restart failed: …; still serving`. A bad
//! address, a port or path in use: one line on stderr and exit status 1 (2 for bad
//! command-line usage). Logs go to stderr, filtered by RUST_LOG
//! (e.g. RUST_LOG=socketserver=debug).

mod common;

use std::cell::Cell;
use std::io;
use std::process::ExitCode;
use std::time::Instant;

use std::io::BufRead;

use socketserver::proxy_protocol::{ProxyPolicy, TrustedNetwork};
use socketserver::tls::{TlsAcceptor, TlsSocket, TlsStream};
use socketserver::{
    BaseServer, ConnectedSocket, Connection, Coroutines, DatagramRequest, DatagramSocket, Dispatch,
    Error, EventLoop, ForkingMixIn, InheritedSocket, Limits, Overload, PidFile, Privileges,
    Protocol, ProtocolHandler, RequestHandler, Sequential, SocketKind, StreamOptions,
    StreamRequest, StreamSocket, TcpServer, TcpSocket, ThreadPool, ThreadingMixIn, UdpSocket,
    UnixDatagramSocket, UnixStreamSocket,
};
use socketserver_metrics::{LatencyHistogram, MetricsEndpoint};

const USAGE: &str = "usage: echo [--addr HOST:PORT] [--mode threading|sequential|forking|pool|event|coroutine] [--workers N] [--max-connections N] [--overload wait|refuse] [--max-per-ip N] [--idle-timeout SECS] [--first-byte-timeout SECS] [--write-timeout SECS] [--drain-timeout SECS] [--fd-name NAME] [--pid-file PATH] [--user NAME [--group NAME]] [--proxy-protocol [--proxy-from CIDR,...]] [--processes N [--max-requests N]] [--reuse-port] [--udp | --unix PATH | --unix-dgram PATH] [--tls-cert PEM --tls-key PEM] [--inetd] [--metrics HOST:PORT]";

/// Echoes a stream until the client closes it.
#[derive(Clone)]
struct StreamEcho;

impl<S: StreamSocket> RequestHandler<StreamRequest<S>> for StreamEcho {
    fn handle(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        io::copy(&mut request.rfile, &mut request.wfile)?;
        Ok(())
    }
}

/// Echoes what has arrived, then parks until more does: a pool worker is held only while a
/// message is in flight. With `--metrics`, each message's echo is timed.
#[derive(Clone)]
struct ParkingEcho {
    latency: Option<LatencyHistogram>,
}

impl<S: StreamSocket> RequestHandler<StreamRequest<S>> for ParkingEcho {
    fn setup(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        request.park();
        Ok(())
    }

    fn handle(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        let started = self.latency.as_ref().map(|_| Instant::now());
        let data = request.rfile.fill_buf()?;
        if data.is_empty() {
            return Ok(()); // the client closed: the connection ends
        }
        let n = data.len();
        io::Write::write_all(&mut request.wfile, data)?;
        request.rfile.consume(n);
        request.park();
        if let (Some(latency), Some(started)) = (&self.latency, started) {
            latency.observe(started.elapsed());
        }
        Ok(())
    }
}

/// The echo as event-loop callbacks. With `--metrics`, each message's echo is timed.
#[derive(Clone)]
struct EchoProtocol {
    latency: Option<LatencyHistogram>,
}

impl<S: StreamSocket> Protocol<S> for EchoProtocol {
    fn data_received(&mut self, conn: &mut Connection<'_, S>, data: &[u8]) -> io::Result<()> {
        match &self.latency {
            None => conn.write(data),
            Some(latency) => {
                let started = Instant::now();
                conn.write(data);
                latency.observe(started.elapsed());
            }
        }
        Ok(())
    }
}

/// Sends each datagram back to its sender.
#[derive(Clone)]
struct DatagramEcho;

impl<S: DatagramSocket> RequestHandler<DatagramRequest<S>> for DatagramEcho {
    fn handle(&mut self, request: &mut DatagramRequest<S>) -> io::Result<()> {
        request.wfile.extend_from_slice(request.rfile.get_ref());
        Ok(())
    }
}

/// What the command line asks for, beyond the transport and the mode.
struct Settings {
    limits: Limits,
    options: StreamOptions,
    drain_timeout: std::time::Duration,
    daemon: Daemon,
    /// `--proxy-protocol`: what the TCP transport requires.
    proxy: Option<ProxyPolicy>,
    /// `--reuse-port`.
    reuse_port: bool,
    /// The name of the socket this echo inherited, handed on in a hot restart.
    listener_name: String,
    /// `--tls-cert` and `--tls-key`, read.
    tls: Option<TlsAcceptor>,
    /// Serving one connection handed over (`--inetd`, or systemd's `Accept=yes`), not a
    /// listening socket.
    one_connection: bool,
    /// `--metrics ADDR`.
    metrics: Option<String>,
    /// The metrics socket a hot restart handed over (named `metrics`), served instead of
    /// binding `--metrics` again (the old copy still holds that address).
    metrics_socket: Cell<Option<InheritedSocket>>,
    /// With `--metrics`, under `--mode pool` and `event` (where a message is one call of the
    /// handler): each message's echo, timed.
    message_latency: Option<LatencyHistogram>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            options: StreamOptions::default(),
            drain_timeout: std::time::Duration::from_secs(30),
            daemon: Daemon::default(),
            proxy: None,
            reuse_port: false,
            listener_name: "echo".to_owned(),
            tls: None,
            one_connection: false,
            metrics: None,
            metrics_socket: Cell::new(None),
            message_latency: None,
        }
    }
}

/// What to serve.
enum Transport {
    Tcp,
    Udp,
    Unix(String),
    UnixDatagram(String),
}

/// Runs `server` until SIGINT or SIGTERM has drained it, after printing the ready line.
fn serve<S, M, H>(
    server: Result<BaseServer<S, M, H>, Error>,
    settings: &Settings,
    shown: impl FnOnce(&S::Address) -> String,
) -> Result<(), String>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    let mut server = server.map_err(|e| e.to_string())?;
    let bound = server.server_address().map_err(|e| e.to_string())?;
    // Bound and listening: write the pid file, then give up root (the pid file's directory is
    // usually root's), then serve.
    let daemon = &settings.daemon;
    let drain_timeout = settings.drain_timeout;
    let _pid_file = match &daemon.pid_file {
        Some(path) => Some(PidFile::create(path).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Some(user) = &daemon.user {
        let mut privileges = Privileges::user(user);
        if let Some(group) = &daemon.group {
            privileges = privileges.group(group);
        }
        privileges.apply().map_err(|e| e.to_string())?;
    }
    let metrics = start_metrics(settings, server.stats_handle())?;
    if settings.one_connection {
        // A connection handed over: serve it and exit. No ready line (standard output may be
        // the connection itself) and no hot restart (there is no listening socket to pass on).
        return common::serve_until_signal_with("echo", &mut server, None, drain_timeout, None);
    }
    if let Some(processes) = daemon.processes {
        // Pre-fork: this process binds and supervises; the workers serve.
        let ready_line = format!("listening on {}", shown(&bound));
        // SIGHUP: a new master with its own workers takes over the listening socket, then
        // this tree drains.
        let listener = server
            .fileno()
            .map(|fd| std::os::fd::AsRawFd::as_raw_fd(&fd));
        let name = settings.listener_name.clone();
        let report = socketserver::Prefork::new(processes)
            .max_requests(daemon.max_requests)
            .drain_timeout(drain_timeout)
            .on_ready(move || common::print_ready(&ready_line))
            .on_hangup(move || {
                let Some(listener) = listener else {
                    return false;
                };
                socketserver::start_successor(&[listener], &[&name], RESTART_READY_TIMEOUT)
                    .inspect_err(|error| eprintln!("echo: {error}; still serving"))
                    .is_ok()
            })
            .run(&mut server)
            .map_err(|e| e.to_string())?;
        common::print_prefork_report("echo", &report);
        return Ok(());
    }
    // SIGHUP: hot restart. A new copy of echo inherits the listening socket (socket
    // activation's format), and once it is ready this one drains and exits.
    let listener = server
        .fileno()
        .map(|fd| std::os::fd::AsRawFd::as_raw_fd(&fd));
    let handle = server.shutdown_handle();
    let name = settings.listener_name.clone();
    // The metrics socket goes to the new copy too: it cannot bind the address while this
    // copy, draining, still holds it.
    let metrics_fd = metrics.as_ref().map(MetricsEndpoint::fileno);
    let restart = move || {
        let Some(listener) = listener else {
            return;
        };
        let (sockets, names) = match metrics_fd {
            Some(metrics) => (vec![listener, metrics], vec![name.as_str(), METRICS_SOCKET]),
            None => (vec![listener], vec![name.as_str()]),
        };
        match socketserver::start_successor(&sockets, &names, RESTART_READY_TIMEOUT) {
            Ok(pid) => {
                tracing::info!(pid, "hot restart: the new copy serves; draining");
                handle.drain(drain_timeout);
            }
            Err(error) => eprintln!("echo: {error}; still serving"),
        }
    };
    common::serve_until_signal_with(
        "echo",
        &mut server,
        Some(&shown(&bound)),
        drain_timeout,
        Some(Box::new(restart)),
    )
}

/// The name a hot restart gives the metrics socket it hands over.
const METRICS_SOCKET: &str = "metrics";

/// With `--metrics ADDR`: the server's counters (and the message histogram) on
/// `http://ADDR/metrics`, served on a thread of their own; one stderr line says where.
fn start_metrics(
    settings: &Settings,
    stats: socketserver::StatsHandle,
) -> Result<Option<MetricsEndpoint>, String> {
    let Some(address) = &settings.metrics else {
        return Ok(None);
    };
    let histogram = settings.message_latency.as_ref().map(|latency| {
        (
            "echo_message_duration",
            "Time to echo one message: from the handler's call to the echo written",
            latency.clone(),
        )
    });
    let inherited = settings.metrics_socket.take();
    common::serve_metrics("echo", address, inherited, stats, histogram).map(Some)
}

/// How long a hot restart waits for the new copy to say it is ready.
const RESTART_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the command line says about running as a daemon.
#[derive(Debug, Clone, Default)]
struct Daemon {
    pid_file: Option<String>,
    user: Option<String>,
    group: Option<String>,
    processes: Option<usize>,
    max_requests: Option<u64>,
}

/// A TCP server for `address` with `SO_REUSEPORT`, so several echo processes can bind the same
/// port (the kernel spreads connections over them): Python's `bind_and_activate=False`, the
/// option, then bind and listen.
fn with_reuse_port<M: Dispatch + Default, H: RequestHandler<StreamRequest>>(
    address: &str,
    handler: H,
) -> Result<BaseServer<TcpSocket, M, H>, Error> {
    let mut server = BaseServer::<TcpSocket, M, _>::unbound(address, handler)?;
    server.socket_mut().set_allow_reuse_port(true);
    server.server_bind()?;
    server.server_activate()?;
    Ok(server)
}

/// The server on the socket a service manager passed in (`adopt` takes it as transport `S`),
/// or else on a socket `bind` makes.
fn bind_or_adopt<S, M, H>(
    inherited: Option<InheritedSocket>,
    handler: H,
    adopt: fn(InheritedSocket) -> Result<S, Error>,
    bind: impl FnOnce(H) -> Result<BaseServer<S, M, H>, Error>,
) -> Result<BaseServer<S, M, H>, Error>
where
    S: TcpServer,
    M: Dispatch + Default,
    H: RequestHandler<S::Request>,
{
    match inherited {
        Some(socket) => {
            adopt(socket).and_then(|socket| BaseServer::from_inherited(socket, handler))
        }
        None => bind(handler),
    }
}

/// Builds the server for `transport` with strategy `M`, configured by `configure`, echoing
/// streams with `stream`.
fn run<M, E>(
    transport: &Transport,
    address: &str,
    inherited: Option<InheritedSocket>,
    settings: &Settings,
    stream: E,
    configure: impl Fn(&mut M),
) -> Result<(), String>
where
    M: Dispatch + Default,
    E: RequestHandler<StreamRequest<std::net::TcpStream>>
        + RequestHandler<StreamRequest<std::os::unix::net::UnixStream>>
        + RequestHandler<StreamRequest<TlsStream>>,
{
    fn configured<S: TcpServer, M: Dispatch, H>(
        server: Result<BaseServer<S, M, H>, Error>,
        limits: Limits,
        configure: impl Fn(&mut M),
    ) -> Result<BaseServer<S, M, H>, Error> {
        server.map(|mut server| {
            configure(server.dispatch_mut());
            server.set_limits(limits);
            server
        })
    }
    let path_of = |address: &std::os::unix::net::SocketAddr| {
        address
            .as_pathname()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    // One connection handed over (inetd's standard input, systemd's Accept=yes): serve it with
    // the same handler, then exit.
    match inherited.as_ref().map(InheritedSocket::kind) {
        Some(SocketKind::Tcp { listening: false }) => {
            let socket = inherited
                .map(ConnectedSocket::<std::net::TcpStream>::from_inherited)
                .expect("matched Some")
                .map(|mut socket| {
                    socket.set_stream_options(StreamOptions {
                        disable_nagle_algorithm: true,
                        ..settings.options
                    });
                    socket
                });
            let shown = |address: &std::net::SocketAddr| address.to_string();
            return match &settings.tls {
                // inetd in front of TLS, as with stunnel: the handshake on the connection.
                Some(acceptor) => {
                    let built = socket.and_then(|socket| {
                        let tls = TlsSocket::new(socket, acceptor.clone());
                        BaseServer::with_transport(tls, stream, M::default())
                    });
                    serve(
                        configured(built, settings.limits, configure),
                        settings,
                        shown,
                    )
                }
                None => {
                    let built = socket.and_then(|socket| BaseServer::from_socket(socket, stream));
                    serve(
                        configured(built, settings.limits, configure),
                        settings,
                        shown,
                    )
                }
            };
        }
        Some(SocketKind::UnixStream { listening: false }) => {
            let built = inherited
                .map(ConnectedSocket::<std::os::unix::net::UnixStream>::from_inherited)
                .expect("matched Some")
                .and_then(|mut socket| {
                    socket.set_stream_options(settings.options);
                    BaseServer::from_socket(socket, stream)
                });
            return serve(
                configured(built, settings.limits, configure),
                settings,
                path_of,
            );
        }
        _ => {}
    }
    // Started by a service manager (socket activation): serve what it passed in, of the kind
    // the flags ask for (stream by default; TCP or Unix by the socket's family).
    let inherited_unix = inherited.as_ref().map(|socket| {
        matches!(
            socket.kind(),
            SocketKind::UnixStream { .. } | SocketKind::UnixDatagram
        )
    });
    let transport = match (transport, inherited_unix) {
        (Transport::Tcp | Transport::Unix(_), Some(true)) => &Transport::Unix(String::new()),
        (Transport::Tcp | Transport::Unix(_), Some(false)) => &Transport::Tcp,
        (Transport::Udp | Transport::UnixDatagram(_), Some(true)) => {
            &Transport::UnixDatagram(String::new())
        }
        (Transport::Udp | Transport::UnixDatagram(_), Some(false)) => &Transport::Udp,
        (transport, None) => transport,
    };
    match transport {
        Transport::Tcp if settings.tls.is_some() => {
            let acceptor = settings.tls.clone().expect("checked by the guard");
            let tls_of = |mut tcp: TcpSocket| {
                tcp.set_stream_options(StreamOptions {
                    disable_nagle_algorithm: true,
                    ..settings.options
                });
                tcp.set_proxy_protocol(settings.proxy.clone());
                TlsSocket::new(tcp, acceptor.clone())
            };
            let built = match inherited {
                Some(socket) => TcpSocket::from_inherited(socket)
                    .and_then(|tcp| BaseServer::inherited_with(tls_of(tcp), stream, M::default())),
                None => resolve(address).and_then(|address| {
                    let mut tcp = TcpSocket::new(address)?;
                    tcp.set_allow_reuse_port(settings.reuse_port);
                    BaseServer::with_transport(tls_of(tcp), stream, M::default())
                }),
            };
            serve(
                configured(built, settings.limits, configure),
                settings,
                |bound| bound.to_string(),
            )
        }
        Transport::Tcp => {
            let built =
                bind_or_adopt(
                    inherited,
                    stream,
                    TcpSocket::from_inherited,
                    |stream| match settings.reuse_port {
                        true => with_reuse_port(address, stream),
                        false => BaseServer::<TcpSocket, M, _>::new(address, stream),
                    },
                );
            let server = configured(built, settings.limits, configure);
            let server = server.map(|mut server| {
                // An echo answers each write at once: without TCP_NODELAY, Nagle's algorithm
                // and the client's delayed ACKs stall large messages for ~40 ms each.
                server.socket_mut().set_stream_options(StreamOptions {
                    disable_nagle_algorithm: true,
                    ..settings.options
                });
                server
                    .socket_mut()
                    .set_proxy_protocol(settings.proxy.clone());
                server
            });
            serve(server, settings, |bound| bound.to_string())
        }
        Transport::Udp => serve(
            configured(
                bind_or_adopt(inherited, DatagramEcho, UdpSocket::from_inherited, |echo| {
                    BaseServer::<UdpSocket, M, _>::new(address, echo)
                }),
                settings.limits,
                configure,
            ),
            settings,
            |bound| bound.to_string(),
        ),
        Transport::Unix(path) => serve(
            configured(
                bind_or_adopt(
                    inherited,
                    stream,
                    UnixStreamSocket::from_inherited,
                    |stream| BaseServer::<UnixStreamSocket, M, _>::new(path, stream),
                ),
                settings.limits,
                configure,
            )
            .map(|mut server| {
                server.socket_mut().set_stream_options(settings.options);
                server
            }),
            settings,
            path_of,
        ),
        Transport::UnixDatagram(path) => serve(
            configured(
                bind_or_adopt(
                    inherited,
                    DatagramEcho,
                    UnixDatagramSocket::from_inherited,
                    |echo| BaseServer::<UnixDatagramSocket, M, _>::new(path, echo),
                ),
                settings.limits,
                configure,
            ),
            settings,
            path_of,
        ),
    }
}

/// The first address `address` names.
fn resolve(address: &str) -> Result<std::net::SocketAddr, Error> {
    use std::net::ToSocketAddrs;
    address.to_socket_addrs()?.next().ok_or_else(|| {
        Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{address} names no address"),
        ))
    })
}

/// The sockets a service manager (or a hot restart) passed in (`LISTEN_FDS`), if any: the one
/// to serve (named `name`, or else the first) and, with `--metrics`, the one named `metrics`.
fn inherited_sockets(
    name: Option<&str>,
    metrics: bool,
) -> Result<(Option<InheritedSocket>, Option<InheritedSocket>), String> {
    let mut sockets = InheritedSocket::take_all().map_err(|e| e.to_string())?;
    let metrics_socket = sockets
        .iter()
        .position(|socket| metrics && socket.name() == METRICS_SOCKET)
        .map(|at| sockets.remove(at));
    Ok((inherited_socket(sockets, name)?, metrics_socket))
}

/// Of `sockets`, the one named `name`, or the first.
fn inherited_socket(
    sockets: Vec<InheritedSocket>,
    name: Option<&str>,
) -> Result<Option<InheritedSocket>, String> {
    if sockets.is_empty() {
        return match name {
            Some(name) => Err(format!(
                "--fd-name {name}: no sockets were passed in (LISTEN_FDS)"
            )),
            None => Ok(None),
        };
    }
    match name {
        None => Ok(sockets.into_iter().next()),
        Some(name) => {
            let names: Vec<String> = sockets.iter().map(|s| s.name().to_owned()).collect();
            sockets
                .into_iter()
                .find(|socket| socket.name() == name)
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "--fd-name {name}: no inherited socket has that name (there are: {})",
                        names.join(", ")
                    )
                })
        }
    }
}

fn main() -> ExitCode {
    common::init_logging();
    // A server holds a descriptor per connection: lift the soft limit (often 1024) to the hard
    // one, as Go's runtime does at start. Failing to is not fatal: the descriptor reserve then
    // pauses accepting before the lower limit runs out.
    if let Err(error) = socketserver::raise_fd_limit() {
        tracing::warn!(%error, "could not raise the descriptor limit");
    }

    let mut address = "127.0.0.1:9999".to_owned();
    let mut mode = "threading".to_owned();
    let mut transport = Transport::Tcp;
    let mut workers: Option<usize> = None;
    let mut settings = Settings::default();
    let mut fd_name: Option<String> = None;
    let mut daemon = Daemon::default();
    let mut proxy = false;
    let mut proxy_from: Option<Vec<TrustedNetwork>> = None;
    let (mut tls_cert, mut tls_key) = (None, None);
    let mut inetd = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--udp" => transport = Transport::Udp,
            "--inetd" => inetd = true,
            "--proxy-protocol" => proxy = true,
            "--reuse-port" => {
                settings.reuse_port = true;
            }
            "--addr"
            | "--mode"
            | "--unix"
            | "--unix-dgram"
            | "--workers"
            | "--max-connections"
            | "--max-per-ip"
            | "--overload"
            | "--idle-timeout"
            | "--first-byte-timeout"
            | "--write-timeout"
            | "--drain-timeout"
            | "--fd-name"
            | "--pid-file"
            | "--user"
            | "--group"
            | "--proxy-from"
            | "--processes"
            | "--tls-cert"
            | "--tls-key"
            | "--metrics"
            | "--max-requests" => {
                let Some(value) = args.next() else {
                    eprintln!("echo: {arg} needs a value; {USAGE}");
                    return ExitCode::from(2);
                };
                match arg.as_str() {
                    "--fd-name" => fd_name = Some(value),
                    "--tls-cert" => tls_cert = Some(value),
                    "--tls-key" => tls_key = Some(value),
                    "--metrics" => settings.metrics = Some(value),
                    "--proxy-from" => {
                        let parsed: Result<Vec<TrustedNetwork>, String> =
                            value.split(',').map(str::parse).collect();
                        match parsed {
                            Ok(networks) => proxy_from = Some(networks),
                            Err(message) => {
                                eprintln!("echo: --proxy-from: {message}; {USAGE}");
                                return ExitCode::from(2);
                            }
                        }
                    }
                    "--pid-file" => daemon.pid_file = Some(value),
                    "--processes" | "--max-requests" => match value.parse::<u64>() {
                        Ok(n) if n > 0 => {
                            if arg == "--processes" {
                                daemon.processes = Some(n as usize);
                            } else {
                                daemon.max_requests = Some(n);
                            }
                        }
                        _ => {
                            eprintln!(
                                "echo: {arg} needs a positive number, not {value:?}; {USAGE}"
                            );
                            return ExitCode::from(2);
                        }
                    },
                    "--user" => daemon.user = Some(value),
                    "--group" => daemon.group = Some(value),
                    "--addr" => address = value,
                    "--mode" => mode = value,
                    "--unix" => transport = Transport::Unix(value),
                    "--workers" => {
                        match value.parse::<usize>() {
                            Ok(n) if n > 0 => workers = Some(n),
                            _ => {
                                eprintln!("echo: --workers needs a positive number, not {value:?}; {USAGE}");
                                return ExitCode::from(2);
                            }
                        }
                    }
                    "--max-connections" | "--max-per-ip" => match value.parse::<usize>() {
                        Ok(n) if n > 0 => {
                            if arg == "--max-connections" {
                                settings.limits.max_connections = Some(n);
                            } else {
                                settings.limits.max_per_source = Some(n);
                            }
                        }
                        _ => {
                            eprintln!(
                                "echo: {arg} needs a positive number, not {value:?}; {USAGE}"
                            );
                            return ExitCode::from(2);
                        }
                    },
                    "--idle-timeout"
                    | "--first-byte-timeout"
                    | "--write-timeout"
                    | "--drain-timeout" => {
                        let secs = value
                            .parse::<f64>()
                            .ok()
                            .filter(|secs| secs.is_finite() && *secs > 0.0);
                        let Some(secs) = secs else {
                            eprintln!("echo: {arg} needs a positive number of seconds, not {value:?}; {USAGE}");
                            return ExitCode::from(2);
                        };
                        let after = Some(std::time::Duration::from_secs_f64(secs));
                        match arg.as_str() {
                            "--drain-timeout" => {
                                settings.drain_timeout = std::time::Duration::from_secs_f64(secs);
                            }
                            "--idle-timeout" => settings.options.idle_timeout = after,
                            "--first-byte-timeout" => settings.options.first_byte_timeout = after,
                            _ => settings.options.write_timeout = after,
                        }
                    }
                    "--overload" => match value.as_str() {
                        "wait" => settings.limits.overload = Overload::Wait,
                        "refuse" => settings.limits.overload = Overload::Refuse,
                        _ => {
                            eprintln!("echo: --overload is wait or refuse, not {value:?}; {USAGE}");
                            return ExitCode::from(2);
                        }
                    },
                    _ => transport = Transport::UnixDatagram(value),
                }
            }
            _ => {
                eprintln!("echo: unknown argument {arg:?}; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if daemon.max_requests.is_some() && daemon.processes.is_none() {
        eprintln!("echo: --max-requests needs --processes; {USAGE}");
        return ExitCode::from(2);
    }
    if daemon.group.is_some() && daemon.user.is_none() {
        eprintln!("echo: --group needs --user; {USAGE}");
        return ExitCode::from(2);
    }
    settings.daemon = daemon;
    if proxy_from.is_some() && !proxy {
        eprintln!("echo: --proxy-from needs --proxy-protocol; {USAGE}");
        return ExitCode::from(2);
    }
    if proxy {
        let mut policy = ProxyPolicy::default();
        if let Some(networks) = proxy_from {
            policy.trusted = networks;
        }
        settings.proxy = Some(policy);
    }
    match common::TlsFiles::from_flags(tls_cert, tls_key) {
        Ok(None) => {}
        Ok(Some(_)) if !matches!(transport, Transport::Tcp) => {
            eprintln!("echo: --tls-cert serves TCP only; {USAGE}");
            return ExitCode::from(2);
        }
        // Read (and checked) before anything is bound or forked: the pre-fork workers share
        // the ticket keys made here.
        Ok(Some(files)) => match files.acceptor("echo", |config| config) {
            Ok(acceptor) => settings.tls = Some(acceptor),
            Err(message) => return common::exit_status("echo", Err(message)),
        },
        Err(message) => {
            eprintln!("echo: {message}; {USAGE}");
            return ExitCode::from(2);
        }
    }
    if settings.metrics.is_some() && (inetd || settings.daemon.processes.is_some()) {
        eprintln!("echo: --metrics serves one process's counters: not with --inetd or --processes; {USAGE}");
        return ExitCode::from(2);
    }
    if settings.metrics.is_some() && matches!(mode.as_str(), "pool" | "event") {
        settings.message_latency = Some(LatencyHistogram::new());
    }
    if inetd
        && (fd_name.is_some()
            || settings.daemon.processes.is_some()
            || matches!(transport, Transport::Udp | Transport::UnixDatagram(_)))
    {
        eprintln!("echo: --inetd serves the stream connection on standard input in this process: no --fd-name, --processes, --udp or --unix-dgram; {USAGE}");
        return ExitCode::from(2);
    }
    let inherited = match inetd {
        true => InheritedSocket::from_stdin()
            .map(Some)
            .map_err(|e| format!("--inetd: {e}")),
        false => inherited_sockets(fd_name.as_deref(), settings.metrics.is_some()).map(
            |(inherited, metrics)| {
                settings.metrics_socket.set(metrics);
                inherited
            },
        ),
    };
    let inherited = match inherited {
        Ok(inherited) => inherited,
        Err(message) => return common::exit_status("echo", Err(message)),
    };
    if let Some(socket) = &inherited {
        settings.listener_name = socket.name().to_owned();
        settings.one_connection = matches!(
            socket.kind(),
            SocketKind::Tcp { listening: false } | SocketKind::UnixStream { listening: false }
        );
    }
    if inetd && !settings.one_connection {
        let kind = inherited
            .as_ref()
            .map_or(SocketKind::NotASocket, InheritedSocket::kind);
        return common::exit_status(
            "echo",
            Err(format!("--inetd: standard input is not a connected TCP or Unix stream socket ({kind:?}); run by inetd, systemd-socket-activate --inetd, or socat EXEC:")),
        );
    }
    let unix_connection = matches!(
        inherited.as_ref().map(InheritedSocket::kind),
        Some(SocketKind::UnixStream { listening: false })
    );
    if settings.one_connection
        && (settings.daemon.processes.is_some()
            || settings.metrics.is_some()
            || (unix_connection && settings.tls.is_some()))
    {
        eprintln!("echo: a connection handed over (--inetd, Accept=yes) is served by this process alone, without metrics, and over TLS only when it is TCP: no --processes or --metrics (nor --tls-cert for a Unix connection); {USAGE}");
        return ExitCode::from(2);
    }
    let result = match mode.as_str() {
        "threading" => run(
            &transport,
            &address,
            inherited,
            &settings,
            StreamEcho,
            |_: &mut ThreadingMixIn| {},
        ),
        "sequential" => run(
            &transport,
            &address,
            inherited,
            &settings,
            StreamEcho,
            |_: &mut Sequential| {},
        ),
        "forking" => run(
            &transport,
            &address,
            inherited,
            &settings,
            StreamEcho,
            |_: &mut ForkingMixIn| {},
        ),
        "pool" => run(
            &transport,
            &address,
            inherited,
            &settings,
            ParkingEcho {
                latency: settings.message_latency.clone(),
            },
            |pool: &mut ThreadPool| {
                if let Some(n) = workers {
                    pool.set_workers(n).set_queue_size(n);
                }
            },
        ),
        "coroutine" => run(
            &transport,
            &address,
            inherited,
            &settings,
            StreamEcho,
            |coroutines: &mut Coroutines| {
                if let Some(n) = workers {
                    coroutines.set_workers(n);
                }
            },
        ),
        "event" => {
            if matches!(transport, Transport::Udp | Transport::UnixDatagram(_)) {
                eprintln!("echo: --mode event serves stream sockets (TCP or --unix), not datagrams; {USAGE}");
                return ExitCode::from(2);
            }
            run(
                &transport,
                &address,
                inherited,
                &settings,
                ProtocolHandler::new(EchoProtocol {
                    latency: settings.message_latency.clone(),
                }),
                |event: &mut EventLoop| {
                    if let Some(n) = workers {
                        event.set_workers(n);
                    }
                },
            )
        }
        other => {
            eprintln!("echo: unknown mode {other:?}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    common::exit_status("echo", result)
}
