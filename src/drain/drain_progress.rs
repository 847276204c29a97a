//! [`DrainProgress`]: how far the server's drain has gone — the one place that knows, shared
//! by the registry (which raises it), every connection's [`Liveness`](crate::drain::Liveness),
//! the event loops and the shutdown handle.

use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

/// How far a drain has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum DrainLevel {
    /// No drain.
    Serving = 0,
    /// Draining: a connection that has spoken and waits at a message boundary is idle.
    Draining = 1,
    /// The first-byte grace has passed: every waiting connection is idle.
    GraceOver = 2,
    /// The deadline has passed: everything is closed.
    Forced = 3,
}

impl DrainLevel {
    fn from_u8(level: u8) -> Self {
        match level {
            0 => DrainLevel::Serving,
            1 => DrainLevel::Draining,
            2 => DrainLevel::GraceOver,
            _ => DrainLevel::Forced,
        }
    }
}

/// The server's drain level. Only atomics, so a forked child's signal handler may raise its own.
#[derive(Debug, Default)]
pub(crate) struct DrainProgress {
    level: AtomicU8,
}

impl DrainProgress {
    /// A server's, not draining.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(DrainProgress::default())
    }

    pub(crate) fn level(&self) -> DrainLevel {
        DrainLevel::from_u8(self.level.load(SeqCst))
    }

    /// Raises the level to `level` (never lowers it); `true` when this raised it.
    pub(crate) fn raise(&self, level: DrainLevel) -> bool {
        self.level.fetch_max(level as u8, SeqCst) < level as u8
    }
}
