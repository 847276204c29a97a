//! The connection timeouts (first byte, idle, write) under a thread per connection, a parking
//! pool and the event loop: each closes the connection with its typed reason, counted once,
//! without reaching `handle_error`; a peer that keeps talking is never cut off.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socketserver::{
    BaseServer, Connection, Dispatch, EventLoop, MinRate, Protocol, ProtocolHandler, Request,
    RequestError, RequestHandler, ServerHooks, ServerStats, StreamOptions, StreamRequest,
    TcpSocket, TestServer, ThreadPool, ThreadingMixIn,
};

mod util;

use util::{closed_at_once, connect, expect_echo, PATIENCE};

const SHORT: Duration = Duration::from_millis(200);

/// Echoes, or (after "flood") writes 64 MiB to a peer that will not read.
#[derive(Clone, Default)]
struct EchoOrFlood;

impl Protocol for EchoOrFlood {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        if data == b"flood" {
            let chunk = vec![b'f'; 1 << 20];
            for _ in 0..64 {
                conn.write(&chunk);
                if conn.is_closing() {
                    break;
                }
            }
        } else {
            conn.write(data);
        }
        Ok(())
    }
}

/// Counts `handle_error` calls: a timeout must not be one.
#[derive(Default)]
struct CountErrors(AtomicUsize);

impl<R: Request> ServerHooks<R> for CountErrors {
    fn handle_error(&self, _request: &R, _error: &RequestError) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn start<M: Dispatch + Default>(
    options: StreamOptions,
) -> TestServer<TcpSocket, M, ProtocolHandler<EchoOrFlood>, CountErrors> {
    let mut server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", ProtocolHandler::new(EchoOrFlood))
            .unwrap()
            .with_hooks(CountErrors::default());
    server.socket_mut().set_stream_options(options);
    TestServer::start(server)
}

/// A server of `handler` under `M` with `options`, started.
fn start_with<M, H>(handler: H, options: StreamOptions) -> TestServer<TcpSocket, M, H>
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let mut server = BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", handler).unwrap();
    server.socket_mut().set_stream_options(options);
    TestServer::start(server)
}

/// Stops the server and returns its stats, checking that `handle_error` never ran.
fn finish<M: Dispatch>(
    server: TestServer<TcpSocket, M, ProtocolHandler<EchoOrFlood>, CountErrors>,
) -> ServerStats {
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(
        stopped.server.hooks().0.load(Ordering::SeqCst),
        0,
        "a timeout is not an error"
    );
    stopped.stats
}

fn first_byte_timeout<M: Dispatch + Default>() {
    let server = start::<M>(StreamOptions {
        first_byte_timeout: Some(SHORT),
        ..StreamOptions::default()
    });
    let mut silent = connect(server.address());
    assert!(
        closed_at_once(&mut silent),
        "closed after the first-byte timeout"
    );
    let stats = finish(server);
    assert_eq!(stats.closed_first_byte_timeout, 1, "{stats:?}");
}

fn idle_timeout<M: Dispatch + Default>() {
    let server = start::<M>(StreamOptions {
        idle_timeout: Some(SHORT),
        ..StreamOptions::default()
    });
    let mut client = connect(server.address());
    client.write_all(b"hi").unwrap();
    let mut reply = [0; 2];
    client.read_exact(&mut reply).unwrap();
    assert!(closed_at_once(&mut client), "closed after the idle timeout");
    let stats = finish(server);
    assert_eq!(stats.closed_idle_timeout, 1, "{stats:?}");
}

/// A client that keeps talking, each pause shorter than the timeout, is never closed.
fn talking_is_not_idle<M: Dispatch + Default>() {
    let server = start::<M>(StreamOptions {
        idle_timeout: Some(Duration::from_millis(400)),
        first_byte_timeout: Some(Duration::from_millis(400)),
        ..StreamOptions::default()
    });
    let mut client = connect(server.address());
    for i in 0..8u8 {
        // The pacing is the scenario (a slow talker), not a wait for the server.
        std::thread::sleep(Duration::from_millis(100));
        client.write_all(&[i]).unwrap();
        let mut reply = [0];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(reply[0], i);
    }
    drop(client);
    let stats = finish(server);
    assert_eq!(
        (stats.closed_idle_timeout, stats.closed_first_byte_timeout),
        (0, 0),
        "{stats:?}"
    );
}

fn write_timeout<M: Dispatch + Default>() {
    let server = start::<M>(StreamOptions {
        write_timeout: Some(SHORT),
        ..StreamOptions::default()
    });
    let mut client = connect(server.address());
    client.write_all(b"flood").unwrap();
    // Never read: the server's writes stall, and the write timeout closes the connection.
    let closed = util::eventually(|| server.stats().closed_write_timeout == 1);
    assert!(closed, "{:?}", server.stats());
    drop(client);
    let stats = finish(server);
    assert_eq!(stats.closed_write_timeout, 1, "{stats:?}");
}

per_threaded_strategy!(
    first_byte_timeout,
    idle_timeout,
    talking_is_not_idle,
    write_timeout
);

/// A plain blocking handler that propagates the read error with `?` ends with the typed
/// reason too (the error carries which timeout passed).
#[test]
fn a_blocking_handler_reading_with_rfile_gets_the_typed_timeout() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let theirs = Arc::clone(&seen);
    let handler = move |req: &mut StreamRequest| {
        let mut buf = [0; 8];
        let result = req.rfile.read(&mut buf);
        if let Err(error) = &result {
            *theirs.lock().unwrap() = Some((error.kind(), error.to_string()));
        }
        result.map(drop)
    };
    let server = start_with::<ThreadingMixIn, _>(
        handler,
        StreamOptions {
            first_byte_timeout: Some(SHORT),
            ..StreamOptions::default()
        },
    );
    let mut silent = connect(server.address());
    assert!(closed_at_once(&mut silent));
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_first_byte_timeout, 1);
    let (kind, message) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(message.contains("first_byte_timeout"), "{message}");
}

/// A length-prefixed message: a header line with the body's length, then the body, read
/// inside a busy span (one message in flight), then echoed.
fn length_prefixed(req: &mut StreamRequest) -> io::Result<()> {
    use std::io::BufRead;
    loop {
        let mut header = String::new();
        if req.rfile.read_line(&mut header)? == 0 {
            return Ok(());
        }
        let _busy = req.busy();
        let mut body = vec![0; header.trim().parse().unwrap_or(0)];
        req.rfile.read_exact(&mut body)?;
        req.wfile.write_all(&body)?;
    }
}

/// Each message has its own read-timeout clock, also when the next one was already buffered
/// as the last ended: two messages that each take 0.6 s of a 1 s read timeout, the second's
/// start arriving with the first's end (`pieces`, 0.6 s apart), are both answered (one clock
/// for both would expire at 1 s, inside the second). The pauses are the test's stimulus.
fn each_message_has_its_own_clock<M, H>(handler: H, pieces: [&[u8]; 3], answer: &[u8])
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let server = start_with::<M, _>(
        handler,
        slow_message_options(Some(Duration::from_secs(1)), None),
    );
    let mut client = connect(server.address());
    for (n, piece) in pieces.iter().enumerate() {
        if n > 0 {
            std::thread::sleep(Duration::from_millis(600));
        }
        client.write_all(piece).unwrap();
    }
    expect_echo(&mut client, answer);
    drop(client);
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_read_timeout, 0, "{:?}", stopped.stats);
}

/// Under a blocking handler, each busy span is a message.
#[test]
fn each_message_has_its_own_read_timeout_clock() {
    each_message_has_its_own_clock::<ThreadingMixIn, _>(
        length_prefixed,
        [b"4\nab", b"cd4\nef", b"gh"],
        b"abcdefgh",
    );
}

/// On an event loop, a protocol's `set_busy(false)` ends a message, even when the next one
/// starts in the same callback.
#[test]
fn each_message_has_its_own_read_timeout_clock_on_an_event_loop() {
    each_message_has_its_own_clock::<EventLoop, _>(
        ProtocolHandler::new(Lines::default()),
        [b"ab", b"cd\nef", b"gh\n"],
        b"abcd\nefgh\n",
    );
}

/// A line protocol on the event loop: busy while half a line is held; `last_word` is written
/// when a line takes too long.
#[derive(Clone, Default)]
struct Lines {
    partial: Vec<u8>,
    last_word: &'static [u8],
}

impl Protocol for Lines {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        self.partial.extend_from_slice(data);
        if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
            let complete: Vec<u8> = self.partial.drain(..=end).collect();
            conn.write(&complete);
            conn.set_busy(false); // those lines are done: what follows is a new message
        }
        conn.set_busy(!self.partial.is_empty());
        Ok(())
    }
    fn read_timed_out(&mut self, conn: &mut Connection<'_>) {
        conn.write(self.last_word);
    }
}

/// A message past the read timeout gets the protocol's last word, then the close.
#[test]
fn a_slow_message_gets_the_protocols_last_word_on_an_event_loop() {
    let lines = Lines {
        last_word: b"too slow\n",
        ..Lines::default()
    };
    let serving = start_with::<EventLoop, _>(
        ProtocolHandler::new(lines),
        StreamOptions {
            read_timeout: Some(Duration::from_millis(200)),
            ..StreamOptions::default()
        },
    );
    let mut client = connect(serving.address());
    client.write_all(b"whole\nhal").unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap(); // ends at the close
    assert_eq!(reply, "whole\ntoo slow\n");
    serving.stop(PATIENCE).unwrap();
}

fn slow_message_options(
    read_timeout: Option<Duration>,
    min_rate: Option<MinRate>,
) -> StreamOptions {
    StreamOptions {
        read_timeout,
        min_rate,
        ..StreamOptions::default()
    }
}

/// Sends `start`, then one byte every 20 ms (50 bytes/s) until the server closes: returns
/// whether it did (within PATIENCE).
fn trickle_until_closed(client: &mut std::net::TcpStream, start: &[u8]) -> bool {
    client.write_all(start).unwrap();
    client.set_nonblocking(true).unwrap();
    let began = std::time::Instant::now();
    while began.elapsed() < PATIENCE {
        let mut byte = [0];
        match client.read(&mut byte) {
            Ok(0) => return true,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            _ => {}
        }
        if client.write_all(b"a").is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20)); // the trickle's pace: what is tested
    }
    false
}

const TRICKLE_RATE: MinRate = MinRate {
    bytes_per_second: 1000,
    grace: Duration::from_millis(200),
};

/// A message trickled in below the minimum rate is closed as too slow; one that arrives at
/// once (`steady`) is answered: with `answer` when it is given (checked), else with as many
/// bytes as were sent (their count only). `trickle_start` opens the trickled message.
fn too_slow<M, H>(handler: H, steady: &[u8], answer: Option<&[u8]>, trickle_start: &[u8])
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let server = start_with::<M, _>(handler, slow_message_options(None, Some(TRICKLE_RATE)));
    let mut steady_client = connect(server.address());
    steady_client.write_all(steady).unwrap();
    match answer {
        Some(answer) => expect_echo(&mut steady_client, answer),
        None => steady_client
            .read_exact(&mut vec![0; steady.len()])
            .unwrap(),
    }
    drop(steady_client);
    let mut trickled = connect(server.address());
    assert!(trickle_until_closed(&mut trickled, trickle_start));
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_too_slow, 1, "{:?}", stopped.stats);
}

#[test]
fn threading_closes_a_trickled_message_as_too_slow() {
    too_slow::<ThreadingMixIn, _>(length_prefixed, b"5\nhello", Some(b"hello"), b"1000000\n");
}

#[test]
fn pool_closes_a_trickled_message_as_too_slow() {
    too_slow::<ThreadPool, _>(length_prefixed, b"5\nhello", Some(b"hello"), b"1000000\n");
}

#[test]
fn event_closes_a_trickled_message_as_too_slow() {
    too_slow::<EventLoop, _>(
        ProtocolHandler::new(Lines::default()),
        b"hello\n",
        None,
        b"no end of line yet",
    );
}

/// The read timeout bounds a whole message, however fast its bytes come: half a message and
/// then silence (shorter than the idle timeout) is closed at the read timeout.
fn read_timeout_bounds_a_whole_message<M, H>(handler: H, half: &[u8])
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    let server = start_with::<M, _>(handler, slow_message_options(Some(SHORT), None));
    let mut client = connect(server.address());
    client.write_all(half).unwrap();
    assert!(closed_at_once(&mut client));
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_read_timeout, 1, "{:?}", stopped.stats);
}

#[test]
fn threading_read_timeout_bounds_a_whole_message() {
    read_timeout_bounds_a_whole_message::<ThreadingMixIn, _>(length_prefixed, b"10\nhalf ");
}

#[test]
fn event_read_timeout_bounds_a_whole_message() {
    read_timeout_bounds_a_whole_message::<EventLoop, _>(
        ProtocolHandler::new(Lines::default()),
        b"half a line",
    );
}
