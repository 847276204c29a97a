//! The event-driven strategy: `Protocol` callbacks on `EventLoop` threads, over TCP (IPv4 and
//! IPv6) and Unix stream sockets; and the same protocols under every other strategy.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketserver::{
    BaseServer, Connection, Dispatch, EventLoop, EventTcpServer, EventUnixStreamServer, Protocol,
    ProtocolHandler, Request, RequestError, ServerHooks, StreamOptions, StreamRequest,
    StreamSocket, TcpSocket, TestServer,
};

mod util;

use util::transports::TempDir;
use util::{connect, eventually, PATIENCE};

/// Echoes, and records how the connection ended.
#[derive(Clone, Default)]
struct Echo {
    lost: Arc<Mutex<Vec<Option<String>>>>,
}

impl<S: StreamSocket> Protocol<S> for Echo {
    fn data_received(&mut self, conn: &mut Connection<'_, S>, data: &[u8]) -> io::Result<()> {
        conn.write(data);
        Ok(())
    }

    fn connection_lost(&mut self, reason: Option<&RequestError>) {
        self.lost
            .lock()
            .unwrap()
            .push(reason.map(ToString::to_string));
    }
}

/// Sends a pattern in pieces from another thread while reading the echo here.
fn echo_roundtrip<S: Read + Write + Send + 'static>(mut stream: S, mut writer: S, len: usize) {
    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    let sending = std::thread::spawn(move || {
        for piece in sent.chunks(7919) {
            writer.write_all(piece).unwrap();
        }
        writer
    });
    let mut reply = vec![0; len];
    stream.read_exact(&mut reply).unwrap();
    assert!(reply == payload, "the echo differs from what was sent");
    drop(sending.join().unwrap());
}

#[test]
fn echoes_over_tcp() {
    let echo = Echo::default();
    let lost = Arc::clone(&echo.lost);
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(echo)).unwrap();
    server.dispatch_mut().set_workers(2);
    let serving = TestServer::start(server);
    for _ in 0..4 {
        let client = connect(serving.address());
        let writer = client.try_clone().unwrap();
        echo_roundtrip(client, writer, 1 << 20);
    }
    // Each client closed after its echo: the loops see the end-of-file and close too.
    assert!(eventually(|| serving.stats().closed_completed == 4));
    let stopped = serving.stop(PATIENCE).unwrap();
    stopped.result.unwrap();
    assert_eq!(stopped.stats.closed_completed, 4);
    assert_eq!(
        lost.lock().unwrap().len(),
        4,
        "connection_lost ran for each"
    );
}

#[test]
fn echoes_over_tcp_ipv6() {
    let Ok(server) = EventTcpServer::new("[::1]:0", ProtocolHandler::new(Echo::default())) else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let serving = TestServer::start(server);
    let client = connect(serving.address());
    let writer = client.try_clone().unwrap();
    echo_roundtrip(client, writer, 100_000);
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn echoes_over_unix_stream_sockets() {
    let dir = TempDir::new();
    let path = dir.join("event.sock");
    let server = EventUnixStreamServer::new(&path, ProtocolHandler::new(Echo::default())).unwrap();
    let serving = TestServer::start(server);
    let client = UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let writer = client.try_clone().unwrap();
    echo_roundtrip(client, writer, 1 << 20);
    serving.stop(PATIENCE).unwrap();
}

/// Writes what it receives to `connection_made`'s thread name list, for the spread check.
#[derive(Clone, Default)]
struct Names {
    threads: Arc<Mutex<Vec<String>>>,
}

impl Protocol for Names {
    fn connection_made(&mut self, conn: &mut Connection<'_>) -> io::Result<()> {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        self.threads.lock().unwrap().push(name.clone());
        conn.write(name.as_bytes());
        conn.write(b"\n");
        Ok(())
    }
    fn data_received(&mut self, _conn: &mut Connection<'_>, _data: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn connections_are_spread_over_the_loop_threads() {
    let names = Names::default();
    let threads = Arc::clone(&names.threads);
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(names)).unwrap();
    server.dispatch_mut().set_workers(3).set_thread_name("ev");
    let serving = TestServer::start(server);
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let mut client = BufReader::new(connect(serving.address()));
            let mut line = String::new();
            client.read_line(&mut line).unwrap();
            client
        })
        .collect();
    let mut seen = threads.lock().unwrap().clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["ev-0", "ev-1", "ev-2"]);
    drop(clients);
    serving.stop(PATIENCE).unwrap();
}

/// Collects what `handle_error` receives.
#[derive(Default)]
struct Errors {
    seen: Mutex<Vec<String>>,
}

impl<R: Request> ServerHooks<R> for Errors {
    fn handle_error(&self, _request: &R, error: &RequestError) {
        self.seen.lock().unwrap().push(error.to_string());
    }
}

/// Panics on a line that says `panic`, fails on `fail`, echoes the rest.
#[derive(Clone, Default)]
struct Fragile {
    lost: Arc<Mutex<Vec<Option<String>>>>,
}

impl Protocol for Fragile {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        match data {
            b"panic\n" => panic!("asked to panic"),
            b"fail\n" => Err(io::Error::other("asked to fail")),
            _ => {
                conn.write(data);
                Ok(())
            }
        }
    }
    fn connection_lost(&mut self, reason: Option<&RequestError>) {
        self.lost
            .lock()
            .unwrap()
            .push(reason.map(ToString::to_string));
    }
}

#[test]
fn a_panic_or_error_in_a_callback_closes_that_connection_only() {
    let fragile = Fragile::default();
    let lost = Arc::clone(&fragile.lost);
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(fragile))
        .unwrap()
        .with_hooks(Errors::default());
    server.dispatch_mut().set_workers(1); // everything on one loop: it must survive
    let serving = TestServer::start(server);
    let mut good = BufReader::new(connect(serving.address()));
    good.get_mut().write_all(b"a\n").unwrap();
    let mut line = String::new();
    good.read_line(&mut line).unwrap();
    assert_eq!(line, "a\n");
    for word in ["panic\n", "fail\n"] {
        let mut bad = connect(serving.address());
        bad.write_all(word.as_bytes()).unwrap();
        let mut rest = Vec::new();
        // A clean EOF or a reset: either way the connection is gone.
        let _ = bad.read_to_end(&mut rest);
        assert!(rest.is_empty());
    }
    good.get_mut().write_all(b"b\n").unwrap();
    line.clear();
    good.read_line(&mut line).unwrap();
    assert_eq!(line, "b\n", "the loop and the other connection go on");
    let socketserver::Stopped { server, result, .. } = serving.stop(PATIENCE).unwrap();
    result.unwrap();
    let errors = server.hooks().seen.lock().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("asked to panic"), "{errors:?}");
    assert!(errors[1].contains("asked to fail"), "{errors:?}");
    drop(server);
    let lost = lost.lock().unwrap().clone();
    assert_eq!(lost.len(), 3);
    assert!(
        lost.iter().filter(|reason| reason.is_some()).count() == 2,
        "{lost:?}"
    );
}

/// Echoes everything, and records the largest output buffer and the pause/resume calls.
#[derive(Clone, Default)]
struct Watermarks {
    largest: Arc<AtomicUsize>,
    paused: Arc<AtomicUsize>,
    resumed: Arc<AtomicUsize>,
}

impl Protocol for Watermarks {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        conn.write(data);
        self.largest
            .fetch_max(conn.write_buffer_size(), Ordering::SeqCst);
        Ok(())
    }
    fn pause_writing(&mut self, _conn: &mut Connection<'_>) {
        self.paused.fetch_add(1, Ordering::SeqCst);
    }
    fn resume_writing(&mut self, _conn: &mut Connection<'_>) {
        self.resumed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A peer that sends and never reads: the server's buffer stops at the high watermark (plus at
/// most one read), reading from that peer stops, so the peer's own sends block; once the peer
/// reads, everything arrives intact.
#[test]
fn a_peer_that_never_reads_cannot_grow_the_output_buffer() {
    const HIGH: usize = 64 * 1024;
    const READ: usize = 16 * 1024;
    let watermarks = Watermarks::default();
    let (largest, paused, resumed) = (
        Arc::clone(&watermarks.largest),
        Arc::clone(&watermarks.paused),
        Arc::clone(&watermarks.resumed),
    );
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(watermarks)).unwrap();
    server
        .dispatch_mut()
        .set_workers(1)
        .set_watermarks(HIGH, HIGH / 4)
        .set_read_buffer_size(READ);
    // Small kernel buffers on the server's connections (inherited from the listener), so the
    // backlog shows in the server's own buffer soon.
    let listener = server.socket().socket().unwrap();
    listener.set_recv_buffer_size(4096).unwrap();
    listener.set_send_buffer_size(4096).unwrap();
    let serving = TestServer::start(server);
    let client = connect(serving.address());
    client
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut writer = client.try_clone().unwrap();
    let chunk = vec![7u8; 8192];
    let mut sent = 0usize;
    // Send until the kernel pushes back (the server stopped reading); bounded by 64 MiB.
    while sent < 64 << 20 {
        match writer.write(&chunk) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
    assert!(sent < 64 << 20, "the server never stopped reading");
    assert!(
        paused.load(Ordering::SeqCst) >= 1,
        "pause_writing was called"
    );
    assert!(
        largest.load(Ordering::SeqCst) <= HIGH + READ,
        "output buffer reached {} bytes (limit {})",
        largest.load(Ordering::SeqCst),
        HIGH + READ
    );
    // Now read everything back; the server resumes and the echo is complete.
    writer.set_write_timeout(Some(PATIENCE)).unwrap();
    writer.shutdown(Shutdown::Write).unwrap();
    let mut reader = client;
    let mut echoed = 0usize;
    let mut buf = vec![0; 65536];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == 7));
        echoed += n;
    }
    assert_eq!(
        echoed, sent,
        "every byte sent is echoed once the peer reads"
    );
    assert!(
        resumed.load(Ordering::SeqCst) >= 1,
        "resume_writing was called"
    );
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn idle_timeout_closes_a_silent_connection_with_a_typed_reason() {
    let echo = Echo::default();
    let lost = Arc::clone(&echo.lost);
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(echo)).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        idle_timeout: Some(Duration::from_millis(100)),
        ..StreamOptions::default()
    });
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    client.write_all(b"x").unwrap();
    let mut reply = [0; 1];
    client.read_exact(&mut reply).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap(); // EOF once the timeout passes
    assert!(rest.is_empty());
    assert!(eventually(|| !lost.lock().unwrap().is_empty()));
    let reason = lost.lock().unwrap()[0].clone().expect("a reason");
    assert!(reason.contains("idle_timeout"), "{reason}");
    serving.stop(PATIENCE).unwrap();
}

/// Keeps writing after the peer's EOF, then closes: the peer reads the summary, then EOF.
#[derive(Clone, Default)]
struct CountThenClose {
    bytes: usize,
}

impl Protocol for CountThenClose {
    fn data_received(&mut self, _conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        self.bytes += data.len();
        Ok(())
    }
    fn eof_received(&mut self, conn: &mut Connection<'_>) -> io::Result<bool> {
        conn.write(format!("{} bytes\n", self.bytes).as_bytes());
        conn.close();
        Ok(true)
    }
}

#[test]
fn a_protocol_can_answer_after_the_peers_eof() {
    let server = EventTcpServer::new(
        "127.0.0.1:0",
        ProtocolHandler::new(CountThenClose::default()),
    )
    .unwrap();
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    client.write_all(&[1; 5000]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "5000 bytes\n");
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn verify_request_rejects_before_the_loop_sees_the_connection() {
    struct LoopbackOnlyOnPortZero;
    impl ServerHooks<StreamRequest> for LoopbackOnlyOnPortZero {
        fn verify_request(&self, _request: &StreamRequest) -> io::Result<bool> {
            Ok(false)
        }
    }
    let echo = Echo::default();
    let lost = Arc::clone(&echo.lost);
    let server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(echo))
        .unwrap()
        .with_hooks(LoopbackOnlyOnPortZero);
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    assert!(rest.is_empty());
    serving.stop(PATIENCE).unwrap();
    assert!(lost.lock().unwrap().is_empty(), "the protocol never saw it");
}

/// A plain blocking handler cannot run on an event loop: a clear error through
/// `handle_error`, and the connection is closed.
#[test]
fn a_blocking_handler_on_an_event_loop_is_a_clear_error() {
    let handler = |req: &mut StreamRequest| io::copy(&mut req.rfile, &mut req.wfile).map(drop);
    let server = BaseServer::<TcpSocket, EventLoop, _>::new("127.0.0.1:0", handler)
        .unwrap()
        .with_hooks(Errors::default());
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    let server = serving.stop(PATIENCE).unwrap().server;
    let errors = server.hooks().seen.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("ProtocolHandler"), "{errors:?}");
}

/// The same protocol under every strategy: echo, then `connection_lost` once per connection.
fn protocol_runs_under<M: Dispatch + Default>() {
    let echo = Echo::default();
    let lost = Arc::clone(&echo.lost);
    let server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", ProtocolHandler::new(echo)).unwrap();
    let serving = TestServer::start(server);
    for _ in 0..2 {
        let mut client = connect(serving.address());
        client.write_all(b"hello").unwrap();
        let mut reply = [0; 5];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"hello");
        client.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    serving.stop(PATIENCE).unwrap();
    let forking = std::any::type_name::<M>().contains("Forking");
    if !forking {
        assert!(eventually(|| lost.lock().unwrap().len() == 2));
        assert!(lost.lock().unwrap().iter().all(Option::is_none));
    }
}

mod a_protocol_runs_under {
    #[test]
    fn sequential() {
        super::protocol_runs_under::<socketserver::Sequential>();
    }
    #[test]
    fn threading() {
        super::protocol_runs_under::<socketserver::ThreadingMixIn>();
    }
    #[test]
    fn pool() {
        super::protocol_runs_under::<socketserver::ThreadPool>();
    }
    #[test]
    fn forking() {
        crate::util::in_subprocess("a_protocol_runs_under::forking", || {
            super::protocol_runs_under::<socketserver::ForkingMixIn>()
        });
    }
    #[test]
    fn event() {
        super::protocol_runs_under::<socketserver::EventLoop>();
    }
}

/// On a line naming a size, streams that many bytes (a counting pattern) a buffer at a time:
/// written until the output is past the high watermark, continued in `resume_writing`.
#[derive(Clone, Default)]
struct Stream {
    left: usize,
    sent: usize,
    most_pending: Arc<AtomicUsize>,
    pauses: Arc<AtomicUsize>,
}

impl Stream {
    fn pump(&mut self, conn: &mut Connection<'_>) {
        let (high, _) = conn.write_buffer_limits();
        while self.left > 0 && conn.write_buffer_size() <= high {
            let chunk: Vec<u8> = (self.sent..self.sent + self.left.min(64 * 1024))
                .map(|n| (n % 251) as u8)
                .collect();
            conn.write(&chunk);
            self.left -= chunk.len();
            self.sent += chunk.len();
        }
        self.most_pending
            .fetch_max(conn.write_buffer_size(), Ordering::Relaxed);
    }
}

impl Protocol for Stream {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        let size = std::str::from_utf8(data).unwrap().trim().parse().unwrap();
        self.left = size;
        self.pump(conn);
        Ok(())
    }
    fn pause_writing(&mut self, _conn: &mut Connection<'_>) {
        self.pauses.fetch_add(1, Ordering::Relaxed);
    }
    fn resume_writing(&mut self, conn: &mut Connection<'_>) {
        self.pump(conn);
    }
}

/// A body far past the watermarks reaches the peer whole and in order under every strategy,
/// while the output buffer stays near the high watermark (on threads the framework pauses and
/// resumes the protocol around each blocking send, as a loop does around a slow peer).
fn a_large_body_streams_under<M: Dispatch + Default>() {
    let stream = Stream::default();
    let most_pending = Arc::clone(&stream.most_pending);
    let server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", ProtocolHandler::new(stream)).unwrap();
    let serving = TestServer::start(server);
    let size = 8 << 20;
    let mut client = connect(serving.address());
    client.write_all(format!("{size}\n").as_bytes()).unwrap();
    let mut body = vec![0; size];
    client.read_exact(&mut body).unwrap();
    assert!(body.iter().enumerate().all(|(n, &b)| b == (n % 251) as u8));
    serving.stop(PATIENCE).unwrap();
    let most = most_pending.load(Ordering::Relaxed);
    assert!(most <= 2 * 64 * 1024, "{most} bytes were pending at once");
}

per_threaded_strategy!(a_large_body_streams_under);

/// Keeps imports used in every configuration.
#[allow(dead_code)]
fn _types(_: TcpStream, _: AtomicBool) {}

/// Sends a file with `Connection::send_file` once the peer has said something (its request),
/// going on in `resume_writing`, and closes once it is all sent; between messages meanwhile (a
/// drain sees no message in flight, only the file). Records the calls and why it ended.
struct FileSender {
    path: std::path::PathBuf,
    file: Option<(std::fs::File, u64)>,
    resumed: Arc<AtomicUsize>,
    unsupported: Arc<AtomicBool>,
    lost: Arc<Mutex<Vec<Option<String>>>>,
}

impl Clone for FileSender {
    /// A fresh connection's sender: no file open yet.
    fn clone(&self) -> Self {
        FileSender {
            path: self.path.clone(),
            file: None,
            resumed: Arc::clone(&self.resumed),
            unsupported: Arc::clone(&self.unsupported),
            lost: Arc::clone(&self.lost),
        }
    }
}

impl FileSender {
    fn new(path: std::path::PathBuf) -> Self {
        FileSender {
            path,
            file: None,
            resumed: Arc::default(),
            unsupported: Arc::default(),
            lost: Arc::default(),
        }
    }

    fn send_more(&mut self, conn: &mut Connection<'_>) {
        let Some((file, left)) = &mut self.file else {
            return;
        };
        match conn.send_file(&[], file, *left) {
            Ok(sent) => {
                *left -= sent;
                if *left == 0 {
                    self.file = None;
                    conn.close();
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Unsupported => {
                self.unsupported.store(true, Ordering::SeqCst);
                conn.abort();
            }
            Err(_) => conn.abort(),
        }
    }
}

impl Protocol for FileSender {
    fn data_received(&mut self, conn: &mut Connection<'_>, _data: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            let file = std::fs::File::open(&self.path)?;
            let len = file.metadata()?.len();
            self.file = Some((file, len));
            self.send_more(conn);
        }
        conn.set_busy(false);
        Ok(())
    }
    fn resume_writing(&mut self, conn: &mut Connection<'_>) {
        self.resumed.fetch_add(1, Ordering::SeqCst);
        self.send_more(conn);
    }
    fn connection_lost(&mut self, reason: Option<&RequestError>) {
        self.lost
            .lock()
            .unwrap()
            .push(reason.map(ToString::to_string));
    }
}

/// A file sent from the page cache (`sendfile`) on an event loop: paced by a slow reader
/// (the socket fills, `resume_writing` goes on once it takes more, and every byte arrives in
/// order), while a peer that never reads is cut by the write timeout like any other output;
/// under a thread strategy the call says `Unsupported` (the protocol writes bytes instead).
#[test]
fn send_file_is_paced_by_the_reader_and_bounded_by_the_write_timeout() {
    const LEN: u32 = 512 << 10;
    let dir = TempDir::new();
    let path = dir.join("big.bin");
    let contents: Vec<u8> = (0..LEN).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let sender = FileSender::new(path.clone());
    let (resumed, lost) = (Arc::clone(&sender.resumed), Arc::clone(&sender.lost));
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(sender)).unwrap();
    server.dispatch_mut().set_workers(1);
    server.socket_mut().set_stream_options(StreamOptions {
        write_timeout: Some(Duration::from_millis(300)),
        ..StreamOptions::default()
    });
    let listener = server.socket().socket().unwrap();
    listener.set_send_buffer_size(4096).unwrap();
    let serving = TestServer::start(server);

    // A reader with a small receive buffer (so the kernel's buffers cannot take the whole
    // file at once): everything arrives, in order.
    let mut reader = util::connect_reading_slowly(serving.address());
    reader.write_all(b"x").unwrap();
    let mut got = Vec::with_capacity(contents.len());
    let mut piece = vec![0; 64 * 1024];
    loop {
        let n = reader.read(&mut piece).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&piece[..n]);
    }
    assert!(got == contents, "{} of {} bytes, in order?", got.len(), LEN);
    assert!(
        resumed.load(Ordering::SeqCst) >= 1,
        "the socket filled at least once and the protocol went on in resume_writing"
    );

    // A peer that never reads: the write timeout ends it.
    let mut silent = connect(serving.address());
    silent.write_all(b"x").unwrap();
    assert!(
        eventually(|| serving.stats().closed_write_timeout == 1),
        "{:?}",
        serving.stats()
    );
    drop(silent);
    serving.stop(PATIENCE).unwrap().result.unwrap();
    let lost = lost.lock().unwrap().clone();
    assert_eq!(lost.len(), 2, "{lost:?}");
    assert_eq!(lost[0], None, "the whole file went: {lost:?}");
    assert!(lost[1].is_some(), "the silent peer timed out: {lost:?}");

    // On a thread the call is refused: a slow reader must not hold the thread in the kernel.
    let sender = FileSender::new(path);
    let unsupported = Arc::clone(&sender.unsupported);
    let server = BaseServer::<TcpSocket, socketserver::ThreadingMixIn, _>::new(
        "127.0.0.1:0",
        ProtocolHandler::new(sender),
    )
    .unwrap();
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    client.write_all(b"x").unwrap();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    assert!(unsupported.load(Ordering::SeqCst));
    serving.stop(PATIENCE).unwrap().result.unwrap();
}

/// A graceful drain lets a file `send_file` has not finished go on to its end: the
/// connection is not idle while the socket holds the rest back, and it counts as finished.
#[test]
fn a_drain_lets_a_file_in_flight_finish() {
    const LEN: u32 = 512 << 10;
    let dir = TempDir::new();
    let path = dir.join("big.bin");
    let contents: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let mut server =
        EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(FileSender::new(path))).unwrap();
    server.dispatch_mut().set_workers(1);
    let listener = server.socket().socket().unwrap();
    listener.set_send_buffer_size(4096).unwrap();
    let serving = TestServer::start(server);
    let mut reader = util::connect_reading_slowly(serving.address());
    // The peer has spoken and the protocol is between messages: only the file keeps the
    // connection from being idle.
    reader.write_all(b"x").unwrap();
    let mut got = vec![0; 4096];
    reader.read_exact(&mut got).unwrap(); // the file is on its way, the rest held back
    let draining = std::thread::spawn(move || serving.drain(PATIENCE).unwrap().0);
    let mut piece = vec![0; 64 * 1024];
    loop {
        let n = reader.read(&mut piece).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&piece[..n]);
    }
    let report = draining.join().unwrap();
    assert!(got == contents, "{} of {} bytes, in order?", got.len(), LEN);
    assert_eq!(
        (report.finished, report.idle_closed, report.forced),
        (1, 0, 0),
        "{report:?}"
    );
}
