//! What only the coroutine strategy has: blocking work handed off while the loop serves
//! others, a panic among many, a stack overflow that is reported, not undefined behaviour,
//! and what thousands of idle connections cost.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use socketserver::coroutine;
use socketserver::{
    CoroutineTcpServer, Coroutines, RequestError, RequestHandler, ServerHooks, StreamRequest,
    TcpSocket,
};

use util::example_process::{release_example_path, Example};
use util::Serving;

/// How long a client waits for one answer before the test fails (a safety net).
const ANSWER_WAIT: Duration = Duration::from_secs(10);

fn connect(address: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    BufReader::new(stream)
}

fn say(client: &mut BufReader<TcpStream>, line: &str) -> String {
    client.get_mut().write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    client.read_line(&mut answer).unwrap();
    answer
}

/// A line protocol: `block` hands a wait for the test's go-ahead to a helper thread (as a
/// database call would be), `panic` panics, anything else is echoed.
#[derive(Clone)]
struct Lines {
    go_ahead: Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl RequestHandler<StreamRequest> for Lines {
    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        while request.rfile.read_line(&mut line)? > 0 {
            match line.as_str() {
                "block\n" => {
                    request.wfile.write_all(b"blocking\n")?;
                    let go_ahead = Arc::clone(&self.go_ahead);
                    coroutine::offload(move || go_ahead.lock().recv())?
                        .map_err(io::Error::other)?;
                    request.wfile.write_all(b"unblocked\n")?;
                }
                "panic\n" => panic!("a handler panics on purpose"),
                _ => request.wfile.write_all(line.as_bytes())?,
            }
            line.clear();
        }
        Ok(())
    }
}

/// Counts what reaches `handle_error`.
#[derive(Default)]
struct Errors {
    panics: AtomicUsize,
    others: AtomicUsize,
}

/// The hooks: `handle_error` counts into the shared [`Errors`].
struct Counting(Arc<Errors>);

impl ServerHooks<StreamRequest> for Counting {
    fn handle_error(&self, _request: &StreamRequest, error: &RequestError) {
        let errors = &self.0;
        match error {
            RequestError::HandlerPanicked { .. } => errors.panics.fetch_add(1, Ordering::SeqCst),
            _ => errors.others.fetch_add(1, Ordering::SeqCst),
        };
    }
}

type LineServing = Serving<TcpSocket, Coroutines, Lines, Counting>;

fn serve_lines(loops: usize) -> (LineServing, std::sync::mpsc::Sender<()>, Arc<Errors>) {
    socketserver::raise_fd_limit().unwrap();
    let (go, go_ahead) = std::sync::mpsc::channel();
    let lines = Lines {
        go_ahead: Arc::new(Mutex::new(go_ahead)),
    };
    let errors = Arc::new(Errors::default());
    let mut server = CoroutineTcpServer::new("127.0.0.1:0", lines)
        .unwrap()
        .with_hooks(Counting(Arc::clone(&errors)));
    server.dispatch_mut().set_workers(loops);
    (Serving::start(server), go, errors)
}

#[test]
fn offloaded_work_keeps_the_loop_serving_a_thousand_others() {
    // One loop thread: if the blocked handler held it, nobody else would be answered.
    let (serving, go, errors) = serve_lines(1);
    let mut blocked = connect(serving.address);
    assert_eq!(say(&mut blocked, "block\n"), "blocking\n");
    let mut others: Vec<_> = (0..1000).map(|_| connect(serving.address)).collect();
    for (n, client) in others.iter_mut().enumerate() {
        let line = format!("{n}\n");
        assert_eq!(say(client, &line), line, "client {n} is answered meanwhile");
    }
    go.send(()).unwrap();
    let mut answer = String::new();
    blocked.read_line(&mut answer).unwrap();
    assert_eq!(
        answer, "unblocked\n",
        "the handed-off work's connection goes on"
    );
    assert_eq!(say(&mut blocked, "again\n"), "again\n");
    drop(others);
    drop(blocked);
    serving.stop().1.unwrap();
    assert_eq!(errors.others.load(Ordering::SeqCst), 0);
}

#[test]
fn a_panic_ends_one_connection_among_a_thousand() {
    let (serving, _go, errors) = serve_lines(2);
    let mut clients: Vec<_> = (0..1000).map(|_| connect(serving.address)).collect();
    for (n, client) in clients.iter_mut().enumerate() {
        let line = format!("{n}\n");
        assert_eq!(say(client, &line), line);
    }
    let mut victim = clients.swap_remove(500);
    victim.get_mut().write_all(b"panic\n").unwrap();
    let mut rest = Vec::new();
    // The panicking connection is closed (end of input, or a reset), nothing more.
    let ended = victim.read_to_end(&mut rest);
    assert!(
        matches!(ended, Ok(0)) || ended.is_err(),
        "the panicking connection ends: {ended:?} {rest:?}"
    );
    for (n, client) in clients.iter_mut().enumerate() {
        let line = format!("after {n}\n");
        assert_eq!(say(client, &line), line, "client {n} is still served");
    }
    drop(clients);
    serving.stop().1.unwrap();
    assert_eq!(
        errors.panics.load(Ordering::SeqCst),
        1,
        "the panic reached handle_error"
    );
    assert_eq!(errors.others.load(Ordering::SeqCst), 0);
}

/// Recurses with a kilobyte of stack per call, far past any coroutine stack.
fn deep(n: u64) -> u64 {
    let frame = std::hint::black_box([n as u8; 1024]);
    if n == 0 {
        return 0;
    }
    deep(n - 1) + u64::from(frame[7])
}

const OVERFLOW_CHILD: &str = "SOCKETSERVER_TEST_OVERFLOW_CHILD";

#[test]
fn a_stack_overflow_is_reported_and_stops_the_process() {
    if std::env::var_os(OVERFLOW_CHILD).is_some() {
        // The child: a handler that recurses without bound, on a small stack.
        let handler = |_: &mut StreamRequest| -> io::Result<()> {
            let depth = deep(1 << 20);
            Err(io::Error::other(format!("returned from {depth} calls")))
        };
        let mut server = CoroutineTcpServer::new("127.0.0.1:0", handler).unwrap();
        server
            .dispatch_mut()
            .set_workers(1)
            .set_stack_size(64 * 1024);
        let serving = Serving::start(server);
        let mut client = TcpStream::connect(serving.address).unwrap();
        client.write_all(b"x").unwrap();
        let mut rest = Vec::new();
        let _ = client.read_to_end(&mut rest);
        // Only reached if the process survived the overflow: the parent fails on this.
        println!("the process survived a stack overflow");
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_stack_overflow_is_reported_and_stops_the_process",
            "--exact",
            "--nocapture",
        ])
        .env(OVERFLOW_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSEGV),
        "the child dies of the guard page's fault: {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains("a coroutine overflowed its stack"),
        "the overflow is named on stderr:\n{stderr}"
    );
    assert!(!stdout.contains("survived"), "{stdout}");
}

/// Resident memory and threads of a process, from /proc.
fn rss_and_threads(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}

/// Opens `count` more connections to `address`, each of which echoes one byte (so its
/// handler has run and now waits in a read).
fn open_echoing(address: SocketAddr, count: usize, into: &mut Vec<TcpStream>) {
    for _ in 0..count {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
        stream.write_all(b"x").unwrap();
        let mut byte = [0; 1];
        stream.read_exact(&mut byte).unwrap();
        into.push(stream);
    }
}

#[test]
fn ten_thousand_idle_connections_cost_little_memory_and_no_threads() {
    socketserver::raise_fd_limit().unwrap();
    const WORKERS: u64 = 2;
    // The release build: what users run (a debug build's frames are twice as deep).
    let mut command = std::process::Command::new(release_example_path("echo"));
    command.args([
        "--addr",
        "127.0.0.1:0",
        "--mode",
        "coroutine",
        "--workers",
        "2",
    ]);
    let (echo, address) = Example::serve_command("echo", command);
    let address: SocketAddr = address.parse().unwrap();
    let pid = echo.pid();
    let mut clients = Vec::new();
    open_echoing(address, 100, &mut clients);
    let (rss_before, _) = rss_and_threads(pid);
    open_echoing(address, 9_900, &mut clients);
    let (rss_after, threads) = rss_and_threads(pid);
    let per_connection = rss_after.saturating_sub(rss_before) / 9_900;
    assert!(
        per_connection <= 16 * 1024,
        "an idle connection costs {per_connection} bytes of resident memory (at most 16 KiB)"
    );
    // The main thread, the signal thread, the loops; no offload helper was needed.
    assert!(
        threads <= WORKERS + 8,
        "{threads} threads for 10 000 idle connections on {WORKERS} loops"
    );
    // Still served, every one of them.
    for (n, stream) in clients.iter_mut().enumerate().step_by(97) {
        stream.write_all(b"y").unwrap();
        let mut byte = [0; 1];
        stream.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"y", "connection {n}");
    }
    println!("10 000 idle coroutine connections: {per_connection} bytes each, {threads} threads");
    drop(clients);
    drop(echo);
}
