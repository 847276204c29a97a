//! [`TimerId`] and a connection's timers: asyncio's `call_later` / `call_at` on the
//! connection's own loop thread, kept with the connection and cancelled with it.

use std::time::Instant;

/// A timer set with [`Connection::call_later`](crate::Connection::call_later) or
/// [`call_at`](crate::Connection::call_at): asyncio's `TimerHandle`. It comes back in
/// [`Protocol::timer_fired`](crate::Protocol::timer_fired) and cancels with
/// [`Connection::cancel_timer`](crate::Connection::cancel_timer). Ids are unique within their
/// connection.
#[doc(alias = "TimerHandle")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(u64);

impl TimerId {
    /// The id as a number (unique within the connection), to key a protocol's own table.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A connection's pending timers. A protocol keeps a few (a heartbeat, a step's deadline), so
/// a vector searched for its earliest entry beats a heap; the loop's own heap holds one record
/// per connection for the earliest of all its deadlines.
#[derive(Debug, Default)]
pub(crate) struct ConnectionTimers {
    pending: Vec<(Instant, TimerId)>,
    next_id: u64,
}

impl ConnectionTimers {
    /// Sets a timer for `at`.
    pub(crate) fn add(&mut self, at: Instant) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.pending.push((at, id));
        id
    }

    /// Cancels `id`; `false` when it already fired or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        match self.pending.iter().position(|&(_, pending)| pending == id) {
            Some(index) => {
                self.pending.swap_remove(index);
                true
            }
            None => false,
        }
    }

    /// When the earliest timer is due.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.pending.iter().map(|&(at, _)| at).min()
    }

    /// Takes the earliest timer due at `now` (timers due together fire in the order set).
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<TimerId> {
        let index = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, &(at, _))| at <= now)
            .min_by_key(|(_, &(at, id))| (at, id))
            .map(|(index, _)| index)?;
        Some(self.pending.swap_remove(index).1)
    }

    /// How many are pending.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_fire_in_time_order_and_cancel() {
        let mut timers = ConnectionTimers::default();
        let start = Instant::now();
        let late = timers.add(start + Duration::from_secs(2));
        let early = timers.add(start + Duration::from_secs(1));
        let cancelled = timers.add(start);
        assert!(timers.cancel(cancelled));
        assert!(!timers.cancel(cancelled));
        assert_eq!(timers.next(), Some(start + Duration::from_secs(1)));
        assert_eq!(timers.take_due(start), None);
        let later = start + Duration::from_secs(3);
        assert_eq!(timers.take_due(later), Some(early));
        assert_eq!(timers.take_due(later), Some(late));
        assert_eq!(timers.take_due(later), None);
        assert_eq!(timers.len(), 0);
    }
}
