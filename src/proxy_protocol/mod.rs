//! HAProxy's PROXY protocol (v1 text and v2 binary): the header a load balancer puts before a
//! connection's bytes to say who the real client is. The parser only; see [`parse`].

mod header;
mod parser;

pub use header::{ProxyError, ProxyHeader};
pub use parser::{parse, Parsed};

#[cfg(test)]
mod tests;
