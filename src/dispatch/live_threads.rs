//! [`LiveThreads`]: a count of a strategy's threads that are still running.

use std::io;
use std::sync::Arc;
use std::thread::{Builder, JoinHandle};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// Counts the threads spawned through it until each ends (a guard in the thread decrements it
/// on the way out, unwinding included), so a strategy can say what outlived `server_close`,
/// and wait for its threads with a deadline (a `JoinHandle` has none).
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveThreads {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    count: Mutex<usize>,
    changed: Condvar,
}

struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        *self.0.count.lock() -= 1;
        self.0.changed.notify_all();
    }
}

impl LiveThreads {
    /// Spawns `body` on `builder`'s thread, counted while it runs.
    pub(crate) fn spawn<F>(&self, builder: Builder, body: F) -> io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        *self.shared.count.lock() += 1;
        let alive = Alive(Arc::clone(&self.shared));
        // On a failed spawn the closure (and the guard in it) is dropped: the count is undone.
        builder.spawn(move || {
            let _alive = alive;
            body();
        })
    }

    /// Threads running now.
    pub(crate) fn count(&self) -> usize {
        *self.shared.count.lock()
    }

    /// Waits until no thread runs, or `deadline` passes; returns whether none runs.
    pub(crate) fn wait_none(&self, deadline: Instant) -> bool {
        let mut count = self.shared.count.lock();
        while *count > 0 {
            if self
                .shared
                .changed
                .wait_until(&mut count, deadline)
                .timed_out()
            {
                return *count == 0;
            }
        }
        true
    }
}
