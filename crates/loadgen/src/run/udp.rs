//! `udp` mode: datagram round trips over UDP or a Unix datagram socket.
//!
//! Each socket has one datagram in flight. A datagram of 8 bytes or more carries a sequence
//! number in its first 8 bytes, so a reply that comes back after its timeout (already counted
//! lost) is recognised and skipped rather than taken for the next one's.

use std::io;
use std::time::{Duration, Instant};

use super::{payload, Claim, Clock, Live, Outcome};
use crate::args::Config;
use crate::target::Datagram;

/// How long a thread waits before retrying when a whole round failed.
const BACKOFF: Duration = Duration::from_millis(10);
/// Stale replies skipped while waiting for one datagram, at most.
const MAX_STALE: usize = 64;

/// Bytes of the sequence number at the start of each datagram.
const SEQ: usize = 8;

/// Drives `slots` sockets until the end of the run.
pub fn worker(config: &Config, clock: &Clock, slots: usize, live: &Live) -> Outcome {
    let mut message = payload(config.size);
    let mut reply = vec![0; config.size.max(1) + 1];
    let mut sockets: Vec<Option<Datagram>> = (0..slots).map(|_| None).collect();
    // Each socket's datagram in flight: its sequence number, when it was sent, and its claim.
    let mut pending: Vec<Option<(u64, Instant, Claim)>> = vec![None; slots];
    let mut next_seq: u64 = 0;
    let mut out = Outcome::default();

    while !clock.over() && !live.exhausted() {
        let mut completed = 0;
        for (socket, pending) in sockets.iter_mut().zip(pending.iter_mut()) {
            let Some(claim) = live.claim(clock) else {
                break;
            };
            if socket.is_none() {
                match config.target.datagram(config.timeout) {
                    Ok(s) => *socket = Some(s),
                    Err(e) => {
                        out.error("socket", &e);
                        continue;
                    }
                }
            }
            let Some(s) = socket.as_ref() else { continue };
            next_seq += 1;
            if config.size >= SEQ {
                message[..SEQ].copy_from_slice(&next_seq.to_le_bytes());
            }
            let sent = Instant::now();
            match s.send(&message) {
                Ok(n) if n == message.len() => *pending = Some((next_seq, sent, claim)),
                Ok(_) => out.error("send", &io::Error::other("datagram truncated")),
                Err(e) => {
                    out.error("send", &e);
                    *socket = None;
                }
            }
        }
        for (socket, pending) in sockets.iter_mut().zip(pending.iter_mut()) {
            let (Some(s), Some((seq, sent, claim))) = (socket.as_ref(), pending.take()) else {
                continue;
            };
            match wait_reply(s, seq, config, &message, &mut reply) {
                Ok(true) if sent.elapsed() <= config.timeout => {
                    out.done(claim, sent);
                    completed += 1;
                }
                Ok(_) => {
                    if claim.measured() {
                        out.lost += 1;
                    }
                    if clock.over() {
                        break; // a silent server: leave the rest of the round
                    }
                }
                Err(e) => {
                    // E.g. ECONNREFUSED: an ICMP port unreachable for an earlier datagram.
                    out.error("receive", &e);
                    *socket = None;
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

/// Waits for the reply to datagram `seq`: `Ok(true)` when it came, `Ok(false)` on timeout.
fn wait_reply(
    socket: &Datagram,
    seq: u64,
    config: &Config,
    message: &[u8],
    reply: &mut [u8],
) -> io::Result<bool> {
    for _ in 0..MAX_STALE {
        let n = match socket.recv(reply) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let got = &reply[..n];
        let same = if config.size >= SEQ && n == config.size {
            let their_seq = u64::from_le_bytes(got[..SEQ].try_into().expect("8 bytes"));
            if their_seq < seq {
                continue; // a late reply to an earlier datagram, already counted lost
            }
            their_seq == seq && got[SEQ..] == message[SEQ..]
        } else {
            got == message
        };
        if !same {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the reply differs from the datagram",
            ));
        }
        return Ok(true);
    }
    Ok(false)
}
