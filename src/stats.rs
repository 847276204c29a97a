//! [`ServerStats`] and [`CloseReason`]: what a server has done, cheaply.

use crate::drain::DrainReport;

/// A snapshot of a server's counters, from [`BaseServer::stats`](crate::BaseServer::stats) or a
/// [`StatsHandle`](crate::StatsHandle) (any thread). Counters only grow; `open`, `parked` are
/// the present.
///
/// Every connection is counted once in `accepted` and, once it ends, once in exactly one of the
/// `closed_*` counters or (if it was turned away) one of the `refused_*` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections open now (being served, parked, or on an event loop).
    pub open: usize,
    /// The most connections that were open at once.
    pub peak: usize,
    /// Parked connections now (waiting for input without a thread).
    pub parked: usize,
    /// Connections (and datagrams) accepted.
    pub accepted: u64,
    /// Connections closed at once because `max_connections` was reached with
    /// [`Overload::Refuse`](crate::Overload::Refuse).
    pub refused_at_limit: u64,
    /// Connections closed at once because their source had `max_per_source` open.
    pub refused_per_source: u64,
    /// Requests `verify_request` turned away.
    pub refused_by_verify: u64,
    /// Connections closed for the PROXY protocol: from an untrusted network, or with a header
    /// that was malformed or did not arrive in time.
    pub refused_proxy: u64,
    /// Connections that ended with their handler returning normally.
    pub closed_completed: u64,
    /// Connections ended by an error (the handler's, or the peer's, e.g. a reset).
    pub closed_error: u64,
    /// Connections ended by a panic in their handler.
    pub closed_panicked: u64,
    /// Connections closed after staying silent past their idle timeout.
    pub closed_idle_timeout: u64,
    /// Connections closed for sending nothing within their first-byte timeout.
    pub closed_first_byte_timeout: u64,
    /// Connections closed because the peer stopped reading past the write timeout.
    pub closed_write_timeout: u64,
    /// Connections closed because the server closed without a drain, or still open at a
    /// drain's deadline.
    pub closed_server_closing: u64,
    /// Connections a graceful drain closed while they were idle.
    pub closed_drained: u64,
    /// Connections whose message in flight took longer than the read timeout.
    pub closed_read_timeout: u64,
    /// Connections whose message in flight arrived slower than the minimum rate.
    pub closed_too_slow: u64,
    /// Handler panics (each also ended its connection).
    pub panics: u64,
    /// Times the loop paused accepting: out of descriptors or memory, at `max_connections`
    /// with [`Overload::Wait`](crate::Overload::Wait), or at the descriptor reserve.
    pub accept_pauses: u64,
    /// TLS connections that did not finish their handshake (or failed in TLS later), by why.
    pub closed_tls: TlsFailures,
    /// Handler runs: each call of a blocking handler's `handle`, whether it returned, failed
    /// or panicked — once per connection for a handler that does not park; for one that
    /// parks between messages, once per resume (each message, and the resume that finds the
    /// peer's end-of-file or a read timeout); once per datagram. Counted as the call starts,
    /// with one atomic add. Not counted: `setup` and `finish`, a connection turned away
    /// before its handler ran, a [`Protocol`](crate::Protocol)'s callbacks on an event loop
    /// (its own layer counts its messages: an HTTP server's request observer), and what a
    /// forked child ([`ForkingMixIn`](crate::ForkingMixIn)) runs: its counts stay in its own
    /// memory.
    pub requests: u64,
    /// Payload bytes received: a TCP connection's (for TLS, the records on the wire) counted
    /// once, from `TCP_INFO`, when it closes — so a connection still open has not added its
    /// bytes yet — and each datagram's as it arrives. Not counted: Unix-socket connections,
    /// connections turned away at accept, connections a forked child served, and TCP
    /// connections on platforms other than Linux.
    pub received_bytes: u64,
    /// Payload bytes sent, counted as [`received_bytes`](Self::received_bytes) is: a TCP
    /// connection's when it closes (what the kernel transmitted, retransmissions not counted
    /// twice, plus what it still held unsent then), and each datagram answer's as it is sent.
    pub sent_bytes: u64,
    /// Graceful drains finished (each
    /// [`ShutdownHandle::shutdown_gracefully`](crate::ShutdownHandle::shutdown_gracefully) or
    /// drain that ran to its end).
    pub drains: u64,
    /// The last finished drain's report, once one has finished.
    pub last_drain: Option<DrainReport>,
}

/// TLS connections closed for a failure of TLS itself, one counter per [`TlsFailure`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsFailures {
    /// The handshake was not over by its deadline (a silent or dripping client).
    pub handshake_timeout: u64,
    /// The client spoke something else than TLS (plaintext to a TLS port).
    pub not_tls: u64,
    /// The client closed before its first TLS byte (port scans, TCP health checks).
    pub closed_before_hello: u64,
    /// The client offered nothing this server accepts (versions, cipher suites, names).
    pub peer_incompatible: u64,
    /// The client's certificate was missing or not trusted.
    pub client_certificate_rejected: u64,
    /// The client sent an alert that ended the connection.
    pub alert_received: u64,
    /// Any other TLS failure (a record that does not decrypt, a protocol violation).
    pub other: u64,
}

impl TlsFailures {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.handshake_timeout
            + self.not_tls
            + self.closed_before_hello
            + self.peer_incompatible
            + self.client_certificate_rejected
            + self.alert_received
            + self.other
    }

    /// The counter of `failure`.
    pub(crate) fn counter(&mut self, failure: TlsFailure) -> &mut u64 {
        match failure {
            TlsFailure::HandshakeTimeout => &mut self.handshake_timeout,
            TlsFailure::NotTls => &mut self.not_tls,
            TlsFailure::ClosedBeforeHello => &mut self.closed_before_hello,
            TlsFailure::PeerIncompatible => &mut self.peer_incompatible,
            TlsFailure::ClientCertificateRejected => &mut self.client_certificate_rejected,
            TlsFailure::AlertReceived => &mut self.alert_received,
            TlsFailure::Other => &mut self.other,
        }
    }
}

/// Why TLS ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The handshake was not over by its deadline.
    HandshakeTimeout,
    /// The first bytes were not a TLS record (plaintext to a TLS port).
    NotTls,
    /// The peer closed before sending a TLS byte.
    ClosedBeforeHello,
    /// The peer offered nothing acceptable.
    PeerIncompatible,
    /// The client's certificate was missing or not trusted.
    ClientCertificateRejected,
    /// The peer sent a fatal alert.
    AlertReceived,
    /// Another TLS error.
    Other,
}

impl ServerStats {
    /// Every connection that has ended, whatever the reason: the sum of the `closed_*`
    /// counters.
    pub(crate) fn closed_total(&self) -> u64 {
        self.closed_completed
            + self.closed_error
            + self.closed_panicked
            + self.closed_idle_timeout
            + self.closed_first_byte_timeout
            + self.closed_write_timeout
            + self.closed_server_closing
            + self.closed_drained
            + self.closed_read_timeout
            + self.closed_too_slow
            + self.closed_tls.total()
    }
}

/// Why a connection ended: exactly one per connection, logged in its `request` span and counted
/// in [`ServerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The handler returned normally (on an event loop: the peer or the protocol closed).
    Completed,
    /// An error ended it (the handler's, or the peer's).
    Error,
    /// The handler panicked.
    Panicked,
    /// It stayed silent past its idle timeout.
    IdleTimeout,
    /// A message in flight took longer than the read timeout to arrive.
    ReadTimeout,
    /// A message in flight arrived slower than the minimum rate.
    TooSlow,
    /// It sent nothing within its first-byte timeout.
    FirstByteTimeout,
    /// Its peer stopped reading, with output pending, past the write timeout.
    WriteTimeout,
    /// The server closed it: it was waiting when the server closed without a drain, or still
    /// open at a drain's deadline.
    ServerClosing,
    /// A graceful drain closed it while it was idle (between messages, or silent past the
    /// first-byte grace).
    Drained,
    /// TLS failed (the handshake, or a record later).
    Tls(TlsFailure),
}
