//! [`Job`]: one accepted request on its way through a dispatch strategy.

use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::Request;
use crate::Error;

/// One verified request, ready to run. Strategies end every job exactly once, by one of the
/// three consuming methods.
pub trait Job: Send + 'static {
    /// A number unique within the server, for thread names and logs.
    fn id(&self) -> u64;

    /// Serves the request: Python's `finish_request` (the handler's `setup`, `handle`,
    /// `finish`), then `handle_error` on failure, then `shutdown_request`. Panics in the handler
    /// or the hooks are caught; this never unwinds. Returns whether the request succeeded.
    fn run(self) -> bool;

    /// The listening socket's descriptor, for a forked child to close before serving (so a
    /// long-lived child does not keep the server's port or path open); `None` when the request
    /// needs that socket (datagram transports).
    fn listener_fd(&self) -> Option<RawFd>;

    /// Reports `error` through `handle_error`, then `shutdown_request`. For a strategy that
    /// could not start the request.
    fn fail(self, error: Error);

    /// Closes this copy of the request without a shutdown (Python's `close_request`).
    fn close(self);
}

/// The job the server builds: a request, a clone of the handler prototype, the hooks.
pub(crate) struct RequestJob<R, H, K> {
    pub(crate) id: u64,
    pub(crate) request: R,
    pub(crate) handler: H,
    pub(crate) hooks: Arc<K>,
    pub(crate) listener: Option<RawFd>,
}

impl<R, H, K> RequestJob<R, H, K>
where
    R: Request,
    H: RequestHandler<R>,
    K: ServerHooks<R>,
{
    /// Python's `finish_request`, with its exact `setup`/`finish` contract; returns the first
    /// failure.
    fn finish_request(&mut self) -> Result<(), Error> {
        let request = &mut self.request;
        let handler = &mut self.handler;
        request.prepare()?;
        catch(|| handler.setup(request))?;
        let handled = catch(|| handler.handle(request));
        let finished = catch(|| handler.finish(request));
        let completed = request.complete().map_err(Error::Handler);
        if let Some(later) = finished.as_ref().err().or(completed.as_ref().err()) {
            if handled.is_err() {
                tracing::debug!(error = %later, "a further error after the handler failed");
            }
        }
        handled.and(finished).and(completed)
    }

    fn report(&self, error: &Error) {
        let hooks = &self.hooks;
        let request = &self.request;
        if panic::catch_unwind(AssertUnwindSafe(|| hooks.handle_error(request, error))).is_err() {
            tracing::error!(peer = ?request.client_address(), %error, "handle_error panicked while reporting");
        }
    }
}

/// Runs a handler step, turning an `Err` or a panic into an [`Error`].
fn catch(step: impl FnOnce() -> std::io::Result<()>) -> Result<(), Error> {
    match panic::catch_unwind(AssertUnwindSafe(step)) {
        Ok(result) => result.map_err(Error::Handler),
        Err(payload) => Err(Error::from_panic(payload)),
    }
}

impl<R, H, K> Job for RequestJob<R, H, K>
where
    R: Request,
    H: RequestHandler<R>,
    K: ServerHooks<R>,
{
    fn id(&self) -> u64 {
        self.id
    }

    fn listener_fd(&self) -> Option<RawFd> {
        self.listener
    }

    fn run(mut self) -> bool {
        let span = tracing::info_span!("request", conn_id = self.id, peer = ?self.request.client_address());
        let _entered = span.enter();
        let outcome = self.finish_request();
        if let Err(error) = &outcome {
            self.report(error);
        }
        tracing::debug!(conn_id = self.id, "request done");
        self.request.shutdown_request();
        outcome.is_ok()
    }

    fn fail(self, error: Error) {
        self.report(&error);
        self.request.shutdown_request();
    }

    fn close(self) {
        self.request.close_request();
    }
}
