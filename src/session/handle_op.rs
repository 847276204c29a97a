//! [`HandleOp`]: what a [`ConnectionHandle`](crate::ConnectionHandle) asks of the loop that
//! holds its connection, and [`HandlePoster`], how it reaches that loop. Below the event
//! layer, so a session can take the operation without knowing the handle.

use std::any::Any;

/// What a handle asks of its connection's loop.
pub(crate) enum HandleOp {
    Write(Vec<u8>),
    Close,
    /// Abort: a write found the output full under `WhenFull::Disconnect`.
    Disconnect,
    /// A closure for the connection (the event layer's `CallSoon<T>` for its stream type).
    Call(Box<dyn Any + Send>),
}

/// Posts a handle's operation to the loop that holds the connection.
pub(crate) trait HandlePoster: Send + Sync {
    /// Posts `op` for the connection `id` under reactor key `key`.
    fn post(&self, key: usize, id: u64, op: HandleOp);
}
