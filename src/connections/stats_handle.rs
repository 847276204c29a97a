//! [`StatsHandle`]: a server's counters, readable from any thread.

use std::fmt;
use std::sync::Arc;

use crate::connections::Registry;
use crate::stats::ServerStats;

/// Reads a server's [`ServerStats`] from any thread (a metrics exporter, a test), while the
/// server serves. Cheap to clone; `Send + Sync`. From
/// [`BaseServer::stats_handle`](crate::BaseServer::stats_handle).
#[derive(Clone)]
pub struct StatsHandle {
    registry: Arc<Registry>,
}

impl StatsHandle {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        StatsHandle { registry }
    }

    /// A snapshot of the counters (one short lock).
    pub fn stats(&self) -> ServerStats {
        self.registry.stats()
    }
}

impl fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsHandle")
            .field("stats", &self.stats())
            .finish()
    }
}
