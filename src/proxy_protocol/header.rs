//! [`ProxyHeader`] and [`ProxyError`]: what a PROXY header says, or why it is not one.

use std::net::SocketAddr;

/// What a PROXY protocol header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// The balancer relays a client: `source` is the client, `destination` the address it
    /// connected to.
    Proxied {
        /// The real client.
        source: SocketAddr,
        /// Where the client connected (the balancer's frontend).
        destination: SocketAddr,
    },
    /// v2 `LOCAL`: the balancer's own connection (a health check); serve it with the
    /// balancer's address.
    Local,
    /// v1 `UNKNOWN`, or v2 with an address family we do not map to a `SocketAddr` (Unix,
    /// unspecified): the connection is relayed, the client's address is not known.
    Unknown,
}

/// Why bytes are not a valid PROXY header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The bytes start with neither signature (`PROXY ` nor the v2 binary one).
    #[error("not a PROXY protocol header")]
    NotProxy,
    /// A v1 (text) header that breaks the format.
    #[error("malformed PROXY v1 header: {0}")]
    BadV1(&'static str),
    /// A v2 (binary) header that breaks the format.
    #[error("malformed PROXY v2 header: {0}")]
    BadV2(&'static str),
}
