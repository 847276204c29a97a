//! `loadgen`: a load generator for echo servers, and for HTTP servers.
//!
//! Point it at any server that sends back every byte it receives — over TCP (IPv4 or IPv6),
//! a Unix stream socket, UDP or a Unix datagram socket — or at an HTTP/1.1 server (`http`:
//! keep-alive `GET`s of one path, in a closed loop or at a fixed rate, latencies counted from
//! when each request was due), and it reports throughput, latency percentiles and errors:
//!
//! ```text
//! loadgen echo    --target 127.0.0.1:9999 --connections 16 --size 64 --duration 3 --warmup 1
//! loadgen connect --target unix:/tmp/echo.sock --connections 8 --duration 2
//! loadgen idle    --target [::1]:9999 --connections 1000 --hold 10
//! loadgen udp     --target 127.0.0.1:9999 --timeout 200ms --json
//! loadgen connect --target 127.0.0.1:9999 --requests 10000 --duration 60 --warmup 0
//! loadgen http    --target 127.0.0.1:8000 --path /index.html --connections 16 --rate 20000
//! ```
//!
//! With `--json` it prints exactly one line of JSON per run on stdout (`mode`, `target`,
//! `connections`, `size`, `threads`, `duration_s`, `requests`, `errors`, `rps`, `p50_us`,
//! `p99_us`, `max_us`; idle adds `held` and `failed`, udp adds `lost`). A progress bar is
//! drawn only when stdout is a terminal and the run lasts more than a second.
//!
//! Exit status: 0 when at least one request succeeded; 1 when the target could not be
//! reached or nothing succeeded; 2 for a bad command line. Errors during a run are counted,
//! not fatal. Every loop is bounded in time, so it always exits by itself.

mod args;
mod histogram;
mod progress;
mod report;
mod run;
mod target;

use std::process::ExitCode;

use args::{Command, USAGE};

fn main() -> ExitCode {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = match args::parse(std::env::args().skip(1), cores) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("loadgen: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let finished = match run::run(&config) {
        Ok(finished) => finished,
        Err(message) => {
            eprintln!("loadgen: {message}");
            return ExitCode::from(1);
        }
    };
    let report = &finished.report;
    if config.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_human());
    }
    if finished.stuck_threads > 0 {
        eprintln!(
            "loadgen: {} generator thread(s) were still blocked at the deadline; their counts are \
             missing (is the server stalled?)",
            finished.stuck_threads
        );
    }
    let failures = report.errors + report.lost.unwrap_or(0) + report.failed.unwrap_or(0);
    if let Some(first) = &finished.first_error {
        let hint = if first.contains("Too many open files") {
            " (raise the descriptor limit: ulimit -n)"
        } else {
            ""
        };
        eprintln!("loadgen: first error: {first}{hint}");
    }
    if report.requests == 0 {
        if failures > 0 || finished.stuck_threads > 0 {
            eprintln!("loadgen: no request succeeded against {}", report.target);
        } else {
            eprintln!(
                "loadgen: no request completed in the measured window against {}",
                report.target
            );
        }
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
