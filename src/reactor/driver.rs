//! [`drive`]: the one loop over a [`Reactor`]. The parker, each event loop (and, through the
//! same reactor, the serving loop's PROXY stage) are kinds of [`Driver`]: what they hold and
//! what they do with an event, not loops of their own.

use std::io;
use std::os::fd::AsFd;
use std::time::Instant;

use crate::reactor::{Mailbox, Reactor, Ready};

/// Whether the loop goes on after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// What one kind of loop holds and does; [`drive`] runs it.
pub(crate) trait Driver {
    /// What the reactor holds (a parked job, an event session).
    type Entry: AsFd;
    /// What other threads post to the loop.
    type Message;

    /// Acts on a message from another thread (taken at `now`); [`Flow::Stop`] ends the loop.
    fn message(
        &mut self,
        reactor: &mut Reactor<Self::Entry>,
        message: Self::Message,
        now: Instant,
    ) -> Flow;

    /// The deadline of the entry under `key` passed (at `now`).
    fn expired(&mut self, reactor: &mut Reactor<Self::Entry>, key: usize, now: Instant);

    /// The entry under `ready.key` is ready (at `now`).
    fn ready(&mut self, reactor: &mut Reactor<Self::Entry>, ready: Ready, now: Instant);

    /// The loop stops: ends an entry it still held.
    fn end(&mut self, entry: Self::Entry);

    /// The loop stopped: a message that was still on its way (posted before the stop).
    fn leftover(&mut self, message: Self::Message);
}

/// Runs `driver` on this thread until a message says stop (or the selector fails): takes the
/// mail, expires deadlines, waits for readiness, a deadline or mail, acts on what is ready;
/// at the stop, ends every entry held and every one still in the mailbox.
pub(crate) fn drive<D: Driver>(
    mailbox: &Mailbox<D::Message>,
    capacity: usize,
    driver: &mut D,
) -> io::Result<()> {
    let mut reactor: Reactor<D::Entry> = Reactor::new(capacity)?;
    reactor.watch_waker(mailbox.waker())?;
    let result = drive_until(&mut reactor, mailbox, driver, |_| false).map(drop);
    end_all(&mut reactor, mailbox, driver);
    result
}

/// The turns of [`drive`] on a reactor the caller keeps (registered with the mailbox's waker):
/// until a message says stop (`Ok(Flow::Stop)`), or until `yield_now` says the driver has
/// something to do elsewhere (`Ok(Flow::Continue)`: asked before each wait and after acting on
/// what was ready). For a loop that threads take turns to drive (the pool's leader).
pub(crate) fn drive_until<D: Driver>(
    reactor: &mut Reactor<D::Entry>,
    mailbox: &Mailbox<D::Message>,
    driver: &mut D,
    mut yield_now: impl FnMut(&mut D) -> bool,
) -> io::Result<Flow> {
    let mut expired = Vec::new();
    let mut ready = Vec::new();
    loop {
        // One clock read for the mail and the deadlines of this turn.
        let now = Instant::now();
        while let Some(message) = mailbox.try_take() {
            if driver.message(reactor, message, now) == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        // Collected first: acting on one may arm a deadline that is already due, which is
        // looked at on the next turn, not in this one.
        expired.clear();
        while let Some(key) = reactor.pop_expired(now) {
            expired.push(key);
        }
        for &key in &expired {
            driver.expired(reactor, key, now);
        }
        if yield_now(driver) {
            return Ok(Flow::Continue);
        }
        mailbox.wait(reactor)?;
        let now = Instant::now();
        ready.clear();
        ready.extend_from_slice(reactor.ready());
        for &event in &ready {
            driver.ready(reactor, event, now);
        }
        if yield_now(driver) {
            return Ok(Flow::Continue);
        }
    }
}

/// The end of a loop: ends every entry `reactor` still holds, then every message still in the
/// mailbox.
pub(crate) fn end_all<D: Driver>(
    reactor: &mut Reactor<D::Entry>,
    mailbox: &Mailbox<D::Message>,
    driver: &mut D,
) {
    let held = reactor.drain();
    if !held.is_empty() {
        tracing::debug!(
            connections = held.len(),
            "a loop stops: closing its connections"
        );
    }
    for entry in held {
        driver.end(entry);
    }
    while let Some(message) = mailbox.try_take() {
        driver.leftover(message);
    }
}
