//! The HTTP layer against raw sockets (every limit and status code, pipelining, HEAD), the real
//! `curl` (keep-alive), and parking (idle keep-alive connections hold no pool worker).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use socketserver::{PoolTcpServer, TestServer};
use socketserver_http::{Exchange, HttpHandler, HttpService};

const PATIENCE: Duration = Duration::from_secs(20);

/// Answers GET with the request target; POST with the body it read.
#[derive(Clone)]
struct Reflect;

impl HttpHandler for Reflect {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
        let body = format!("you asked for {}", ex.request().target);
        ex.send_response(200)?;
        ex.send_header("Content-Type", "text/plain")?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.write_body(body.as_bytes())
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
        match ex.read_body(1024)? {
            Some(body) => {
                ex.send_response(200)?;
                ex.send_header("Content-Length", &body.len().to_string())?;
                ex.end_headers()?;
                ex.write_body(&body)
            }
            None => ex.send_error(413, "the body is over 1 KiB"),
        }
    }
}

fn start(
    workers: usize,
) -> TestServer<socketserver::TcpSocket, socketserver::ThreadPool, HttpService<Reflect>> {
    let mut server = PoolTcpServer::new("127.0.0.1:0", HttpService::new(Reflect)).unwrap();
    server.dispatch_mut().set_workers(workers);
    TestServer::start(server)
}

fn connect(address: SocketAddr) -> TcpStream {
    let client = TcpStream::connect(address).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client
}

/// Sends `raw` and reads until the server closes.
fn exchange_to_close(address: SocketAddr, raw: &[u8]) -> String {
    let mut client = connect(address);
    client.write_all(raw).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

/// Reads one response with a Content-Length body from a persistent connection.
fn read_response(client: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0; length];
    client.read_exact(&mut body).unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn every_limit_and_malformed_head_gets_its_status_with_a_status_line() {
    let server = start(2);
    let address = server.address();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000)).into_bytes(),
            "HTTP/1.1 414 URI Too Long\r\n",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\n{}\r\n",
                (0..101)
                    .map(|n| format!("X-{n}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n",
        ),
        (
            b"GET / HTTP/2.0\r\n\r\n".to_vec(),
            "HTTP/1.1 505 HTTP Version Not Supported\r\n",
        ),
        (b"GET /\r\n\r\n".to_vec(), "HTTP/1.1 400 Bad Request\r\n"),
        (
            b"BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "HTTP/1.1 501 Not Implemented\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".to_vec(),
            "HTTP/1.1 413 Content Too Large\r\n",
        ),
    ];
    for (raw, status) in cases {
        let reply = exchange_to_close(address, &raw);
        assert!(
            reply.starts_with(status),
            "{status:?} expected, got {reply:?}"
        );
    }
    server.stop(PATIENCE).unwrap();
}

#[test]
fn keep_alive_pipelining_head_and_a_body() {
    let server = start(2);
    let mut client = connect(server.address());
    // Two pipelined requests in one write, then a HEAD and a POST on the same connection.
    client
        .write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut client).ends_with("you asked for /one"));
    assert!(read_response(&mut client).ends_with("you asked for /two"));
    client
        .write_all(b"HEAD /three HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 20\r\n"),
        "{head}"
    );
    client
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nping",
        )
        .unwrap();
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert!(
        rest.starts_with("HTTP/1.1 200 OK\r\n"),
        "HEAD sent no body: {rest:?}"
    );
    assert!(
        rest.contains("Connection: close\r\n") && rest.ends_with("ping"),
        "{rest:?}"
    );
    server.stop(PATIENCE).unwrap();
}

/// The real curl: two URLs on one connection (keep-alive), Date and Server headers.
#[test]
fn curl_reuses_the_connection() {
    let server = start(2);
    let base = format!("http://{}", server.address());
    let output = Command::new("curl")
        .args(["-sS", "-v", &format!("{base}/a"), &format!("{base}/b")])
        .output()
        .expect("curl must be installed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "you asked for /ayou asked for /b");
    assert!(stderr.contains("Re-using existing connection"), "{stderr}");
    assert!(
        stderr.contains("< Date: ") && stderr.contains("< Server: socketserver-http/"),
        "{stderr}"
    );
    server.stop(PATIENCE).unwrap();
}

/// 500 idle keep-alive connections under a pool of 4: a fresh request is answered at once
/// (the idle ones are parked, not holding workers).
#[test]
fn idle_keep_alive_connections_hold_no_worker() {
    let server = start(4);
    let address = server.address();
    let mut idle: Vec<TcpStream> = (0..500)
        .map(|n| {
            let mut client = connect(address);
            client
                .write_all(format!("GET /{n} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            client
        })
        .collect();
    for (n, client) in idle.iter_mut().enumerate() {
        assert!(read_response(client).ends_with(&format!("you asked for /{n}")));
    }
    let reply = exchange_to_close(
        address,
        b"GET /fresh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("you asked for /fresh"), "{reply}");
    assert!(server.stats().parked >= 490, "{:?}", server.stats());
    drop(idle);
    server.stop(PATIENCE).unwrap();
}

/// A head that does not arrive within the transport's read timeout gets 408.
#[test]
fn a_slow_head_gets_408() {
    let mut server = PoolTcpServer::new("127.0.0.1:0", HttpService::new(Reflect)).unwrap();
    server
        .socket_mut()
        .set_stream_options(socketserver::StreamOptions {
            read_timeout: Some(Duration::from_millis(200)),
            ..socketserver::StreamOptions::default()
        });
    let server = TestServer::start(server);
    let reply = exchange_to_close(server.address(), b"GET / HTTP/1.1\r\nHost: x\r\n");
    assert!(
        reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{reply:?}"
    );
    server.stop(PATIENCE).unwrap();
}

/// Request bodies: chunked (from curl), `Expect: 100-continue` (curl waits for the 100), and
/// both lengths at once refused.
#[test]
fn chunked_bodies_and_100_continue_with_curl() {
    let server = start(2);
    let url = format!("http://{}/echo", server.address());
    let chunked = Command::new("curl")
        .args([
            "-sS",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "chunked hello",
            &url,
        ])
        .output()
        .expect("curl must be installed");
    assert_eq!(String::from_utf8_lossy(&chunked.stdout), "chunked hello");
    let expect = Command::new("curl")
        .args([
            "-sS",
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "after continue",
            &url,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&expect.stderr);
    assert!(stderr.contains("< HTTP/1.1 100 Continue"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&expect.stdout), "after continue");
    let smuggled = exchange_to_close(
        server.address(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert!(
        smuggled.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{smuggled}"
    );
    server.stop(PATIENCE).unwrap();
}
