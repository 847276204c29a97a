//! Metrics (issue 20): the counters `ServerStats` keeps for them (requests, bytes, drains),
//! and the `http_server` and `echo` examples' `--metrics` endpoints checked with the real tools
//! — Debian's `prometheus` package: `promtool check metrics` on a scrape, and a Prometheus
//! server that scrapes both examples and answers for them through its query API.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use socketserver::{
    BaseServer, DatagramRequest, Dispatch, ServerStats, StatsHandle, StreamRequest, TcpSocket,
    UdpServer,
};

mod util;

use util::example_process::{example_path, Example};
use util::tls::{Authority, Client, PemFiles};
use util::transports::TempDir;
use util::{lines_of, Serving, PATIENCE};

// ---------------------------------------------------------------------------------------------
// The counters.

/// Polls `stats` until `done` holds (the server counts a close after the client has seen it),
/// within [`PATIENCE`]; returns the snapshot that did.
fn stats_once(stats: &StatsHandle, done: impl Fn(&ServerStats) -> bool) -> ServerStats {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = stats.stats();
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "never reached: {now:#?}");
        thread::yield_now();
    }
}

/// Echo until end-of-file: one `handle` per connection.
fn echo(req: &mut StreamRequest) -> io::Result<()> {
    io::copy(&mut req.rfile, &mut req.wfile)?;
    Ok(())
}

/// Two connections echo 5 and 11 bytes: each is one request, and its bytes are counted once
/// it has closed, exactly (no FIN or handshake counted in).
fn counts_requests_and_tcp_bytes<M: Dispatch + Default>() {
    let server = BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", echo).unwrap();
    let stats = server.stats_handle();
    let serving = Serving::start(server);
    for message in [&b"hello"[..], b"hello world"] {
        let mut client = TcpStream::connect(serving.address).unwrap();
        client.write_all(message).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).unwrap();
        assert_eq!(echoed, message);
    }
    let stats = stats_once(&stats, |stats| stats.closed_completed == 2);
    assert_eq!(stats.requests, 2, "{stats:#?}");
    assert_eq!(stats.received_bytes, 16, "{stats:#?}");
    assert_eq!(stats.sent_bytes, 16, "{stats:#?}");
    assert_eq!((stats.drains, stats.last_drain), (0, None), "{stats:#?}");
}

per_strategy_in_process!(counts_requests_and_tcp_bytes);

/// A parked handler runs once per message: three lines on one connection (answered in
/// capitals), then its end.
#[test]
fn a_parked_connection_counts_each_message() {
    let server =
        BaseServer::<TcpSocket, socketserver::ThreadPool, _>::new("127.0.0.1:0", util::ParkedLines)
            .unwrap();
    let stats = server.stats_handle();
    let serving = Serving::start(server);
    let mut client = TcpStream::connect(serving.address).unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    for line in ["one\n", "two\n", "three\n"] {
        client.write_all(line.as_bytes()).unwrap();
        let mut echoed = String::new();
        reader.read_line(&mut echoed).unwrap();
        assert_eq!(echoed, line.to_uppercase());
    }
    drop((client, reader));
    let stats = stats_once(&stats, |stats| stats.open == 0 && stats.accepted == 1);
    // Each line's run, and the run that found the end-of-file.
    assert_eq!(stats.requests, 4, "{stats:#?}");
    assert_eq!(stats.received_bytes, 14, "{stats:#?}");
    assert_eq!(stats.sent_bytes, 14, "{stats:#?}");
}

/// Each datagram is a request; its payload and its answer's are counted as it is served.
#[test]
fn datagrams_count_their_payloads() {
    let upper = |req: &mut DatagramRequest| -> io::Result<()> {
        let answer = req.packet().to_ascii_uppercase();
        req.wfile.extend_from_slice(&answer);
        req.wfile.extend_from_slice(b"!");
        Ok(())
    };
    let server = UdpServer::new("127.0.0.1:0", upper).unwrap();
    let address = server.server_address().unwrap();
    let stats = server.stats_handle();
    let _serving = Serving::start(server);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    for message in ["abc", "defg", "hijkl"] {
        client.send_to(message.as_bytes(), address).unwrap();
        let mut answer = [0; 16];
        let n = client.recv(&mut answer).unwrap();
        assert_eq!(
            &answer[..n],
            format!("{}!", message.to_uppercase()).as_bytes()
        );
    }
    let stats = stats_once(&stats, |stats| {
        stats.requests == 3 && stats.sent_bytes == 15
    });
    assert_eq!(stats.accepted, 3, "{stats:#?}");
    assert_eq!(stats.received_bytes, 12, "{stats:#?}");
}

/// A finished drain is counted, and its report kept.
#[test]
fn a_drain_is_counted_with_its_report() {
    let server =
        BaseServer::<TcpSocket, socketserver::ThreadPool, _>::new("127.0.0.1:0", util::ParkedLines)
            .unwrap();
    let stats = server.stats_handle();
    let serving = Serving::start(server);
    let mut idle = TcpStream::connect(serving.address).unwrap();
    idle.write_all(b"line\n").unwrap();
    let mut echoed = [0; 5];
    idle.read_exact(&mut echoed).unwrap();
    // Idle once parked: the client may read the answer before the handler has parked.
    assert!(util::eventually(|| stats.stats().parked == 1));
    let report = serving
        .handle
        .shutdown_gracefully(PATIENCE)
        .expect("the loop serves");
    let stats = stats.stats();
    assert_eq!(stats.drains, 1, "{stats:#?}");
    assert_eq!(stats.last_drain, Some(report), "{stats:#?}");
    assert_eq!(report.idle_closed, 1, "{report:#?}");
}

// ---------------------------------------------------------------------------------------------
// The example's endpoint.

/// An example started with `--metrics 127.0.0.1:0`, killed and reaped on drop: its address,
/// and its metrics address from its stderr line.
struct MetricsExample {
    child: Child,
    address: SocketAddr,
    metrics: SocketAddr,
}

impl MetricsExample {
    /// `http_server` serving `directory`.
    fn start(directory: &std::path::Path, extra: &[&str]) -> MetricsExample {
        let mut args = vec!["--directory", directory.to_str().unwrap()];
        args.extend(extra);
        MetricsExample::start_example("http_server", &args)
    }

    /// `program` (an example) with `args`.
    fn start_example(program: &str, args: &[&str]) -> MetricsExample {
        let mut child = Command::new(example_path(program))
            .args(["--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        let mut example = MetricsExample {
            child,
            address: ([0, 0, 0, 0], 0).into(),
            metrics: ([0, 0, 0, 0], 0).into(),
        };
        // The metrics line comes first (the endpoint listens before the server says ready).
        let line = stderr
            .recv_timeout(PATIENCE)
            .expect("a metrics line on stderr");
        let metrics = line
            .strip_prefix(&format!("{program}: metrics on http://"))
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("unexpected stderr line {line:?}"));
        example.metrics = metrics.parse().unwrap();
        let line = stdout
            .recv_timeout(PATIENCE)
            .expect("a ready line on stdout");
        let address = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected stdout line {line:?}"));
        example.address = address.parse().unwrap();
        example
    }
}

impl Drop for MetricsExample {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a new connection that closes after it; the whole answer.
fn get(address: SocketAddr, path: &str, headers: &str) -> String {
    let mut client = TcpStream::connect(address).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        client,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    answer
}

/// The body of an answer.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// A sample's value in a text-format scrape (`name{labels} value`), if the series is there.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

/// Scrapes until `done` holds of the page (what a client saw is counted a moment after it
/// saw it), within [`PATIENCE`]; returns that page.
fn scrape_until(metrics: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let page = body(&get(metrics, "/metrics", "")).to_owned();
        if done(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "never reached; last scrape:\n{page}"
        );
        thread::yield_now();
    }
}

/// `promtool check metrics` on `page`: exit 0, or the test fails with what it said.
fn promtool_accepts(page: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool must be installed (Debian's `prometheus` package; tests/run installs it)",
        );
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}\n{}{}\non:\n{page}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory with one file of known length.
fn site() -> TempDir {
    let dir = TempDir::new();
    std::fs::write(dir.join("hello.txt"), "hello over http\n").unwrap();
    dir
}

/// Three connections, two requests each: the scrape passes promtool and counts exactly what
/// was served — connections, answered requests in the histogram, and (once every connection
/// has closed) the bytes both ways.
fn scrape_counts_what_was_served(mode: &str) {
    let dir = site();
    let example = MetricsExample::start(&dir.path, &["--mode", mode, "--workers", "2"]);
    let (mut sent, mut received) = (0, 0);
    for _ in 0..3 {
        let mut client = TcpStream::connect(example.address).unwrap();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let first = b"GET /hello.txt HTTP/1.1\r\nHost: test\r\n\r\n";
        let second = b"GET /hello.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
        client.write_all(first).unwrap();
        client.write_all(second).unwrap();
        let mut answers = Vec::new();
        client.read_to_end(&mut answers).unwrap();
        let answers = String::from_utf8(answers).unwrap();
        assert_eq!(answers.matches("hello over http\n").count(), 2, "{answers}");
        sent += first.len() + second.len();
        received += answers.len();
    }
    let page = scrape_until(example.metrics, |page| {
        sample(page, "http_request_duration_seconds_count") == Some(6.0)
            && sample(page, "socketserver_connections_open") == Some(0.0)
    });
    promtool_accepts(&page);
    let expect = [
        ("socketserver_connections_accepted_total", 3.0),
        (
            "socketserver_connections_closed_total{reason=\"completed\"}",
            3.0,
        ),
        (
            "socketserver_connections_refused_total{reason=\"at_limit\"}",
            0.0,
        ),
        ("socketserver_received_bytes_total", sent as f64),
        ("socketserver_sent_bytes_total", received as f64),
        ("http_request_duration_seconds_bucket{le=\"+Inf\"}", 6.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&page, series), Some(value), "{series} in:\n{page}");
    }
    assert!(
        sample(&page, "http_request_duration_seconds_sum").is_some_and(|sum| sum > 0.0),
        "{page}"
    );
}

#[test]
fn scrape_counts_what_was_served_pool() {
    scrape_counts_what_was_served("pool");
}

#[test]
fn scrape_counts_what_was_served_event() {
    scrape_counts_what_was_served("event");
}

#[test]
fn scrape_counts_what_was_served_threading() {
    scrape_counts_what_was_served("threading");
}

#[test]
fn scrape_counts_what_was_served_coroutine() {
    scrape_counts_what_was_served("coroutine");
}

/// A stream that counts the bytes that went through it.
struct Counting {
    inner: TcpStream,
    read: usize,
    written: usize,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Over TLS, the bytes counted are the wire's (handshake and records), and a client that
/// speaks plaintext to the TLS port is a TLS failure of its kind.
#[test]
fn tls_counts_wire_bytes_and_failures() {
    let ca = Authority::new("metrics test CA");
    let identity = ca.issue(&["localhost"]);
    let files = PemFiles::new("metrics");
    let cert = files.write("cert.pem", &identity.cert_pem);
    let key = files.write("key.pem", &identity.key_pem);
    let dir = site();
    let example = MetricsExample::start(
        &dir.path,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let plaintext = get(example.address, "/hello.txt", "");
    assert!(plaintext.starts_with("HTTP/1.0 400 "), "{plaintext}");
    let client = Client::new(&ca, "localhost");
    let socket = TcpStream::connect(example.address).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let socket = Counting {
        inner: socket,
        read: 0,
        written: 0,
    };
    let name = ServerName::try_from("localhost").unwrap();
    let connection = ClientConnection::new(Arc::clone(&client.config), name).unwrap();
    let mut tls = StreamOwned::new(connection, socket);
    tls.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with("\r\n\r\nhello over http\n"), "{answer}");
    let plaintext_request = "GET /hello.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    let received = plaintext_request.len() + tls.sock.written;
    let sent = plaintext.len() + tls.sock.read;
    let page = scrape_until(example.metrics, |page| {
        sample(page, "socketserver_connections_open") == Some(0.0)
            && sample(page, "http_request_duration_seconds_count") == Some(1.0)
    });
    promtool_accepts(&page);
    let expect = [
        ("socketserver_connections_accepted_total", 2.0),
        ("socketserver_tls_failures_total{kind=\"not_tls\"}", 1.0),
        ("socketserver_connections_closed_total{reason=\"tls\"}", 1.0),
        (
            "socketserver_connections_closed_total{reason=\"completed\"}",
            1.0,
        ),
        ("socketserver_received_bytes_total", received as f64),
        ("socketserver_sent_bytes_total", sent as f64),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&page, series), Some(value), "{series} in:\n{page}");
    }
}

/// Prometheus asks for OpenMetrics and gets it; anything else gets the text format.
#[test]
fn the_format_follows_the_accept_header() {
    let dir = site();
    let example = MetricsExample::start(&dir.path, &[]);
    let prometheus = "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n";
    let open = get(example.metrics, "/metrics", prometheus);
    assert!(
        open.contains(
            "\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ),
        "{open}"
    );
    assert!(body(&open).ends_with("# EOF\n"), "{open}");
    assert!(
        body(&open).contains("# TYPE socketserver_connections_accepted counter\n"),
        "{open}"
    );
    let text = get(example.metrics, "/metrics", "");
    assert!(
        text.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{text}"
    );
    assert!(
        body(&text).contains("# TYPE socketserver_connections_accepted_total counter\n"),
        "{text}"
    );
    assert!(get(example.metrics, "/other", "").starts_with("HTTP/1.1 404 "));
}

/// The served directory never answers with the metrics: `/metrics` on the server's own port
/// is a path in the directory (404 while there is no such file, the file once there is).
#[test]
fn metrics_are_not_served_from_the_directory() {
    let dir = site();
    let example = MetricsExample::start(&dir.path, &[]);
    let missing = get(example.address, "/metrics", "");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    assert!(!missing.contains("socketserver_"), "{missing}");
    std::fs::write(dir.join("metrics"), "a file named metrics\n").unwrap();
    let file = get(example.address, "/metrics", "");
    assert!(file.starts_with("HTTP/1.1 200 "), "{file}");
    assert_eq!(body(&file), "a file named metrics\n");
    let scrape = get(example.metrics, "/metrics", "");
    assert!(
        body(&scrape).contains("socketserver_connections_accepted_total 2\n"),
        "{scrape}"
    );
}

/// A metrics address that cannot be used: one stderr line, exit 1, no ready line.
#[test]
fn a_bad_metrics_address_fails_in_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for address in ["not-an-address", taken.as_str()] {
        let finished = Example::spawn(
            "http_server",
            &["--addr", "127.0.0.1:0", "--metrics", address],
        )
        .finish();
        finished.assert_one_line_failure(1);
        assert!(finished.stderr.contains("metrics"), "{finished:#?}");
    }
}

/// `--metrics` with no value is bad usage.
#[test]
fn metrics_without_an_address_is_bad_usage() {
    let finished = Example::spawn("http_server", &["--metrics"]).finish();
    finished.assert_one_line_failure(2);
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus server.

/// A `prometheus` server on loopback over a temporary directory, killed and reaped on drop.
struct Prometheus {
    child: Child,
    web: SocketAddr,
    _dir: TempDir,
}

impl Prometheus {
    /// Scrapes each `(job, target)` every second.
    fn start(targets: &[(&str, SocketAddr)]) -> Prometheus {
        let dir = TempDir::new();
        let config = dir.join("prometheus.yml");
        let jobs: String = targets
            .iter()
            .map(|(job, target)| {
                format!("  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n")
            })
            .collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n{jobs}"
            ),
        )
        .unwrap();
        // Prometheus cannot be told port 0 and say which it took: a port free a moment ago.
        let web = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={web}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus must be installed (Debian's `prometheus` package; tests/run installs it)");
        Prometheus {
            child,
            web,
            _dir: dir,
        }
    }

    /// The value of the instant query `query` when it has exactly one series, else `None`
    /// (not up yet, not scraped yet).
    fn query(&mut self, query: &str) -> Option<String> {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("prometheus exited: {status}");
        }
        let mut client = TcpStream::connect(self.web).ok()?;
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let query: String = query
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (byte as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        write!(
            client,
            "GET /api/v1/query?query={query} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut answer = String::new();
        client.read_to_string(&mut answer).ok()?;
        let json = body(&answer);
        // {"status":"success","data":{"resultType":"vector","result":[{"metric":{…},"value":[1733.4,"3"]}]}}
        if !json.contains("\"status\":\"success\"") || json.matches("\"value\":[").count() != 1 {
            return None;
        }
        let value = json.split_once("\"value\":[")?.1;
        let value = value.split_once(",\"")?.1;
        Some(value.split_once('"')?.0.to_owned())
    }

    /// Polls `query` until it returns `expected`, within [`PATIENCE`] (Prometheus starts, then
    /// scrapes every second).
    fn wait_for(&mut self, query: &str, expected: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.query(query);
            if value.as_deref() == Some(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{query}: {value:?}, not {expected:?}"
            );
            // The next scrape is up to a second away: ask again a little later.
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prometheus scrapes both examples and its query API returns the series: the connections
/// accepted and the requests (messages) timed, for each example's target.
#[test]
fn prometheus_scrapes_the_examples() {
    let dir = site();
    let example = MetricsExample::start(&dir.path, &["--mode", "event", "--workers", "1"]);
    for _ in 0..2 {
        let answer = get(example.address, "/hello.txt", "");
        assert!(answer.ends_with("hello over http\n"), "{answer}");
    }
    let echo = MetricsExample::start_example("echo", &["--mode", "pool", "--workers", "2"]);
    echo_messages(echo.address, 3, 4);
    let mut prometheus =
        Prometheus::start(&[("http_server", example.metrics), ("echo", echo.metrics)]);
    let instance = format!("job=\"echo\",instance=\"{}\"", echo.metrics);
    prometheus.wait_for(
        &format!("socketserver_connections_accepted_total{{{instance}}}"),
        "3",
    );
    prometheus.wait_for(
        &format!("echo_message_duration_seconds_count{{{instance}}}"),
        "12",
    );
    let instance = format!("job=\"http_server\",instance=\"{}\"", example.metrics);
    prometheus.wait_for(
        &format!("socketserver_connections_accepted_total{{{instance}}}"),
        "2",
    );
    prometheus.wait_for(
        &format!("http_request_duration_seconds_count{{{instance}}}"),
        "2",
    );
    prometheus.wait_for(&format!("up{{{instance}}}"), "1");
}

// ---------------------------------------------------------------------------------------------
// echo's endpoint.

/// `connections` connections, each sending `messages` messages one at a time (each echoed
/// before the next is sent, so each is one message to the server), then closing. Returns the
/// bytes sent (and echoed).
fn echo_messages(address: SocketAddr, connections: usize, messages: usize) -> usize {
    let mut total = 0;
    for c in 0..connections {
        let mut client = TcpStream::connect(address).unwrap();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        for m in 0..messages {
            let message = format!("connection {c} message {m}\n");
            client.write_all(message.as_bytes()).unwrap();
            let mut back = vec![0; message.len()];
            client.read_exact(&mut back).unwrap();
            assert_eq!(back, message.as_bytes());
            total += message.len();
        }
    }
    total
}

/// Under pool and event (where one call of the handler is one message), echo times each
/// message; the scrape passes promtool and counts exactly the connections and messages.
#[test]
fn echo_times_each_message() {
    for mode in ["pool", "event"] {
        let echo = MetricsExample::start_example("echo", &["--mode", mode, "--workers", "2"]);
        let bytes = echo_messages(echo.address, 2, 5) as f64;
        let page = scrape_until(echo.metrics, |page| {
            sample(
                page,
                "socketserver_connections_closed_total{reason=\"completed\"}",
            ) == Some(2.0)
        });
        promtool_accepts(&page);
        assert_eq!(
            sample(&page, "socketserver_connections_accepted_total"),
            Some(2.0),
            "{mode}"
        );
        assert_eq!(
            sample(&page, "echo_message_duration_seconds_count"),
            Some(10.0),
            "{mode}: {page}"
        );
        // Every byte, both ways, once.
        assert_eq!(
            sample(&page, "socketserver_received_bytes_total"),
            Some(bytes)
        );
        assert_eq!(sample(&page, "socketserver_sent_bytes_total"), Some(bytes));
    }
    // Threading's echo is one copy loop per connection: no messages to time, so no histogram.
    let echo = MetricsExample::start_example("echo", &[]);
    echo_messages(echo.address, 1, 2);
    let page = scrape_until(echo.metrics, |page| {
        sample(page, "socketserver_connections_accepted_total") == Some(1.0)
    });
    promtool_accepts(&page);
    assert!(!page.contains("echo_message_duration"), "{page}");
}

/// A hot restart hands the metrics socket to the new copy with the serving socket: the
/// address keeps answering, from the new copy, once the old one has exited.
#[test]
fn echo_hands_the_metrics_socket_over_in_a_hot_restart() {
    let dir = TempDir::new();
    let pid_file = dir.join("echo.pid");
    let echo = MetricsExample::start_example(
        "echo",
        &["--mode", "event", "--pid-file", pid_file.to_str().unwrap()],
    );
    echo_messages(echo.address, 3, 1);
    scrape_until(echo.metrics, |page| {
        sample(page, "socketserver_connections_accepted_total") == Some(3.0)
    });
    let old = echo.child.id();
    util::send_signal(old, libc::SIGHUP);
    let new = util::wait_for_successor(&pid_file, old, "hot restart");
    // Only the new copy is alive, and it counts from zero: it serves the same address.
    let page = scrape_until(echo.metrics, |page| {
        sample(page, "socketserver_connections_accepted_total") == Some(0.0)
    });
    promtool_accepts(&page);
    echo_messages(echo.address, 1, 1);
    scrape_until(echo.metrics, |page| {
        sample(page, "socketserver_connections_accepted_total") == Some(1.0)
    });
    util::send_signal(new, libc::SIGTERM);
    assert!(util::eventually(|| util::process_gone(new)));
}

/// The counters are one process's: `--metrics` with `--processes` or `--inetd` is bad usage.
#[test]
fn echo_metrics_is_for_one_process() {
    for flag in ["--processes", "--inetd"] {
        let mut args = vec!["--metrics", "127.0.0.1:0", flag];
        if flag == "--processes" {
            args.push("2");
        }
        let finished = Example::spawn("echo", &args).finish();
        finished.assert_one_line_failure(2);
    }
}
