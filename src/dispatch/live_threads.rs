//! [`LiveThreads`]: a count of a strategy's threads that are still running.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{Builder, JoinHandle};

/// Counts the threads spawned through it until each ends (a guard in the thread decrements it
/// on the way out, unwinding included), so a strategy can say what outlived `server_close`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveThreads {
    count: Arc<AtomicUsize>,
}

struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LiveThreads {
    /// Spawns `body` on `builder`'s thread, counted while it runs.
    pub(crate) fn spawn<F>(&self, builder: Builder, body: F) -> io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.count.fetch_add(1, Ordering::SeqCst);
        let alive = Alive(Arc::clone(&self.count));
        // On a failed spawn the closure (and the guard in it) is dropped: the count is undone.
        builder.spawn(move || {
            let _alive = alive;
            body();
        })
    }

    /// Threads running now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}
