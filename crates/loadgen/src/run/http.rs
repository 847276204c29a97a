//! `http` mode: one keep-alive connection per thread asking for one path, in a closed loop or
//! at a fixed rate.
//!
//! At a fixed rate each connection has its own schedule (the connections' schedules
//! interleaved), and a request's latency runs from when it was due, not from when it was
//! written: an answer that comes late delays the requests due after it on that connection,
//! and that delay is counted (what wrk2 calls correcting for coordinated omission). Without a
//! rate, a request is due when the previous answer has arrived.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::{Clock, Live, Outcome};
use crate::args::Config;
use crate::target::{Stream, Target};

/// The longest answer head read.
const MAX_HEAD: usize = 64 * 1024;

/// Drives connection `index` of the run until its end.
pub fn worker(config: &Config, clock: &Clock, live: &Live, index: usize) -> Outcome {
    let host = match &config.target {
        Target::Inet { text, .. } => text.as_str(),
        Target::Unix(_) => "localhost",
    };
    let request = format!("GET {} HTTP/1.1\r\nHost: {host}\r\n\r\n", config.path).into_bytes();
    // Connection `index` of C, at R requests a second in all: one request every C/R seconds,
    // the first `index`/C of that interval after the start.
    let interval = config
        .rate
        .map(|rate| Duration::from_secs_f64(config.connections as f64 / rate));
    let mut due = clock.measure_from - config.warmup;
    if let Some(interval) = interval {
        due += interval.mul_f64(index as f64 / config.connections as f64);
    }
    let mut conn: Option<Stream> = None;
    let mut answer = Answer::default();
    let mut out = Outcome::default();
    while !live.exhausted() {
        let started = match interval {
            Some(interval) => {
                let now = Instant::now();
                if due > now {
                    clock.pause(due - now);
                }
                let this = due;
                due += interval;
                this
            }
            None => Instant::now(),
        };
        if clock.over() {
            break;
        }
        let Some(claim) = live.claim(clock) else {
            break;
        };
        if conn.is_none() {
            match config.target.connect(config.timeout) {
                Ok(stream) => conn = Some(stream),
                Err(e) => {
                    out.error("connect", &e);
                    clock.pause(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let Some(stream) = conn.as_mut() else {
            continue;
        };
        let exchanged = stream
            .write_all(&request)
            .and_then(|()| answer.read(stream));
        match exchanged {
            Ok(()) => {
                out.done(claim, started);
                live.add(1);
            }
            Err(e) => {
                out.error("request", &e);
                conn = None;
            }
        }
    }
    out
}

/// Reads one answer at a time from a keep-alive connection, keeping what arrived after it.
#[derive(Debug, Default)]
struct Answer {
    buffer: Vec<u8>,
}

impl Answer {
    /// Reads an answer whole: a 2xx status and a `Content-Length` body.
    fn read(&mut self, stream: &mut Stream) -> io::Result<()> {
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(invalid("an answer head over 64 KiB"));
            }
            self.fill(stream)?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .map_err(|_| invalid("an answer head that is not text"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid("an answer without a status"))?;
        if !(200..300).contains(&status) {
            return Err(invalid(&format!("status {status}")));
        }
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| invalid("an answer without a Content-Length"))?;
        let arrived = self.buffer.len() - head_end;
        if arrived >= length {
            self.buffer.drain(..head_end + length);
            return Ok(());
        }
        // The body's rest is read and dropped (a large file is never held whole); what
        // arrives after it stays for the next answer.
        self.buffer.clear();
        let mut left = length - arrived;
        let mut piece = [0; 64 * 1024];
        while left > 0 {
            let n = read_some(stream, &mut piece)?;
            if n > left {
                self.buffer.extend_from_slice(&piece[left..n]);
            }
            left = left.saturating_sub(n);
        }
        Ok(())
    }

    /// Reads what has arrived (at least a byte) onto the end of the buffer.
    fn fill(&mut self, stream: &mut Stream) -> io::Result<()> {
        let mut piece = [0; 16 * 1024];
        let n = read_some(stream, &mut piece)?;
        self.buffer.extend_from_slice(&piece[..n]);
        Ok(())
    }
}

/// Reads at least a byte; the end of the stream is an error (an answer was due).
fn read_some(stream: &mut Stream, piece: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(piece) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
