//! [`ConnectionGuard`]: one open connection's place in the server's counts.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::connections::Registry;
use crate::drain::Liveness;
use crate::stats::CloseReason;

/// One open connection's place in its server's counts (`open`, per source, parked). Dropping
/// it releases the place, counts the connection's [`CloseReason`], and wakes a loop that waits
/// for a free slot; it travels with the connection, so a panic anywhere cannot leak a slot.
/// Opaque: strategies only move it (a forking parent keeps its child's until the child ends).
pub struct ConnectionGuard {
    registry: Arc<Registry>,
    /// The connection's place among the registry's drain entries.
    key: usize,
    liveness: Arc<Liveness>,
    source: Option<IpAddr>,
    reason: CloseReason,
    parked: bool,
    /// Turned away before it was served: counted as refused, not closed.
    refused: bool,
}

impl ConnectionGuard {
    pub(crate) fn new(
        registry: Arc<Registry>,
        source: Option<IpAddr>,
        key: usize,
        liveness: Arc<Liveness>,
    ) -> Self {
        ConnectionGuard {
            registry,
            key,
            liveness,
            source,
            reason: CloseReason::Completed,
            parked: false,
            refused: false,
        }
    }

    /// Records why the connection ends (the last call wins).
    pub(crate) fn set_reason(&mut self, reason: CloseReason) {
        self.reason = reason;
    }

    /// Marks the connection as turned away (by `verify_request`): it is counted there, not
    /// among the closed ones.
    pub(crate) fn refuse(mut self) {
        self.refused = true;
    }

    /// Why the connection ends, as recorded so far (a drain's part in it included).
    pub fn reason(&self) -> CloseReason {
        match self.reason {
            CloseReason::Panicked => CloseReason::Panicked,
            _ if self.liveness.was_forced() => CloseReason::ServerClosing,
            // Closed at a boundary by the drain: idle, unless it served a message meanwhile
            // (then the drain let that message finish, and the connection finished).
            CloseReason::Completed | CloseReason::ServerClosing
                if self.liveness.closed_as_idle() =>
            {
                match self.liveness.served_while_draining() {
                    true => CloseReason::Completed,
                    false => CloseReason::Drained,
                }
            }
            reason => reason,
        }
    }

    /// The connection's drain state.
    pub(crate) fn liveness(&self) -> &Arc<Liveness> {
        &self.liveness
    }

    /// Records whether the connection is parked now.
    pub(crate) fn set_parked(&mut self, parked: bool) {
        if self.parked != parked {
            self.parked = parked;
            self.registry.parked_changed(parked);
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.set_parked(false);
        let reason = (!self.refused).then(|| self.reason());
        self.registry.release(self.key, self.source, reason);
    }
}

impl fmt::Debug for ConnectionGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionGuard")
            .field("source", &self.source)
            .field("reason", &self.reason)
            .field("parked", &self.parked)
            .finish_non_exhaustive()
    }
}
