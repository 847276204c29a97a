//! The example programs, end to end: `echo` (both modes), `seed_threading_echo`,
//! `hello_server` and `hello_client`, run as processes the way a user runs them.
//!
//! Runs the example binaries that `cargo test` builds next to the test binaries
//! (`target/<profile>/examples/<name>`). When only this test is selected
//! (`cargo test --test examples`), cargo does not build examples: run
//! `cargo build --examples` first.
//!
//! Every child is killed when its guard drops, so a failing test never leaks a process. Nothing
//! waits by sleeping: a server is ready once it has printed its `listening on ADDR` line, and it
//! has exited once its output pipes close. Timeouts are only safety nets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long anything may take before a test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);
/// A generous bound on the time from a signal to the process's exit.
const EXIT_BOUND: Duration = Duration::from_secs(5);

fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/examples-<hash> → target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --examples` (plain `cargo test` builds them)",
        path.display()
    );
    path
}

/// A running example; killed and reaped on drop unless [`finish`](Self::finish) reaped it.
struct Example {
    name: &'static str,
    child: Option<Child>,
    /// Lines of stdout as they arrive; disconnected at EOF.
    stdout: Receiver<String>,
    /// All of stderr, sent once at EOF.
    stderr: Receiver<String>,
    /// The stdout lines taken so far.
    seen: Vec<String>,
}

/// How an example ended.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Finished {
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    /// A failure to start: `code`, nothing on stdout, one line on stderr, no panic.
    fn assert_one_line_failure(&self, code: i32) {
        assert_eq!(self.status.code(), Some(code), "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        assert_eq!(self.stderr_lines().len(), 1, "{self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
    }
}

impl Example {
    fn spawn(name: &'static str, args: &[&str]) -> Example {
        let mut child = Command::new(example_path(name))
            .args(args)
            // The checks below count stderr lines: no log lines from the caller's environment.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (stderr_tx, stderr_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = stderr_tx.send(text);
        });
        Example {
            name,
            child: Some(child),
            stdout: lines_rx,
            stderr: stderr_rx,
            seen: Vec::new(),
        }
    }

    /// Starts a server on a free port; returns it with the address from its ready line.
    fn serve(name: &'static str, extra_args: &[&str]) -> (Example, SocketAddr) {
        let mut args = vec!["--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let (example, address) = Example::serve_with(name, &args);
        let address = address
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {address:?} is not HOST:PORT"));
        (example, address)
    }

    /// Starts a server with exactly `args`; returns it with ADDR from its ready line.
    fn serve_with(name: &'static str, args: &[&str]) -> (Example, String) {
        let mut example = Example::spawn(name, args);
        let line = match example.stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("{name}: no ready line within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let stderr = example.stderr.recv_timeout(PATIENCE).unwrap_or_default();
                panic!("{name} closed stdout without a ready line; stderr:\n{stderr}")
            }
        };
        let address = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"))
            .to_owned();
        example.seen.push(line);
        (example, address)
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().unwrap().id() as libc::pid_t;
        // SAFETY: `kill(2)` has no memory-safety preconditions. The pid is our child, which is
        // not reaped before `finish` or drop, so it cannot name another process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for the process to end: its pipes close when it exits. Panics after
    /// [`PATIENCE`] (the drop then kills it).
    fn finish(mut self) -> Finished {
        let stderr = match self.stderr.recv_timeout(PATIENCE) {
            Ok(text) => text,
            Err(_) => panic!("{} did not exit within {PATIENCE:?}", self.name),
        };
        let mut stdout = std::mem::take(&mut self.seen);
        loop {
            match self.stdout.recv_timeout(PATIENCE) {
                Ok(line) => stdout.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: stdout still open after stderr closed", self.name)
                }
            }
        }
        let status = self.child.take().unwrap().wait().unwrap();
        Finished {
            status,
            stdout,
            stderr,
        }
    }

    /// Sends `signal`, waits for the exit, prints how long it took and checks the bound.
    fn stop_with(self, signal: libc::c_int, label: &str) -> Finished {
        let sent = Instant::now();
        self.signal(signal);
        let finished = self.finish();
        let took = sent.elapsed();
        eprintln!("{label}: signal {signal} → exit in {took:?}");
        assert!(
            took < EXIT_BOUND,
            "{label}: exit took {took:?} after signal {signal}"
        );
        finished
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A clean stop: exit status 0, the ready line and nothing else on stdout, no errors logged.
fn assert_clean_exit(finished: &Finished) {
    assert!(finished.status.success(), "{finished:#?}");
    assert_eq!(finished.stdout.len(), 1, "{finished:#?}");
    assert!(!finished.stderr.contains("panicked"), "{finished:#?}");
    assert!(!finished.stderr.contains("ERROR"), "{finished:#?}");
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Bytes that show up reordered or shifted if the echo is wrong.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Sends `payload` from another thread, half-closes, and reads the whole reply here.
fn echo_to_end(address: SocketAddr, payload: Vec<u8>) -> Vec<u8> {
    let mut stream = connect(address);
    let mut writer = stream.try_clone().unwrap();
    let sending = thread::spawn(move || {
        writer.write_all(&payload).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    sending.join().unwrap();
    reply
}

/// A free port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

// ---- echo -------------------------------------------------------------------------------

/// Echoes a short message and 1 MiB, then stops the server with `signal`.
fn echo_then_signal(mode: &str, signal: libc::c_int) {
    let (echo, address) = Example::serve("echo", &["--mode", mode]);

    let mut client = connect(address);
    client.write_all(b"hello\n").unwrap();
    let mut reply = [0; 6];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hello\n");
    drop(client);

    let big = pattern(1 << 20);
    let reply = echo_to_end(address, big.clone());
    assert_eq!(reply.len(), big.len());
    assert!(reply == big, "the 1 MiB echo differs from what was sent");

    let finished = echo.stop_with(signal, &format!("echo --mode {mode}"));
    assert_clean_exit(&finished);
}

#[test]
fn echo_threading_exits_0_on_sigterm() {
    echo_then_signal("threading", libc::SIGTERM);
}

#[test]
fn echo_sequential_exits_0_on_sigterm() {
    echo_then_signal("sequential", libc::SIGTERM);
}

#[test]
fn echo_threading_exits_0_on_sigint() {
    echo_then_signal("threading", libc::SIGINT);
}

#[test]
fn echo_sequential_exits_0_on_sigint() {
    echo_then_signal("sequential", libc::SIGINT);
}

#[test]
fn echo_threading_exits_0_on_sigterm_with_a_client_connected() {
    let (echo, address) = Example::serve("echo", &["--mode", "threading"]);
    let mut client = connect(address);
    client.write_all(b"still here").unwrap();
    let mut reply = [0; 10];
    client.read_exact(&mut reply).unwrap();
    let finished = echo.stop_with(libc::SIGTERM, "echo --mode threading, client connected");
    assert_clean_exit(&finished);
}

#[test]
fn echo_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let finished = Example::spawn("echo", &["--addr", &address]).finish();
    finished.assert_one_line_failure(1);
    assert!(finished.stderr.contains(&address), "{finished:#?}");
}

#[test]
fn echo_bad_address_is_one_line_and_exit_1() {
    Example::spawn("echo", &["--addr", "nonsense"])
        .finish()
        .assert_one_line_failure(1);
}

#[test]
fn echo_bad_mode_is_one_line_and_exit_2() {
    Example::spawn("echo", &["--addr", "127.0.0.1:0", "--mode", "nope"])
        .finish()
        .assert_one_line_failure(2);
}

#[test]
fn echo_flag_without_value_is_one_line_and_exit_2() {
    Example::spawn("echo", &["--addr"])
        .finish()
        .assert_one_line_failure(2);
}

// ---- seed_threading_echo ----------------------------------------------------------------

#[test]
fn seed_threading_echo_echoes_in_5_byte_reads_and_outlives_its_clients() {
    let (seed, address) = Example::serve("seed_threading_echo", &[]);

    for _ in 0..2 {
        let mut client = connect(address);
        client.write_all(b"hello world").unwrap();
        let mut reply = [0; 11];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"hello world");
        // Python's handler spins on the closed connection and never closes it; ours sees
        // the end, returns, and the server closes its side.
        client.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "unexpected bytes after the echo: {rest:?}");
    }

    let big = pattern(64 * 1024 + 3);
    assert!(
        echo_to_end(address, big.clone()) == big,
        "the 64 KiB echo differs"
    );

    let finished = seed.stop_with(libc::SIGTERM, "seed_threading_echo");
    assert_clean_exit(&finished);
}

#[test]
fn seed_threading_echo_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    Example::spawn("seed_threading_echo", &["--addr", &address])
        .finish()
        .assert_one_line_failure(1);
}

// ---- hello_server and hello_client ------------------------------------------------------

#[test]
fn hello_client_prints_what_hello_server_sends() {
    let (server, address) = Example::serve("hello_server", &[]);
    let address = address.to_string();
    for _ in 0..2 {
        let client = Example::spawn("hello_client", &["--addr", &address]).finish();
        assert!(client.status.success(), "{client:#?}");
        assert_eq!(client.stdout, ["hello"], "{client:#?}");
        assert!(client.stderr.is_empty(), "{client:#?}");
    }
    let finished = server.stop_with(libc::SIGINT, "hello_server");
    assert_clean_exit(&finished);
}

#[test]
fn hello_client_to_a_closed_port_is_one_line_and_exit_1() {
    let address = closed_port().to_string();
    Example::spawn("hello_client", &["--addr", &address])
        .finish()
        .assert_one_line_failure(1);
}

#[test]
fn hello_server_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    Example::spawn("hello_server", &["--addr", &address])
        .finish()
        .assert_one_line_failure(1);
}

#[test]
fn echo_forking_exits_0_on_sigterm() {
    echo_then_signal("forking", libc::SIGTERM);
}

#[test]
fn echo_pool_exits_0_on_sigterm() {
    echo_then_signal("pool", libc::SIGTERM);
}

#[test]
fn echo_pool_with_workers_flag() {
    let (echo, address) = Example::serve("echo", &["--mode", "pool", "--workers", "2"]);
    let clients: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || echo_to_end(address, pattern(4096))))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), pattern(4096));
    }
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --mode pool --workers 2"));
}

#[test]
fn echo_bad_workers_is_one_line_and_exit_2() {
    Example::spawn("echo", &["--mode", "pool", "--workers", "none"])
        .finish()
        .assert_one_line_failure(2);
}

#[test]
fn echo_udp_echoes_datagrams() {
    let (echo, address) = Example::serve("echo", &["--udp"]);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"datagram", address).unwrap();
    let mut reply = [0; 16];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"datagram");
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --udp"));
}

/// A fresh directory for socket files, removed at the end.
struct SocketDir(std::path::PathBuf);

impl SocketDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("ss-ex-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        SocketDir(path)
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn echo_unix_stream_echoes_and_removes_its_file() {
    let dir = SocketDir::new("stream");
    let path = dir.0.join("echo.sock");
    let (echo, shown) = Example::serve_with("echo", &["--unix", path.to_str().unwrap()]);
    assert_eq!(
        shown,
        path.to_str().unwrap(),
        "the ready line gives the path"
    );
    let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.write_all(b"over unix").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"over unix");
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --unix"));
    assert!(!path.exists(), "the socket file is removed on exit");
}

#[test]
fn echo_unix_datagram_echoes() {
    let dir = SocketDir::new("dgram");
    let path = dir.0.join("echo.sock");
    let (echo, shown) = Example::serve_with("echo", &["--unix-dgram", path.to_str().unwrap()]);
    assert_eq!(shown, path.to_str().unwrap());
    let client = std::os::unix::net::UnixDatagram::bind(dir.0.join("client.sock")).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"dgram", &path).unwrap();
    let mut reply = [0; 16];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"dgram");
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --unix-dgram"));
}

#[test]
fn echo_unix_path_in_missing_directory_is_one_line_and_exit_1() {
    Example::spawn("echo", &["--unix", "/tmp/no-such-dir-ss-example/echo.sock"])
        .finish()
        .assert_one_line_failure(1);
}
