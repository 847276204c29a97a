//! [`ServerHooks`]: the overridable policy of Python's `BaseServer`.

use std::io;

use crate::error::RequestError;
use crate::request::Request;

/// The hooks of Python's `BaseServer` that are application policy, not socket work.
///
/// Implement the ones you need (each has a default) and pass the value to
/// [`BaseServer::with_hooks`](crate::BaseServer::with_hooks). The socket-side hooks
/// (`server_bind`, `server_activate`, `server_close`, `get_request`) belong to the transport
/// ([`TcpServer`](crate::TcpServer)); `shutdown_request`/`close_request` to the
/// [`Request`]; `process_request` to the dispatch strategy
/// ([`Dispatch`](crate::Dispatch)); `finish_request` is the handler's `setup`/`handle`/`finish`.
///
/// Hooks take `&self` and may run on several threads at once (`handle_error` runs where the
/// request ran); keep mutable state behind atomics or a lock.
///
/// # Examples
///
/// Only let loopback clients in, and count errors:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use socketserver::{Request, RequestError, ServerHooks, StreamRequest, ThreadingTcpServer};
///
/// #[derive(Default)]
/// struct Policy { errors: AtomicUsize }
///
/// impl ServerHooks<StreamRequest> for Policy {
///     fn verify_request(&self, request: &StreamRequest) -> std::io::Result<bool> {
///         Ok(request.client_address().ip().is_loopback())
///     }
///     fn handle_error(&self, _request: &StreamRequest, error: &RequestError) {
///         self.errors.fetch_add(1, Ordering::Relaxed);
///         eprintln!("request failed: {error}");
///     }
/// }
///
/// let server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?
///     .with_hooks(Policy::default());
/// # drop(server);
/// # Ok::<(), socketserver::Error>(())
/// ```
pub trait ServerHooks<R: Request>: Send + Sync + 'static {
    /// Decides whether to serve a request; `false` closes it unhandled. Called by the loop before
    /// `process_request`. Default: `true`. May be overridden.
    ///
    /// # Errors
    ///
    /// An error is reported through [`handle_error`](Self::handle_error) and the request is
    /// closed, as a `false` would (Python lets it escape the loop instead).
    fn verify_request(&self, request: &R) -> io::Result<bool> {
        let _ = request;
        Ok(true)
    }

    /// Reports a failed request, while it is still open. Called once per failed request, on
    /// the thread that ran it. Default: a `tracing` error event with the peer and the message.
    /// May be overridden.
    fn handle_error(&self, request: &R, error: &RequestError) {
        tracing::error!(peer = ?request.client_address(), %error, "request failed");
    }

    /// Called by [`handle_request`](crate::BaseServer::handle_request) when its timeout passes
    /// with no request. Default: nothing. May be overridden.
    fn handle_timeout(&self) {}

    /// Called by the loop after every wake-up (a request, a shutdown, a freed slot, or the
    /// [`service interval`](crate::BaseServer::set_service_interval)). Default: nothing. May be
    /// overridden.
    fn service_actions(&self) {}
}

/// The hooks Python's `BaseServer` has by default: accept every request, log errors through
/// `tracing`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultHooks;

impl<R: Request> ServerHooks<R> for DefaultHooks {}
