//! What the framework examples share: logging to stderr, the `listening on ADDR` ready line, and
//! draining on SIGINT or SIGTERM (the library's `serve_until_signal`). Not an example of its
//! own (cargo only runs `examples/*.rs` and `examples/*/main.rs`).

#![allow(dead_code, reason = "each example uses the part it needs")]

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use socketserver::{
    BaseServer, Dispatch, PreforkReport, RequestHandler, SignalHandling, TcpServer,
};

/// Sends the library's `tracing` events to stderr, filtered by `RUST_LOG`.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
}

/// Prints `listening on {shown}`, then serves until SIGINT or SIGTERM: the first drains
/// gracefully for at most `drain_timeout`, a second closes everything at once. After a drain,
/// one stderr line `{name}: drained in …` summarises it.
///
/// # Errors
///
/// A message for the one stderr line: signal handlers that cannot be installed, or the loop's
/// error.
pub fn serve_until_signal<S, M, H>(
    name: &str,
    server: &mut BaseServer<S, M, H>,
    shown: &str,
    drain_timeout: Duration,
) -> Result<(), String>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    serve_until_signal_with(name, server, Some(shown), drain_timeout, None)
}

/// [`serve_until_signal`], with what SIGHUP does (nothing without a hook); `shown: None` prints
/// no ready line (in inetd mode standard output is the connection).
pub fn serve_until_signal_with<S, M, H>(
    name: &str,
    server: &mut BaseServer<S, M, H>,
    shown: Option<&str>,
    drain_timeout: Duration,
    on_hangup: Option<Box<dyn FnMut() + Send>>,
) -> Result<(), String>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    let mut signals = SignalHandling::new().drain_timeout(drain_timeout);
    if let Some(hook) = on_hangup {
        signals = signals.on_hangup(hook);
    }
    if let Some(shown) = shown {
        let ready_line = format!("listening on {shown}");
        signals = signals.on_ready(move || print_ready(&ready_line));
    }
    match server.serve_until_signal(signals) {
        Ok(Some(report)) => {
            eprintln!("{name}: {report}");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Prints the ready line. Called once SIGINT and SIGTERM are caught: a script that signals
/// right after reading it never kills the server by the default action.
pub fn print_ready(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// The pre-fork master's one line after its workers are gone:
/// `{program}: N workers started, R replaced, S still running`.
pub fn print_prefork_report(program: &str, report: &PreforkReport) {
    eprintln!(
        "{program}: {} workers started, {} replaced, {} still running",
        report.started, report.replaced, report.still_running
    );
}

/// The exit status for a run: 0, or one stderr line `{name}: {message}` and 1.
pub fn exit_status(name: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}");
            ExitCode::from(1)
        }
    }
}

/// The next `--flag VALUE` pair of a program whose flags all take a value: `Ok(None)` at the
/// end of `args`; for a flag not in `known`, or one without its value, one stderr line naming
/// it (`{program}: …; {usage}`) and exit status 2.
pub fn next_flag(
    program: &str,
    usage: &str,
    known: &[&str],
    args: &mut impl Iterator<Item = String>,
) -> Result<Option<(String, String)>, ExitCode> {
    let Some(flag) = args.next() else {
        return Ok(None);
    };
    if !known.contains(&flag.as_str()) {
        eprintln!("{program}: unknown argument {flag:?}; {usage}");
        return Err(ExitCode::from(2));
    }
    match args.next() {
        Some(value) => Ok(Some((flag, value))),
        None => {
            eprintln!("{program}: {flag} needs a value; {usage}");
            Err(ExitCode::from(2))
        }
    }
}

/// The certificate and key files of `--tls-cert` and `--tls-key` (Python 3.14's flags).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: String,
    pub key: String,
}

impl TlsFiles {
    /// Both flags or neither: `Err` with the usage message otherwise.
    pub fn from_flags(cert: Option<String>, key: Option<String>) -> Result<Option<Self>, String> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            (None, None) => Ok(None),
            _ => Err("--tls-cert and --tls-key go together".to_owned()),
        }
    }

    /// The configuration the files make, `adjust`ed (ALPN, a plaintext answer).
    pub fn config(
        &self,
        adjust: fn(socketserver::tls::TlsConfig) -> socketserver::tls::TlsConfig,
    ) -> Result<socketserver::tls::TlsConfig, String> {
        socketserver::tls::TlsConfig::from_pem_files(&self.cert, &self.key)
            .map(adjust)
            .map_err(|e| e.to_string())
    }

    /// The acceptor, and a thread that reloads the files on SIGUSR1 (SIGHUP is the hot
    /// restart, which reads them anyway): off the serving path; a file that fails keeps the
    /// certificate in force, with one stderr line saying why.
    pub fn acceptor(
        &self,
        name: &'static str,
        adjust: fn(socketserver::tls::TlsConfig) -> socketserver::tls::TlsConfig,
    ) -> Result<socketserver::tls::TlsAcceptor, String> {
        let acceptor =
            socketserver::tls::TlsAcceptor::new(self.config(adjust)?).map_err(|e| e.to_string())?;
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR1])
            .map_err(|e| format!("cannot watch SIGUSR1: {e}"))?;
        let (files, reloading) = (self.clone(), acceptor.clone());
        std::thread::spawn(move || {
            for _ in signals.forever() {
                match files
                    .config(adjust)
                    .and_then(|config| reloading.reload(config).map_err(|e| e.to_string()))
                {
                    Ok(()) => eprintln!("{name}: TLS certificate reloaded"),
                    Err(error) => {
                        eprintln!("{name}: TLS reload failed, the old certificate stays: {error}")
                    }
                }
            }
        });
        Ok(acceptor)
    }
}

/// `--metrics ADDR`: the server's counters (from `stats`) and `histogram` (its name, help and
/// the histogram), served at `http://ADDR/metrics` on a listener and thread of their own — or
/// on `inherited`, the metrics socket a hot restart handed over. One stderr line
/// `{name}: metrics on http://ADDR/metrics` gives the real address.
///
/// # Errors
///
/// A message for the one stderr line: the address cannot be used.
pub fn serve_metrics(
    name: &str,
    address: &str,
    inherited: Option<socketserver::InheritedSocket>,
    stats: socketserver::StatsHandle,
    histogram: Option<(&str, &str, socketserver_metrics::LatencyHistogram)>,
) -> Result<socketserver_metrics::MetricsEndpoint, String> {
    use socketserver_metrics::prometheus_client::registry::{Registry, Unit};
    use socketserver_metrics::{MetricsEndpoint, ServerMetrics};
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ServerMetrics::new(stats)));
    if let Some((metric, help, latency)) = histogram {
        registry.register_with_unit(metric, help, Unit::Seconds, latency);
    }
    let registry = std::sync::Arc::new(registry);
    let endpoint = match inherited {
        Some(socket) => MetricsEndpoint::from_inherited(socket, registry),
        None => MetricsEndpoint::bind(address, registry),
    }
    .map_err(|e| format!("cannot serve metrics on {address}: {e}"))?;
    eprintln!(
        "{name}: metrics on http://{}/metrics",
        endpoint.local_addr()
    );
    Ok(endpoint)
}
