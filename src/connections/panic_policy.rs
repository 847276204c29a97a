//! [`PanicPolicy`]: what a server does when a handler panics.

use std::time::Duration;

/// What a server does when a handler (or a hook, or a protocol callback) panics. Set it with
/// [`BaseServer::set_panic_policy`](crate::BaseServer::set_panic_policy).
///
/// Whatever the policy, the panicking connection is closed, `handle_error` is told, and every
/// slot the connection held (its limit counts, its parked registration) is released by a
/// guard, so a panic never wedges the server's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PanicPolicy {
    /// Close that connection, report it, go on (Python's behaviour, and the default).
    #[default]
    Isolate,
    /// Isolate, but when `panics` panics happen within `window`, stop the server:
    /// `serve_forever` returns [`Error::PanicBudgetExceeded`](crate::Error::PanicBudgetExceeded),
    /// so a supervisor can restart a process whose state may be inconsistent.
    Budget {
        /// Panics allowed within `window`; the next one stops the server.
        panics: u32,
        /// The sliding window.
        window: Duration,
    },
    /// Abort the process at the first panic (after logging it): for servers whose state a
    /// panic may have corrupted.
    Abort,
}
