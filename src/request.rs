//! The [`Request`] trait: what a transport hands to a handler, and how it ends.

use std::fmt::Debug;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::drain::Liveness;
use crate::ShutdownHandle;

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
    /// [`Error::DatagramTooLarge`](crate::Error::DatagramTooLarge)); the handler is then not
    /// run and the error goes to `handle_error`.
    fn prepare(&mut self) -> Result<(), crate::Error> {
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

    /// Whether input is already buffered (a parked request with buffered input runs again at
    /// once). Default: `false`.
    fn has_buffered_input(&self) -> bool {
        false
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
