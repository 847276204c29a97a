//! A chat server: every line a client sends goes to every other client.
//!
//! Run:   cargo run --release --example chat [-- --addr HOST:PORT] [--mode event|coroutine|threading]
//!            [--workers N] [--when-full disconnect|drop]
//! Try:   nc 127.0.0.1 9998   (in two terminals; type a line in one)
//!
//! Under `--mode event` (the default) each connection is a `Protocol` on an event loop and the
//! fan-out goes through each member's `ConnectionHandle`; under `coroutine` and `threading`
//! each connection's handler is plain blocking code (read a line, hand it on) and the fan-out
//! goes through each member's `ConnectionWriter`. Either way a member that does not read
//! cannot make the server's memory grow: past 64 KiB of pending output (the event loop's
//! high watermark, over a small kernel buffer; a writer's, kernel included) `--when-full`
//! decides — `disconnect` (the default) drops the member, `drop` drops the line for that
//! member only.
//!
//! A client joins with one line of its own, `* welcome, N here\n`, sent before any line of
//! others; after it, it gets every line the others send, byte for byte. A line is at most
//! 64 KiB (a longer one ends that client's connection with `* line too long\n`).
//!
//! Default --addr 127.0.0.1:9998. Once listening it prints exactly one line to stdout,
//! `listening on ADDR` (the real port when port 0 was asked for). SIGINT or SIGTERM shuts it
//! down and it exits 0. A bad address or a port in use: one line on stderr and exit status 1
//! (2 for bad command-line usage). Logs go to stderr, filtered by RUST_LOG.

mod common;

use std::collections::HashMap;
use std::io::{self, BufRead, Read};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use socketserver::{
    BaseServer, Connection, ConnectionHandle, ConnectionWriter, CoroutineTcpServer, EventTcpServer,
    HandleError, Protocol, ProtocolHandler, StreamRequest, ThreadingTcpServer, WhenFull, Written,
};

const USAGE: &str = "usage: chat [--addr HOST:PORT] [--mode event|coroutine|threading] \
                     [--workers N] [--when-full disconnect|drop]";

/// The longest line a client may send.
const MAX_LINE: usize = 64 * 1024;

/// Where a line goes: a connection's handle (event loop) or writer (blocking handlers).
trait Member: Send + Sync + 'static {
    fn send(&self, line: &[u8], when_full: WhenFull) -> Result<Written, HandleError>;
}

impl Member for ConnectionHandle {
    fn send(&self, line: &[u8], when_full: WhenFull) -> Result<Written, HandleError> {
        self.write(line, when_full)
    }
}

impl Member for ConnectionWriter {
    fn send(&self, line: &[u8], when_full: WhenFull) -> Result<Written, HandleError> {
        self.write(line, when_full)
    }
}

/// Everyone connected, by member id.
struct Room<M> {
    members: RwLock<HashMap<u64, M>>,
    next_id: AtomicU64,
    when_full: WhenFull,
}

impl<M: Member> Room<M> {
    fn new(when_full: WhenFull) -> Arc<Self> {
        Arc::new(Room {
            members: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            when_full,
        })
    }

    /// Adds `member`, greeting it first (under the lock, so no line of others comes before).
    fn join(&self, member: M, greet: impl FnOnce(&M, usize)) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut members = self.members.write();
        greet(&member, members.len() + 1);
        members.insert(id, member);
        id
    }

    fn leave(&self, id: u64) {
        self.members.write().remove(&id);
    }

    /// Sends `line` to everyone but `from`; members that are gone, or were disconnected for
    /// not reading, leave.
    fn broadcast(&self, from: u64, line: &[u8]) {
        let mut gone = Vec::new();
        for (&id, member) in self.members.read().iter() {
            if id == from {
                continue;
            }
            match member.send(line, self.when_full) {
                Ok(_) | Err(HandleError::Full) => {}
                Err(error) => {
                    tracing::debug!(member = id, %error, "a member leaves");
                    gone.push(id);
                }
            }
        }
        if !gone.is_empty() {
            let mut members = self.members.write();
            for id in gone {
                members.remove(&id);
            }
        }
    }
}

fn welcome(here: usize) -> Vec<u8> {
    format!("* welcome, {here} here\n").into_bytes()
}

/// The event-loop form: a protocol per connection, fanning out through handles.
#[derive(Clone)]
struct ChatProtocol {
    room: Arc<Room<ConnectionHandle>>,
    /// This connection's member id, once joined.
    me: Option<u64>,
    /// The unfinished line.
    partial: Vec<u8>,
}

impl Protocol for ChatProtocol {
    fn connection_made(&mut self, conn: &mut Connection<'_>) -> io::Result<()> {
        // Chat lines are small: a small kernel buffer per member keeps a slow one's backlog
        // (kernel plus our watermark) small.
        socket2::SockRef::from(conn.socket()).set_send_buffer_size(16 * 1024)?;
        let handle = conn.handle()?;
        self.me = Some(self.room.join(handle, |_, here| conn.write(&welcome(here))));
        conn.set_busy(false);
        Ok(())
    }

    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        let me = self.me.unwrap_or(u64::MAX);
        let mut rest = data;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end + 1);
            if self.partial.is_empty() {
                self.room.broadcast(me, line);
            } else {
                self.partial.extend_from_slice(line);
                self.room.broadcast(me, &self.partial);
                self.partial.clear();
            }
            rest = after;
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_LINE {
            conn.write(b"* line too long\n");
            conn.close();
        }
        conn.set_busy(!self.partial.is_empty());
        Ok(())
    }

    fn connection_lost(&mut self, _reason: Option<&socketserver::RequestError>) {
        if let Some(me) = self.me.take() {
            self.room.leave(me);
        }
    }
}

/// The blocking form: read a line, hand it on, until the client leaves.
fn chat_handler(
    room: Arc<Room<ConnectionWriter>>,
) -> impl FnMut(&mut StreamRequest) -> io::Result<()> + Clone + Send + 'static {
    move |request: &mut StreamRequest| {
        let writer = request.writer()?;
        // As far behind as a member on the event loop may fall.
        writer.set_high_watermark(64 * 1024);
        let me = room.join(writer.clone(), |writer, here| {
            let _ = writer.write(&welcome(here), WhenFull::Disconnect);
        });
        let _leave = Leave(&room, me);
        let mut line = Vec::new();
        loop {
            line.clear();
            let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
            if (&mut request.rfile)
                .take(limit)
                .read_until(b'\n', &mut line)?
                == 0
            {
                return Ok(());
            }
            if line.last() != Some(&b'\n') {
                if line.len() > MAX_LINE {
                    let _ = writer.write(b"* line too long\n", WhenFull::Drop);
                }
                return Ok(()); // too long, or the client left mid-line
            }
            room.broadcast(me, &line);
        }
    }
}

/// Leaves the room when the handler ends, however it ends.
struct Leave<'a>(&'a Room<ConnectionWriter>, u64);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave(self.1);
    }
}

fn serve(
    address: &str,
    mode: &str,
    workers: Option<usize>,
    when_full: WhenFull,
) -> Result<(), String> {
    // A chat server holds every client's socket open: let it hold as many as the system does.
    if let Err(error) = socketserver::raise_fd_limit() {
        tracing::warn!(%error, "could not raise the descriptor limit");
    }
    let drain = Duration::from_secs(2);
    match mode {
        "event" => {
            let protocol = ChatProtocol {
                room: Room::new(when_full),
                me: None,
                partial: Vec::new(),
            };
            let mut server = EventTcpServer::new(address, ProtocolHandler::new(protocol))
                .map_err(|e| e.to_string())?;
            if let Some(workers) = workers {
                server.dispatch_mut().set_workers(workers);
            }
            run(&mut server, drain)
        }
        "coroutine" => {
            let mut server = CoroutineTcpServer::new(address, chat_handler(Room::new(when_full)))
                .map_err(|e| e.to_string())?;
            if let Some(workers) = workers {
                server.dispatch_mut().set_workers(workers);
            }
            run(&mut server, drain)
        }
        _ => {
            let mut server = ThreadingTcpServer::new(address, chat_handler(Room::new(when_full)))
                .map_err(|e| e.to_string())?;
            run(&mut server, drain)
        }
    }
}

fn run<S, M, H>(server: &mut BaseServer<S, M, H>, drain: Duration) -> Result<(), String>
where
    S: socketserver::TcpServer<Address = std::net::SocketAddr>,
    M: socketserver::Dispatch,
    H: socketserver::RequestHandler<S::Request>,
{
    let bound = server.server_address().map_err(|e| e.to_string())?;
    common::serve_until_signal("chat", server, &bound.to_string(), drain)
}

fn main() -> ExitCode {
    common::init_logging();

    let mut address = "127.0.0.1:9998".to_owned();
    let mut mode = "event".to_owned();
    let mut workers = None;
    let mut when_full = WhenFull::Disconnect;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let ok = match (arg.as_str(), value.as_deref()) {
            ("--addr", Some(value)) => {
                address = value.to_owned();
                true
            }
            ("--mode", Some(value @ ("event" | "coroutine" | "threading"))) => {
                mode = value.to_owned();
                true
            }
            ("--workers", Some(value)) => value.parse().map(|n| workers = Some(n)).is_ok(),
            ("--when-full", Some("disconnect")) => {
                when_full = WhenFull::Disconnect;
                true
            }
            ("--when-full", Some("drop")) => {
                when_full = WhenFull::Drop;
                true
            }
            _ => false,
        };
        if !ok {
            eprintln!("chat: bad arguments; {USAGE}");
            return ExitCode::from(2);
        }
    }
    common::exit_status("chat", serve(&address, &mode, workers, when_full))
}
