//! HAProxy's PROXY protocol (v1 text and v2 binary): the header a load balancer puts before a
//! connection's bytes to say who the real client is. [`parse`] reads one; a [`ProxyPolicy`]
//! on a TCP transport makes the server require it from trusted balancers.

mod header;
mod parser;
mod policy;

pub use header::{ProxyError, ProxyHeader};
pub use parser::{parse, Parsed};
pub use policy::{ProxyPolicy, TrustedNetwork};

#[cfg(test)]
mod tests;
