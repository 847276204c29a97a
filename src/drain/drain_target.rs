//! [`DrainTarget`]: what a drain tells at once when it begins or moves on.

use crate::drain::DrainLevel;

/// The server's connections, as the shutdown handle sees them: told when a drain begins and at
/// each of its steps (the registry implements it; the handle holds it weakly, below it).
pub(crate) trait DrainTarget: Send + Sync {
    /// The drain has reached `level`: every connection learns it now.
    fn advance_drain(&self, level: DrainLevel);
}
