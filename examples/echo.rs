//! The main job: an echo server (every byte back until the client closes; every datagram back
//! to its sender).
//!
//! Run:   cargo run --release --example echo [-- OPTIONS]
//!
//!   --addr HOST:PORT        TCP (or, with --udp, UDP) address; default 127.0.0.1:9999
//!   --mode MODE             threading (default) | sequential | forking | pool | event
//!   --workers N             pool size with --mode pool (default: CPUs × 4); loop threads
//!                           with --mode event (default: CPUs)
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
//!   --udp                   serve UDP datagrams at --addr instead of TCP
//!   --unix PATH             serve a Unix stream socket at PATH instead
//!   --unix-dgram PATH       serve a Unix datagram socket at PATH instead
//!
//! Try:   nc 127.0.0.1 9999                  (type lines; they come back)
//!        nc -u 127.0.0.1 9999               (with --udp)
//!        nc -U /tmp/echo.sock               (with --unix /tmp/echo.sock)
//!   or:  python3 -c "import socket; s=socket.create_connection(('127.0.0.1',9999)); s.sendall(b'hi'); print(s.recv(2))"
//!
//! In --mode pool a connection holds a worker only while a message is in flight: between
//! messages it is parked (StreamRequest::park). In --mode event the echo is a Protocol
//! (asyncio-style callbacks) on event-loop threads. Event mode serves TCP and --unix only.
//!
//! At start it raises its soft descriptor limit to the hard one (a descriptor per connection).
//!
//! Once listening it prints exactly one line to stdout, `listening on ADDR` (the real port when
//! port 0 was asked for; the path for Unix sockets). SIGINT or SIGTERM drains it gracefully:
//! the listener closes at once (connections already in the backlog are served), every idle
//! connection closes cleanly after its last answer, one that has not spoken yet after a 1 s
//! grace, and it exits 0 once none remain, or at --drain-timeout after closing the rest; one
//! stderr line `echo: drained in …` summarises the drain. A second SIGINT or SIGTERM closes
//! everything at once (exit 0). A bad address, a port or path in use: one line on stderr and exit status 1 (2 for
//! bad command-line usage). Logs go to stderr, filtered by RUST_LOG
//! (e.g. RUST_LOG=socketserver=debug).

mod common;

use std::io;

use std::process::ExitCode;

use std::io::BufRead;

use socketserver::{
    BaseServer, Callbacks, Connection, DatagramRequest, DatagramSocket, Dispatch, Error, EventLoop,
    ForkingMixIn, Limits, Overload, Protocol, RequestHandler, Sequential, StreamOptions,
    StreamRequest, StreamSocket, TcpServer, TcpSocket, ThreadPool, ThreadingMixIn, UdpSocket,
    UnixDatagramSocket, UnixStreamSocket,
};

const USAGE: &str = "usage: echo [--addr HOST:PORT] [--mode threading|sequential|forking|pool|event] [--workers N] [--max-connections N] [--overload wait|refuse] [--max-per-ip N] [--idle-timeout SECS] [--first-byte-timeout SECS] [--write-timeout SECS] [--drain-timeout SECS] [--udp | --unix PATH | --unix-dgram PATH]";

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
/// message is in flight.
#[derive(Clone)]
struct ParkingEcho;

impl<S: StreamSocket> RequestHandler<StreamRequest<S>> for ParkingEcho {
    fn setup(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        request.park();
        Ok(())
    }

    fn handle(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        let data = request.rfile.fill_buf()?;
        if data.is_empty() {
            return Ok(()); // the client closed: the connection ends
        }
        let n = data.len();
        io::Write::write_all(&mut request.wfile, data)?;
        request.rfile.consume(n);
        request.park();
        Ok(())
    }
}

/// The echo as event-loop callbacks.
#[derive(Clone)]
struct EchoProtocol;

impl<S: StreamSocket> Protocol<S> for EchoProtocol {
    fn data_received(&mut self, conn: &mut Connection<'_, S>, data: &[u8]) -> io::Result<()> {
        conn.write(data);
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

/// The limits and the connection settings from the command line.
#[derive(Clone, Copy)]
struct Settings {
    limits: Limits,
    options: StreamOptions,
    drain_timeout: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            options: StreamOptions::default(),
            drain_timeout: std::time::Duration::from_secs(30),
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
    drain_timeout: std::time::Duration,
    shown: impl FnOnce(&S::Address) -> String,
) -> Result<(), String>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    let mut server = server.map_err(|e| e.to_string())?;
    let bound = server.server_address().map_err(|e| e.to_string())?;
    common::serve_until_signal("echo", &mut server, &shown(&bound), drain_timeout)
}

/// Builds the server for `transport` with strategy `M`, configured by `configure`, echoing
/// streams with `stream`.
fn run<M, E>(
    transport: &Transport,
    address: &str,
    settings: Settings,
    stream: E,
    configure: impl Fn(&mut M),
) -> Result<(), String>
where
    M: Dispatch + Default,
    E: RequestHandler<StreamRequest<std::net::TcpStream>>
        + RequestHandler<StreamRequest<std::os::unix::net::UnixStream>>,
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
    match transport {
        Transport::Tcp => {
            let server = configured(
                BaseServer::<TcpSocket, M, _>::new(address, stream),
                settings.limits,
                configure,
            );
            let server = server.map(|mut server| {
                // An echo answers each write at once: without TCP_NODELAY, Nagle's algorithm
                // and the client's delayed ACKs stall large messages for ~40 ms each.
                server.socket_mut().set_stream_options(StreamOptions {
                    disable_nagle_algorithm: true,
                    ..settings.options
                });
                server
            });
            serve(server, settings.drain_timeout, |bound| bound.to_string())
        }
        Transport::Udp => serve(
            configured(
                BaseServer::<UdpSocket, M, _>::new(address, DatagramEcho),
                settings.limits,
                configure,
            ),
            settings.drain_timeout,
            |bound| bound.to_string(),
        ),
        Transport::Unix(path) => serve(
            configured(
                BaseServer::<UnixStreamSocket, M, _>::new(path, stream),
                settings.limits,
                configure,
            )
            .map(|mut server| {
                server.socket_mut().set_stream_options(settings.options);
                server
            }),
            settings.drain_timeout,
            path_of,
        ),
        Transport::UnixDatagram(path) => serve(
            configured(
                BaseServer::<UnixDatagramSocket, M, _>::new(path, DatagramEcho),
                settings.limits,
                configure,
            ),
            settings.drain_timeout,
            path_of,
        ),
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
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--udp" => transport = Transport::Udp,
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
            | "--drain-timeout" => {
                let Some(value) = args.next() else {
                    eprintln!("echo: {arg} needs a value; {USAGE}");
                    return ExitCode::from(2);
                };
                match arg.as_str() {
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
    let result = match mode.as_str() {
        "threading" => run(
            &transport,
            &address,
            settings,
            StreamEcho,
            |_: &mut ThreadingMixIn| {},
        ),
        "sequential" => run(
            &transport,
            &address,
            settings,
            StreamEcho,
            |_: &mut Sequential| {},
        ),
        "forking" => run(
            &transport,
            &address,
            settings,
            StreamEcho,
            |_: &mut ForkingMixIn| {},
        ),
        "pool" => run(
            &transport,
            &address,
            settings,
            ParkingEcho,
            |pool: &mut ThreadPool| {
                if let Some(n) = workers {
                    pool.set_workers(n).set_queue_size(n);
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
                settings,
                Callbacks::new(EchoProtocol),
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
