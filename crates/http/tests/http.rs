//! The HTTP layer in both its forms — [`HttpService`] on a pool and [`HttpProtocol`] on event
//! loops — against raw sockets (every limit and status code, pipelining, HEAD, bodies in
//! pieces), the real `curl` and Python's `http.client` (keep-alive, chunked, 100-continue),
//! parking (idle keep-alive connections hold no pool worker) and a graceful drain.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use socketserver_http::{Exchange, HttpHandler, HttpLimits};

mod util;

use util::{connect, read_head, read_head_and_body, Form, Served};

/// The size of `GET /big`.
const BIG: usize = 4 << 20;

/// Answers GET with the request target (`/big`: 4 MiB); POST with the body it read.
#[derive(Clone)]
struct Reflect;

impl HttpHandler for Reflect {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
        let body = match ex.request().target.as_str() {
            "/big" => (0..BIG).map(|n| b'a' + (n % 26) as u8).collect(),
            target => format!("you asked for {target}").into_bytes(),
        };
        ex.send_response(200)?;
        ex.send_header("Content-Type", "text/plain")?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.write_body(&body)
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
        match ex.read_body()? {
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

/// Bodies of at most 1 KiB.
fn limits() -> HttpLimits {
    let mut limits = HttpLimits::default();
    limits.max_body = 1024;
    limits
}

fn start(form: Form) -> Served<Reflect> {
    Served::start(form, Reflect, limits())
}

/// Sends `raw` and reads until the server closes, as text.
fn exchange_to_close(address: SocketAddr, raw: &[u8]) -> String {
    String::from_utf8_lossy(&util::exchange_to_close(address, raw)).into_owned()
}

/// Reads one response with a Content-Length body from a persistent connection.
fn read_response(client: &mut TcpStream) -> String {
    let (head, body) = read_head_and_body(client);
    head + &body
}

fn every_limit_and_malformed_request_gets_its_status_with_a_status_line(form: Form) {
    let server = start(form);
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
            format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(70_000)).into_bytes(),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n",
        ),
        (
            b"GET / HTTP/2.0\r\n\r\n".to_vec(),
            "HTTP/1.1 505 HTTP Version Not Supported\r\n",
        ),
        (b"GET /\r\n\r\n".to_vec(), "HTTP/1.1 400 Bad Request\r\n"),
        (
            b"GET / HTTP/1.1\r\nBad Header\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "HTTP/1.1 501 Not Implemented\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".to_vec(),
            "HTTP/1.1 413 Content Too Large\r\n",
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
                "x".repeat(0x800)
            )
            .into_bytes(),
            "HTTP/1.1 413 Content Too Large\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x3\r\n\r\nabc".to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            "HTTP/1.1 501 Not Implemented\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        // A second chunk size that wrapped the body's length past the limit in release builds
        // (and then every byte the peer sent was kept).
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\nfffffffffffffff5\r\n"
                .to_vec(),
            "HTTP/1.1 413 Content Too Large\r\n",
        ),
        // Strict framing: a sign or a space before a chunk size, a bare LF, a folded field,
        // two Transfer-Encoding fields, chunked not last.
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x\nhello\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"GET / HTTP/1.1\nHost: x\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\n",
                "e".repeat(8192)
            )
            .into_bytes(),
            "HTTP/1.1 400 Bad Request\r\n",
        ),
    ];
    for (raw, status) in cases {
        let reply = exchange_to_close(address, &raw);
        assert!(
            reply.starts_with(status),
            "{form:?}: {status:?} expected, got {reply:?}"
        );
    }
    server.stop();
}
both_forms!(every_limit_and_malformed_request_gets_its_status_with_a_status_line);

fn keep_alive_pipelining_head_and_a_body(form: Form) {
    let server = start(form);
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
    let head = read_head(&mut client);
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
    server.stop();
}
both_forms!(keep_alive_pipelining_head_and_a_body);

/// A request that arrives a few bytes at a time, a body after `100 Continue`, a chunked body
/// split mid-chunk, and an HTTP/1.0 request (closed after its answer unless it asks).
fn requests_in_pieces_and_http_1_0(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    for piece in b"GET /slowly HTTP/1.1\r\nHost: x\r\n\r\n".chunks(5) {
        client.write_all(piece).unwrap();
        client.flush().unwrap();
    }
    assert!(read_response(&mut client).ends_with("you asked for /slowly"));
    client
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_head(&mut client), "HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"he").unwrap();
    client.write_all(b"llo").unwrap();
    assert!(read_response(&mut client).ends_with("\r\n\r\nhello"));
    client
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi")
        .unwrap();
    client.write_all(b"ki\r\n5\r\npedia\r\n0\r\n\r\n").unwrap();
    assert!(read_response(&mut client).ends_with("\r\n\r\nWikipedia"));
    drop(client);
    let old = exchange_to_close(server.address(), b"GET /old HTTP/1.0\r\n\r\n");
    assert!(
        old.starts_with("HTTP/1.1 200 OK\r\n") && old.contains("Connection: close\r\n"),
        "{old}"
    );
    let mut kept = connect(server.address());
    kept.write_all(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut kept).ends_with("you asked for /a"));
    kept.write_all(b"GET /b HTTP/1.0\r\n\r\n").unwrap();
    assert!(read_response(&mut kept).ends_with("you asked for /b"));
    server.stop();
}
both_forms!(requests_in_pieces_and_http_1_0);

/// The real curl: two URLs on one connection (keep-alive), Date and Server headers.
fn curl_reuses_the_connection(form: Form) {
    let server = start(form);
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
    server.stop();
}
both_forms!(curl_reuses_the_connection);

/// Python's `http.client`: requests on one persistent connection (the socket is the same
/// object throughout), a POST body, a HEAD, a 4 MiB answer.
fn python_http_client_keeps_its_connection(form: Form) {
    let server = start(form);
    let script = r#"
import http.client, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=20)
conn.request("GET", "/first")
first = conn.getresponse()
print(first.status, first.read().decode())
sock = conn.sock
conn.request("POST", "/echo", body=b"posted", headers={"Content-Type": "text/plain"})
posted = conn.getresponse()
print(posted.status, posted.read().decode())
conn.request("HEAD", "/first")
head = conn.getresponse()
print(head.status, head.getheader("Content-Length"), repr(head.read()))
conn.request("GET", "/big")
big = conn.getresponse().read()
print(len(big), big[:3].decode())
print("same connection:", conn.sock is sock)
"#;
    let address = server.address();
    let output = Command::new("python3")
        .args([
            "-c",
            script,
            &address.ip().to_string(),
            &address.port().to_string(),
        ])
        .output()
        .expect("python3 must be installed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        format!(
            "200 you asked for /first\n200 posted\n200 20 b''\n{BIG} abc\nsame connection: True\n"
        )
    );
    server.stop();
}
both_forms!(python_http_client_keeps_its_connection);

/// 500 idle keep-alive connections: a fresh request is answered at once — on a pool of 4 the
/// idle ones are parked, not holding workers; on the loops none holds a thread.
fn idle_keep_alive_connections_hold_no_worker(form: Form) {
    let form = match form {
        Form::Pool(_) => Form::Pool(4),
        Form::Event => Form::Event,
    };
    let server = start(form);
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
    let stats = server.stats();
    if let Form::Pool(_) = form {
        assert!(stats.parked >= 490, "{stats:?}");
    }
    assert!(stats.open >= 500, "{stats:?}");
    drop(idle);
    server.stop();
}
both_forms!(idle_keep_alive_connections_hold_no_worker);

/// A head that does not arrive within the header timeout gets 408 (with the transport's
/// default options: the header timeout is the HTTP layer's own); a body may take longer than
/// the header timeout. The pause is the test's stimulus.
fn a_slow_head_gets_408_and_a_slow_body_does_not(form: Form) {
    let mut limits = limits();
    limits.header_timeout = Some(Duration::from_millis(300));
    let server = Served::start(form, Reflect, limits);
    let reply = exchange_to_close(server.address(), b"GET / HTTP/1.1\r\nHost: x\r\n");
    assert!(
        reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{reply:?}"
    );
    let mut client = connect(server.address());
    client
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\npi")
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    client.write_all(b"ng").unwrap();
    assert!(read_response(&mut client).ends_with("\r\n\r\nping"));
    server.stop();
}
both_forms!(a_slow_head_gets_408_and_a_slow_body_does_not);

/// Request bodies from curl: chunked, and `Expect: 100-continue` (curl waits for the 100).
fn chunked_bodies_and_100_continue_with_curl(form: Form) {
    let server = start(form);
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
    server.stop();
}
both_forms!(chunked_bodies_and_100_continue_with_curl);

/// A graceful drain closes an idle keep-alive connection at once and finishes a response in
/// flight (a 4 MiB answer its client is still reading), then the connection closes.
fn a_drain_closes_idle_connections_and_finishes_responses(form: Form) {
    let server = start(form);
    let address = server.address();
    let mut idle = connect(address);
    idle.write_all(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut idle).ends_with("you asked for /idle"));
    let mut reading = connect(address);
    reading
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut reading);
    assert!(
        head.contains(&format!("Content-Length: {BIG}\r\n")),
        "{head}"
    );
    let mut first = [0; 3];
    reading.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"abc");
    // The response is in flight: most of it has not been read.
    let draining = std::thread::spawn(move || server.drain());
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap(); // the drain closes it, cleanly
    assert!(rest.is_empty());
    let mut body = Vec::new();
    reading.read_to_end(&mut body).unwrap();
    assert_eq!(body.len(), BIG - 3, "the whole answer, then the close");
    assert!(body
        .iter()
        .enumerate()
        .all(|(n, &b)| b == b'a' + ((n + 3) % 26) as u8));
    let report = draining.join().unwrap();
    assert_eq!(report.forced, 0, "{report:?}");
    assert!(report.idle_closed >= 1, "{report:?}");
}
both_forms!(a_drain_closes_idle_connections_and_finishes_responses);

/// `Exchange::flush` sends the head at once (otherwise it waits for the first body bytes, to
/// leave in one write with them): the handler writes its body only after the client has read
/// the head.
#[test]
fn flush_sends_the_head_before_the_body() {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    #[derive(Clone)]
    struct Slow(Arc<Mutex<mpsc::Receiver<()>>>);

    impl HttpHandler for Slow {
        fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
            ex.send_response(200)?;
            ex.send_header("Content-Type", "text/plain")?;
            ex.send_header("Connection", "close")?; // no length: the close ends the body
            ex.end_headers()?;
            ex.flush()?;
            self.0.lock().unwrap().recv().unwrap(); // the client has read the head
            ex.write_body(b"body\n")
        }
    }

    let (head_read, wait) = mpsc::channel();
    let handler = Slow(Arc::new(Mutex::new(wait)));
    let server = Served::start(Form::Pool(2), handler, HttpLimits::default());
    let mut client = connect(server.address());
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut client);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    head_read.send(()).unwrap();
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "body\n");
    server.stop();
}

/// A body the handler does not read is off the connection before the next request: a `GET`
/// with a chunked body, then a pipelined `GET`, gets two answers (the pool once answered the
/// first without `Connection: close` and dropped the second).
fn an_unread_body_does_not_swallow_the_next_request(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    client
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut client).ends_with("you asked for /first"));
    assert!(read_response(&mut client).ends_with("you asked for /second"));
    client
        .write_all(b"GET /third HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /fourth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut client).ends_with("you asked for /third"));
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert!(rest.ends_with("you asked for /fourth"), "{rest}");
    server.stop();
}
both_forms!(an_unread_body_does_not_swallow_the_next_request);

/// Clients that are slow to send a head, slow to send a body, or that read no answers, hold
/// no worker (the pool has two) and no loop: a fresh client is answered at once, and the
/// slow ones are answered too once they finish.
fn slow_clients_hold_no_worker(form: Form) {
    use util::connect_reading_slowly;
    let server = start(form);
    let address = server.address();
    let fresh = |target: &str| {
        let reply = exchange_to_close(
            address,
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(
            reply.ends_with(&format!("you asked for {target}")),
            "{reply}"
        );
    };
    let mut heads: Vec<TcpStream> = (0..8).map(|_| connect(address)).collect();
    for client in &mut heads {
        client
            .write_all(b"GET /slow-head HTTP/1.1\r\nHost")
            .unwrap();
    }
    let mut bodies: Vec<TcpStream> = (0..8).map(|_| connect(address)).collect();
    for client in &mut bodies {
        client
            .write_all(b"POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nhalf")
            .unwrap();
    }
    // Readers that take nothing of 4 MiB answers (more than the kernel holds between them).
    let mut readers: Vec<TcpStream> = (0..4).map(|_| connect_reading_slowly(address)).collect();
    for client in &mut readers {
        client
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    fresh("/fresh");
    for client in &mut heads {
        client.write_all(b": x\r\n\r\n").unwrap();
        assert!(read_response(client).ends_with("you asked for /slow-head"));
    }
    for client in &mut bodies {
        client.write_all(b" done").unwrap();
        assert!(read_response(client).ends_with("\r\n\r\nhalf done"));
    }
    for client in &mut readers {
        let head = read_head(client);
        assert!(
            head.contains(&format!("Content-Length: {BIG}\r\n")),
            "{head}"
        );
        let mut body = vec![0; BIG];
        client.read_exact(&mut body).unwrap();
        assert!(body
            .iter()
            .enumerate()
            .all(|(n, &b)| b == b'a' + (n % 26) as u8));
    }
    fresh("/after");
    server.stop();
}
both_forms!(slow_clients_hold_no_worker);
