//! [`InHandler`]: marks the thread that runs a server's handler, so a drain asked for from
//! there does not wait for that very handler.

use std::cell::Cell;

use crate::shutdown::ShutdownHandle;

thread_local! {
    /// The server whose handler runs on this thread now (its shared state's address).
    static IN_HANDLER: Cell<usize> = const { Cell::new(0) };
}

/// Marks the current thread as running a handler of the server with this handle, while it
/// lives (a drain asked for from there must not wait for that handler).
pub(crate) struct InHandler {
    previous: usize,
}

impl InHandler {
    pub(crate) fn enter(handle: &ShutdownHandle) -> Self {
        InHandler {
            previous: IN_HANDLER.with(|cell| cell.replace(handle.id())),
        }
    }
}

impl InHandler {
    /// Whether the current thread runs a handler of the server whose handle has this `id`.
    pub(crate) fn is_in(id: usize) -> bool {
        IN_HANDLER.with(Cell::get) == id
    }
}

impl Drop for InHandler {
    fn drop(&mut self) {
        IN_HANDLER.with(|cell| cell.set(self.previous));
    }
}
