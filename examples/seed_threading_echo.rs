//! The seed blog's `ThreadingTCPServer` program: each client gets a thread that takes up to 5
//! bytes at a time from the connection and sends them straight back.
//!
//! Run:   cargo run --example seed_threading_echo [-- --addr HOST:PORT]
//! Try:   nc 127.0.0.1 8009            (type lines; they come back, 5 bytes per round trip)
//!   or:  python3 -c "import socket; s=socket.create_connection(('127.0.0.1',8009)); s.sendall(b'hello world'); print(s.recv(11))"
//!
//! The Python original, for comparison:
//!
//! ```text
//! class MyServer(socketserver.BaseRequestHandler):
//!     def handle(self):
//!         conn = self.request
//!         while True:
//!             recv_data = conn.recv(5)
//!             conn.sendall(recv_data)
//!
//! server = socketserver.ThreadingTCPServer(('127.0.0.1', 8009), MyServer)
//! print(server.server_address)
//! server.serve_forever()
//! ```
//!
//! One difference: when the client closes, Python's `recv(5)` returns `b''` and its loop spins
//! forever on the dead connection, one busy thread per departed client. Here a read of 0 bytes
//! ends the handler, and the server closes the connection.
//!
//! Default --addr 127.0.0.1:8009. Once listening it prints exactly one line to stdout,
//! `listening on ADDR` (Python's `print(server.server_address)`; the real port when port 0 was
//! asked for). SIGINT or SIGTERM shuts it down and it exits 0. A bad address or a port in use:
//! one line on stderr and exit status 1 (2 for bad command-line usage). Logs go to stderr,
//! filtered by RUST_LOG (e.g. RUST_LOG=socketserver=debug).

mod common;

use std::io::{Read, Write};
use std::process::ExitCode;

use socketserver::{StreamRequest, ThreadingTcpServer};

const USAGE: &str = "usage: seed_threading_echo [--addr HOST:PORT]";

/// Python's `MyServer.handle`: `recv(5)`, `sendall`, until the client closes.
fn handle(request: &mut StreamRequest) -> std::io::Result<()> {
    // `self.request` in Python: the connected socket itself, not the buffered `rfile`.
    let mut conn = request.socket();
    let mut buf = [0; 5];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}

fn serve(address: &str) -> Result<(), String> {
    let mut server = ThreadingTcpServer::new(address, handle).map_err(|e| e.to_string())?;
    // The seed's handler reads the socket itself, not `rfile`, so a drain cannot see when a
    // connection is idle: on a signal, close every connection at once (a drain with no time).
    server.dispatch_mut().set_daemon_threads(true);
    let bound = server.server_address().map_err(|e| e.to_string())?;
    common::serve_until_signal(
        "seed_threading_echo",
        &mut server,
        &bound.to_string(),
        std::time::Duration::ZERO,
    )
}

fn main() -> ExitCode {
    common::init_logging();

    let mut address = "127.0.0.1:8009".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => address = value,
            _ => {
                eprintln!("seed_threading_echo: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    common::exit_status("seed_threading_echo", serve(&address))
}
