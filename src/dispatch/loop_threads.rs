//! [`LoopThreads`]: the loop threads of a strategy that spreads connections over a few loops
//! (the event loops, the coroutine loops), each with its mailbox.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::dispatch::LiveThreads;
use crate::reactor::Mailbox;

/// N named threads, each running a loop fed through its own [`Mailbox`]; connections go to
/// them in turn.
pub(crate) struct LoopThreads<M> {
    loops: Vec<LoopThread<M>>,
    next: usize,
}

struct LoopThread<M> {
    mailbox: Arc<Mailbox<M>>,
    thread: Option<JoinHandle<()>>,
}

impl<M: Send + 'static> LoopThreads<M> {
    /// None yet: they start with the first connection.
    pub(crate) fn new() -> Self {
        LoopThreads {
            loops: Vec::new(),
            next: 0,
        }
    }

    /// Starts `count` threads named `<name>-<n>`, counted by `live`; thread `n` runs
    /// `body(n, its mailbox)`. A thread that cannot start is logged and left out.
    pub(crate) fn start<F>(&mut self, count: usize, name: &str, live: &LiveThreads, body: F)
    where
        F: Fn(usize, Arc<Mailbox<M>>) -> io::Result<()> + Send + Clone + 'static,
    {
        for n in 0..count {
            let mailbox = match Mailbox::new() {
                Ok(mailbox) => mailbox,
                Err(error) => {
                    tracing::error!(%error, "cannot create a loop's waker");
                    continue;
                }
            };
            let theirs = Arc::clone(&mailbox);
            let body = body.clone();
            let builder = thread::Builder::new().name(format!("{name}-{n}"));
            let spawned = live.spawn(builder, move || {
                if let Err(error) = body(n, theirs) {
                    tracing::error!(%error, "a loop thread stopped");
                }
            });
            match spawned {
                Ok(thread) => self.loops.push(LoopThread {
                    mailbox,
                    thread: Some(thread),
                }),
                Err(error) => tracing::error!(%error, "cannot spawn a loop thread"),
            }
        }
    }

    /// Loop threads started so far.
    pub(crate) fn len(&self) -> usize {
        self.loops.len()
    }

    /// Whether none runs.
    pub(crate) fn is_empty(&self) -> bool {
        self.loops.is_empty()
    }

    /// Posts `message` to the next loop in turn; gives it back when none runs.
    pub(crate) fn post_next(&mut self, message: M) -> Result<(), M> {
        if self.loops.is_empty() {
            return Err(message);
        }
        let index = self.next % self.loops.len();
        self.next = self.next.wrapping_add(1);
        self.loops[index].mailbox.post(message);
        Ok(())
    }

    /// Posts a message made by `message` to every loop.
    pub(crate) fn post_all(&self, message: impl Fn() -> M) {
        for loop_thread in &self.loops {
            loop_thread.mailbox.post(message());
        }
    }

    /// Posts `stop()` to every loop, then joins them all.
    pub(crate) fn stop_and_join(&mut self, stop: impl Fn() -> M) {
        self.post_all(stop);
        for mut loop_thread in self.loops.drain(..) {
            if let Some(thread) = loop_thread.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
