//! `echo` mode: persistent connections, one message in flight on each.

use std::time::{Duration, Instant};

use super::{exchange, payload, receive, send, Claim, Clock, Live, Outcome, WINDOW};
use crate::args::Config;
use crate::target::Stream;

/// How long a thread waits before retrying when a whole round failed (e.g. the server is gone).
const BACKOFF: Duration = Duration::from_millis(10);

/// Opens the run's connections, one per slot (`None` where it failed, counted in `out`),
/// taking at most one timeout plus 1 ms per connection in all.
pub fn open_all(config: &Config, out: &mut Outcome) -> Vec<Option<Stream>> {
    let limit = Instant::now() + super::idle::phase_limit(config, config.connections);
    (0..config.connections)
        .map(|_| {
            if Instant::now() >= limit {
                return None; // the worker retries it in its first round
            }
            config
                .target
                .connect(config.timeout)
                .map_err(|e| out.error("connect", &e))
                .ok()
        })
        .collect()
}

/// Drives its share of the connections until the end of the run; broken or missing
/// connections are counted and reopened in the next round.
pub fn worker(
    config: &Config,
    clock: &Clock,
    mut conns: Vec<Option<Stream>>,
    live: &Live,
) -> Outcome {
    let message = payload(config.size);
    let mut reply = vec![0; config.size];
    // Each connection's message in flight: when it was written, and its claim.
    let mut sent: Vec<Option<(Instant, Claim)>> = vec![None; conns.len()];
    let mut out = Outcome::default();

    while !clock.over() && !live.exhausted() {
        let mut completed = 0;
        for (conn, sent) in conns.iter_mut().zip(sent.iter_mut()) {
            let Some(claim) = live.claim(clock) else {
                break;
            };
            if conn.is_none() {
                match config.target.connect(config.timeout) {
                    Ok(stream) => *conn = Some(stream),
                    Err(e) => {
                        out.error("connect", &e);
                        continue;
                    }
                }
            }
            let Some(stream) = conn.as_mut() else {
                continue;
            };
            let started = Instant::now();
            if config.size <= WINDOW {
                match send(stream, &message) {
                    Ok(()) => *sent = Some((started, claim)),
                    Err(e) => {
                        out.error("write", &e);
                        *conn = None;
                    }
                }
            } else {
                match exchange(stream, &message, &mut reply) {
                    Ok(()) => {
                        out.done(claim, started);
                        completed += 1;
                    }
                    Err(e) => {
                        out.error("exchange", &e);
                        *conn = None;
                    }
                }
                if clock.over() {
                    break;
                }
            }
        }
        for (conn, sent) in conns.iter_mut().zip(sent.iter_mut()) {
            let (Some(stream), Some((started, claim))) = (conn.as_mut(), sent.take()) else {
                continue;
            };
            match receive(stream, &message, &mut reply) {
                Ok(()) => {
                    out.done(claim, started);
                    completed += 1;
                }
                Err(e) => {
                    out.error("read", &e);
                    *conn = None;
                    if clock.over() {
                        // A stalled server: leave the rest of the round unread.
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
