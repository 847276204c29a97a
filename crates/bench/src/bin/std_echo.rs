//! The zero-framework baseline: a plain `std::net` thread-per-connection echo server.
//!
//! Run:   cargo run --release -p socketserver-bench --bin std_echo -- --addr 127.0.0.1:0
//! Try:   nc 127.0.0.1 PORT            (type lines; they come back)
//!
//! It does the same work as the `echo` example of the `socketserver` crate without the
//! framework: accept, spawn a thread, copy every byte back with an 8 KiB buffer
//! (read / write_all) until EOF, half-close. Once listening it prints exactly one line to
//! stdout, `listening on ADDR`; SIGINT or SIGTERM makes it exit 0 at once. A bad address:
//! one line on stderr and exit status 1 (2 for bad usage).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

const USAGE: &str = "usage: std_echo [--addr HOST:PORT]";

/// Copies every byte back until EOF, then half-closes (as the framework's `shutdown_request`).
fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
}

fn main() -> ExitCode {
    let mut address = "127.0.0.1:9999".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => address = value,
            _ => {
                eprintln!("std_echo: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("std_echo: cannot listen on {address}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("std_echo: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            std::process::exit(0);
        }
    });
    match listener.local_addr() {
        Ok(bound) => {
            let mut stdout = io::stdout().lock();
            if writeln!(stdout, "listening on {bound}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(1);
            }
        }
        Err(e) => {
            eprintln!("std_echo: {e}");
            return ExitCode::from(1);
        }
    }
    // Runs until a signal ends the process.
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = std::thread::Builder::new().spawn(move || echo(stream)) {
                    eprintln!("std_echo: cannot spawn a thread: {e}");
                }
            }
            // Rare (out of descriptors, an aborted handshake): back off rather than spin.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    ExitCode::SUCCESS
}
