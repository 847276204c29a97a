//! The [`Request`] trait: what a transport hands to a handler, and how it ends.

use std::fmt::Debug;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::drain::Liveness;
use crate::request::stream_socket::Handshake;
use crate::shutdown::ShutdownHandle;

/// One request as a handler sees it: a connection (stream transports) or a datagram.
///
/// Implemented by [`StreamRequest`](crate::StreamRequest). The framework calls, in order:
/// [`prepare`](Self::prepare) (Python's `StreamRequestHandler.setup`: apply timeouts and
/// socket options), the handler's `setup`/`handle`/`finish`, [`complete`](Self::complete)
/// (Python's `StreamRequestHandler.finish`: flush what the handler wrote), and finally
/// exactly one of [`shutdown_request`](Self::shutdown_request) or
/// [`close_request`](Self::close_request), which consume the request.
pub trait Request: Send + Sized + 'static {
    /// The client's address type.
    type Address: Clone + Debug + Send + Sync + 'static;

    /// The client's address.
    fn client_address(&self) -> &Self::Address;

    /// The handle that stops the server this request came from.
    fn shutdown_handle(&self) -> &ShutdownHandle;

    /// Applies per-request settings before the handler runs.
    ///
    /// # Errors
    ///
    /// The OS error of a failed `setsockopt(2)`, or a request the handler must not see (e.g.
    /// [`RequestError::DatagramTooLarge`](crate::RequestError::DatagramTooLarge)); the handler is then not
    /// run and the error goes to `handle_error`.
    fn prepare(&mut self) -> Result<(), crate::error::RequestError> {
        Ok(())
    }

    /// Completes the request after the handler's `finish` (flushes buffered output).
    ///
    /// # Errors
    ///
    /// An OS error other than the peer having gone away.
    fn complete(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Ends the request: half-closes the connection so the client sees EOF, then closes it.
    /// Called exactly once per request that the server handled or rejected.
    fn shutdown_request(self) {
        self.close_request();
    }

    /// Closes the request without a shutdown (e.g. the parent's copy after a fork).
    fn close_request(self);

    /// Whether the request is a connection (counted against [`Limits`](crate::Limits)); a
    /// datagram is not. Default: `false`.
    fn is_connection(&self) -> bool {
        false
    }

    /// The client's IP address, for per-source limits; `None` for Unix sockets. Default:
    /// `None`.
    fn source_ip(&self) -> Option<std::net::IpAddr> {
        None
    }

    /// Takes back the handler's request to park (see
    /// [`StreamRequest::park`](crate::StreamRequest::park)): `true` once after the handler
    /// asked. Called by the framework after `setup` and after each `handle`. Default: `false`,
    /// a request type that cannot park.
    fn take_park_request(&mut self) -> bool {
        false
    }

    /// The connection's descriptor, watched for input while the request is parked. Default:
    /// `None`.
    fn parking_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// The request's socket, shared, for a loop that must keep it registered (and open) after
    /// the request itself has closed: a coroutine's loop. Default: `None`.
    #[doc(hidden)]
    fn shared_socket(&self) -> Option<Arc<dyn AsFd + Send + Sync>> {
        None
    }

    /// Whether an opening handshake (TLS) must finish before the handler runs: the request
    /// waits for it parked, as for input. Default: `false`.
    #[doc(hidden)]
    fn handshaking(&self) -> bool {
        false
    }

    /// Moves the opening handshake on without waiting. Default: done.
    ///
    /// # Errors
    ///
    /// Why it failed.
    #[doc(hidden)]
    fn advance_handshake(&mut self) -> io::Result<Handshake> {
        Ok(Handshake::Done)
    }

    /// When the opening handshake must be over. Default: `None`.
    #[doc(hidden)]
    fn handshake_deadline(&self) -> Option<Instant> {
        None
    }

    /// Whether input is already buffered (a parked request with buffered input runs again at
    /// once). Default: `false`.
    fn has_buffered_input(&self) -> bool {
        false
    }

    /// A handler's turn (`handle`) is about to start: the framing it parked with is used up.
    /// Default: nothing.
    #[doc(hidden)]
    fn begin_turn(&mut self) {}

    /// A handler's turn ended. Default: nothing.
    #[doc(hidden)]
    fn end_turn(&mut self) {}

    /// The strategy parks connections: output the socket does not take at once is kept (up to
    /// a bound) for the parker to send. Default: nothing (every write waits).
    #[doc(hidden)]
    fn defer_output(&mut self) {}

    /// Whether output is kept that the peer has not taken yet. Default: `false`.
    #[doc(hidden)]
    fn has_pending_output(&self) -> bool {
        false
    }

    /// Sends kept output without waiting; returns when the write timeout ends the wait for
    /// the rest (`None`: nothing is left, or no timeout). Default: `Ok(None)`.
    ///
    /// # Errors
    ///
    /// The socket's error, or the write timeout, passed by `now`.
    #[doc(hidden)]
    fn send_pending_output(&mut self, now: Instant) -> io::Result<Option<Instant>> {
        let _ = now;
        Ok(None)
    }

    /// Whether the handler parked with a framing: the parker gathers its next message.
    /// Default: `false`.
    #[doc(hidden)]
    fn gathers(&self) -> bool {
        false
    }

    /// Gathers what has arrived, without waiting; `true` when the handler can run. Default:
    /// `true`.
    #[doc(hidden)]
    fn gather(&mut self) -> bool {
        true
    }

    /// When a gathering request parked at `parked_at` runs out of time. Default: `None`.
    #[doc(hidden)]
    fn gather_deadline(&mut self, parked_at: Instant) -> Option<Instant> {
        let _ = parked_at;
        None
    }

    /// The gathering deadline passed: `true` when a message was in flight (the handler runs
    /// and learns of the timeout from its next read), `false` when the request was idle (it
    /// ends). Default: `false`.
    #[doc(hidden)]
    fn gather_expired(&mut self, now: Instant) -> bool {
        let _ = now;
        false
    }

    /// Whether the request closes in steps ([`begin_close`](Self::begin_close), then a linger
    /// over its [`parking_fd`](Self::parking_fd) that looks without waiting, then
    /// `close_request`), so that a parker can do the waiting; otherwise
    /// [`shutdown_request`](Self::shutdown_request) closes it in one call. Default: `false`.
    #[doc(hidden)]
    fn closes_in_steps(&self) -> bool {
        false
    }

    /// The request is over and its output sent: half-closes it and says how long to linger
    /// (discarding input until the peer has acknowledged what we sent), if at all. Default:
    /// `None`.
    #[doc(hidden)]
    fn begin_close(&mut self) -> Option<Duration> {
        None
    }

    /// Whether any input has arrived (the timeout while parked is the first-byte one until
    /// then). Default: `true`.
    fn has_received_input(&self) -> bool {
        true
    }

    /// How long the request may wait for input while parked before it is closed. Default:
    /// `None`, no limit.
    fn idle_timeout(&self) -> Option<Duration> {
        None
    }

    /// Gives the request its connection's drain state (the framework calls this before
    /// `prepare`). Stream requests make their reader drain-aware with it. Default: ignores it.
    #[doc(hidden)]
    fn attach_liveness(&mut self, liveness: Arc<Liveness>) {
        let _ = liveness;
    }

    /// Where the connection records the bytes it carried as it closes (`None`: nowhere, e.g.
    /// the parent's copy after a fork, whose child serves the connection). The framework
    /// sets it once per connection. Default: ignores it.
    #[doc(hidden)]
    fn count_traffic_in(&mut self, liveness: Option<Arc<Liveness>>) {
        let _ = liveness;
    }

    /// The bytes a request that is not a connection carried, received and sent (a datagram
    /// and its answer), once it is complete. Default: none.
    #[doc(hidden)]
    fn message_traffic(&self) -> (u64, u64) {
        (0, 0)
    }

    /// The request is parked: free what it does not need while it waits (an empty read
    /// buffer). Default: nothing.
    #[doc(hidden)]
    fn release_idle_buffers(&mut self) {}

    /// Takes the client address a PROXY protocol header carried; `false` when this request's
    /// address type cannot hold it (it keeps its own). Default: `false`.
    #[doc(hidden)]
    fn apply_proxied_source(&mut self, source: std::net::SocketAddr) -> bool {
        let _ = source;
        false
    }
}
