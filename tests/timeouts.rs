//! The connection timeouts (first byte, idle, write) under a thread per connection, a parking
//! pool and the event loop: each closes the connection with its typed reason, counted once,
//! without reaching `handle_error`; a peer that keeps talking is never cut off.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socketserver::{
    BaseServer, Callbacks, Connection, Dispatch, Error, EventLoop, Protocol, Request, ServerHooks,
    ServerStats, StreamOptions, StreamRequest, TcpSocket, TestServer, ThreadPool, ThreadingMixIn,
};

mod util;

use util::{closed_at_once, connect, PATIENCE};

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
    fn handle_error(&self, _request: &R, _error: &Error) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn start<M: Dispatch + Default>(
    options: StreamOptions,
) -> TestServer<TcpSocket, M, Callbacks<EchoOrFlood>, CountErrors> {
    let mut server = BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", Callbacks::new(EchoOrFlood))
        .unwrap()
        .with_hooks(CountErrors::default());
    server.socket_mut().set_stream_options(options);
    TestServer::start(server)
}

/// Stops the server and returns its stats, checking that `handle_error` never ran.
fn finish<M: Dispatch>(
    server: TestServer<TcpSocket, M, Callbacks<EchoOrFlood>, CountErrors>,
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

macro_rules! per_strategy {
    ($($scenario:ident),*) => {
        $(
            mod $scenario {
                #[test]
                fn threading() {
                    super::$scenario::<super::ThreadingMixIn>();
                }
                #[test]
                fn pool() {
                    super::$scenario::<super::ThreadPool>();
                }
                #[test]
                fn event() {
                    super::$scenario::<super::EventLoop>();
                }
            }
        )*
    };
}

per_strategy!(
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
    let mut server =
        BaseServer::<TcpSocket, ThreadingMixIn, _>::new("127.0.0.1:0", handler).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        first_byte_timeout: Some(SHORT),
        ..StreamOptions::default()
    });
    let server = TestServer::start(server);
    let mut silent = connect(server.address());
    assert!(closed_at_once(&mut silent));
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_first_byte_timeout, 1);
    let (kind, message) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(message.contains("first_byte_timeout"), "{message}");
}
