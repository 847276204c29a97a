//! [`Reactor`]: connections registered in a selector, with deadlines, owned by one thread.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use selectors::{DefaultSelector, Events, Interest, Selector, Token};
use slab::Slab;

use crate::reactor::timer_heap::{Armed, TimerHeap};

/// The token of the loop's own waker (see [`Reactor::watch_waker`]).
pub(crate) const WAKER_TOKEN: usize = 0;
/// Tokens below this are descriptors the owner keeps itself ([`Reactor::watch_fixed`]: a
/// waker, a listener); the entries' keys are offset past them.
const FIRST_KEY_TOKEN: usize = 16;

/// The mechanism that parking and the event loop share: a selector, a slab of connections
/// keyed by token, and a [`TimerHeap`] for their deadlines. A waiting connection costs its
/// slab entry and a registration, and no thread.
///
/// The owner drives it: [`wait`](Self::wait) sleeps until a registered descriptor is ready,
/// the waker fires, or the earliest deadline passes; then [`ready`](Self::ready) lists what
/// became ready and [`pop_expired`](Self::pop_expired) what ran out of time.
#[derive(Debug)]
pub(crate) struct Reactor<E> {
    selector: DefaultSelector,
    events: Events,
    slots: Slab<Slot<E>>,
    timers: TimerHeap,
    ready: Vec<Ready>,
    /// The owner's own descriptors that the last wait found ready, by token.
    fixed_ready: Vec<usize>,
}

#[derive(Debug)]
struct Slot<E> {
    entry: E,
    /// What the selector watches for now; `None` when not registered.
    registered: Option<Interest>,
    /// When the connection runs out of time, as its owner last said.
    deadline: Option<Instant>,
    /// The heap's live record for this slot, never later than `deadline`.
    armed: Option<Armed>,
}

/// One ready connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ready {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

impl<E: AsFd> Reactor<E> {
    /// A reactor whose waits report at most `capacity` events each.
    pub(crate) fn new(capacity: usize) -> io::Result<Self> {
        Ok(Reactor {
            selector: DefaultSelector::new()?,
            events: Events::with_capacity(capacity),
            slots: Slab::new(),
            timers: TimerHeap::default(),
            ready: Vec::with_capacity(capacity),
            fixed_ready: Vec::new(),
        })
    }

    /// Registers the loop's waker; its readiness shows as [`woken`](Self::woken).
    pub(crate) fn watch_waker(&mut self, waker: &selectors::Waker) -> io::Result<()> {
        self.watch_fixed(waker.as_fd(), Interest::READABLE, WAKER_TOKEN)
    }

    /// Registers a descriptor the owner keeps itself (not an entry: no key, no deadline) under
    /// `token`, below [`FIRST_KEY_TOKEN`]; its readiness shows in
    /// [`fixed_ready`](Self::fixed_ready).
    pub(crate) fn watch_fixed(
        &mut self,
        fd: BorrowedFd<'_>,
        interest: Interest,
        token: usize,
    ) -> io::Result<()> {
        debug_assert!(token < FIRST_KEY_TOKEN, "fixed tokens are below the keys");
        self.selector
            .register(fd, interest, Token(token))
            .map_err(io::Error::from)?;
        Ok(())
    }

    /// Stops watching a descriptor registered with [`watch_fixed`](Self::watch_fixed).
    pub(crate) fn unwatch_fixed(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.selector.unregister(fd).map_err(io::Error::from)?;
        Ok(())
    }

    /// Adds a connection watched for `interest` (`None`: not watched yet) and returns its key.
    ///
    /// # Errors
    ///
    /// The selector's error, with the entry given back.
    pub(crate) fn insert(
        &mut self,
        entry: E,
        interest: Option<Interest>,
    ) -> Result<usize, (E, io::Error)> {
        let vacant = self.slots.vacant_entry();
        let key = vacant.key();
        if let Some(interest) = interest {
            if let Err(error) =
                self.selector
                    .register(entry.as_fd(), interest, Token(key + FIRST_KEY_TOKEN))
            {
                return Err((entry, io::Error::from(error)));
            }
        }
        vacant.insert(Slot {
            entry,
            registered: interest,
            deadline: None,
            armed: None,
        });
        Ok(key)
    }

    /// The key the next [`insert`](Self::insert) will use.
    pub(crate) fn next_key(&self) -> usize {
        self.slots.vacant_key()
    }

    /// Removes a connection (unregistering it) and returns it.
    pub(crate) fn remove(&mut self, key: usize) -> Option<E> {
        let slot = self.slots.try_remove(key)?;
        if slot.registered.is_some() {
            if let Err(error) = self.selector.unregister(slot.entry.as_fd()) {
                tracing::debug!(%error, "unregistering a connection");
            }
        }
        Some(slot.entry)
    }

    /// The connection under `key`.
    #[inline]
    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut E> {
        self.slots.get_mut(key).map(|slot| &mut slot.entry)
    }

    /// Changes what the selector watches for (`None`: nothing; the connection stays).
    ///
    /// # Errors
    ///
    /// The selector's error (the registration is unchanged).
    #[inline]
    pub(crate) fn set_interest(
        &mut self,
        key: usize,
        interest: Option<Interest>,
    ) -> io::Result<()> {
        let Some(slot) = self.slots.get_mut(key) else {
            return Ok(());
        };
        if slot.registered == interest {
            return Ok(());
        }
        let fd = slot.entry.as_fd();
        let token = Token(key + FIRST_KEY_TOKEN);
        match (slot.registered, interest) {
            (None, Some(want)) => self.selector.register(fd, want, token).map(drop),
            (Some(_), Some(want)) => self.selector.modify(fd, want, token).map(drop),
            (Some(_), None) => self.selector.unregister(fd).map(drop),
            (None, None) => Ok(()),
        }
        .map_err(io::Error::from)?;
        slot.registered = interest;
        Ok(())
    }

    /// Sets when the connection runs out of time (`None`: never). Moving a deadline later costs
    /// nothing here; the heap catches up when the earlier record comes due.
    #[inline]
    pub(crate) fn set_deadline(&mut self, key: usize, deadline: Option<Instant>) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        slot.deadline = deadline;
        if let Some(at) = deadline {
            if slot.armed.is_none_or(|armed| at < armed.at) {
                slot.armed = Some(self.timers.arm(key, at));
            }
        }
    }

    /// Waits for readiness, the waker, or the earliest deadline, but no longer than `limit`.
    ///
    /// # Errors
    ///
    /// The selector's error.
    pub(crate) fn wait(&mut self, limit: Option<Duration>) -> io::Result<()> {
        let until_deadline = self
            .timers
            .next()
            .map(|at| at.saturating_duration_since(Instant::now()));
        let timeout = match (until_deadline, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.selector.select(&mut self.events, timeout)?;
        self.ready.clear();
        self.fixed_ready.clear();
        for event in &self.events {
            if event.token().0 < FIRST_KEY_TOKEN {
                self.fixed_ready.push(event.token().0);
                continue;
            }
            self.ready.push(Ready {
                key: event.token().0 - FIRST_KEY_TOKEN,
                readable: event.is_readable(),
                writable: event.is_writable(),
            });
        }
        Ok(())
    }

    /// Whether the last wait was ended by the waker.
    pub(crate) fn woken(&self) -> bool {
        self.fixed_ready.contains(&WAKER_TOKEN)
    }

    /// The tokens of the owner's own descriptors that the last wait found ready.
    pub(crate) fn fixed_ready(&self) -> &[usize] {
        &self.fixed_ready
    }

    /// Whether the last wait found nothing at all (it timed out).
    pub(crate) fn found_nothing(&self) -> bool {
        self.ready.is_empty() && self.fixed_ready.is_empty()
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// What the last wait found ready. Keys may have been removed since.
    #[inline]
    pub(crate) fn ready(&self) -> &[Ready] {
        &self.ready
    }

    /// The next connection whose deadline has passed at `now`, if any. Its deadline is cleared.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<usize> {
        while let Some((key, record)) = self.timers.pop_due(now) {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            if slot.armed != Some(record) {
                continue; // stale: the slot was reused or re-armed earlier
            }
            slot.armed = None;
            match slot.deadline {
                Some(at) if at <= now => {
                    slot.deadline = None;
                    return Some(key);
                }
                Some(later) => slot.armed = Some(self.timers.arm(key, later)),
                None => {}
            }
        }
        None
    }

    /// The keys of every connection held now.
    pub(crate) fn keys(&self) -> Vec<usize> {
        self.slots.iter().map(|(key, _)| key).collect()
    }

    /// Takes every connection out (for a loop that is stopping).
    pub(crate) fn drain(&mut self) -> Vec<E> {
        self.keys()
            .into_iter()
            .filter_map(|key| self.remove(key))
            .collect()
    }
}

#[cfg(test)]
mod tests;
