//! Graceful drain: idle connections close at once after their answers, messages in flight
//! finish, the backlog is served, silent connections get a grace, and the deadline ends what
//! remains — under every strategy, with TestServer's leak check.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
use socketserver::{
    BaseServer, Connection, Dispatch, DrainOptions, DrainReport, EventLoop, ForkingMixIn, Protocol,
    ProtocolHandler, RequestHandler, Sequential, StreamRequest, StreamSocket, TcpSocket,
    TestServer, ThreadPool, ThreadingMixIn,
};

mod util;

use util::{assert_clean_eof, connect, connect_unix, eventually, exchange, expect_echo, PATIENCE};

/// Long enough that no test ever reaches it unless it means to.
const LONG: Duration = Duration::from_secs(60);

/// Echoes with `io::copy`: the handler knows nothing about drains.
fn copy_echo<T: StreamSocket>(req: &mut StreamRequest<T>) -> io::Result<()> {
    io::copy(&mut req.rfile, &mut req.wfile).map(drop)
}

/// An echo that parks between messages (a pool worker is held only while a message is in
/// flight).
#[derive(Clone)]
struct ParkingEcho;

impl RequestHandler<StreamRequest> for ParkingEcho {
    fn setup(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        req.park();
        Ok(())
    }

    fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        let data = req.rfile.fill_buf()?;
        if data.is_empty() {
            return Ok(());
        }
        let n = data.len();
        req.wfile.write_all(data)?;
        req.rfile.consume(n);
        req.park();
        Ok(())
    }
}

#[derive(Clone)]
struct EventEcho;

impl<T: StreamSocket> Protocol<T> for EventEcho {
    fn data_received(&mut self, conn: &mut Connection<'_, T>, data: &[u8]) -> io::Result<()> {
        conn.write(data);
        Ok(())
    }
}

fn server<M: Dispatch + Default, H: RequestHandler<StreamRequest>>(
    handler: H,
    grace: Duration,
) -> BaseServer<TcpSocket, M, H> {
    let mut server = BaseServer::<TcpSocket, M, H>::new("127.0.0.1:0", handler).unwrap();
    server.set_drain_options(DrainOptions::default().with_first_byte_grace(grace));
    server
}

fn assert_nothing_forced(report: &DrainReport) {
    assert_eq!(report.forced, 0, "{report:?}");
    assert_eq!(report.still_running, 0, "{report:?}");
}

/// Connections that have been answered and wait for their next message close at once, each
/// with a clean end-of-file after its answer.
fn idle_connections_close_after_their_answers<M, H>(handler: H, clients: usize)
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let server = TestServer::start(server::<M, H>(handler, LONG));
    let mut connections: Vec<TcpStream> = (0..clients).map(|_| connect(server.address())).collect();
    for (n, client) in connections.iter_mut().enumerate() {
        exchange(client, format!("ping {n}\n").as_bytes());
    }
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_nothing_forced(&report);
    assert_eq!(report.idle_closed, clients as u64, "{report:?}");
    for client in &mut connections {
        assert_clean_eof(client);
    }
}

#[test]
fn idle_connections_close_at_once_sequential() {
    idle_connections_close_after_their_answers::<Sequential, _>(copy_echo, 1);
}

#[test]
fn idle_connections_close_at_once_threading() {
    idle_connections_close_after_their_answers::<ThreadingMixIn, _>(copy_echo, 4);
}

#[test]
fn idle_connections_close_at_once_pool_blocking() {
    idle_connections_close_after_their_answers::<ThreadPool, _>(copy_echo, 4);
}

#[test]
fn idle_connections_close_at_once_pool_parked() {
    idle_connections_close_after_their_answers::<ThreadPool, _>(ParkingEcho, 4);
}

#[test]
fn idle_connections_close_at_once_threading_parked() {
    idle_connections_close_after_their_answers::<ThreadingMixIn, _>(ParkingEcho, 4);
}

#[test]
fn idle_connections_close_at_once_event() {
    idle_connections_close_after_their_answers::<EventLoop, _>(ProtocolHandler::new(EventEcho), 4);
}

/// A forked child cannot tell its parent why it ended: an idle child counts as finished.
#[test]
fn idle_children_end_at_once_forking() {
    util::in_subprocess("idle_children_end_at_once_forking", || {
        let server = TestServer::start(server::<ForkingMixIn, _>(copy_echo, LONG));
        let mut connections: Vec<TcpStream> = (0..3).map(|_| connect(server.address())).collect();
        for client in &mut connections {
            exchange(client, b"ping\n");
        }
        let (report, _stopped) = server.drain(LONG).unwrap();
        assert_nothing_forced(&report);
        assert_eq!(report.idle_closed + report.finished, 3, "{report:?}");
        for client in &mut connections {
            assert_clean_eof(client);
        }
    });
}

/// A handler that answers each line only when the test opens its gate, and says when a line
/// has arrived: a message in flight, held there by the test.
#[derive(Clone)]
struct Gated {
    arrived: Sender<()>,
    gate: Receiver<()>,
}

impl RequestHandler<StreamRequest> for Gated {
    fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        loop {
            let mut line = String::new();
            if req.rfile.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let _ = self.arrived.send(());
            self.gate.recv().map_err(io::Error::other)?;
            req.wfile.write_all(line.as_bytes())?;
        }
    }
}

fn gated() -> (Gated, Receiver<()>, Sender<()>) {
    let (arrived_tx, arrived) = unbounded();
    let (open, gate) = unbounded();
    (
        Gated {
            arrived: arrived_tx,
            gate,
        },
        arrived,
        open,
    )
}

/// A message that has arrived when the drain begins is answered in full, then the connection
/// ends cleanly at its next boundary.
fn a_message_in_flight_is_finished<M: Dispatch + Default>() {
    let (handler, arrived, open) = gated();
    let server = TestServer::start(server::<M, _>(handler, LONG));
    let mut client = connect(server.address());
    client.write_all(b"in flight\n").unwrap();
    arrived.recv_timeout(PATIENCE).unwrap();
    server.shutdown_handle().drain(LONG);
    open.send(()).unwrap();
    expect_echo(&mut client, b"in flight\n");
    assert_clean_eof(&mut client);
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_nothing_forced(&report);
    assert_eq!(report.idle_closed + report.finished, 1, "{report:?}");
}

per_strategy_in_process!(a_message_in_flight_is_finished);

/// Connections waiting in the listen backlog when the drain begins are accepted and served:
/// a sequential server is busy with one client while two more connect and send.
#[test]
fn the_backlog_is_served_not_reset() {
    let (handler, arrived, open) = gated();
    let server = TestServer::start(server::<Sequential, _>(handler, LONG));
    let mut busy = connect(server.address());
    busy.write_all(b"first\n").unwrap();
    arrived.recv_timeout(PATIENCE).unwrap();
    let mut waiting: Vec<TcpStream> = (0..2).map(|_| connect(server.address())).collect();
    for (n, client) in waiting.iter_mut().enumerate() {
        client
            .write_all(format!("queued {n}\n").as_bytes())
            .unwrap();
    }
    server.shutdown_handle().drain(LONG);
    // The first client's answer, then one for each queued client.
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    let mut reply = vec![0; 6];
    busy.read_exact(&mut reply).unwrap();
    assert_clean_eof(&mut busy);
    for (n, client) in waiting.iter_mut().enumerate() {
        expect_echo(client, format!("queued {n}\n").as_bytes());
        assert_clean_eof(client);
    }
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_eq!(report.from_backlog, 2, "{report:?}");
    assert_nothing_forced(&report);
}

/// A pool whose one worker is held by a blocking handler: the connections queued behind it
/// are served once the drain closes the idle one, not dropped.
#[test]
fn queued_pool_connections_are_served() {
    let mut server = server::<ThreadPool, _>(copy_echo, LONG);
    server.dispatch_mut().set_workers(1).set_queue_size(8);
    let server = TestServer::start(server);
    let mut first = connect(server.address());
    exchange(&mut first, b"first\n");
    let mut queued: Vec<TcpStream> = (0..3).map(|_| connect(server.address())).collect();
    for client in &mut queued {
        client.write_all(b"queued\n").unwrap();
    }
    assert!(
        eventually(|| server.stats().open == 4),
        "the queued connections were accepted"
    );
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_nothing_forced(&report);
    assert_clean_eof(&mut first);
    for client in &mut queued {
        expect_echo(client, b"queued\n");
        assert_clean_eof(client);
    }
}

/// A client that connected just before the drain and speaks within the grace is answered.
fn a_silent_client_gets_the_grace<M: Dispatch + Default, H: RequestHandler<StreamRequest>>(
    handler: H,
) {
    let server = TestServer::start(server::<M, H>(handler, LONG));
    let mut client = connect(server.address());
    assert!(eventually(|| server.stats().open == 1));
    server.shutdown_handle().drain(LONG);
    exchange(&mut client, b"late but in time\n");
    client.shutdown(Shutdown::Write).unwrap();
    assert_clean_eof(&mut client);
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_nothing_forced(&report);
}

#[test]
fn a_silent_client_gets_the_grace_threading() {
    a_silent_client_gets_the_grace::<ThreadingMixIn, _>(copy_echo);
}

#[test]
fn a_silent_client_gets_the_grace_pool_parked() {
    a_silent_client_gets_the_grace::<ThreadPool, _>(ParkingEcho);
}

#[test]
fn a_silent_client_gets_the_grace_event() {
    a_silent_client_gets_the_grace::<EventLoop, _>(ProtocolHandler::new(EventEcho));
}

#[test]
fn a_silent_client_gets_the_grace_forking() {
    util::in_subprocess("a_silent_client_gets_the_grace_forking", || {
        a_silent_client_gets_the_grace::<ForkingMixIn, _>(copy_echo)
    });
}

/// After the grace a client that never spoke is closed as idle, long before the deadline.
fn a_silent_client_is_closed_after_the_grace<M, H>(handler: H)
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let server = TestServer::start(server::<M, H>(handler, Duration::from_millis(50)));
    let mut client = connect(server.address());
    assert!(eventually(|| server.stats().open == 1));
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_nothing_forced(&report);
    assert_clean_eof(&mut client);
}

#[test]
fn a_silent_client_is_closed_after_the_grace_sequential() {
    a_silent_client_is_closed_after_the_grace::<Sequential, _>(copy_echo);
}

#[test]
fn a_silent_client_is_closed_after_the_grace_pool() {
    a_silent_client_is_closed_after_the_grace::<ThreadPool, _>(copy_echo);
}

#[test]
fn a_silent_client_is_closed_after_the_grace_pool_parked() {
    a_silent_client_is_closed_after_the_grace::<ThreadPool, _>(ParkingEcho);
}

#[test]
fn a_silent_client_is_closed_after_the_grace_event() {
    a_silent_client_is_closed_after_the_grace::<EventLoop, _>(ProtocolHandler::new(EventEcho));
}

#[test]
fn a_silent_client_is_closed_after_the_grace_forking() {
    util::in_subprocess("a_silent_client_is_closed_after_the_grace_forking", || {
        a_silent_client_is_closed_after_the_grace::<ForkingMixIn, _>(copy_echo)
    });
}

/// Reads a header line, then (busy) a body that never comes: blocked in `read` mid-message.
fn stuck_reading(req: &mut StreamRequest) -> io::Result<()> {
    let mut header = String::new();
    req.rfile.read_line(&mut header)?;
    let _busy = req.busy();
    let mut body = [0; 16];
    req.rfile.read_exact(&mut body)
}

/// Writes until the peer stops reading: blocked in `write`.
fn stuck_writing(req: &mut StreamRequest) -> io::Result<()> {
    let mut header = String::new();
    req.rfile.read_line(&mut header)?;
    let chunk = [b'w'; 64 * 1024];
    loop {
        req.wfile.write_all(&chunk)?;
    }
}

/// At the deadline, a handler blocked in `read` mid-message and one blocked in `write` both
/// return; nothing outlives the server.
fn the_deadline_ends_blocked_handlers<M: Dispatch + Default>() {
    let handler = |req: &mut StreamRequest| {
        let mut kind = [0];
        req.rfile.read_exact(&mut kind)?;
        match kind[0] {
            b'r' => stuck_reading(req),
            _ => stuck_writing(req),
        }
    };
    let server = TestServer::start(server::<M, _>(handler, LONG));
    let mut reader = connect(server.address());
    reader.write_all(b"rheader\n").unwrap();
    let mut writer = connect(server.address());
    writer.write_all(b"wheader\n").unwrap();
    let mut first = [0; 1];
    writer.read_exact(&mut first).unwrap(); // the writer's handler is writing
    assert!(eventually(|| server.stats().open == 2));
    let (report, _stopped) = server.drain(Duration::from_millis(100)).unwrap();
    assert_eq!(report.forced, 2, "{report:?}");
    assert_eq!(report.still_running, 0, "{report:?}");
}

#[test]
fn the_deadline_ends_blocked_handlers_threading() {
    the_deadline_ends_blocked_handlers::<ThreadingMixIn>();
}

#[test]
fn the_deadline_ends_blocked_handlers_pool() {
    the_deadline_ends_blocked_handlers::<ThreadPool>();
}

#[test]
fn the_deadline_kills_busy_children_forking() {
    util::in_subprocess("the_deadline_kills_busy_children_forking", || {
        the_deadline_ends_blocked_handlers::<ForkingMixIn>()
    });
}

/// A server under `M` with one handler stuck mid-message gets a drain with plenty of time,
/// then a second with none: the one connection is forced. `then` checks more, with the report
/// and the client, while the stopped server is still held.
fn a_second_request_forces<M: Dispatch + Default>(then: impl FnOnce(&DrainReport, &mut TcpStream)) {
    let server = TestServer::start(server::<M, _>(stuck_reading, LONG));
    let mut client = connect(server.address());
    client.write_all(b"header\n").unwrap();
    assert!(eventually(|| server.stats().open == 1));
    let handle = server.shutdown_handle();
    handle.drain(LONG);
    handle.drain(Duration::ZERO);
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_eq!(report.forced, 1, "{report:?}");
    then(&report, &mut client);
}

/// A second request with no time left closes everything at once (what a second Ctrl-C does).
#[test]
fn a_second_request_forces_at_once() {
    a_second_request_forces::<ThreadingMixIn>(|report, _client| {
        assert_eq!(report.still_running, 0, "{report:?}");
    });
}

/// A protocol that keeps half a message across reads marks itself busy; the drain lets it
/// finish the message.
#[derive(Clone)]
struct Lines {
    partial: Vec<u8>,
    /// Told when half a line is held.
    holding: Sender<()>,
}

impl Protocol for Lines {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        self.partial.extend_from_slice(data);
        if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
            let complete: Vec<u8> = self.partial.drain(..=end).collect();
            conn.write(&complete);
        }
        conn.set_busy(!self.partial.is_empty());
        if !self.partial.is_empty() {
            let _ = self.holding.send(());
        }
        Ok(())
    }
}

#[test]
fn an_event_protocol_mid_message_finishes_it() {
    let (holding_tx, holding) = unbounded();
    let server = TestServer::start(server::<EventLoop, _>(
        ProtocolHandler::new(Lines {
            partial: Vec::new(),
            holding: holding_tx,
        }),
        Duration::from_millis(10),
    ));
    let mut client = connect(server.address());
    exchange(&mut client, b"whole\n");
    client.write_all(b"half ").unwrap();
    holding.recv_timeout(PATIENCE).unwrap();
    let handle = server.shutdown_handle().clone();
    let drained = Arc::new(Mutex::new(None));
    let theirs = Arc::clone(&drained);
    let drainer =
        std::thread::spawn(move || *theirs.lock().unwrap() = handle.shutdown_gracefully(LONG));
    client.write_all(b"and the rest\n").unwrap();
    expect_echo(&mut client, b"half and the rest\n");
    assert_clean_eof(&mut client);
    drainer.join().unwrap();
    let report = drained.lock().unwrap().expect("a report");
    assert_nothing_forced(&report);
    drop(server);
}

/// A handler that asks for a drain of its own server does not wait for itself.
#[test]
fn a_handler_may_ask_for_a_drain() {
    let handler = |req: &mut StreamRequest| {
        let report = req.shutdown_handle().shutdown_gracefully(LONG);
        writeln!(req.wfile, "{}", report.is_none())
    };
    let server = TestServer::start(server::<ThreadingMixIn, _>(handler, LONG));
    let mut client = connect(server.address());
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "true\n");
    assert!(eventually(|| !server.shutdown_handle().is_serving()));
    let report = server
        .shutdown_handle()
        .last_drain_report()
        .expect("drained");
    assert_nothing_forced(&report);
}

/// Over a Unix stream socket: an idle connection closes at once after its answer, under a
/// thread strategy, a parking pool and an event loop.
fn idle_unix_connection_closes_at_once<M, H>(handler: H)
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest<std::os::unix::net::UnixStream>>,
{
    let dir = util::transports::TempDir::new();
    let path = dir.join("drain.sock");
    let server = BaseServer::<socketserver::UnixStreamSocket, M, H>::new(&path, handler).unwrap();
    let server = TestServer::start(server);
    let mut client = connect_unix(&path);
    exchange(&mut client, b"over unix\n");
    let (report, _stopped) = server.drain(LONG).unwrap();
    assert_nothing_forced(&report);
    assert_eq!(report.idle_closed, 1, "{report:?}");
    assert_clean_eof(&mut client);
}

#[test]
fn idle_unix_connection_closes_at_once_threading() {
    idle_unix_connection_closes_at_once::<ThreadingMixIn, _>(copy_echo);
}

#[test]
fn idle_unix_connection_closes_at_once_event() {
    idle_unix_connection_closes_at_once::<EventLoop, _>(ProtocolHandler::new(EventEcho));
}

/// A sequential server whose one thread is stuck in a handler (mid-message) is forced at
/// once by a second request with no time left.
#[test]
fn a_second_request_forces_a_sequential_server() {
    a_second_request_forces::<Sequential>(|_report, client| assert_clean_eof(client));
}
