//! The zero-framework baseline: a plain `std::net` thread-per-connection echo server.
//!
//! Run:   cargo run --release -p socketserver-bench --bin std_echo -- --addr 127.0.0.1:0
//!        [--udp | --unix PATH]
//! Try:   nc 127.0.0.1 PORT            (type lines; they come back)
//!
//! It does the same work as the `echo` example of the `socketserver` crate without the
//! framework: accept, spawn a thread, copy every byte back with an 8 KiB buffer
//! (read / write_all) until EOF, half-close. It listens with a backlog of 4096, as the others. Accepted TCP sockets get `TCP_NODELAY`, as the
//! example's do. With `--unix PATH` it serves a Unix stream socket the same way; with `--udp`
//! one thread answers every datagram (`recv_from` / `send_to`), the plain loop a UDP echo is.
//! Once listening it prints exactly one line to stdout, `listening on ADDR` (the path for
//! Unix); SIGINT or SIGTERM makes it exit 0 at once. A bad address: one line on stderr and
//! exit status 1 (2 for bad usage).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::process::ExitCode;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

const USAGE: &str = "usage: std_echo [--addr HOST:PORT] [--udp | --unix PATH]";

/// A connected stream that can be half-closed.
trait HalfClose: Read + Write {
    fn close_write(&self);
}

impl HalfClose for std::net::TcpStream {
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl HalfClose for std::os::unix::net::UnixStream {
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Copies every byte back until EOF, then half-closes (as the framework's `shutdown_request`).
fn echo(mut stream: impl HalfClose) {
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    stream.close_write();
}

/// The TCP listen backlog: Linux's `SOMAXCONN`, as the `echo` example, tokio_echo and the C
/// server use (std's `TcpListener::bind` listens with 128, which makes 2 000 simultaneous
/// connections trickle in over SYN retries and understates the baseline's memory).
const BACKLOG: i32 = 4096;

/// `TcpListener::bind` with a backlog of `BACKLOG` (and `SO_REUSEADDR`, as `bind` sets it).
fn bind_tcp(address: &str) -> io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let mut last = io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolves to nothing",
    );
    for at in address.to_socket_addrs()? {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(at),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        match socket
            .bind(&at.into())
            .and_then(|()| socket.listen(BACKLOG))
        {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Accepts forever, a thread per connection.
fn serve_streams<S: HalfClose + Send + 'static>(incoming: impl Iterator<Item = io::Result<S>>) {
    for stream in incoming {
        match stream {
            Ok(stream) => {
                if let Err(e) = std::thread::Builder::new().spawn(move || echo(stream)) {
                    eprintln!("std_echo: cannot spawn a thread: {e}");
                }
            }
            // Rare (out of descriptors, an aborted handshake): back off rather than spin.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Answers every datagram from one thread, forever.
fn serve_datagrams(socket: &UdpSocket) {
    let mut buf = [0u8; 65536];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let _ = socket.send_to(&buf[..n], from);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What to serve, bound and ready.
enum Bound {
    Tcp(TcpListener),
    Udp(UdpSocket),
    Unix(UnixListener, String),
}

impl Bound {
    fn shown(&self) -> io::Result<String> {
        match self {
            Bound::Tcp(listener) => listener.local_addr().map(|a| a.to_string()),
            Bound::Udp(socket) => socket.local_addr().map(|a| a.to_string()),
            Bound::Unix(_, path) => Ok(path.clone()),
        }
    }
}

fn main() -> ExitCode {
    let mut address = "127.0.0.1:9999".to_owned();
    let mut udp = false;
    let mut unix = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--udp" => udp = true,
            "--addr" | "--unix" => match args.next() {
                Some(value) if arg == "--addr" => address = value,
                Some(value) => unix = Some(value),
                None => {
                    eprintln!("std_echo: {arg} needs a value; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("std_echo: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let bound = match (udp, unix) {
        (false, None) => bind_tcp(&address).map(Bound::Tcp),
        (true, None) => UdpSocket::bind(&address).map(Bound::Udp),
        (false, Some(path)) => UnixListener::bind(&path).map(|l| Bound::Unix(l, path)),
        (true, Some(_)) => {
            eprintln!("std_echo: --udp and --unix exclude each other; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let bound = match bound {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("std_echo: cannot listen on {address}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("std_echo: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let unix_path = match &bound {
        Bound::Unix(_, path) => Some(path.clone()),
        _ => None,
    };
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            if let Some(path) = unix_path {
                let _ = std::fs::remove_file(path);
            }
            std::process::exit(0);
        }
    });
    match bound.shown() {
        Ok(shown) => {
            let mut stdout = io::stdout().lock();
            if writeln!(stdout, "listening on {shown}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(1);
            }
        }
        Err(e) => {
            eprintln!("std_echo: {e}");
            return ExitCode::from(1);
        }
    }
    // Each runs until a signal ends the process.
    match bound {
        Bound::Tcp(listener) => serve_streams(listener.incoming().map(|stream| {
            let stream = stream?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })),
        Bound::Udp(socket) => serve_datagrams(&socket),
        Bound::Unix(listener, _) => serve_streams(listener.incoming()),
    }
    ExitCode::SUCCESS
}
