//! The main job: an echo server (every byte back until the client closes).
//!
//! Run:   cargo run --release --example echo [-- --addr HOST:PORT] [--mode threading|sequential]
//! Try:   nc 127.0.0.1 9999            (type lines; they come back)
//!   or:  python3 -c "import socket; s=socket.create_connection(('127.0.0.1',9999)); s.sendall(b'hi'); print(s.recv(2))"
//!
//! Defaults: --addr 127.0.0.1:9999 --mode threading. Once listening it prints exactly one line
//! to stdout, `listening on ADDR` (the real port when port 0 was asked for). SIGINT or SIGTERM
//! shuts it down and it exits 0. A bad address or a port in use: one line on stderr and exit
//! status 1 (2 for bad command-line usage). Logs go to stderr, filtered by RUST_LOG
//! (e.g. RUST_LOG=socketserver=debug).

use std::io::Write;
use std::process::ExitCode;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use socketserver::{BaseServer, Dispatch, Sequential, StreamRequest, TcpSocket, ThreadingMixIn};

const USAGE: &str = "usage: echo [--addr HOST:PORT] [--mode threading|sequential]";

fn echo(request: &mut StreamRequest) -> std::io::Result<()> {
    std::io::copy(&mut request.rfile, &mut request.wfile)?;
    Ok(())
}

fn serve<M: Dispatch + Default>(
    address: &str,
    configure: impl FnOnce(&mut M),
) -> Result<(), String> {
    let handler = echo as fn(&mut StreamRequest) -> std::io::Result<()>;
    let mut server: BaseServer<TcpSocket, M, _> =
        BaseServer::new(address, handler).map_err(|e| e.to_string())?;
    configure(server.dispatch_mut());
    let bound = server.server_address().map_err(|e| e.to_string())?;

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

    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {bound}")
            .and_then(|()| stdout.flush())
            .map_err(|e| e.to_string())?;
    }
    let result = server.serve_forever().map_err(|e| e.to_string());
    signal_thread.close();
    let _ = watcher.join();
    drop(server);
    result
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();

    let mut address = "127.0.0.1:9999".to_owned();
    let mut mode = "threading".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => address = value,
            ("--mode", Some(value)) => mode = value,
            _ => {
                eprintln!("echo: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let result = match mode.as_str() {
        // On a signal, exit without waiting for clients that are still connected.
        "threading" => serve(&address, |threading: &mut ThreadingMixIn| {
            threading.set_daemon_threads(true);
        }),
        "sequential" => serve(&address, |_: &mut Sequential| {}),
        other => {
            eprintln!("echo: unknown mode {other:?}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("echo: {message}");
            ExitCode::from(1)
        }
    }
}
