//! The `select_echo` example, end to end: concurrent clients, a 1 MiB echo (partial writes and
//! write interest), a client that resets, SIGTERM, and the two ways of failing to start.
//!
//! The process harness is `tests/util/example_process.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

mod util;

use util::example_process::{Example, Finished};
use util::{connect, PATIENCE};

/// Starts `select_echo` on a free port; returns it with the address from its ready line.
fn serve() -> (Example, SocketAddr) {
    Example::serve("select_echo", &[])
}

/// Connects with a small receive buffer, so that a large echo cannot be written at once: the
/// server gets partial writes and has to wait for write readiness.
fn connect_slow_reader(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends `payload` from one thread while reading the echo on this one (the server stops
/// reading from a client that does not read its echo), and checks the echo is exact.
fn check_echo(stream: &mut TcpStream, payload: &[u8]) {
    let mut writer = stream.try_clone().unwrap();
    thread::scope(|scope| {
        scope.spawn(move || writer.write_all(payload).unwrap());
        let mut echo = vec![0; payload.len()];
        stream.read_exact(&mut echo).unwrap();
        assert!(echo == payload, "echo differs from what was sent");
    });
}

/// A recognisable, non-repeating-per-chunk pattern, so a misplaced chunk is detected.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
        .collect()
}

/// Closes with SO_LINGER 0: the peer gets a reset instead of an orderly end of file.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

#[test]
fn echoes_concurrent_clients_survives_resets_and_exits_0_on_sigterm() {
    let (server, addr) = serve();
    let mut big = connect_slow_reader(addr);
    let mut small = [connect(addr), connect(addr)];

    thread::scope(|scope| {
        scope.spawn(|| {
            check_echo(&mut big, &pattern(1 << 20));
            // More than loopback's socket buffers absorb: partial writes for sure.
            check_echo(&mut big, &pattern(8 << 20));
        });
        for (i, client) in small.iter_mut().enumerate() {
            scope.spawn(move || {
                for round in 0..20 {
                    check_echo(client, format!("client {i} round {round}\n").as_bytes());
                }
            });
        }
    });

    // One client resets mid-conversation; another sends 1 MiB, reads nothing and resets, so
    // the server's queued echo meets ECONNRESET/EPIPE.
    let mut quitter = connect(addr);
    check_echo(&mut quitter, b"bye\n");
    reset(quitter);
    let mut flooder = connect(addr);
    flooder.write_all(&pattern(1 << 20)).unwrap();
    reset(flooder);

    // The others are still served.
    check_echo(&mut big, &pattern(100_000));
    for client in &mut small {
        check_echo(client, b"still here\n");
    }

    server.signal(libc::SIGTERM);
    let output = server.finish();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", output.stderr);
}

#[test]
fn sigint_also_exits_0() {
    let (server, addr) = serve();
    check_echo(&mut connect(addr), b"hello\n");
    server.signal(libc::SIGINT);
    assert_eq!(server.finish().status.code(), Some(0));
}

/// Asserts that the example failed with `code` and said why in exactly one line.
fn assert_one_line_failure(output: &Finished, code: i32, expected: &str) {
    let stderr = &output.stderr;
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.starts_with("select_echo: "), "stderr: {stderr}");
    assert!(stderr.contains(expected), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Example::spawn("select_echo", &["--addr", &addr]).finish();
    assert_one_line_failure(&output, 1, &format!("cannot listen on {addr}"));
}

#[test]
fn bad_address_is_one_line_and_exit_1() {
    for bad in ["nonsense", "127.0.0.1:99999", "127.0.0.1"] {
        let output = Example::spawn("select_echo", &["--addr", bad]).finish();
        assert_one_line_failure(&output, 1, "bad address");
    }
    let output = Example::spawn("select_echo", &["--port", "1"]).finish();
    assert_one_line_failure(&output, 2, "usage");
}
