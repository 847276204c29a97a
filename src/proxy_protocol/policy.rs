//! [`ProxyPolicy`] and [`TrustedNetwork`]: which peers must send a PROXY header, and how long
//! they have.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::ip_prefix::ip_prefix;

/// A network in CIDR form (`10.0.0.0/8`, `::1/128`): the balancers a server trusts to say who
/// the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedNetwork {
    address: IpAddr,
    prefix: u8,
}

impl TrustedNetwork {
    /// The network of `address`'s first `prefix` bits (capped at 32 or 128).
    pub fn new(address: IpAddr, prefix: u8) -> Self {
        let max = if address.is_ipv4() { 32 } else { 128 };
        TrustedNetwork {
            address,
            prefix: prefix.min(max),
        }
    }

    /// Whether `ip` is in the network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let same_family = self.address.is_ipv4() == ip.to_canonical().is_ipv4();
        same_family
            && ip_prefix(self.address, self.prefix, self.prefix)
                == ip_prefix(ip, self.prefix, self.prefix)
    }
}

impl FromStr for TrustedNetwork {
    type Err = String;

    /// `ADDRESS/PREFIX`, or a bare address (a single host).
    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not ADDRESS/PREFIX (e.g. 10.0.0.0/8)"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|bits| *bits <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(TrustedNetwork { address, prefix })
    }
}

impl fmt::Display for TrustedNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Requires a PROXY protocol header (v1 or v2, detected) at the start of every connection from
/// a trusted network (a load balancer), before anything else sees the connection: the address
/// it carries becomes the client address that handlers, `verify_request`, per-source limits
/// and logs see. A v2 `LOCAL` header (a health check) keeps the balancer's own address.
///
/// Connections from other networks, headers that are malformed, and headers that do not
/// arrive within [`timeout`](Self::timeout) are closed at once and counted
/// ([`ServerStats::refused_proxy`](crate::ServerStats::refused_proxy)); the server goes on.
/// The header is read while the connection waits in the serving loop's selector (no thread is
/// held), and only its bytes are consumed: what follows is the handler's.
///
/// Set on a TCP transport with
/// [`TcpSocket::set_proxy_protocol`](crate::TcpSocket::set_proxy_protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPolicy {
    /// The networks whose connections must carry a header (and may). Default: loopback
    /// (`127.0.0.1/32`, `::1/128`), where a local HAProxy runs.
    pub trusted: Vec<TrustedNetwork>,
    /// How long a trusted peer has to send its whole header. Default 3 s.
    pub timeout: Duration,
}

impl Default for ProxyPolicy {
    fn default() -> Self {
        ProxyPolicy {
            trusted: vec![
                TrustedNetwork::new(IpAddr::from([127, 0, 0, 1]), 32),
                TrustedNetwork::new(IpAddr::from(std::net::Ipv6Addr::LOCALHOST), 128),
            ],
            timeout: Duration::from_secs(3),
        }
    }
}

impl ProxyPolicy {
    /// Whether `ip` is a trusted balancer.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|network| network.contains(ip))
    }
}
