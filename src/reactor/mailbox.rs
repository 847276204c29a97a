//! [`Mailbox`]: how other threads hand work to a loop thread, waking it only when it sleeps.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
use selectors::Waker;

use crate::reactor::Reactor;

/// A channel into a loop thread plus the waker registered in that thread's selector.
///
/// A wake-up is a system call on both sides, so senders only wake a loop that is about to sleep
/// or sleeping: the loop raises `sleeping` before it looks at the inbox one last time and waits;
/// a sender posts first, then lowers the flag, and wakes the loop only if the flag was up.
/// Either the loop sees the message in its last look, or the sender sees the flag.
#[derive(Debug)]
pub(crate) struct Mailbox<T> {
    sender: Sender<T>,
    receiver: Receiver<T>,
    waker: Waker,
    sleeping: AtomicBool,
}

impl<T> Mailbox<T> {
    /// A mailbox with a fresh waker.
    ///
    /// # Errors
    ///
    /// The OS error of creating the waker (eventfd or pipe).
    pub(crate) fn new() -> io::Result<Arc<Self>> {
        let (sender, receiver) = unbounded();
        Ok(Arc::new(Mailbox {
            sender,
            receiver,
            waker: Waker::new()?,
            sleeping: AtomicBool::new(false),
        }))
    }

    /// The waker, for the loop to register in its selector.
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Posts `message` and wakes the loop if it sleeps.
    pub(crate) fn post(&self, message: T) {
        // The mailbox owns the receiver, so the channel never disconnects.
        let _ = self.sender.send(message);
        self.wake();
    }

    /// Wakes the loop if it sleeps (e.g. to look at a flag).
    pub(crate) fn wake(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            if let Err(error) = self.waker.wake() {
                tracing::warn!(%error, "could not wake a loop thread");
            }
        }
    }

    /// The next message, without waiting.
    pub(crate) fn try_take(&self) -> Option<T> {
        self.receiver.try_recv().ok()
    }

    /// The loop's wait: sleeps in `reactor` until readiness, a deadline or a post; with mail
    /// already waiting, only polls readiness without blocking.
    ///
    /// # Errors
    ///
    /// The selector's error.
    pub(crate) fn wait<E: AsFd>(&self, reactor: &mut Reactor<E>) -> io::Result<()> {
        let limit = if self.going_to_sleep() {
            None
        } else {
            Some(Duration::ZERO)
        };
        let waited = reactor.wait(limit);
        self.awake(reactor.woken());
        waited
    }

    /// Called by the loop before it sleeps: `true` if it may sleep (nothing was posted).
    fn going_to_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.receiver.is_empty() {
            true
        } else {
            self.sleeping.store(false, Ordering::SeqCst);
            false
        }
    }

    /// Called by the loop after it wakes: marks it awake and clears the waker.
    fn awake(&self, woken: bool) {
        self.sleeping.store(false, Ordering::SeqCst);
        if woken {
            if let Err(error) = self.waker.drain() {
                tracing::warn!(%error, "could not clear a loop thread's waker");
            }
        }
    }
}
