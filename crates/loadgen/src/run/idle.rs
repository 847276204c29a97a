//! `idle` mode: many quiet connections, checked after a while.
//!
//! Opens its connections, holds them for `--hold` without a byte, then sends one message on
//! each and expects it back: a server that drops idle connections, or runs out of threads or
//! descriptors while holding them, shows up as `failed`.

use std::time::{Duration, Instant};

use super::{payload, receive, send, Clock, Live, Outcome};
use crate::args::Config;
use crate::target::Stream;

/// How long opening, or checking, `slots` connections may take: one timeout plus 1 ms each.
pub fn phase_limit(config: &Config, slots: usize) -> Duration {
    config.timeout + Duration::from_millis(u64::try_from(slots).unwrap_or(u64::MAX))
}

/// Opens `slots` connections, holds them, then checks each.
pub fn worker(config: &Config, _clock: &Clock, slots: usize, live: &Live) -> Outcome {
    let message = payload(config.size);
    let mut reply = vec![0; config.size];
    let mut out = Outcome::default();

    let open_deadline = Instant::now() + phase_limit(config, slots);
    let mut conns: Vec<Stream> = Vec::with_capacity(slots);
    for opened in 0..slots {
        if Instant::now() >= open_deadline {
            let missing = (slots - opened) as u64;
            out.failed += missing;
            out.errors += missing;
            out.first_error
                .get_or_insert_with(|| "opening connections took too long".into());
            break;
        }
        match config.target.connect(config.timeout) {
            Ok(stream) => conns.push(stream),
            Err(e) => {
                out.error("connect", &e);
                out.failed += 1;
            }
        }
    }
    out.held = conns.len() as u64;

    std::thread::sleep(config.hold);

    let check_start = Instant::now();
    let deadline = check_start + phase_limit(config, slots);
    let mut waiting = Vec::with_capacity(conns.len());
    for mut stream in conns {
        let sent = Instant::now();
        match send(&mut stream, &message) {
            Ok(()) => waiting.push((stream, sent)),
            Err(e) => {
                out.error("write after the hold", &e);
                out.failed += 1;
            }
        }
    }
    for (mut stream, sent) in waiting {
        if Instant::now() >= deadline {
            // Past the phase's bound: only take replies that are already here.
            if let Err(e) = stream.set_read_timeout(Duration::from_millis(1)) {
                out.error("set timeout", &e);
                out.failed += 1;
                continue;
            }
        }
        match receive(&mut stream, &message, &mut reply) {
            Ok(()) => {
                let now = Instant::now();
                out.latencies.record(now - sent);
                out.requests += 1;
                out.first.get_or_insert(check_start);
                out.last = Some(now);
                live.add(1);
            }
            Err(e) => {
                out.error("read after the hold", &e);
                out.failed += 1;
            }
        }
    }
    out
}
