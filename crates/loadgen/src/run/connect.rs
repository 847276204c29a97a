//! `connect` mode: a fresh connection per message.
//!
//! Each loop connects, sends the message, reads it back, half-closes, and waits for the
//! server's EOF, so a completed connection is one the server has fully served and closed.
//! The client closes first, so the client's side of each connection enters `TIME_WAIT`;
//! Linux reuses those ports for loopback connections (`net.ipv4.tcp_tw_reuse = 2`, the
//! default), elsewhere a long run may run out of ephemeral ports (counted as errors).

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::{exchange, payload, receive, send, Claim, Clock, Live, Outcome, WINDOW};
use crate::args::Config;
use crate::target::Stream;

/// How long a thread waits before retrying when a whole round failed.
const BACKOFF: Duration = Duration::from_millis(10);

/// Runs `loops` connection loops until the end of the run.
pub fn worker(config: &Config, clock: &Clock, loops: usize, live: &Live) -> Outcome {
    let message = payload(config.size);
    let mut reply = vec![0; config.size];
    let mut open: Vec<(Stream, Instant, Claim)> = Vec::with_capacity(loops);
    let mut out = Outcome::default();

    while !clock.over() && !live.exhausted() {
        let mut completed = 0;
        for _ in 0..loops {
            let Some(claim) = live.claim(clock) else {
                break;
            };
            let started = Instant::now();
            let stream = match config.target.connect(config.timeout) {
                Ok(stream) => stream,
                Err(e) => {
                    out.error("connect", &e);
                    continue;
                }
            };
            if config.size <= WINDOW {
                let mut stream = stream;
                match send(&mut stream, &message) {
                    Ok(()) => open.push((stream, started, claim)),
                    Err(e) => out.error("write", &e),
                }
            } else {
                open.push((stream, started, claim));
            }
        }
        for (mut stream, started, claim) in open.drain(..) {
            let result = if config.size <= WINDOW {
                receive(&mut stream, &message, &mut reply)
            } else {
                exchange(&mut stream, &message, &mut reply)
            };
            match result.and_then(|()| close(&mut stream)) {
                Ok(()) => {
                    out.done(claim, started);
                    completed += 1;
                }
                Err(e) => {
                    out.error("echo", &e);
                    if clock.over() {
                        // A stalled server: leave the rest of the round.
                        break;
                    }
                }
            }
        }
        live.add(completed);
        if completed == 0 {
            clock.pause(BACKOFF);
        }
    }
    out
}

/// Half-closes and waits for the server to close its side (reading nothing more).
fn close(stream: &mut Stream) -> io::Result<()> {
    stream.shutdown_write()?;
    let mut rest = [0; 64];
    match stream.read(&mut rest)? {
        0 => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the server sent more than the message",
        )),
    }
}
