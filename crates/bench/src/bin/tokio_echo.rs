//! What a Rust user would pick instead: a tokio echo server (multi-threaded runtime, a task
//! per connection).
//!
//! Run:   cargo run --release -p socketserver-bench --bin tokio_echo -- --addr 127.0.0.1:0
//!        [--udp | --unix PATH]
//! Try:   nc 127.0.0.1 PORT            (type lines; they come back)
//!
//! The same work as `std_echo`, the async way: accept, spawn a task, copy every byte back with
//! an 8 KiB buffer (`read` / `write_all`) until EOF, half-close; accepted TCP sockets get
//! `TCP_NODELAY`. With `--unix PATH` a Unix stream socket; with `--udp` one task answers every
//! datagram. The runtime has one worker thread per core (tokio's default). The TCP listener's
//! backlog is 4096 (Linux's `SOMAXCONN`, what the `echo` example and the C epoll server listen
//! with) instead of the 1024 of `TcpListener::bind`: opening 10 000 idle connections at once
//! overflows a queue of 1024 and each overflow costs a 1 s SYN retransmit. Once listening it
//! prints exactly one line to stdout, `listening on ADDR` (the path for Unix); SIGINT or
//! SIGTERM makes it exit 0 at once. A bad address: one line on stderr and exit status 1
//! (2 for bad usage).

use std::io::{self, Write};
use std::process::ExitCode;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, UdpSocket, UnixListener};
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: tokio_echo [--addr HOST:PORT] [--udp | --unix PATH]";

/// Copies every byte back until EOF, then half-closes.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let _ = stream.shutdown().await;
}

/// The TCP listen backlog: Linux's `SOMAXCONN`, as the `echo` example and the C server use.
const BACKLOG: u32 = 4096;

/// `TcpListener::bind` with a backlog of `BACKLOG` (and `SO_REUSEADDR`, as `bind` sets it).
async fn bind_tcp(address: &str) -> io::Result<TcpListener> {
    let mut last = io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolves to nothing",
    );
    for at in tokio::net::lookup_host(address).await? {
        let socket = if at.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(at).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Backs off after a failed accept (out of descriptors, an aborted handshake).
async fn back_off() {
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
}

async fn serve_tcp(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(echo(stream));
            }
            Err(_) => back_off().await,
        }
    }
}

async fn serve_unix(listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream));
            }
            Err(_) => back_off().await,
        }
    }
}

async fn serve_udp(socket: UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let _ = socket.send_to(&buf[..n], from).await;
            }
            Err(_) => back_off().await,
        }
    }
}

/// Prints the ready line.
fn ready(shown: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {shown}")?;
    stdout.flush()
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut address = "127.0.0.1:9999".to_owned();
    let mut udp = false;
    let mut unix: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--udp" => udp = true,
            "--addr" | "--unix" => match args.next() {
                Some(value) if arg == "--addr" => address = value,
                Some(value) => unix = Some(value),
                None => {
                    eprintln!("tokio_echo: {arg} needs a value; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("tokio_echo: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("tokio_echo: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let server = match (udp, &unix) {
        (false, None) => match bind_tcp(&address).await {
            Ok(listener) => listener
                .local_addr()
                .map(|a| (a.to_string(), tokio::spawn(serve_tcp(listener)))),
            Err(e) => Err(e),
        },
        (true, None) => match UdpSocket::bind(&address).await {
            Ok(socket) => socket
                .local_addr()
                .map(|a| (a.to_string(), tokio::spawn(serve_udp(socket)))),
            Err(e) => Err(e),
        },
        (false, Some(path)) => UnixListener::bind(path)
            .map(|listener| (path.clone(), tokio::spawn(serve_unix(listener)))),
        (true, Some(_)) => {
            eprintln!("tokio_echo: --udp and --unix exclude each other; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let shown = match server {
        Ok((shown, _task)) => shown,
        Err(e) => {
            let at = unix.as_deref().unwrap_or(&address);
            eprintln!("tokio_echo: cannot listen on {at}: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = ready(&shown) {
        eprintln!("tokio_echo: {e}");
        return ExitCode::from(1);
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    if let Some(path) = unix {
        let _ = std::fs::remove_file(path);
    }
    // Exit at once, without waiting for connection tasks (as std_echo does).
    std::process::exit(0)
}
