//! Stopping a running loop from anywhere: the [`ShutdownHandle`].

use std::fmt;
use std::sync::Arc;
use std::thread::{self, ThreadId};

use parking_lot::{Condvar, Mutex};
use selectors::Waker;

/// A cloneable, `Send + Sync` handle that stops [`serve_forever`](crate::BaseServer::serve_forever).
///
/// Python's `BaseServer.shutdown()`, without its two traps:
///
/// * The loop does not poll a flag every half second: it sleeps in the selector on the listening
///   socket *and* a [`Waker`], so [`shutdown`](Self::shutdown) takes effect at once.
/// * Calling it from a handler that runs on the serving thread (a sequential server) does not
///   deadlock: the loop stops after the current request.
///
/// Calling it before any loop has started makes the next `serve_forever` return at once, exactly
/// once; calling it twice is harmless (the request is a flag, not a count).
///
/// # Examples
///
/// ```
/// use socketserver::{StreamRequest, ThreadingTcpServer};
///
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// handle.shutdown(); // returns once the loop has stopped (or at once if it had not started)
/// serving.join().unwrap()?;
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<LoopState>,
    stopped: Condvar,
    /// Wakes the loop to look at its state (capacity freed, and so on).
    waker: Waker,
    /// Readable means "stop": the loop drains it and stops. A descriptor, so that a handler in a
    /// forked child (which shares it but not our memory) can stop the server too.
    stop: Waker,
    /// The process that created the handle; any other is a forked child.
    pid: u32,
}

#[derive(Debug, Default)]
struct LoopState {
    /// A shutdown was asked for and no loop has consumed it yet.
    pending: bool,
    /// The thread running `serve_forever`, while one does.
    serving_thread: Option<ThreadId>,
}

impl ShutdownHandle {
    pub(crate) fn new(waker: Waker, stop: Waker) -> Self {
        ShutdownHandle {
            shared: Arc::new(Shared {
                state: Mutex::new(LoopState::default()),
                stopped: Condvar::new(),
                waker,
                stop,
                pid: std::process::id(),
            }),
        }
    }

    /// Stops `serve_forever` and waits until it has returned.
    ///
    /// * From another thread while the loop runs: wakes the loop and blocks until it has stopped
    ///   (a request being handled on the serving thread finishes first).
    /// * From the serving thread itself (a handler of a sequential server): does not wait; the
    ///   loop stops after the current request.
    /// * With no loop running: returns at once; the next `serve_forever` returns immediately,
    ///   once.
    /// * From a handler in a child forked by [`ForkingMixIn`](crate::ForkingMixIn): stops the
    ///   parent's loop and returns at once (it touches no lock, so it is safe after `fork`).
    pub fn shutdown(&self) {
        if std::process::id() != self.shared.pid {
            // A forked child: only the shared descriptor reaches the parent.
            let _ = self.shared.stop.wake();
            return;
        }
        let mut state = self.shared.state.lock();
        state.pending = true;
        tracing::info!("shutdown requested");
        if let Err(error) = self.shared.stop.wake() {
            // Only possible if the eventfd/pipe is gone; the flag is still seen on the next wake.
            tracing::warn!(%error, "could not wake the server loop");
        }
        let me = thread::current().id();
        while let Some(serving) = state.serving_thread {
            if serving == me {
                break;
            }
            self.shared.stopped.wait(&mut state);
        }
    }

    /// Asks the loop to stop without waiting for it (for the framework's own threads, which
    /// the loop's end may be waiting for).
    pub(crate) fn request_stop(&self) {
        self.shared.state.lock().pending = true;
        if let Err(error) = self.shared.stop.wake() {
            tracing::warn!(%error, "could not wake the server loop");
        }
    }

    /// Whether a `serve_forever` loop is running now (for a caller that must wait until the
    /// server serves, e.g. a test).
    pub fn is_serving(&self) -> bool {
        self.shared.state.lock().serving_thread.is_some()
    }

    /// Whether a shutdown was asked for and not yet consumed by a loop.
    pub fn is_shutdown_requested(&self) -> bool {
        self.shared.state.lock().pending
    }

    pub(crate) fn waker(&self) -> &Waker {
        &self.shared.waker
    }

    /// Records a stop request that arrived through the stop descriptor.
    pub(crate) fn stop_signalled(&self) {
        let _ = self.shared.stop.drain();
        self.shared.state.lock().pending = true;
    }

    /// Marks a loop as running on this thread; `None` if a pending shutdown means it must not run.
    pub(crate) fn enter_loop(&self) -> Option<LoopGuard<'_>> {
        let mut state = self.shared.state.lock();
        if state.pending {
            state.pending = false;
            let _ = self.shared.stop.drain();
            tracing::info!("shutdown was requested before the loop started: returning at once");
            return None;
        }
        state.serving_thread = Some(thread::current().id());
        Some(LoopGuard { handle: self })
    }

    /// Consumes a pending shutdown request, if any.
    pub(crate) fn take_pending(&self) -> bool {
        std::mem::take(&mut self.shared.state.lock().pending)
    }
}

/// Ends the "loop running" state when `serve_forever` returns, however it returns.
pub(crate) struct LoopGuard<'a> {
    handle: &'a ShutdownHandle,
}

impl Drop for LoopGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.handle.shared.state.lock();
        // A shutdown asked for while this loop ran was meant for this loop.
        state.pending = false;
        let _ = self.handle.shared.stop.drain();
        state.serving_thread = None;
        self.handle.shared.stopped.notify_all();
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("state", &*self.shared.state.lock())
            .finish_non_exhaustive()
    }
}
