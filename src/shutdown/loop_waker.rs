//! [`LoopWaker`]: lets a dispatch strategy wake the server loop.

use crate::shutdown::ShutdownHandle;

/// Wakes the server loop so it re-checks its state, e.g. after a strategy at its bound frees a
/// slot. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct LoopWaker {
    handle: ShutdownHandle,
}

impl LoopWaker {
    pub(crate) fn new(handle: ShutdownHandle) -> Self {
        LoopWaker { handle }
    }

    /// The first-byte grace of the server's drains (for a forking strategy's children).
    pub(crate) fn drain_grace(&self) -> std::time::Duration {
        self.handle.drain_options().first_byte_grace
    }

    /// The server's drain level (for an event loop's sessions).
    pub(crate) fn drain_progress(&self) -> std::sync::Arc<crate::drain::DrainProgress> {
        std::sync::Arc::clone(self.handle.drain_progress())
    }

    /// Makes the loop's current or next wait return at once. Never blocks.
    pub fn wake(&self) {
        if let Err(error) = self.handle.waker().wake() {
            tracing::warn!(%error, "could not wake the server loop");
        }
    }
}
