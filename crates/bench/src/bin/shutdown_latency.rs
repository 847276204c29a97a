//! How long `ShutdownHandle::shutdown` takes to stop a running `ThreadingTcpServer`.
//!
//! Run:   cargo run --release -p socketserver-bench --bin shutdown_latency [-- --tries 20] [--json]
//!
//! Each try: create a server on 127.0.0.1:0 with an echo handler, run `serve_forever` on a
//! thread, do one echo round trip (so the loop is surely serving and the request is over),
//! then time `shutdown()` until it has returned and the serving thread has been joined. The
//! server is dropped (closed) after the clock stops, as Python's `server_close()` is not part
//! of its `shutdown()` either. `bench/python_servers.py --shutdown-latency` measures Python the
//! same way. Prints the median and the maximum in µs, or one JSON line with `--json`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use socketserver::{StreamRequest, ThreadingTcpServer};

const USAGE: &str = "usage: shutdown_latency [--tries N] [--json]";
/// Bounds every socket operation of the round trip.
const TIMEOUT: Duration = Duration::from_secs(5);

fn echo(request: &mut StreamRequest) -> io::Result<()> {
    io::copy(&mut request.rfile, &mut request.wfile)?;
    Ok(())
}

/// One try: the time from calling `shutdown()` to the serving thread joined.
fn one_try() -> Result<Duration, String> {
    let handler = echo as fn(&mut StreamRequest) -> io::Result<()>;
    let server = ThreadingTcpServer::new("127.0.0.1:0", handler).map_err(|e| e.to_string())?;
    let address = server.server_address().map_err(|e| e.to_string())?;
    let handle = server.shutdown_handle();
    let serving = std::thread::spawn(move || {
        let mut server = server;
        let result = server.serve_forever();
        (server, result)
    });

    let round_trip = || -> io::Result<()> {
        let mut client = TcpStream::connect_timeout(&address, TIMEOUT)?;
        client.set_read_timeout(Some(TIMEOUT))?;
        client.set_write_timeout(Some(TIMEOUT))?;
        client.write_all(b"ping")?;
        let mut reply = [0; 4];
        client.read_exact(&mut reply)?;
        client.shutdown(Shutdown::Write)?;
        // EOF: the handler has finished and the request is closed.
        let mut rest = Vec::new();
        client.read_to_end(&mut rest)?;
        if &reply != b"ping" || !rest.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad echo"));
        }
        Ok(())
    };
    let checked = round_trip();

    let started = Instant::now();
    handle.shutdown();
    let joined = serving.join();
    let elapsed = started.elapsed();

    checked.map_err(|e| format!("echo round trip failed: {e}"))?;
    let (server, result) = joined.map_err(|_| "the serving thread panicked".to_owned())?;
    result.map_err(|e| format!("serve_forever failed: {e}"))?;
    drop(server);
    Ok(elapsed)
}

fn main() -> ExitCode {
    let mut tries = 20usize;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--tries" => match args.next().and_then(|v| v.parse().ok()).filter(|&n| n > 0) {
                Some(n) => tries = n,
                None => {
                    eprintln!("shutdown_latency: --tries needs a positive number; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("shutdown_latency: bad arguments; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let mut samples = Vec::with_capacity(tries);
    for _ in 0..tries {
        match one_try() {
            Ok(elapsed) => samples.push(elapsed.as_secs_f64() * 1e6),
            Err(message) => {
                eprintln!("shutdown_latency: {message}");
                return ExitCode::from(1);
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    let median = median(&samples);
    let max = samples.last().copied().unwrap_or(0.0);
    if json {
        println!(
            "{{\"impl\":\"socketserver\",\"server\":\"ThreadingTcpServer\",\"tries\":{tries},\
             \"median_us\":{median:.1},\"max_us\":{max:.1}}}"
        );
    } else {
        println!(
            "socketserver ThreadingTcpServer shutdown latency over {tries} tries: \
             median {median:.1} us, max {max:.1} us"
        );
    }
    ExitCode::SUCCESS
}

/// The median of sorted values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
