//! A graceful drain never cuts a message in the code the docs teach: a line protocol that
//! receives `GE`, then the drain, then `T a\n` answers the whole command before its clean
//! end-of-file, and the drain report counts the connection as finished — for a blocking
//! handler reading `lines()` on a thread, a pool handler that parks for whole lines, a pool
//! handler that parks and reads with `read_line`, and a `Protocol` that keeps no busy flag.

use std::io::{self, BufRead, Read, Write};
use std::thread;
use std::time::Duration;

use socketserver::{
    BaseServer, Connection, Dispatch, DrainReport, EventLoop, Protocol, ProtocolHandler,
    RequestHandler, StreamRequest, TcpSocket, TestServer, ThreadPool, ThreadingMixIn,
};

mod util;

use util::{assert_clean_eof, connect, eventually, server_read_everything, ParkedLines, PATIENCE};

/// Long enough that no test reaches it.
const LONG: Duration = Duration::from_secs(60);

/// A key-value style line protocol written as the crate's front page teaches: `lines()` on
/// `rfile`, an answer per line (the command in capitals).
fn blocking_lines(req: &mut StreamRequest) -> io::Result<()> {
    for line in (&mut req.rfile).lines() {
        writeln!(req.wfile, "{}", line?.to_uppercase())?;
    }
    Ok(())
}

/// The same parked with a plain `park` (woken at the first byte), reading the rest of the line
/// on its worker.
#[derive(Clone)]
struct ParkThenReadLine;

impl RequestHandler<StreamRequest> for ParkThenReadLine {
    fn setup(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        req.park();
        Ok(())
    }

    fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        if req.rfile.read_line(&mut line)? == 0 {
            return Ok(());
        }
        req.wfile.write_all(line.to_uppercase().as_bytes())?;
        req.park();
        Ok(())
    }
}

/// `Protocol`'s own doc example: whole lines answered, a partial one kept — and no
/// `set_busy` anywhere.
#[derive(Clone, Default)]
struct Shout {
    partial: Vec<u8>,
}

impl Protocol for Shout {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        self.partial.extend_from_slice(data);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            conn.write(&line.to_ascii_uppercase());
        }
        Ok(())
    }
}

/// `GE`, the drain, `T a\n`: the whole command is answered, then a clean end-of-file; the
/// report counts one finished connection (and the idle companion as idle). The drain begins
/// once the threads that read (`blocked_readers`: their name and how many) wait in `recv`,
/// and the second half is sent only once the drain has closed the idle connection: by then a
/// server that cuts the half command has cut it.
fn half_a_command_survives_the_drain<M, H>(
    handler: H,
    configure: impl FnOnce(&mut M),
    waiting: Waiting,
) where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let mut server = BaseServer::<TcpSocket, M, H>::new("127.0.0.1:0", handler).unwrap();
    configure(server.dispatch_mut());
    let server = TestServer::start(server);
    let mut idle = connect(server.address());
    idle.write_all(b"ping\n").unwrap();
    let mut answer = [0; 5];
    idle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"PING\n");
    let mut client = connect(server.address());
    client.write_all(b"GE").unwrap();
    assert!(
        eventually(|| server_read_everything(&client)),
        "the server takes the first half"
    );
    // Both connections wait: parked, or their threads back in `recv`, where a drain would
    // cut them.
    assert!(eventually(|| server.stats().parked == waiting.parked));
    assert!(eventually(|| util::threads_blocked_reading(
        waiting.thread_name
    ) == waiting.readers));
    let handle = server.shutdown_handle().clone();
    handle.drain(LONG);
    let draining = thread::spawn(move || server.drain(LONG).map(|(report, _)| report));
    assert_clean_eof(&mut idle);
    // The half command's thread (if it has one) still waits for the rest of its line: a
    // server that cut it would have ended it.
    let still_reading = waiting
        .readers
        .saturating_sub(waiting.idle_has_thread as usize);
    assert!(
        eventually(|| util::threads_blocked_reading(waiting.thread_name) == still_reading),
        "the half command is still being read"
    );
    client.write_all(b"T a\n").unwrap();
    let mut answer = [0; 6];
    client.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"GET A\n", "the whole command, answered once");
    assert_clean_eof(&mut client);
    let report: DrainReport = util::join_within(draining, PATIENCE).unwrap();
    assert_eq!(
        (report.finished, report.idle_closed, report.forced),
        (1, 1, 0),
        "{report:?}"
    );
}

/// How the two connections of [`half_a_command_survives_the_drain`] wait once the half
/// command is in: how many are parked, and how many threads named `thread_name` are blocked
/// reading (`idle_has_thread`: one of them is the idle companion's).
struct Waiting {
    parked: usize,
    thread_name: &'static str,
    readers: usize,
    idle_has_thread: bool,
}

impl Waiting {
    fn parked(parked: usize) -> Self {
        Waiting {
            parked,
            thread_name: "no such thread",
            readers: 0,
            idle_has_thread: false,
        }
    }

    fn reading(thread_name: &'static str, readers: usize, parked: usize) -> Self {
        Waiting {
            parked,
            thread_name,
            readers,
            idle_has_thread: parked == 0,
        }
    }
}

/// One event loop: the idle companion and the half command are looked at in one pass.
fn one_loop(loops: &mut EventLoop) {
    loops.set_workers(1);
}

#[test]
fn threading_lines() {
    half_a_command_survives_the_drain::<ThreadingMixIn, _>(
        blocking_lines,
        |threads| {
            threads.set_thread_name("wm-thr-lines");
        },
        Waiting::reading("wm-thr-lines", 2, 0),
    );
}

#[test]
fn pool_lines() {
    half_a_command_survives_the_drain::<ThreadPool, _>(
        blocking_lines,
        |pool| {
            pool.set_thread_name("wm-pool-lines");
        },
        Waiting::reading("wm-pool-lines", 2, 0),
    );
}

#[test]
fn pool_parked_until_whole_lines() {
    half_a_command_survives_the_drain::<ThreadPool, _>(ParkedLines, |_| {}, Waiting::parked(2));
}

#[test]
fn threading_parked_until_whole_lines() {
    half_a_command_survives_the_drain::<ThreadingMixIn, _>(ParkedLines, |_| {}, Waiting::parked(2));
}

#[test]
fn pool_parked_then_read_line() {
    half_a_command_survives_the_drain::<ThreadPool, _>(
        ParkThenReadLine,
        |pool| {
            pool.set_thread_name("wm-pool-park");
        },
        Waiting::reading("wm-pool-park", 1, 1),
    );
}

#[test]
fn event_protocol_without_set_busy() {
    half_a_command_survives_the_drain::<EventLoop, _>(
        ProtocolHandler::new(Shout::default()),
        one_loop,
        Waiting::parked(0),
    );
}

#[test]
fn pool_protocol_without_set_busy() {
    half_a_command_survives_the_drain::<ThreadPool, _>(
        ProtocolHandler::new(Shout::default()),
        |_| {},
        Waiting::parked(2),
    );
}

/// A protocol that only listens says so with `set_busy(false)`: what it received unanswered
/// does not keep a drain waiting.
#[derive(Clone)]
struct Sink;

impl Protocol for Sink {
    fn connection_made(&mut self, conn: &mut Connection<'_>) -> io::Result<()> {
        conn.set_busy(false);
        Ok(())
    }

    fn data_received(&mut self, _conn: &mut Connection<'_>, _data: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_protocol_that_only_listens_is_idle_between_messages() {
    let server = TestServer::start(
        BaseServer::<TcpSocket, EventLoop, _>::new("127.0.0.1:0", ProtocolHandler::new(Sink))
            .unwrap(),
    );
    let mut client = connect(server.address());
    client.write_all(b"a log line, never answered\n").unwrap();
    assert!(eventually(|| server_read_everything(&client)));
    let (report, _) = server.drain(LONG).unwrap();
    assert_eq!((report.idle_closed, report.forced), (1, 0), "{report:?}");
    assert_clean_eof(&mut client);
}

/// An idle connection still closes at once, and counts as idle: only a message served during
/// the drain makes a connection "finished".
#[test]
fn an_idle_connection_is_counted_idle() {
    let server = TestServer::start(
        BaseServer::<TcpSocket, ThreadPool, _>::new("127.0.0.1:0", ParkedLines).unwrap(),
    );
    let mut client = connect(server.address());
    client.write_all(b"ping\n").unwrap();
    let mut answer = [0; 5];
    client.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"PING\n");
    // Its handler has returned and it waits parked for the next line (until then, the message
    // is still in flight and a drain would count it finished).
    assert!(eventually(|| server.stats().parked == 1));
    let (report, _) = server.drain(LONG).unwrap();
    assert_eq!(
        (report.idle_closed, report.finished, report.forced),
        (1, 0, 0),
        "{report:?}"
    );
    assert_clean_eof(&mut client);
}
