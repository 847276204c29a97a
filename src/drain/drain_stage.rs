//! [`DrainStage`]: the steps of a graceful drain a dispatch strategy is told of.

/// A step of a graceful drain, for [`Dispatch::drain_idle`](crate::Dispatch::drain_idle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DrainStage {
    /// The drain began: connections that have spoken and wait between messages are idle.
    Began,
    /// The first-byte grace passed: every waiting connection is idle.
    GraceOver,
}
