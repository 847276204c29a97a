//! [`TimerHeap`]: per-connection deadlines kept by a loop thread, at no cost per message.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A min-heap of `(deadline, key, generation)` records.
///
/// Connections move their deadline on every message (an idle timeout restarts with each read),
/// so pushing a record per message would cost a heap operation per message. Instead the owner
/// keeps the *current* deadline next to the connection and the heap keeps at most one live
/// record per connection, which may be earlier than the current deadline: when it comes due,
/// the owner looks at the current deadline and either expires the connection or re-arms the
/// record. A record whose generation no longer matches (the connection left, or re-armed
/// earlier) is dropped when it surfaces.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    records: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    next_generation: u64,
}

/// The heap's record of one connection, kept by the owner beside the current deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Armed {
    pub(crate) at: Instant,
    pub(crate) generation: u64,
}

impl TimerHeap {
    /// Pushes a record for `key` at `at` and returns it, for the owner to keep.
    pub(crate) fn arm(&mut self, key: usize, at: Instant) -> Armed {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.records.push(Reverse((at, key, generation)));
        Armed { at, generation }
    }

    /// The earliest record's time (perhaps a stale record: waking early is harmless).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.records.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns the earliest record if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(usize, Armed)> {
        match self.records.peek() {
            Some(Reverse((at, _, _))) if *at <= now => {
                let Reverse((at, key, generation)) = self.records.pop()?;
                Some((key, Armed { at, generation }))
            }
            _ => None,
        }
    }

    /// The number of records, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests;
