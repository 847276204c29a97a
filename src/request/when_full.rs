//! [`WhenFull`] and [`Written`]: what a write from elsewhere does when the connection's
//! peer does not read, and what it did.

/// What a write through a [`ConnectionHandle`](crate::ConnectionHandle) or a
/// [`ConnectionWriter`](crate::ConnectionWriter) does when the connection's output is past its
/// high watermark — its peer reads slower than others write to it. Every choice keeps the
/// server's memory bounded; they differ in who loses. A write into an empty output is always
/// taken, whatever its size.
///
/// | policy | the write | the connection | for |
/// |---|---|---|---|
/// | `Refuse` | not taken: [`HandleError::Full`](crate::HandleError::Full) | stays | a caller that can wait, retry or tell its own user |
/// | `Drop` | dropped: `Ok(Written::Dropped)` | stays | lossy feeds (presence, progress, metrics) where the next message supersedes this one |
/// | `Disconnect` | not taken: [`HandleError::Disconnected`](crate::HandleError::Disconnected) | aborted | chat and pub/sub: a consumer that cannot keep up is dropped (Redis' `client-output-buffer-limit`) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WhenFull {
    /// Do not take the write: it fails with [`HandleError::Full`](crate::HandleError::Full).
    Refuse,
    /// Drop the write silently (it returns [`Written::Dropped`]).
    Drop,
    /// Abort the connection (its pending output is dropped, the peer sees it end): the write
    /// fails with [`HandleError::Disconnected`](crate::HandleError::Disconnected).
    Disconnect,
}

/// What became of a write that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Written {
    /// Taken: sent, or queued to be sent in order.
    Queued,
    /// Dropped under [`WhenFull::Drop`]: the connection's output was full.
    Dropped,
}
