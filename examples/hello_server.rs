//! The seed blog's "socketserver simplified" program: every client gets a thread of its own
//! that sends `hello` and closes the connection.
//!
//! Run:   cargo run --example hello_server [-- --addr HOST:PORT]
//! Try:   cargo run --example hello_client      (prints `hello`)
//!   or:  nc 127.0.0.1 9999
//!
//! The Python original runs its own `select` + `accept` loop and starts a
//! `threading.Thread(target=handle)` per connection; here `ThreadingTcpServer` is that loop and
//! the closure below is `handle`.
//!
//! Default --addr 127.0.0.1:9999. Once listening it prints exactly one line to stdout,
//! `listening on ADDR` (the real port when port 0 was asked for). SIGINT or SIGTERM shuts it
//! down and it exits 0. A bad address or a port in use: one line on stderr and exit status 1
//! (2 for bad command-line usage). Logs go to stderr, filtered by RUST_LOG
//! (e.g. RUST_LOG=socketserver=debug).

mod common;

use std::io::Write;
use std::process::ExitCode;

use socketserver::{StreamRequest, ThreadingTcpServer};

const USAGE: &str = "usage: hello_server [--addr HOST:PORT]";

fn serve(address: &str) -> Result<(), String> {
    // Python's `handle(sk)`: `sk.sendall(b"hello")`; the server closes the connection after.
    let hello = |request: &mut StreamRequest| request.wfile.write_all(b"hello");
    let mut server = ThreadingTcpServer::new(address, hello).map_err(|e| e.to_string())?;
    let bound = server.server_address().map_err(|e| e.to_string())?;
    // Dropping the server afterwards waits for request threads still writing (Python's
    // `th.daemon = False`).
    common::serve_until_signal(
        "hello_server",
        &mut server,
        &bound.to_string(),
        std::time::Duration::from_secs(30),
    )
}

fn main() -> ExitCode {
    common::init_logging();

    let mut address = "127.0.0.1:9999".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => address = value,
            _ => {
                eprintln!("hello_server: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    common::exit_status("hello_server", serve(&address))
}
