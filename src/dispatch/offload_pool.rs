//! [`OffloadPool`]: the few helper threads that run what coroutines hand off
//! ([`coroutine::offload`](crate::coroutine::offload)).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use crate::dispatch::LiveThreads;

/// One piece of handed-off work, with what it does when done (tells its loop).
pub(crate) type Work = Box<dyn FnOnce() + Send>;

/// How long a helper thread waits for more work before it ends.
const IDLE_END: Duration = Duration::from_secs(10);

/// Up to `max` threads, started as work arrives and none is free, ending after
/// [`IDLE_END`] without work. Dropping the pool ends them once the queue is empty.
#[derive(Debug)]
pub(crate) struct OffloadPool {
    sender: Sender<Work>,
    receiver: Receiver<Work>,
    max: usize,
    /// Threads running, and of them those waiting for work.
    threads: std::sync::Arc<Counts>,
    live: LiveThreads,
    name: String,
}

#[derive(Debug, Default)]
struct Counts {
    running: AtomicUsize,
    idle: AtomicUsize,
}

impl OffloadPool {
    pub(crate) fn new(max: usize, name: String, live: LiveThreads) -> Self {
        let (sender, receiver) = unbounded();
        OffloadPool {
            sender,
            receiver,
            max: max.max(1),
            threads: std::sync::Arc::default(),
            live,
            name,
        }
    }

    /// Queues `work`, starting a thread for it if none is free and the bound allows.
    pub(crate) fn run(&self, work: Work) {
        // The pool holds a receiver, so the channel never disconnects while it lives.
        let _ = self.sender.send(work);
        if self.threads.idle.load(Ordering::SeqCst) > 0 {
            return;
        }
        let running = self.threads.running.load(Ordering::SeqCst);
        if running >= self.max
            || self
                .threads
                .running
                .compare_exchange(running, running + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            // At the bound (or another caller starts one now): queued for a running thread.
            return;
        }
        let receiver = self.receiver.clone();
        let counts = std::sync::Arc::clone(&self.threads);
        let builder = thread::Builder::new().name(format!("{}-{running}", self.name));
        let spawned = self.live.spawn(builder, move || {
            helper(&receiver, &counts);
            counts.running.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(error) = spawned {
            self.threads.running.fetch_sub(1, Ordering::SeqCst);
            tracing::error!(%error, "cannot start an offload thread; the work waits for a running one");
        }
    }
}

fn helper(receiver: &Receiver<Work>, counts: &Counts) {
    loop {
        counts.idle.fetch_add(1, Ordering::SeqCst);
        let next = receiver.recv_timeout(IDLE_END);
        counts.idle.fetch_sub(1, Ordering::SeqCst);
        match next {
            // The work catches its own panics (it reports them to its coroutine).
            Ok(work) => work(),
            Err(RecvTimeoutError::Timeout) if receiver.is_empty() => return,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
