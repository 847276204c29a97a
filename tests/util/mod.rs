//! Helpers shared by the integration tests: Python's "stream check", a serving thread that is
//! always stopped, and a macro that runs one scenario under every dispatch strategy.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socketserver::{
    BaseServer, Dispatch, Error, RequestHandler, ServerHooks, ShutdownHandle, StreamRequest,
    TcpServer, TcpSocket,
};

pub mod transports;

/// The line Python's suite sends.
pub const TEST_LINE: &[u8] = b"hello world\n";

/// A safety net for waits that should end quickly: a hung test fails instead of hanging CI.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Python's stream check: send a line, read until `\n` or EOF, expect the same line back.
pub fn stream_check(address: SocketAddr) {
    let mut client = connect(address);
    client.write_all(TEST_LINE).unwrap();
    let mut reply = Vec::new();
    BufReader::new(&mut client)
        .read_until(b'\n', &mut reply)
        .unwrap();
    assert_eq!(reply, TEST_LINE, "the server must echo the line");
}

/// Connects with read/write timeouts as a safety net.
pub fn connect(address: SocketAddr) -> TcpStream {
    let client = TcpStream::connect(address).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.set_write_timeout(Some(PATIENCE)).unwrap();
    client
}

/// Reads until EOF.
pub fn read_all(client: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    client.read_to_end(&mut all).unwrap();
    all
}

/// Python's test handler: read one line from `rfile`, write it to `wfile`.
#[derive(Clone, Default)]
pub struct LineEcho;

impl RequestHandler<StreamRequest> for LineEcho {
    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        request.wfile.write_all(&line)
    }
}

/// A TCP server with strategy `M` on 127.0.0.1:0.
pub fn tcp_server<M, H>(handler: H) -> BaseServer<TcpSocket, M, H>
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest>,
{
    BaseServer::<TcpSocket, M, H>::new("127.0.0.1:0", handler).unwrap()
}

/// What a serving thread gives back: the server and the loop's result.
type Served<S, M, H, K> = (BaseServer<S, M, H, K>, Result<(), Error>);

/// A server running `serve_forever` on its own thread.
pub struct Serving<S: TcpServer, M: Dispatch, H, K> {
    pub address: S::Address,
    pub handle: ShutdownHandle,
    thread: Option<JoinHandle<Served<S, M, H, K>>>,
}

impl<S, M, H, K> Serving<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// Starts `serve_forever` on a new thread.
    pub fn start(mut server: BaseServer<S, M, H, K>) -> Self {
        let address = server.server_address().unwrap();
        let handle = server.shutdown_handle();
        let thread = thread::spawn(move || {
            let result = server.serve_forever();
            (server, result)
        });
        Serving {
            address,
            handle,
            thread: Some(thread),
        }
    }

    /// Shuts the loop down and returns the server (still open) and the loop's result.
    pub fn stop(mut self) -> Served<S, M, H, K> {
        self.handle.shutdown();
        join_within(self.thread.take().unwrap(), PATIENCE)
    }
}

impl<S: TcpServer, M: Dispatch, H, K> Drop for Serving<S, M, H, K> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// Joins a thread, failing the test (instead of hanging) if it takes longer than `limit`.
pub fn join_within<T: Send + 'static>(thread: JoinHandle<T>, limit: Duration) -> T {
    let (done, finished) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let result = thread.join();
        let _ = done.send(());
        result
    });
    finished
        .recv_timeout(limit)
        .expect("the thread did not finish in time (hang?)");
    waiter.join().unwrap().expect("the thread panicked")
}

/// Runs a generic scenario `fn name<M: Dispatch + Default>()` once per dispatch strategy.
/// A new strategy is covered by adding one line here.
#[macro_export]
macro_rules! per_strategy {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn sequential() {
                    super::$scenario::<socketserver::Sequential>();
                }
                #[test]
                fn threading() {
                    super::$scenario::<socketserver::ThreadingMixIn>();
                }
            }
        )*
    };
}
