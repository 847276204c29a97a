//! Runs the `loadgen` binary in each stream mode against an in-process std echo server (and
//! http mode against a small in-process HTTP server) and checks its JSON line.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A thread-per-connection server on 127.0.0.1:0 that stops when dropped.
struct TestServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// The acceptor stops after this many connections, whatever happens.
    const MAX_CONNECTIONS: usize = 200_000;

    /// Serves every connection with `serve` on a thread of its own.
    fn start(serve: fn(TcpStream)) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming().take(Self::MAX_CONNECTIONS) {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                // Bounded: the client closes, or the timeout ends a stalled read.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                std::thread::spawn(move || serve(stream));
            }
        });
        TestServer {
            address,
            stop,
            acceptor: Some(acceptor),
        }
    }
}

/// Sends back every byte.
fn echo(mut stream: TcpStream) {
    let mut buf = [0; 8192];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        if stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Answers each `GET PATH` on a keep-alive connection: `/` with 200 and 5 bytes, `/big` with
/// 200 and 1 MB, anything else 404.
fn http(mut stream: TcpStream) {
    let big = vec![b'x'; 1 << 20];
    let mut input = Vec::new();
    let mut buf = [0; 8192];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        input.extend_from_slice(&buf[..n]);
        while let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&input[..end]).into_owned();
            input.drain(..end + 4);
            let path = head.split(' ').nth(1).unwrap_or("");
            let (status, body): (&str, &[u8]) = match path {
                "/" => ("200 OK", b"hello"),
                "/big" => ("200 OK", &big),
                _ => ("404 Not Found", b""),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body).is_err() {
                return;
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept so the acceptor sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Runs `loadgen ARGS...` to its end.
fn run_loadgen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `loadgen MODE --json` with `extra` flags and returns its parsed JSON line.
fn loadgen(server: &TestServer, mode: &str, extra: &[&str]) -> serde_json::Value {
    let target = server.address.to_string();
    let mut args = vec![mode, "--target", &target, "--connections", "4", "--json"];
    args.extend_from_slice(extra);
    let output = run_loadgen(&args);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{mode}: {:?}\n{stdout}\n{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{mode}: exactly one line on stdout: {stdout:?}"
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{mode}: {e}: {}", lines[0]))
}

fn check_common(json: &serde_json::Value, mode: &str) {
    assert_eq!(json["mode"], mode);
    assert_eq!(json["connections"], 4);
    assert_eq!(json["size"], 64);
    assert!(json["requests"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["errors"], 0, "{json}");
    assert!(json["rps"].as_f64().unwrap() > 0.0, "{json}");
    for field in ["duration_s", "p50_us", "p99_us", "max_us"] {
        assert!(json[field].as_f64().is_some(), "{field} missing: {json}");
    }
    assert!(json["p50_us"].as_f64() <= json["p99_us"].as_f64(), "{json}");
    assert!(json["p99_us"].as_f64() <= json["max_us"].as_f64(), "{json}");
}

#[test]
fn echo_connect_and_idle_report_one_json_line() {
    let server = TestServer::start(echo);

    let echo = loadgen(
        &server,
        "echo",
        &["--duration", "300ms", "--warmup", "100ms"],
    );
    check_common(&echo, "echo");
    assert!(
        echo.get("held").is_none() && echo.get("lost").is_none(),
        "{echo}"
    );

    let connect = loadgen(
        &server,
        "connect",
        &["--duration", "300ms", "--warmup", "100ms"],
    );
    check_common(&connect, "connect");

    let idle = loadgen(&server, "idle", &["--hold", "300ms"]);
    check_common(&idle, "idle");
    assert_eq!(idle["held"], 4, "{idle}");
    assert_eq!(idle["failed"], 0, "{idle}");
    assert_eq!(idle["requests"], 4, "{idle}");
}

#[test]
fn requests_stops_the_run_at_an_exact_count() {
    let server = TestServer::start(echo);
    let started = std::time::Instant::now();
    let connect = loadgen(
        &server,
        "connect",
        &["--requests", "50", "--duration", "20", "--warmup", "0"],
    );
    check_common(&connect, "connect");
    assert_eq!(connect["requests"], 50, "{connect}");
    let echo = loadgen(
        &server,
        "echo",
        &["-n", "101", "--duration", "20", "--warmup", "100ms"],
    );
    check_common(&echo, "echo");
    assert_eq!(echo["requests"], 101, "{echo}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a run that reached --requests ends early, not at --duration"
    );
}

#[test]
fn a_refused_target_is_a_clear_error() {
    // Bind then drop a listener: its port now refuses connections.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    let output = run_loadgen(&["echo", "--target", &target, "--duration", "200ms", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn udp_round_trips_are_counted() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Echoes until half a second passes without a datagram (bounded in count too).
    let echo = std::thread::spawn(move || {
        let mut buf = [0; 2048];
        for _ in 0..1_000_000 {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                break;
            };
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    let target = address.to_string();
    let output = run_loadgen(&[
        "udp",
        "--target",
        &target,
        "--connections",
        "4",
        "--json",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["mode"], "udp");
    assert!(json["requests"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["errors"], 0, "{json}");
    assert!(json["lost"].as_u64().is_some(), "{json}");
    echo.join().unwrap();
}

/// Closed loop: an exact count with `--requests`. Open loop: never more requests than the
/// rate's schedule holds (at 200 a second for half a second, on 4 connections: 25 each,
/// one more where the schedule's start falls). A 1 MB body is read through; a 404 is an
/// error, and a run of nothing but errors exits 1.
#[test]
fn http_requests_closed_loop_and_at_a_rate() {
    let server = TestServer::start(http);
    let closed = loadgen(&server, "http", &["-n", "100", "-d", "20", "-w", "0"]);
    check_common(&closed, "http");
    assert_eq!(closed["requests"], 100, "{closed}");
    assert_eq!(closed["threads"], 4, "a thread per connection: {closed}");

    let paced = loadgen(
        &server,
        "http",
        &["--rate", "200", "-d", "500ms", "-w", "0"],
    );
    check_common(&paced, "http");
    let requests = paced["requests"].as_u64().unwrap();
    assert!(requests <= 100 + 4, "at most the schedule: {paced}");

    let big = loadgen(
        &server,
        "http",
        &["--path", "/big", "-n", "8", "-d", "20", "-w", "0"],
    );
    check_common(&big, "http");
    assert_eq!(big["requests"], 8, "{big}");

    let target = server.address.to_string();
    let output = run_loadgen(&[
        "http", "--target", &target, "--path", "/missing", "-c", "1", "-d", "200ms", "-w", "0",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"));
    assert!(json["errors"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["requests"], 0, "{json}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("status 404"), "{stderr}");
}
