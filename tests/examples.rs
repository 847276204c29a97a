//! The example programs, end to end: `echo` (in each mode), `seed_threading_echo`,
//! `hello_server` and `hello_client`, run as processes the way a user runs them.
//!
//! The process harness (`Example`, `Finished`) is in `tests/util/example_process.rs`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::thread;

mod util;

use util::example_process::{assert_clean_exit, Example};
use util::{answers_soon, closed_at_once, connect, connect_from, free_tcp_port, PATIENCE};

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
fn echo_event_exits_0_on_sigterm() {
    echo_then_signal("event", libc::SIGTERM);
}

#[test]
fn echo_event_exits_0_on_sigint() {
    echo_then_signal("event", libc::SIGINT);
}

#[test]
fn echo_coroutine_exits_0_on_sigterm() {
    echo_then_signal("coroutine", libc::SIGTERM);
}

#[test]
fn echo_coroutine_exits_0_on_sigint() {
    echo_then_signal("coroutine", libc::SIGINT);
}

fn exits_0_on_sigterm_with_a_client_connected(mode: &str) {
    let (echo, address) = Example::serve("echo", &["--mode", mode]);
    let mut client = connect(address);
    client.write_all(b"still here").unwrap();
    let mut reply = [0; 10];
    client.read_exact(&mut reply).unwrap();
    let finished = echo.stop_with(
        libc::SIGTERM,
        &format!("echo --mode {mode}, client connected"),
    );
    assert_clean_exit(&finished);
}

#[test]
fn echo_threading_exits_0_on_sigterm_with_a_client_connected() {
    exits_0_on_sigterm_with_a_client_connected("threading");
}

#[test]
fn echo_pool_exits_0_on_sigterm_with_a_client_connected() {
    exits_0_on_sigterm_with_a_client_connected("pool");
}

#[test]
fn echo_event_exits_0_on_sigterm_with_a_client_connected() {
    exits_0_on_sigterm_with_a_client_connected("event");
}

#[test]
fn echo_coroutine_exits_0_on_sigterm_with_a_client_connected() {
    exits_0_on_sigterm_with_a_client_connected("coroutine");
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
fn echo_event_port_in_use_is_one_line_and_exit_1() {
    port_in_use_is_one_line_and_exit_1("event");
}

#[test]
fn echo_coroutine_port_in_use_is_one_line_and_exit_1() {
    port_in_use_is_one_line_and_exit_1("coroutine");
}

fn port_in_use_is_one_line_and_exit_1(mode: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    Example::spawn("echo", &["--addr", &address, "--mode", mode])
        .finish()
        .assert_one_line_failure(1);
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
    let address = format!("127.0.0.1:{}", free_tcp_port());
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

/// Eight clients at once against two workers (pool) or two loops (event, coroutine).
fn echo_with_workers_flag(mode: &str) {
    let (echo, address) = Example::serve("echo", &["--mode", mode, "--workers", "2"]);
    let clients: Vec<_> = (0..8)
        .map(|_| thread::spawn(move || echo_to_end(address, pattern(4096))))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), pattern(4096));
    }
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, &format!("echo --mode {mode} --workers 2")));
}

#[test]
fn echo_pool_with_workers_flag() {
    echo_with_workers_flag("pool");
}

#[test]
fn echo_event_with_workers_flag() {
    echo_with_workers_flag("event");
}

#[test]
fn echo_coroutine_with_workers_flag() {
    echo_with_workers_flag("coroutine");
}

#[test]
fn echo_event_with_a_datagram_transport_is_one_line_and_exit_2() {
    Example::spawn(
        "echo",
        &["--addr", "127.0.0.1:0", "--mode", "event", "--udp"],
    )
    .finish()
    .assert_one_line_failure(2);
}

#[test]
fn echo_bad_workers_is_one_line_and_exit_2() {
    Example::spawn("echo", &["--mode", "pool", "--workers", "none"])
        .finish()
        .assert_one_line_failure(2);
}

/// `--udp` in `mode`: a datagram comes back to its sender.
fn udp_echoes_datagrams(mode: &str) {
    let (echo, address) = Example::serve("echo", &["--mode", mode, "--udp"]);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"datagram", address).unwrap();
    let mut reply = [0; 16];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"datagram");
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, &format!("echo --mode {mode} --udp")));
}

#[test]
fn echo_udp_echoes_datagrams() {
    udp_echoes_datagrams("threading");
}

/// Unlike the event loops, coroutines serve datagrams (each on the server's socket).
#[test]
fn echo_coroutine_udp_echoes_datagrams() {
    udp_echoes_datagrams("coroutine");
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

fn unix_stream_echoes_and_removes_its_file(mode: &str) {
    let dir = SocketDir::new(&format!("stream-{mode}"));
    let path = dir.0.join("echo.sock");
    let (echo, shown) =
        Example::serve_with("echo", &["--mode", mode, "--unix", path.to_str().unwrap()]);
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
fn echo_unix_stream_echoes_and_removes_its_file() {
    unix_stream_echoes_and_removes_its_file("threading");
}

#[test]
fn echo_pool_unix_stream_echoes_and_removes_its_file() {
    unix_stream_echoes_and_removes_its_file("pool");
}

#[test]
fn echo_event_unix_stream_echoes_and_removes_its_file() {
    unix_stream_echoes_and_removes_its_file("event");
}

#[test]
fn echo_coroutine_unix_stream_echoes_and_removes_its_file() {
    unix_stream_echoes_and_removes_its_file("coroutine");
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

// ---- limits -----------------------------------------------------------------------------

fn one_byte_round_trip(client: &mut std::net::TcpStream, byte: u8) {
    client.write_all(&[byte]).unwrap();
    let mut reply = [0];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], byte);
}

/// `--max-connections 1`: a second client waits unanswered, and is served once the first
/// closes.
fn max_connections_waits(mode: &str) {
    let (echo, address) = Example::serve("echo", &["--mode", mode, "--max-connections", "1"]);
    let mut first = connect(address);
    one_byte_round_trip(&mut first, 1);
    let mut second = connect(address);
    assert!(
        !answers_soon(&mut second, 2),
        "echo --mode {mode}: the second must wait"
    );
    drop(first);
    let mut reply = [0];
    second.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], 2);
    drop(second);
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --max-connections 1"));
}

#[test]
fn echo_threading_max_connections_waits() {
    max_connections_waits("threading");
}

#[test]
fn echo_pool_max_connections_waits() {
    max_connections_waits("pool");
}

#[test]
fn echo_event_max_connections_waits() {
    max_connections_waits("event");
}

#[test]
fn echo_coroutine_max_connections_waits() {
    max_connections_waits("coroutine");
}

#[test]
fn echo_max_connections_with_overload_refuse_closes_at_once() {
    let (echo, address) = Example::serve(
        "echo",
        &[
            "--mode",
            "event",
            "--max-connections",
            "1",
            "--overload",
            "refuse",
        ],
    );
    let mut first = connect(address);
    one_byte_round_trip(&mut first, 1);
    let mut second = connect(address);
    assert!(closed_at_once(&mut second));
    one_byte_round_trip(&mut first, 2);
    drop(first);
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --overload refuse"));
}

#[test]
fn echo_max_per_ip_closes_the_extra_connection_and_serves_other_sources() {
    let (echo, address) = Example::serve("echo", &["--max-per-ip", "1"]);
    let mut first = connect_from("127.0.0.1:0", address);
    one_byte_round_trip(&mut first, 1);
    let mut second = connect_from("127.0.0.1:0", address);
    assert!(closed_at_once(&mut second));
    let mut other = connect_from("127.0.0.2:0", address);
    one_byte_round_trip(&mut other, 2);
    drop((first, other));
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --max-per-ip 1"));
}

#[test]
fn echo_bad_limit_values_are_one_line_and_exit_2() {
    for args in [
        ["--max-connections", "0"],
        ["--max-per-ip", "many"],
        ["--overload", "drop"],
    ] {
        Example::spawn("echo", &args)
            .finish()
            .assert_one_line_failure(2);
    }
}

// ---- timeouts ---------------------------------------------------------------------------

/// `--idle-timeout 0.3`: a client silent after one echo is closed (end-of-file).
fn idle_timeout_closes_a_silent_client(mode: &str) {
    let (echo, address) = Example::serve("echo", &["--mode", mode, "--idle-timeout", "0.3"]);
    let mut client = connect(address);
    one_byte_round_trip(&mut client, 7);
    assert!(
        closed_at_once(&mut client),
        "echo --mode {mode} --idle-timeout"
    );
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --idle-timeout"));
}

#[test]
fn echo_threading_idle_timeout_closes_a_silent_client() {
    idle_timeout_closes_a_silent_client("threading");
}

#[test]
fn echo_pool_idle_timeout_closes_a_silent_client() {
    idle_timeout_closes_a_silent_client("pool");
}

#[test]
fn echo_event_idle_timeout_closes_a_silent_client() {
    idle_timeout_closes_a_silent_client("event");
}

#[test]
fn echo_coroutine_idle_timeout_closes_a_silent_client() {
    idle_timeout_closes_a_silent_client("coroutine");
}

/// `--write-timeout 0.3`: a client that sends and never reads is closed once the server's
/// writes stall; its own sends then fail.
fn write_timeout_closes_a_client_that_does_not_read(mode: &str) {
    let (echo, address) = Example::serve("echo", &["--mode", mode, "--write-timeout", "0.3"]);
    let mut client = connect(address);
    let chunk = vec![b'w'; 1 << 16];
    let mut failed = false;
    for _ in 0..1024 {
        // At most 64 MiB; the server closes long before the kernel buffers could take it.
        if let Err(error) = client.write_all(&chunk) {
            // Our own send timeout (PATIENCE) would mean the server never closed.
            assert!(
                !matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "echo --mode {mode}: the server never closed the connection"
            );
            failed = true;
            break;
        }
    }
    assert!(
        failed,
        "echo --mode {mode}: the connection was never closed"
    );
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --write-timeout"));
}

#[test]
fn echo_threading_write_timeout_closes_a_client_that_does_not_read() {
    write_timeout_closes_a_client_that_does_not_read("threading");
}

#[test]
fn echo_event_write_timeout_closes_a_client_that_does_not_read() {
    write_timeout_closes_a_client_that_does_not_read("event");
}

#[test]
fn echo_coroutine_write_timeout_closes_a_client_that_does_not_read() {
    write_timeout_closes_a_client_that_does_not_read("coroutine");
}

#[test]
fn echo_bad_timeout_values_are_one_line_and_exit_2() {
    for args in [["--idle-timeout", "0"], ["--write-timeout", "soon"]] {
        Example::spawn("echo", &args)
            .finish()
            .assert_one_line_failure(2);
    }
}

#[test]
fn echo_raises_its_soft_descriptor_limit_to_the_hard_one() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(util::example_process::example_path("echo"));
    command
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // `getrlimit`/`setrlimit`, which are async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Start echo with a low soft limit (as many systems do: 1024).
            limit.rlim_cur = limit.rlim_max.min(256);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("listening on "), "{ready:?}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .to_owned();
    // SAFETY: `kill` takes plain integers; the pid is our live child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "Max open files  SOFT  HARD  files": started at 256, raised to the hard limit.
    assert_eq!(fields[3], fields[4], "{line}");
    assert!(status.success(), "{status:?}");
}
