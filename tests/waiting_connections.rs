//! Thousands of waiting connections: parked on a pool, or on event loops. They hold no thread,
//! little memory, and all close on shutdown. These tests are heavy on descriptors, so they run
//! one at a time (a lock), in a test binary of their own.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use socketserver::{
    Connection, EventTcpServer, PoolTcpServer, Protocol, ProtocolHandler, RequestError,
    RequestHandler, StreamRequest,
};

mod util;

use util::example_process::{assert_clean_exit, Example};
use util::{connect, eventually, Serving};

/// One heavy test at a time in this binary.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Raises this process's soft descriptor limit to its hard limit (children inherit it).
fn raise_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit");
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a valid `rlimit` whose soft value does not exceed its hard one.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(set, 0, "setrlimit");
    assert!(
        limit.rlim_cur >= needed,
        "this test needs {needed} descriptors; the hard limit is {}",
        limit.rlim_cur
    );
}

/// A status field of /proc/PID/status, in its unit (kB for memory, a count for threads).
fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// This process's threads that the framework started (named `socketserver-…`).
fn framework_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("socketserver"))
        .count()
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One byte there and back.
fn round_trip(client: &mut TcpStream, byte: u8) {
    client.write_all(&[byte]).unwrap();
    let mut reply = [0];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], byte);
}

/// Opens `count` connections that send nothing.
fn open_idle(address: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count).map(|_| connect(address)).collect()
}

/// The echo contract with 2 000 idle connections open: a fresh client is echoed, every idle
/// connection still echoes afterwards, and the process has at most 2 × workers + 8 threads.
fn two_thousand_idle(mode: &str, workers: usize) {
    let _one = heavy();
    raise_fd_limit(4_500);
    let workers_arg = workers.to_string();
    let (echo, address) = Example::serve("echo", &["--mode", mode, "--workers", &workers_arg]);
    let mut idle = open_idle(address, 2_000);
    // Every idle connection is accepted before the fresh one is timed.
    round_trip(idle.last_mut().unwrap(), 1);
    let started = std::time::Instant::now();
    let mut fresh = connect(address);
    round_trip(&mut fresh, 2);
    eprintln!(
        "echo --mode {mode} --workers {workers}: a fresh client echoed in {:?} with 2 000 idle connections open",
        started.elapsed()
    );
    for (i, client) in idle.iter_mut().enumerate() {
        round_trip(client, i as u8);
    }
    let threads = proc_status(echo.pid(), "Threads");
    assert!(
        threads <= 2 * workers as u64 + 8,
        "echo --mode {mode} --workers {workers} runs {threads} threads with 2 000 connections"
    );
    drop(idle);
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, &format!("echo --mode {mode}")));
}

#[test]
fn pool_of_8_serves_2000_idle_connections_with_a_bounded_thread_count() {
    two_thousand_idle("pool", 8);
}

#[test]
fn event_with_2_loops_serves_2000_idle_connections_with_a_bounded_thread_count() {
    two_thousand_idle("event", 2);
}

/// `--mode pool --workers 8` with 128 persistent connections echoing at once: no errors.
#[test]
fn pool_of_8_echoes_on_128_persistent_connections_at_once() {
    let _one = heavy();
    let (echo, address) = Example::serve("echo", &["--mode", "pool", "--workers", "8"]);
    let clients: Vec<_> = (0..128)
        .map(|n| {
            thread::spawn(move || {
                let mut client = connect(address);
                for i in 0..200u32 {
                    let message = (n * 1_000_000 + i).to_be_bytes();
                    client.write_all(&message).unwrap();
                    let mut reply = [0; 4];
                    client.read_exact(&mut reply).unwrap();
                    assert_eq!(reply, message);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client saw an error");
    }
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --mode pool --workers 8"));
}

/// `--mode event` holds 10 000 idle connections with at most 3 KiB of RSS each above its idle
/// baseline.
#[test]
fn event_holds_10000_idle_connections_in_3_kib_each() {
    let _one = heavy();
    const CONNECTIONS: usize = 10_000;
    raise_fd_limit(CONNECTIONS as u64 + 500);
    let (echo, address) = Example::serve("echo", &["--mode", "event", "--workers", "2"]);
    // The baseline: the loops started, one connection served and gone.
    let mut warm = connect(address);
    round_trip(&mut warm, 0);
    drop(warm);
    let baseline = proc_status(echo.pid(), "VmRSS");
    let mut idle = open_idle(address, CONNECTIONS);
    for client in &mut idle {
        round_trip(client, 7);
    }
    let rss = proc_status(echo.pid(), "VmRSS");
    let per_connection = (rss.saturating_sub(baseline) * 1024) as f64 / CONNECTIONS as f64;
    eprintln!("echo --mode event: {per_connection:.0} bytes of RSS per idle connection (baseline {baseline} kB, with 10 000: {rss} kB)");
    assert!(
        per_connection <= 3.0 * 1024.0,
        "{per_connection:.0} bytes per idle connection (baseline {baseline} kB, now {rss} kB)"
    );
    drop(idle);
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --mode event"));
}

/// Parks after every message; counts how many connections ended.
#[derive(Clone, Default)]
struct ParkingEcho {
    finished: Arc<AtomicUsize>,
}

impl RequestHandler<StreamRequest> for ParkingEcho {
    fn setup(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        request.park();
        Ok(())
    }
    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut byte = [0];
        if request.rfile.read(&mut byte)? == 0 {
            return Ok(());
        }
        request.wfile.write_all(&byte)?;
        request.park();
        Ok(())
    }
    fn finish(&mut self, _request: &mut StreamRequest) -> io::Result<()> {
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Echoes; counts how many connections ended.
#[derive(Clone, Default)]
struct CountingEcho {
    lost: Arc<AtomicUsize>,
}

impl Protocol for CountingEcho {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        conn.write(data);
        Ok(())
    }
    fn connection_lost(&mut self, _reason: Option<&RequestError>) {
        self.lost.fetch_add(1, Ordering::SeqCst);
    }
}

const PARKED: usize = 2_000;

/// Closing a server with `PARKED` connections waiting: every client reads EOF, every
/// connection's end ran once, and no descriptor or thread is left.
fn close_with_thousands_waiting<S, M, H>(
    server: socketserver::BaseServer<socketserver::TcpSocket, M, H, S>,
    ended: Arc<AtomicUsize>,
    fds_before: usize,
) where
    S: socketserver::ServerHooks<StreamRequest>,
    M: socketserver::Dispatch,
    H: RequestHandler<StreamRequest>,
{
    let serving = Serving::start(server);
    let mut clients = open_idle(serving.address, PARKED);
    for client in &mut clients {
        round_trip(client, 3);
    }
    let (server, result) = serving.stop();
    result.unwrap();
    drop(server); // server_close: the waiting connections end
    assert_eq!(
        ended.load(Ordering::SeqCst),
        PARKED,
        "every waiting connection ended once"
    );
    for client in &mut clients {
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "a clean EOF");
    }
    drop(clients);
    assert!(
        eventually(|| framework_threads() == 0),
        "framework threads left: {}",
        framework_threads()
    );
    assert!(
        eventually(|| open_descriptors() <= fds_before),
        "descriptors left: {} (before: {fds_before})",
        open_descriptors()
    );
}

#[test]
fn closing_a_pool_with_2000_parked_connections_leaves_nothing() {
    let _one = heavy();
    raise_fd_limit(2 * PARKED as u64 + 500);
    let fds_before = open_descriptors();
    let handler = ParkingEcho::default();
    let ended = Arc::clone(&handler.finished);
    let mut server = PoolTcpServer::new("127.0.0.1:0", handler).unwrap();
    server.dispatch_mut().set_workers(4);
    close_with_thousands_waiting(server, ended, fds_before);
}

#[test]
fn closing_an_event_loop_with_2000_connections_leaves_nothing() {
    let _one = heavy();
    raise_fd_limit(2 * PARKED as u64 + 500);
    let fds_before = open_descriptors();
    let protocol = CountingEcho::default();
    let ended = Arc::clone(&protocol.lost);
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(protocol)).unwrap();
    server.dispatch_mut().set_workers(2);
    close_with_thousands_waiting(server, ended, fds_before);
}
