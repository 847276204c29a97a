//! [`DrainOptions`]: how a graceful drain treats connections that have not spoken yet.

use std::time::Duration;

/// Settings of a server's graceful drains
/// ([`BaseServer::set_drain_options`](crate::BaseServer::set_drain_options)).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`first_byte_grace`](Self::first_byte_grace) | 1 s | a connection that has sent nothing yet is not idle until this has passed since the drain began |
///
/// Why 1 s (Go waits 5 s): a client sends its first bytes one round trip after its `connect`
/// returns, well under a second on any network a server should be reachable over; waiting
/// longer only makes every drain with a silent client that much slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainOptions {
    /// How long a connection that has sent nothing is given to speak once a drain begins.
    pub first_byte_grace: Duration,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            first_byte_grace: Duration::from_secs(1),
        }
    }
}

impl DrainOptions {
    /// Sets [`first_byte_grace`](Self::first_byte_grace).
    pub fn with_first_byte_grace(mut self, grace: Duration) -> Self {
        self.first_byte_grace = grace;
        self
    }
}
