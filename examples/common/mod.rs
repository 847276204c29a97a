//! What the framework examples share: logging to stderr, the `listening on ADDR` ready line, and
//! stopping on SIGINT or SIGTERM. Not an example of its own (cargo only runs `examples/*.rs`
//! and `examples/*/main.rs`).

#![allow(dead_code, reason = "each example uses the part it needs")]

use std::io::{self, Write};
use std::process::ExitCode;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use socketserver::{BaseServer, Dispatch, RequestHandler, TcpServer};

/// Sends the library's `tracing` events to stderr, filtered by `RUST_LOG`.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
}

/// Prints `listening on {shown}`, then serves until SIGINT or SIGTERM stops the loop.
///
/// # Errors
///
/// A message for the one stderr line: signal handlers that cannot be installed, stdout gone,
/// or the loop's error.
pub fn serve_until_signal<S, M, H>(
    server: &mut BaseServer<S, M, H>,
    shown: &str,
) -> Result<(), String>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
{
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let stop = server.shutdown_handle();
    let signal_thread = signals.handle();
    let watcher = std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            tracing::info!(signal, "signal received: shutting down");
            stop.shutdown();
        }
    });
    let ready = {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "listening on {shown}").and_then(|()| stdout.flush())
    };
    let result = match ready {
        Ok(()) => server.serve_forever().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    signal_thread.close();
    let _ = watcher.join();
    result
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
