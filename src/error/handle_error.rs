//! [`HandleError`]: why a [`ConnectionHandle`](crate::ConnectionHandle) or a
//! [`ConnectionWriter`](crate::ConnectionWriter) did not take a write.

/// Why a write through a [`ConnectionHandle`](crate::ConnectionHandle) or a
/// [`ConnectionWriter`](crate::ConnectionWriter) was not taken. Nothing of the write was
/// sent or queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The connection has ended (or is ending): there is no one to write to.
    #[error("the connection is closed")]
    Closed,
    /// The connection's output is past its high watermark, and the write asked
    /// [`WhenFull::Refuse`](crate::WhenFull::Refuse): try again later, or give up.
    #[error("the connection's output is past its high watermark")]
    Full,
    /// The connection's output was past its high watermark, and the write asked
    /// [`WhenFull::Disconnect`](crate::WhenFull::Disconnect): the connection is being closed.
    #[error("the connection's output was past its high watermark: disconnected")]
    Disconnected,
}
