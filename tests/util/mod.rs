//! Helpers shared by the integration tests: Python's "stream check", a serving thread that is
//! always stopped, and a macro that runs one scenario under every dispatch strategy.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socketserver::{
    BaseServer, Dispatch, Error, RequestHandler, ServerHooks, ShutdownHandle, StreamRequest,
    TcpServer, TcpSocket,
};

pub mod example_process;
pub mod exchange_load;
pub mod notify_listener;
pub mod tls;
pub mod transports;

/// Every `--mode` of the examples.
pub const MODES: [&str; 6] = [
    "threading",
    "sequential",
    "forking",
    "pool",
    "event",
    "coroutine",
];

/// Reads `systemd-socket-activate`'s stderr until it has said `Listening on` for `sockets`
/// sockets (it then waits for the first connection).
pub fn activator_listens(stderr: &mut impl BufRead, sockets: usize) {
    let mut listening = 0;
    let mut line = String::new();
    while listening < sockets {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "systemd-socket-activate ended early"
        );
        if line.starts_with("Listening on") {
            listening += 1;
        }
    }
}

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

/// Whether the server answers one byte within a short while (a negative check: it can only err
/// toward "no answer", never fail a correct server that holds the client back).
pub fn answers_soon(client: &mut TcpStream, byte: u8) -> bool {
    client.write_all(&[byte]).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut reply = [0];
    let answered = match client.read(&mut reply) {
        Ok(1) => true,
        Ok(_) => false,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(e) => panic!("{e}"),
    };
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    answered
}

/// Reads until EOF: whether the server closed the connection unanswered (a clean EOF or a
/// reset).
pub fn closed_at_once(client: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match client.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
    }
}

/// Connects to `server` from the local address `from` (e.g. `127.0.0.2:0`).
pub fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let local: SocketAddr = from.parse().unwrap();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(local),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&server.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Connects to a Unix stream socket with read/write timeouts as a safety net.
pub fn connect_unix(path: &std::path::Path) -> UnixStream {
    let client = UnixStream::connect(path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.set_write_timeout(Some(PATIENCE)).unwrap();
    client
}

/// Sends `message` and reads exactly its echo.
pub fn exchange(client: &mut (impl Read + Write), message: &[u8]) {
    client.write_all(message).unwrap();
    expect_echo(client, message);
}

/// Reads exactly `message.len()` bytes and expects them to be `message`: the echo of what was
/// sent before (or any answer known in advance).
pub fn expect_echo(client: &mut impl Read, message: &[u8]) {
    let mut reply = vec![0; message.len()];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, message);
}

/// A clean end-of-file: nothing more, and no reset.
pub fn assert_clean_eof(client: &mut impl Read) {
    let mut rest = Vec::new();
    let read = client.read_to_end(&mut rest);
    assert!(
        matches!(read, Ok(0)),
        "a clean end-of-file, not {read:?} with {} more bytes",
        rest.len()
    );
}

/// Reads until EOF.
pub fn read_all(client: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    client.read_to_end(&mut all).unwrap();
    all
}

/// A line protocol on a pool: parked until a whole line has arrived (`park_until`), each line
/// answered in capitals.
#[derive(Clone, Default)]
pub struct ParkedLines;

impl RequestHandler<StreamRequest> for ParkedLines {
    fn setup(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        request.park_until(socketserver::Delimited::line());
        Ok(())
    }

    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        if request.rfile.read_line(&mut line)? == 0 {
            return Ok(()); // the client closed
        }
        request.wfile.write_all(line.to_uppercase().as_bytes())?;
        request.park_until(socketserver::Delimited::line());
        Ok(())
    }
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

/// Like [`per_strategy!`] without forking, for scenarios whose handlers panic in this
/// process: a child forked while another thread is inside the panic machinery inherits its
/// locks held, and would deadlock if it panicked too (see `ForkingMixIn`'s "What is safe in the
/// child"). Forking's own versions of these scenarios live in tests/forking.rs.
#[macro_export]
macro_rules! per_strategy_in_process {
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
                #[test]
                fn pool() {
                    super::$scenario::<socketserver::ThreadPool>();
                }
                #[test]
                fn coroutine() {
                    super::$scenario::<socketserver::Coroutines>();
                }
            }
        )*
    };
}

/// Runs a generic scenario `fn name<M: Dispatch + Default>()` once per strategy that serves
/// its connections on threads of this process: a thread per connection, the pool, the
/// event loop and the coroutines.
#[macro_export]
macro_rules! per_threaded_strategy {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[test]
                fn threading() {
                    super::$scenario::<socketserver::ThreadingMixIn>();
                }
                #[test]
                fn pool() {
                    super::$scenario::<socketserver::ThreadPool>();
                }
                #[test]
                fn event() {
                    super::$scenario::<socketserver::EventLoop>();
                }
                #[test]
                fn coroutine() {
                    super::$scenario::<socketserver::Coroutines>();
                }
            }
        )*
    };
}

/// Whether `condition` becomes true within [`PATIENCE`], checking again and again.
///
/// For "nothing listens any more" checks: a process spawned by another test at that moment
/// holds copies of this process's descriptors until its `exec`, so a closed listener can
/// answer for an instant. A listener we failed to close never stops answering.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        thread::yield_now();
    }
}

/// Whether nothing accepts TCP connections at `address` (eventually, see [`eventually`]).
pub fn tcp_refused(address: SocketAddr) -> bool {
    eventually(|| {
        TcpStream::connect(address)
            .is_err_and(|error| error.kind() == io::ErrorKind::ConnectionRefused)
    })
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
                #[test]
                fn forking() {
                    $crate::util::in_subprocess(concat!(stringify!($scenario), "::forking"), || {
                        super::$scenario::<socketserver::ForkingMixIn>()
                    });
                }
                #[test]
                fn pool() {
                    super::$scenario::<socketserver::ThreadPool>();
                }
                #[test]
                fn coroutine() {
                    super::$scenario::<socketserver::Coroutines>();
                }
            }
        )*
    };
}

/// Set in a test's own subprocess to the name of the test it runs.
const SUBPROCESS_ENV: &str = "SOCKETSERVER_TEST_SUBPROCESS";

/// Runs `body` in a fresh run of this test binary that runs only the test `name`.
///
/// Forking tests need this: a forked child inherits every descriptor of the process, so in a
/// test binary where other tests run servers at the same time, a child would hold their
/// listening sockets open (and "nothing listens after close" would fail for them), and a child
/// forked while another thread panics would inherit the panic machinery's locks held.
pub fn in_subprocess(name: &str, body: impl FnOnce()) {
    if std::env::var(SUBPROCESS_ENV).as_deref() == Ok(name) {
        body();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(SUBPROCESS_ENV, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed in its subprocess:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its subprocess:\n{stdout}"
    );
}

/// The pid a pid file holds, if it holds one.
pub fn pid_in(path: &std::path::Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Waits until a new process's pid replaces `old` in `pid_file` and `old` is gone (a hot
/// restart's hand-over); returns the new pid. `label` names the step in failure messages.
pub fn wait_for_successor(pid_file: &std::path::Path, old: u32, label: &str) -> u32 {
    assert!(
        eventually(|| pid_in(pid_file).is_some_and(|new| new != old)),
        "{label}: the new copy took over the pid file"
    );
    let new = pid_in(pid_file).unwrap();
    assert!(
        eventually(|| process_gone(old)),
        "{label}: the old copy exited"
    );
    new
}

/// Whether a process is gone (or a zombie waiting to be reaped).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status
            .lines()
            .any(|line| line.starts_with("State:") && line.contains('Z')),
    }
}

/// Sends `signal` to `pid` (a process this test started, directly or not).
pub fn send_signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; the pid is a live process of the test.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released): for programs
/// that cannot take port 0, or as a port that nothing listens on.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP socket's send and receive queues, in bytes (`tx_queue`, `rx_queue` of `/proc/net/tcp`).
pub type Queues = (u64, u64);

/// Every IPv4 TCP socket's [`Queues`], by (local address, remote address) as the table writes
/// them.
fn tcp_table() -> std::collections::HashMap<(String, String), Queues> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (tx, rx) = fields.get(4)?.split_once(':')?;
            let queues = (
                u64::from_str_radix(tx, 16).ok()?,
                u64::from_str_radix(rx, 16).ok()?,
            );
            Some(((fields[1].to_owned(), fields[2].to_owned()), queues))
        })
        .collect()
}

/// An IPv4 address as `/proc/net/tcp` writes it.
fn tcp_table_address(address: SocketAddr) -> String {
    match address {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => unreachable!("the tests connect over IPv4"),
    }
}

/// Whether the server has read everything `client` sent: our end has nothing unacknowledged
/// in its send queue (the bytes reached the server) and the server's end has nothing in its
/// receive queue (they were read). A precise way to know the server took bytes before the
/// test moves on, with no sleep.
pub fn server_read_everything(client: &TcpStream) -> bool {
    servers_read_everything(std::slice::from_ref(client))
}

/// [`server_read_everything`] for every one of `clients`, reading the table once.
pub fn servers_read_everything(clients: &[TcpStream]) -> bool {
    let table = tcp_table();
    clients.iter().all(|client| {
        let ours = tcp_table_address(client.local_addr().unwrap());
        let theirs = tcp_table_address(client.peer_addr().unwrap());
        let sent = table
            .get(&(ours.clone(), theirs.clone()))
            .is_some_and(|&(tx, _)| tx == 0);
        let read = table.get(&(theirs, ours)).is_some_and(|&(_, rx)| rx == 0);
        sent && read
    })
}

/// The [`Queues`] of `client`'s connection: our end's, then the server's (what a failed check
/// shows).
pub fn connection_queues(client: &TcpStream) -> (Option<Queues>, Option<Queues>) {
    let table = tcp_table();
    let ours = tcp_table_address(client.local_addr().unwrap());
    let theirs = tcp_table_address(client.peer_addr().unwrap());
    let server = table.get(&(theirs.clone(), ours.clone())).copied();
    (table.get(&(ours, theirs)).copied(), server)
}

/// Whether the server has stopped reading `client`: what it sent waits in the server's receive
/// queue, and more than 64 KiB in our send queue, which the server does not take (a server that
/// reads keeps our send queue near empty on loopback; how much its own receive queue holds when
/// it stops is the kernel's choice, 1 KiB under load).
pub fn server_stopped_reading(client: &TcpStream) -> bool {
    match connection_queues(client) {
        (Some((unsent, _)), Some((_, unread))) => unsent > 64 * 1024 && unread > 0,
        _ => false,
    }
}

/// Sets a small receive buffer before connecting, so a client that does not read soon stops
/// the server's sending (the kernel's buffers do not hide a slow reader).
pub fn connect_reading_slowly(address: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// How many threads of this process named `name…` (its first 15 bytes, as the kernel keeps
/// them) are blocked reading a socket (`wchan` `wait_woken`, where `recv(2)` sleeps): server
/// threads that have gone back to waiting for input.
pub fn threads_blocked_reading(name: &str) -> usize {
    let name = &name[..name.len().min(15)];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            let read =
                |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
            read("comm").trim_end().starts_with(name) && read("wchan") == "wait_woken"
        })
        .count()
}

/// A child process killed and reaped on drop, so a failed assertion leaves none behind.
pub struct Reaped(std::process::Child);

impl Reaped {
    pub fn new(child: std::process::Child) -> Reaped {
        Reaped(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        &mut self.0
    }

    /// Its exit code, once it has exited by itself (fails the test after PATIENCE).
    pub fn wait_code(&mut self) -> Option<i32> {
        let mut status = None;
        assert!(
            eventually(|| {
                status = self.0.try_wait().unwrap();
                status.is_some()
            }),
            "pid {} did not exit",
            self.0.id()
        );
        status.unwrap().code()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines `pipe` gives, as they come, read on a thread of their own until the writers
/// close it. Lines nobody waits for any more are read and dropped: closing the pipe would make
/// the child's next write to it fail (Rust's `eprintln!` panics on that), so a server that logs
/// one more line, or the new copy of a hot restart that inherited the pipe, would die.
pub fn lines_of(pipe: impl io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line);
        }
    });
    received
}
