//! Parking: a blocking handler hands its connection back between messages
//! (`StreamRequest::park`), holding no thread while it waits, under every strategy and every
//! stream transport.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socketserver::{
    BaseServer, Dispatch, ForkingMixIn, PoolTcpServer, RequestHandler, Sequential, StreamOptions,
    StreamRequest, StreamSocket, TcpSocket, TestServer, ThreadPool, ThreadingMixIn,
    ThreadingTcpServer, UnixStreamSocket,
};

mod util;

use util::transports::TempDir;
use util::{connect, eventually, PATIENCE};

/// Answers each line with `<n> <line>`, `n` counting this connection's lines: the count lives in
/// a plain field, so it shows that the handler value survives parking. Parks after every
/// line, and before the first.
#[derive(Clone, Default)]
struct CountingLines {
    lines: usize,
    finished: Arc<AtomicUsize>,
}

impl<S: StreamSocket> RequestHandler<StreamRequest<S>> for CountingLines {
    fn setup(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        request.park();
        Ok(())
    }

    fn handle(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        let mut line = String::new();
        if request.rfile.read_line(&mut line)? == 0 {
            return Ok(());
        }
        self.lines += 1;
        write!(request.wfile, "{} {line}", self.lines)?;
        request.park();
        Ok(())
    }

    fn finish(&mut self, _request: &mut StreamRequest<S>) -> io::Result<()> {
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Sends `line` and reads one line back.
fn ask<S: Read + Write>(stream: &mut BufReader<S>, line: &str) -> String {
    stream.get_mut().write_all(line.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_line(&mut reply).unwrap();
    reply
}

/// Many connections open at once on a strategy whose threads are fewer than the connections:
/// each is answered, in turns, keeping its own count. Without parking, a pool of one worker
/// would serve the first connection only.
fn many_parked_connections_take_turns<S, C>(connect_one: impl Fn() -> S, serving: C)
where
    S: Read + Write,
    C: FnOnce() -> Box<dyn FnOnce()>,
{
    let stop = serving();
    let mut clients: Vec<BufReader<S>> = (0..20).map(|_| BufReader::new(connect_one())).collect();
    for round in 1..=3 {
        for (i, client) in clients.iter_mut().enumerate().rev() {
            assert_eq!(ask(client, &format!("c{i}\n")), format!("{round} c{i}\n"));
        }
    }
    drop(clients);
    stop();
}

fn pool_of_one(pool: &mut ThreadPool) {
    pool.set_workers(1).set_queue_size(1);
}

#[test]
fn tcp_pool_of_one_worker_serves_twenty_parked_connections() {
    let server =
        BaseServer::<TcpSocket, ThreadPool, _>::new("127.0.0.1:0", CountingLines::default())
            .unwrap();
    let mut server = server;
    pool_of_one(server.dispatch_mut());
    let serving = TestServer::start(server);
    let address = serving.address();
    many_parked_connections_take_turns(
        || connect(address),
        || Box::new(move || drop(serving.stop(PATIENCE).unwrap())),
    );
}

#[test]
fn tcp_over_ipv6_pool_of_one_worker_serves_parked_connections() {
    let Ok(server) =
        BaseServer::<TcpSocket, ThreadPool, _>::new("[::1]:0", CountingLines::default())
    else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let mut server = server;
    pool_of_one(server.dispatch_mut());
    let serving = TestServer::start(server);
    let address = serving.address();
    many_parked_connections_take_turns(
        || connect(address),
        || Box::new(move || drop(serving.stop(PATIENCE).unwrap())),
    );
}

#[test]
fn unix_pool_of_one_worker_serves_twenty_parked_connections() {
    let dir = TempDir::new();
    let path = dir.join("park.sock");
    let mut server =
        BaseServer::<UnixStreamSocket, ThreadPool, _>::new(&path, CountingLines::default())
            .unwrap();
    pool_of_one(server.dispatch_mut());
    let serving = TestServer::start(server);
    many_parked_connections_take_turns(
        || {
            let stream = UnixStream::connect(&path).unwrap();
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            stream
        },
        || Box::new(move || drop(serving.stop(PATIENCE).unwrap())),
    );
}

#[test]
fn tcp_threading_parked_connections_hold_no_thread() {
    let server = ThreadingTcpServer::new("127.0.0.1:0", CountingLines::default()).unwrap();
    let serving = TestServer::start(server);
    let address = serving.address();
    let mut clients: Vec<_> = (0..10).map(|_| BufReader::new(connect(address))).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(ask(client, &format!("t{i}\n")), format!("1 t{i}\n"));
    }
    let socketserver::Stopped { server, result, .. } = serving.stop(PATIENCE).unwrap();
    result.unwrap();
    // Every connection is open and parked: no request thread runs.
    assert!(eventually(|| server.dispatch().active_count() == 0));
    drop(server);
    for client in &mut clients {
        let mut rest = String::new();
        client.read_to_string(&mut rest).unwrap();
        assert_eq!(
            rest, "",
            "closing the server ends parked connections with a clean EOF"
        );
    }
}

/// The same handler under a strategy that keeps its thread: parking waits in place, with the
/// same results.
fn parking_waits_in_place<M: Dispatch + Default>() {
    let handler = CountingLines::default();
    let finished = Arc::clone(&handler.finished);
    let server = BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", handler).unwrap();
    let serving = TestServer::start(server);
    let mut client = BufReader::new(connect(serving.address()));
    assert_eq!(ask(&mut client, "a\n"), "1 a\n");
    assert_eq!(ask(&mut client, "b\n"), "2 b\n");
    client.get_mut().shutdown(Shutdown::Write).unwrap();
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");
    serving.stop(PATIENCE).unwrap();
    if std::any::type_name::<M>() != std::any::type_name::<ForkingMixIn>() {
        assert!(eventually(|| finished.load(Ordering::SeqCst) == 1));
    }
}

#[test]
fn sequential_parking_waits_in_place() {
    parking_waits_in_place::<Sequential>();
}

#[test]
fn forking_parking_waits_in_place() {
    util::in_subprocess("forking_parking_waits_in_place", || {
        parking_waits_in_place::<ForkingMixIn>()
    });
}

/// Reads one line per `handle` and parks: two lines sent in one write are both in `rfile`
/// after the first read, and the second must be answered without any more input arriving.
fn buffered_input_runs_again_at_once<M: Dispatch + Default>() {
    let server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", CountingLines::default()).unwrap();
    let serving = TestServer::start(server);
    let mut client = BufReader::new(connect(serving.address()));
    client.get_mut().write_all(b"one\ntwo\n").unwrap();
    let mut first = String::new();
    client.read_line(&mut first).unwrap();
    let mut second = String::new();
    client.read_line(&mut second).unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("1 one\n", "2 two\n"));
    drop(client);
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn pool_parked_connection_with_buffered_bytes_runs_again_at_once() {
    buffered_input_runs_again_at_once::<ThreadPool>();
}

#[test]
fn threading_parked_connection_with_buffered_bytes_runs_again_at_once() {
    buffered_input_runs_again_at_once::<ThreadingMixIn>();
}

#[test]
fn sequential_parked_connection_with_buffered_bytes_runs_again_at_once() {
    buffered_input_runs_again_at_once::<Sequential>();
}

/// A parked connection that stays silent past `idle_timeout` is closed: `finish` runs, the
/// client reads EOF, and the worker was never held.
fn idle_timeout_closes_a_parked_connection<M: Dispatch + Default>() {
    let handler = CountingLines::default();
    let finished = Arc::clone(&handler.finished);
    let mut server = BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", handler).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        idle_timeout: Some(Duration::from_millis(100)),
        ..StreamOptions::default()
    });
    let serving = TestServer::start(server);
    let mut client = BufReader::new(connect(serving.address()));
    assert_eq!(ask(&mut client, "hi\n"), "1 hi\n");
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap(); // EOF when the timeout closes it
    assert_eq!(rest, "");
    assert!(eventually(|| finished.load(Ordering::SeqCst) == 1));
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn pool_idle_timeout_closes_a_parked_connection() {
    idle_timeout_closes_a_parked_connection::<ThreadPool>();
}

#[test]
fn threading_idle_timeout_closes_a_parked_connection() {
    idle_timeout_closes_a_parked_connection::<ThreadingMixIn>();
}

#[test]
fn sequential_idle_timeout_closes_a_connection_parked_in_place() {
    idle_timeout_closes_a_parked_connection::<Sequential>();
}

/// A handler that never parks behaves as before: `handle` runs once for the connection.
#[test]
fn a_handler_that_never_parks_runs_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let handler = move |req: &mut StreamRequest| {
        seen.fetch_add(1, Ordering::SeqCst);
        io::copy(&mut req.rfile, &mut req.wfile).map(drop)
    };
    let mut server = PoolTcpServer::new("127.0.0.1:0", handler).unwrap();
    server.dispatch_mut().set_workers(2);
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    client.write_all(b"abc").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"abc");
    serving.stop(PATIENCE).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A panic after parking is reported like any handler panic, and the pool keeps serving.
#[test]
fn a_panic_in_a_resumed_handler_ends_that_connection_only() {
    #[derive(Clone, Default)]
    struct PanicsOnBoom;
    impl RequestHandler<StreamRequest> for PanicsOnBoom {
        fn setup(&mut self, request: &mut StreamRequest) -> io::Result<()> {
            request.park();
            Ok(())
        }
        fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
            let mut line = String::new();
            if request.rfile.read_line(&mut line)? == 0 {
                return Ok(());
            }
            assert!(line != "boom\n", "boom");
            request.wfile.write_all(line.as_bytes())?;
            request.park();
            Ok(())
        }
    }
    let mut server = PoolTcpServer::new("127.0.0.1:0", PanicsOnBoom).unwrap();
    server.dispatch_mut().set_workers(1);
    let serving = TestServer::start(server);
    let mut good = BufReader::new(connect(serving.address()));
    let mut bad = BufReader::new(connect(serving.address()));
    assert_eq!(ask(&mut good, "x\n"), "x\n");
    bad.get_mut().write_all(b"boom\n").unwrap();
    let mut rest = String::new();
    bad.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "the panicking connection is closed");
    assert_eq!(ask(&mut good, "y\n"), "y\n");
    serving.stop(PATIENCE).unwrap();
}

/// Keeps `TcpStream` in the imports used by every configuration.
#[allow(dead_code)]
fn _types(_: TcpStream) {}
