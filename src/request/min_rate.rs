//! [`MinRate`]: the slowest a message may arrive; and the clock that keeps it, with the read
//! timeout, for one message in flight.

use std::time::{Duration, Instant};

use crate::stats::CloseReason;

/// The slowest a message in flight may arrive: after `grace`, the bytes received since the
/// message began must average at least `bytes_per_second`. The defence against slowloris-style
/// peers that keep a message (and the thread or worker waiting for it) open by trickling it a
/// byte at a time, each byte just inside the idle timeout. Apache's `mod_reqtimeout` defaults
/// are the model: 500 bytes/s after 20 s.
///
/// "In flight" means inside a [`BusySpan`](crate::BusySpan) of a blocking handler, or while an
/// event protocol has [`set_busy`](crate::Connection::set_busy)`(true)`: the framework cannot
/// know a protocol's message boundaries otherwise, and between messages the idle timeout
/// applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    /// The least average rate, in bytes per second, once `grace` has passed.
    pub bytes_per_second: u64,
    /// How long a message may take before the rate is enforced.
    pub grace: Duration,
}

impl Default for MinRate {
    fn default() -> Self {
        MinRate {
            bytes_per_second: 500,
            grace: Duration::from_secs(20),
        }
    }
}

/// The time and bytes of one message in flight, against the read timeout and the minimum rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageClock {
    started: Instant,
    bytes: u64,
}

impl MessageClock {
    pub(crate) fn start(now: Instant) -> Self {
        MessageClock {
            started: now,
            bytes: 0,
        }
    }

    pub(crate) fn received(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes as u64);
    }

    /// When the message runs out of time if no more bytes arrive, and why.
    pub(crate) fn deadline(
        &self,
        read_timeout: Option<Duration>,
        min_rate: Option<MinRate>,
    ) -> Option<(Instant, CloseReason)> {
        // Checked: a deadline past what an Instant can hold is no deadline (the byte count comes
        // from the peer, the durations from configuration).
        let whole = read_timeout
            .and_then(|limit| self.started.checked_add(limit))
            .map(|at| (at, CloseReason::ReadTimeout));
        let rate = min_rate
            .filter(|rate| rate.bytes_per_second > 0)
            .and_then(|rate| {
                // The rate holds until bytes / elapsed drops below it: elapsed = bytes / rate.
                let earned =
                    Duration::try_from_secs_f64(self.bytes as f64 / rate.bytes_per_second as f64)
                        .ok()?;
                self.started.checked_add(rate.grace.max(earned))
            })
            .map(|at| (at, CloseReason::TooSlow));
        match (whole, rate) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// The bytes of the message received so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// How long the message has been arriving.
    pub(crate) fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_deadline_moves_with_the_bytes() {
        let start = Instant::now();
        let mut clock = MessageClock::start(start);
        let rate = MinRate {
            bytes_per_second: 100,
            grace: Duration::from_secs(1),
        };
        assert_eq!(
            clock.deadline(None, Some(rate)),
            Some((start + Duration::from_secs(1), CloseReason::TooSlow))
        );
        clock.received(500); // five seconds' worth at the minimum rate
        assert_eq!(
            clock.deadline(None, Some(rate)),
            Some((start + Duration::from_secs(5), CloseReason::TooSlow))
        );
        // The read timeout comes first.
        assert_eq!(
            clock.deadline(Some(Duration::from_secs(2)), Some(rate)),
            Some((start + Duration::from_secs(2), CloseReason::ReadTimeout))
        );
        // Numbers past what an Instant holds are no deadline, not a panic.
        clock.received(usize::MAX);
        clock.received(usize::MAX);
        let slow = MinRate {
            bytes_per_second: 1,
            grace: Duration::from_secs(1),
        };
        assert_eq!(clock.deadline(Some(Duration::MAX), Some(slow)), None);
    }
}
