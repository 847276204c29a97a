//! [`Limits`]: how many connections a server holds, in all and per source, and what happens
//! past the bound.

/// Bounds on open connections, for every strategy and stream transport. Set them with
/// [`BaseServer::set_limits`](crate::BaseServer::set_limits); read what they did in
/// [`ServerStats`](crate::ServerStats).
///
/// | field | default | meaning |
/// |---|---|---|
/// | `max_connections` | `None` | open connections at most; past it, [`overload`](Self::overload) decides |
/// | `max_per_source` | `None` | open connections from one source at most; the next is closed at once |
/// | `overload` | [`Overload::Wait`] | at `max_connections`: stop accepting, or accept and close |
/// | `ipv4_source_prefix` | 32 | IPv4 addresses that count as one source (a /32: one address) |
/// | `ipv6_source_prefix` | 64 | IPv6 addresses that count as one source (a /64: one site, as a host gets a /64) |
/// | `descriptor_reserve` | 32 | stop accepting while open descriptors are within this many of `RLIMIT_NOFILE` |
///
/// The descriptor reserve acts before `accept(2)` fails with `EMFILE`: the server counts the
/// descriptors it had when serving started plus the connections it holds, and pauses accepting
/// (new clients wait in the kernel's backlog) while that comes within the reserve of the soft
/// limit, so the descriptors the application still needs (a log file, a database connection)
/// are there. [`raise_fd_limit`](crate::raise_fd_limit) lifts the soft limit to the hard one.
///
/// Datagram transports have no connections: these bounds do not apply to them.
///
/// # Examples
///
/// ```
/// use socketserver::{Limits, Overload, StreamRequest, ThreadingTcpServer};
///
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// server.set_limits(Limits {
///     max_connections: Some(10_000),
///     max_per_source: Some(64),
///     overload: Overload::Refuse,
///     ..Limits::default()
/// });
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most connections open at once; `None` for no bound.
    pub max_connections: Option<usize>,
    /// The most connections open at once from one source; `None` for no bound.
    pub max_per_source: Option<usize>,
    /// What happens to a connection past `max_connections`.
    pub overload: Overload,
    /// How many leading bits of an IPv4 address make a source (0–32).
    pub ipv4_source_prefix: u8,
    /// How many leading bits of an IPv6 address make a source (0–128).
    pub ipv6_source_prefix: u8,
    /// Descriptors kept free below `RLIMIT_NOFILE`: accepting pauses while the server's open
    /// descriptors come within this many of it.
    pub descriptor_reserve: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: None,
            max_per_source: None,
            overload: Overload::Wait,
            ipv4_source_prefix: 32,
            ipv6_source_prefix: 64,
            descriptor_reserve: 32,
        }
    }
}

/// What a server at [`Limits::max_connections`] does with more clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overload {
    /// Stop accepting: newcomers wait in the kernel's listen backlog and are served as slots
    /// free up (their `connect` succeeds; their first answer waits). The default.
    #[default]
    Wait,
    /// Accept and close at once (the client reads end-of-file), counted in
    /// [`ServerStats::refused_at_limit`](crate::ServerStats::refused_at_limit).
    Refuse,
}
