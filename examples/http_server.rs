//! Python's `python -m http.server`: serves the files of a directory over HTTP/1.1.
//!
//! Run:   cargo run --release --example http_server [-- OPTIONS]
//!
//!   --addr HOST:PORT        default 127.0.0.1:8000
//!   --directory DIR         the directory served; default the current one
//!   --mode MODE             pool (default) | event | threading | sequential | forking |
//!                           coroutine; event: a loop thread per CPU serves every connection;
//!                           coroutine: the blocking service on a coroutine per connection,
//!                           on a loop thread per CPU
//!   --workers N             pool size with --mode pool (default: CPUs × 4; idle keep-alive
//!                           connections are parked, so a small pool serves many clients),
//!                           loop threads with --mode event or coroutine (default: CPUs)
//!   --header-timeout SECS   a request head must arrive within SECS (default 10), else 408
//!   --small-file-cache on|off  keep files under 16 KiB in memory, served after a stat of
//!                           the path shows them unchanged (default on; off: every request
//!                           opens and reads the file, for a file system whose times cannot
//!                           be trusted to change)
//!   --drain-timeout SECS    on SIGINT/SIGTERM, how long the drain may take (default 30)
//!   --tls-cert PEM --tls-key PEM  serve HTTPS (Python 3.14's flags): the certificate chain
//!                           and its key; ALPN offers http/1.1; plaintext to the port is
//!                           answered 400 and closed. SIGUSR1 reloads both files (a bad file
//!                           keeps the old ones, one stderr line says why)
//!   --processes N           pre-fork: this process binds and supervises N worker processes,
//!                           each serving the listening socket in --mode (a killed worker is
//!                           replaced); SIGTERM drains them all, then one stderr line
//!                           `http_server: N workers started, R replaced, S still running`.
//!                           Divide --workers among them. Not with --metrics (exit 2)
//!   --metrics HOST:PORT     serve Prometheus metrics at http://HOST:PORT/metrics, on a
//!                           listener of its own (never from the directory): the server's
//!                           counters (socketserver_*) and the http_request_duration_seconds
//!                           histogram; port 0 picks a free one. Once it listens, one stderr
//!                           line: `http_server: metrics on http://ADDR/metrics`
//!                           (try: curl http://127.0.0.1:9100/metrics)
//!
//! A test certificate: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
//!   -nodes -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost
//!   -keyout key.pem -out cert.pem     (then: curl --cacert cert.pem https://localhost:8000/)
//!
//! Once listening it prints one line, `listening on ADDR`. SIGINT or SIGTERM drains it (idle
//! keep-alive connections closed at once, responses in flight finished), one stderr line
//! summarises the drain, exit 0; a second signal closes everything at once. Bad usage: exit 2;
//! an address or directory that cannot be used: one stderr line, exit 1.

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::net::ToSocketAddrs;

use socketserver::tls::{TlsConfig, TlsSocket, TlsStream};
use socketserver::{
    BaseServer, Coroutines, Dispatch, EventLoop, ForkingMixIn, Prefork, RequestHandler, Sequential,
    StreamOptions, StreamRequest, TcpServer, TcpSocket, ThreadPool, ThreadingMixIn,
};
use socketserver_http::{HttpLimits, HttpService, RequestObserver, SimpleHttpRequestHandler};
use socketserver_metrics::LatencyHistogram;

const USAGE: &str = "usage: http_server [--addr HOST:PORT] [--directory DIR] [--mode pool|event|threading|sequential|forking|coroutine] [--workers N] [--header-timeout SECS] [--small-file-cache on|off] [--drain-timeout SECS] [--tls-cert PEM --tls-key PEM] [--processes N] [--metrics HOST:PORT]";

struct Settings {
    address: String,
    directory: String,
    workers: Option<usize>,
    header_timeout: Duration,
    drain_timeout: Duration,
    tls: Option<common::TlsFiles>,
    /// `--metrics`: where to serve them, and the request latencies they include.
    metrics: Option<(String, LatencyHistogram)>,
    /// `--processes`: pre-fork workers.
    processes: Option<usize>,
    /// `--small-file-cache`.
    small_file_cache: bool,
}

impl Settings {
    /// What observes each answered request: the latency histogram, with `--metrics`.
    fn observer(&self) -> Option<Arc<dyn RequestObserver>> {
        let (_, latency) = self.metrics.as_ref()?;
        Some(Arc::new(latency.clone()))
    }
}

/// What Go's `net/http` answers a plaintext request to a TLS port.
const PLAINTEXT_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// HTTPS: ALPN's http/1.1, and a 400 for plaintext.
fn https(config: TlsConfig) -> TlsConfig {
    config
        .alpn_protocols(&[b"http/1.1"])
        .plaintext_answer(Some(PLAINTEXT_ANSWER))
}

fn run<M, H>(
    settings: &Settings,
    handler_of: impl Fn(SimpleHttpRequestHandler, HttpLimits) -> H,
    configure: impl Fn(&mut M),
) -> Result<(), String>
where
    M: Dispatch + Default,
    H: RequestHandler<StreamRequest> + RequestHandler<StreamRequest<TlsStream>>,
{
    let handler = SimpleHttpRequestHandler::new(&settings.directory)
        .map_err(|e| format!("cannot serve {:?}: {e}", settings.directory))?
        .with_small_file_cache(settings.small_file_cache);
    let mut limits = HttpLimits::default();
    limits.header_timeout = Some(settings.header_timeout);
    let options = StreamOptions {
        disable_nagle_algorithm: true,
        ..StreamOptions::default()
    };
    let handler = handler_of(handler, limits);
    let Some(tls) = &settings.tls else {
        let mut server = BaseServer::<TcpSocket, M, _>::new(&settings.address, handler)
            .map_err(|e| e.to_string())?;
        server.socket_mut().set_stream_options(options);
        return serve(settings, server, configure);
    };
    let acceptor = tls.acceptor("http_server", https)?;
    let address = settings
        .address
        .to_socket_addrs()
        .ok()
        .and_then(|mut found| found.next())
        .ok_or_else(|| format!("cannot resolve {}", settings.address))?;
    let mut tcp = TcpSocket::new(address).map_err(|e| e.to_string())?;
    tcp.set_stream_options(options);
    let server = BaseServer::with_transport(TlsSocket::new(tcp, acceptor), handler, M::default())
        .map_err(|e| e.to_string())?;
    serve(settings, server, configure)
}

/// Configures the strategy, prints the ready line and serves until a signal drains it.
fn serve<S, M, H>(
    settings: &Settings,
    mut server: BaseServer<S, M, H>,
    configure: impl Fn(&mut M),
) -> Result<(), String>
where
    S: TcpServer,
    S::Address: std::fmt::Display,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    configure(server.dispatch_mut());
    let bound = server.server_address().map_err(|e| e.to_string())?;
    if let Some(processes) = settings.processes {
        // Pre-fork: this process binds and supervises; the workers serve.
        let ready_line = format!("listening on {bound}");
        let report = Prefork::new(processes)
            .drain_timeout(settings.drain_timeout)
            .on_ready(move || common::print_ready(&ready_line))
            .run(&mut server)
            .map_err(|e| e.to_string())?;
        common::print_prefork_report("http_server", &report);
        return Ok(());
    }
    // Serves until this function returns: after the drain, so a scrape sees it.
    let _endpoint = match &settings.metrics {
        Some((address, latency)) => Some(common::serve_metrics(
            "http_server",
            address,
            None,
            server.stats_handle(),
            Some((
                "http_request_duration",
                "HTTP requests answered, from the complete head to the complete response",
                latency.clone(),
            )),
        )?),
        None => None,
    };
    common::serve_until_signal(
        "http_server",
        &mut server,
        &bound.to_string(),
        settings.drain_timeout,
    )
}

fn main() -> ExitCode {
    common::init_logging();
    let mut settings = Settings {
        address: "127.0.0.1:8000".to_owned(),
        directory: ".".to_owned(),
        workers: None,
        header_timeout: Duration::from_secs(10),
        drain_timeout: Duration::from_secs(30),
        tls: None,
        metrics: None,
        processes: None,
        small_file_cache: true,
    };
    let (mut tls_cert, mut tls_key) = (None, None);
    let mut mode = "pool".to_owned();
    let mut args = std::env::args().skip(1);
    let known = [
        "--addr",
        "--directory",
        "--mode",
        "--workers",
        "--header-timeout",
        "--drain-timeout",
        "--tls-cert",
        "--tls-key",
        "--metrics",
        "--processes",
        "--small-file-cache",
    ];
    loop {
        let (arg, value) = match common::next_flag("http_server", USAGE, &known, &mut args) {
            Ok(Some(pair)) => pair,
            Ok(None) => break,
            Err(status) => return status,
        };
        let seconds = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|secs| secs.is_finite() && *secs > 0.0)
                .map(Duration::from_secs_f64)
        };
        match arg.as_str() {
            "--addr" => settings.address = value.clone(),
            "--directory" => settings.directory = value.clone(),
            "--mode" => mode = value.clone(),
            "--tls-cert" => tls_cert = Some(value.clone()),
            "--tls-key" => tls_key = Some(value.clone()),
            "--metrics" => settings.metrics = Some((value.clone(), LatencyHistogram::new())),
            "--workers" | "--processes" => match value.parse::<usize>() {
                Ok(n) if n > 0 && arg == "--workers" => settings.workers = Some(n),
                Ok(n) if n > 0 => settings.processes = Some(n),
                _ => {
                    eprintln!("http_server: {arg} needs a positive number; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--small-file-cache" => match value.as_str() {
                "on" | "off" => settings.small_file_cache = value == "on",
                _ => {
                    eprintln!("http_server: --small-file-cache takes on or off; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--header-timeout" | "--drain-timeout" => match seconds() {
                Some(after) if arg == "--header-timeout" => settings.header_timeout = after,
                Some(after) => settings.drain_timeout = after,
                None => {
                    eprintln!("http_server: {arg} needs a positive number of seconds; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            _ => unreachable!("{arg} is one of the known flags"),
        }
    }
    if settings.metrics.is_some() && settings.processes.is_some() {
        eprintln!(
            "http_server: --metrics serves one process's counters: not with --processes; {USAGE}"
        );
        return ExitCode::from(2);
    }
    settings.tls = match common::TlsFiles::from_flags(tls_cert, tls_key) {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("http_server: {error}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let observer = settings.observer();
    let service = |handler, limits| {
        let service = HttpService::new(handler).with_limits(limits);
        match &observer {
            Some(observer) => service.with_observer(Arc::clone(observer)),
            None => service,
        }
    };
    let result = match mode.as_str() {
        "pool" => run(&settings, service, |pool: &mut ThreadPool| {
            if let Some(n) = settings.workers {
                pool.set_workers(n).set_queue_size(n);
            }
        }),
        // The same service: on the event loops it is served as its event form.
        "event" => run(&settings, service, |loops: &mut EventLoop| {
            if let Some(n) = settings.workers {
                loops.set_workers(n);
            }
        }),
        "coroutine" => run(&settings, service, |coroutines: &mut Coroutines| {
            if let Some(n) = settings.workers {
                coroutines.set_workers(n);
            }
        }),
        "threading" => run(&settings, service, |_: &mut ThreadingMixIn| {}),
        "sequential" => run(&settings, service, |_: &mut Sequential| {}),
        "forking" => run(&settings, service, |_: &mut ForkingMixIn| {}),
        other => {
            eprintln!("http_server: unknown mode {other:?}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    common::exit_status("http_server", result)
}
