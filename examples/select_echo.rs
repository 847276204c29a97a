//! The seed blog's `select` echo server, rewritten on the selectors crate.
//!
//! Run:   cargo run --example select_echo [-- --addr HOST:PORT]
//! Try:   nc 127.0.0.1 9999            (type lines; they come back)
//!   or:  python3 -c "import socket; s=socket.create_connection(('127.0.0.1',9999)); s.sendall(b'hello'); print(s.recv(1024))"
//!
//! Default address 127.0.0.1:9999. Once listening it prints exactly one line to stdout,
//! `listening on ADDR` (the real port when port 0 was asked for). SIGINT or SIGTERM ends it at
//! once with exit status 0. A bad address: one line on stderr, exit status 2; a port in use (or
//! any other failure to listen): one line on stderr, exit status 1.
//!
//! The blog kept `inputs` (sockets to read), `outputs` (sockets with replies waiting) and `msg`
//! (a queue per connection), and called `select.select(inputs, outputs, [], 1)` in a loop. Here
//! `inputs` and `outputs` are each connection's registered [`Interest`], and `msg` is
//! [`Client::queue`]. Its bugs, fixed:
//!
//! - sockets are nonblocking, so one slow client cannot stall the others (the blog's `sendall`
//!   blocked the whole loop);
//! - write readiness is asked for only while bytes are queued, and the interest goes back to
//!   READABLE once the queue drains (a socket in `outputs` is writable nearly always);
//! - partial writes keep the unwritten tail in the queue;
//! - a client that closes (read returns 0), resets (`ECONNRESET`, `EPIPE`) or fails is
//!   unregistered and dropped (the blog appended empty reads to `outputs` forever, and its bare
//!   `except` left the socket in `outputs`);
//! - a client that sends faster than it reads is not read from while 1 MiB of its echo is
//!   waiting, so memory stays bounded;
//! - no one-second polling: a signal wakes the wait at once through a socket pair.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use selectors::{DefaultSelector, Event, Events, Interest, Selector, Token};
use signal_hook::consts::{SIGINT, SIGTERM};

const USAGE: &str = "usage: select_echo [--addr HOST:PORT]";
const DEFAULT_ADDR: &str = "127.0.0.1:9999";

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_CLIENT: usize = 2;

/// A client with this many echo bytes waiting is not read from until it reads some.
const HIGH_WATER: usize = 1 << 20;

fn main() -> ExitCode {
    let text = match parse_args(std::env::args().skip(1)) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("select_echo: {message}");
            return ExitCode::from(2);
        }
    };
    let addrs = match resolve(&text) {
        Ok(addrs) => addrs,
        Err(message) => {
            eprintln!("select_echo: {message}");
            return ExitCode::from(1);
        }
    };
    let listener = match TcpListener::bind(&addrs[..]) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("select_echo: cannot listen on {text}: {err}");
            return ExitCode::from(1);
        }
    };
    match serve(listener) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("select_echo: {err}");
            ExitCode::from(1)
        }
    }
}

/// Returns the address as given and what it resolves to, `None` for `--help`, or a one-line
/// error.
/// Parses the command line; `None` asks for the usage text. Errors are bad usage (exit 2).
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut addr = DEFAULT_ADDR.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .ok_or(format!("--addr needs a value; {USAGE}"))?
            }
            "-h" | "--help" => return Ok(None),
            _ => match arg.strip_prefix("--addr=") {
                Some(value) => addr = value.to_owned(),
                None => return Err(format!("unexpected argument {arg:?}; {USAGE}")),
            },
        }
    }
    Ok(Some(addr))
}

/// Resolves `addr`; errors are an address that cannot be used (exit 1, like a port in use).
fn resolve(addr: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|err| format!("bad address {addr:?} (expected HOST:PORT): {err}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("bad address {addr:?}: it resolves to nothing"));
    }
    Ok(addrs)
}

/// One connection and the bytes waiting to be echoed to it (the blog's `msg[conn]`).
struct Client {
    stream: TcpStream,
    queue: VecDeque<u8>,
    /// What it is registered for now.
    interest: Interest,
    /// The client closed its side: echo what is queued, then close.
    eof: bool,
}

impl Client {
    /// Reads and writes what the event allows; returns `false` once the client is done.
    fn handle(&mut self, event: &Event, buf: &mut [u8]) -> io::Result<bool> {
        if event.is_readable() {
            self.read_some(buf)?;
        }
        // Write straight away: most of the time the echo fits and no write wait is needed.
        self.write_some()?;
        Ok(!(self.eof && self.queue.is_empty()))
    }

    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<()> {
        while !self.eof && self.queue.len() < HIGH_WATER {
            match self.stream.read(buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.queue.extend(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Writes until the queue is empty or the socket is full; a partial write leaves the tail.
    fn write_some(&mut self) -> io::Result<()> {
        while !self.queue.is_empty() {
            let (front, _) = self.queue.as_slices();
            match self.stream.write(front) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => drop(self.queue.drain(..n)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// READABLE while it may send more and the backlog is small; WRITABLE while bytes wait.
    fn wanted(&self) -> Interest {
        let read = !self.eof && self.queue.len() < HIGH_WATER;
        match (read, self.queue.is_empty()) {
            (true, true) => Interest::READABLE,
            (true, false) => Interest::READABLE | Interest::WRITABLE,
            (false, _) => Interest::WRITABLE,
        }
    }
}

fn serve(listener: TcpListener) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut selector = DefaultSelector::new()?;
    selector.register(listener.as_fd(), Interest::READABLE, LISTENER)?;

    // The signal handler writes a byte into `signal_tx`; the wait sees `signal_rx` readable.
    let (signal_rx, signal_tx) = UnixStream::pair()?;
    signal_rx.set_nonblocking(true)?;
    signal_tx.set_nonblocking(true)?;
    signal_hook::low_level::pipe::register(SIGINT, signal_tx.try_clone()?)?;
    signal_hook::low_level::pipe::register(SIGTERM, signal_tx)?;
    selector.register(signal_rx.as_fd(), Interest::READABLE, SIGNALS)?;

    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);

    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next_token = FIRST_CLIENT;
    let mut accepting = true;
    let mut events = Events::with_capacity(256);
    let mut buf = vec![0; 64 * 1024];
    loop {
        selector.select(&mut events, None)?;
        for event in &events {
            match event.token() {
                SIGNALS => return Ok(()),
                LISTENER => {
                    accepting =
                        accept_all(&listener, &mut selector, &mut clients, &mut next_token)?;
                }
                token => {
                    let Some(client) = clients.get_mut(&token) else {
                        continue;
                    };
                    match client.handle(event, &mut buf) {
                        Ok(true) => {
                            let wanted = client.wanted();
                            if wanted != client.interest {
                                selector.modify(client.stream.as_fd(), wanted, token)?;
                                client.interest = wanted;
                            }
                            continue;
                        }
                        Ok(false) => {}
                        Err(err) => report(&err),
                    }
                    // Closed, reset or failed: forget it (unregister before the fd closes).
                    if let Some(client) = clients.remove(&token) {
                        selector.unregister(client.stream.as_fd())?;
                    }
                    if !accepting {
                        // A file descriptor was freed: accept again.
                        selector.register(listener.as_fd(), Interest::READABLE, LISTENER)?;
                        accepting = true;
                    }
                }
            }
        }
    }
}

/// Accepts every pending connection (the blog's `inputs.append(conn)`); returns `false` if the
/// process ran out of file descriptors, after unregistering the listener so the level-triggered
/// wait does not spin on it until a client leaves.
fn accept_all(
    listener: &TcpListener,
    selector: &mut DefaultSelector,
    clients: &mut HashMap<Token, Client>,
    next_token: &mut usize,
) -> io::Result<bool> {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) =>
            {
                continue
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                eprintln!("select_echo: not accepting until a client leaves: {err}");
                selector.unregister(listener.as_fd())?;
                return Ok(false);
            }
            Err(err) => return Err(err),
        };
        if let Err(err) = stream.set_nonblocking(true) {
            report(&err);
            continue;
        }
        let token = Token(*next_token);
        *next_token += 1;
        selector.register(stream.as_fd(), Interest::READABLE, token)?;
        let client = Client {
            stream,
            queue: VecDeque::new(),
            interest: Interest::READABLE,
            eof: false,
        };
        clients.insert(token, client);
    }
}

/// A client going away abruptly is normal; anything else is worth a line on stderr.
fn report(err: &io::Error) {
    use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    if !matches!(err.kind(), BrokenPipe | ConnectionReset | ConnectionAborted) {
        eprintln!("select_echo: dropping a client: {err}");
    }
}
