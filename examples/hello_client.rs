//! The seed blog's client: connect, print what the server sends, close.
//!
//! Run:   cargo run --example hello_server       (in one terminal)
//!        cargo run --example hello_client [-- --addr HOST:PORT]
//!
//! It reads until the server closes the connection and prints what it got (`hello` from
//! hello_server) as one line on stdout, then exits 0. Default --addr 127.0.0.1:9999. When the
//! connection is refused or fails: one line on stderr and exit status 1 (2 for bad
//! command-line usage).
//!
//! The Python original, which prints `b'hello'`:
//!
//! ```text
//! sk = socket.socket()
//! sk.connect(("127.0.0.1", 9999))
//! print(sk.recv(1024))
//! sk.close()
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

const USAGE: &str = "usage: hello_client [--addr HOST:PORT]";

fn fetch(address: &str) -> Result<Vec<u8>, String> {
    let mut stream =
        TcpStream::connect(address).map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .map_err(|e| format!("reading from {address}: {e}"))?;
    Ok(received)
}

fn main() -> ExitCode {
    let mut address = "127.0.0.1:9999".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => address = value,
            _ => {
                eprintln!("hello_client: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match fetch(&address) {
        Ok(received) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{}", String::from_utf8_lossy(&received)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hello_client: writing to stdout: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(message) => {
            eprintln!("hello_client: {message}");
            ExitCode::from(1)
        }
    }
}
