//! [`Job`]: one accepted request on its way through a dispatch strategy.

use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::connections::{ConnectionGuard, Registry};
use crate::drain::{DrainLevel, Liveness};
use crate::event::{EventSession, SessionParts};
use crate::handler::{RequestHandler, TimedOut};
use crate::hooks::ServerHooks;
use crate::request::Request;
use crate::shutdown::InHandler;
use crate::stats::CloseReason;
use crate::sys;
use crate::Error;

/// One verified request, ready to run. Strategies end every job exactly once, by one of the
/// consuming methods: [`run`](Self::run), [`fail`](Self::fail), [`close`](Self::close), or —
/// for a job its handler parked — [`run_until_parked`](Self::run_until_parked) again or
/// [`end_parked`](Self::end_parked).
pub trait Job: Send + 'static {
    /// A number unique within the server, for thread names and logs.
    fn id(&self) -> u64;

    /// Serves the request for its whole life: Python's `finish_request` (the handler's
    /// `setup`, `handle`, `finish`), then `handle_error` on failure, then `shutdown_request`.
    /// When the handler [parks](crate::StreamRequest::park) the connection, this waits for
    /// input in place (the thread stays busy) and calls `handle` again. Panics in the handler
    /// or the hooks are caught; this never unwinds. Returns whether the request succeeded.
    fn run(self) -> bool;

    /// Serves the request until it ends or its handler parks it. A new job runs `setup` first;
    /// a parked one continues with `handle`. A job parked while `rfile` holds unread bytes runs
    /// on at once. Returns [`Ran::Parked`] with the job when it waits for input: the strategy
    /// watches [`parked_fd`](Self::parked_fd) and calls this again when it is readable.
    fn run_until_parked(self) -> Ran<Self>
    where
        Self: Sized;

    /// The connection's descriptor while the job is parked.
    fn parked_fd(&self) -> Option<BorrowedFd<'_>>;

    /// How long a parked job may wait for input before [`end_parked`](Self::end_parked) with a
    /// timeout ([`StreamOptions::idle_timeout`](crate::StreamOptions::idle_timeout)).
    fn idle_timeout(&self) -> Option<Duration>;

    /// Ends a parked job without running `handle` again: `finish`, then `shutdown_request`.
    /// `timed_out` says the peer stayed silent past the idle timeout (logged); otherwise the
    /// server is closing.
    fn end_parked(self, timed_out: bool);

    /// Hands the request to an event loop if its handler is made of callbacks
    /// ([`Callbacks`](crate::Callbacks)); gives the job back otherwise. Used by
    /// [`EventLoop`](crate::EventLoop).
    fn into_event_session(self) -> Result<EventSession, Self>
    where
        Self: Sized;

    /// The listening socket's descriptor, for a forked child to close before serving (so a
    /// long-lived child does not keep the server's port or path open); `None` when the request
    /// needs that socket (datagram transports).
    fn listener_fd(&self) -> Option<RawFd>;

    /// Reports `error` through `handle_error`, then `shutdown_request`. For a strategy that
    /// could not start the request.
    fn fail(self, error: Error);

    /// Closes this copy of the request without a shutdown (Python's `close_request`).
    fn close(self);

    /// Takes the connection's slot in the server's counts, for a strategy that keeps it
    /// elsewhere while the connection lives on (a forking parent keeps it until the child
    /// ends). `None` for datagrams, or when taken already.
    fn take_guard(&mut self) -> Option<ConnectionGuard>;

    /// Called in a forked child before [`run`](Self::run): cuts the job's ties to the parent's
    /// bookkeeping (counts, panic policy, drain state), so the child touches no lock another
    /// thread of the parent may have held at `fork`.
    fn detach_in_child(&mut self);

    /// Whether a graceful drain may close this (parked) job now: it has spoken, or the
    /// first-byte grace is over, and no busy span is open. Default: `false`.
    #[doc(hidden)]
    fn idle_for_drain(&self) -> bool {
        false
    }

    /// Ends a parked job that a drain found idle (closed as [`CloseReason::Drained`]).
    #[doc(hidden)]
    fn end_idle(self)
    where
        Self: Sized,
    {
        self.end_parked(false);
    }

    /// The job's drain state (in a forked child, after [`detach_in_child`](Self::detach_in_child):
    /// the child's own), for the child's signal handlers.
    #[doc(hidden)]
    fn drain_liveness(&self) -> Option<Arc<Liveness>> {
        None
    }
}

/// What [`Job::run_until_parked`] did.
#[derive(Debug)]
pub enum Ran<J> {
    /// The request ended (and was shut down); `true` if it succeeded.
    Finished(bool),
    /// The handler parked the connection: the job waits for input.
    Parked(J),
}

/// The job the server builds: a request, a clone of the handler prototype, the hooks.
pub(crate) struct RequestJob<R, H, K> {
    pub(crate) id: u64,
    pub(crate) request: R,
    pub(crate) handler: H,
    pub(crate) hooks: Arc<K>,
    pub(crate) listener: Option<RawFd>,
    /// `setup` has run (the job was parked at least once).
    pub(crate) started: bool,
    pub(crate) registry: Arc<Registry>,
    /// The connection's slot in the server's counts (`None` for a datagram).
    pub(crate) guard: Option<ConnectionGuard>,
    /// Running in a forked child: the registry is the parent's and must not be touched.
    pub(crate) detached: bool,
    /// The connection's drain state (a stream connection's; `None` for a datagram).
    pub(crate) liveness: Option<Arc<Liveness>>,
}

/// How far one turn of a request got.
enum Turn {
    /// The handler parked the connection.
    Parked,
    /// The request is over: the first failure, if any, after `finish` and `complete`.
    Over(Result<(), Error>),
}

impl<R, H, K> RequestJob<R, H, K>
where
    R: Request,
    H: RequestHandler<R>,
    K: ServerHooks<R>,
{
    pub(crate) fn new(
        id: u64,
        request: R,
        handler: H,
        hooks: Arc<K>,
        listener: Option<RawFd>,
        registry: Arc<Registry>,
        guard: Option<ConnectionGuard>,
    ) -> Self {
        let liveness = guard.as_ref().map(|guard| Arc::clone(guard.liveness()));
        RequestJob {
            id,
            request,
            handler,
            hooks,
            listener,
            started: false,
            registry,
            guard,
            detached: false,
            liveness,
        }
    }

    /// One turn of Python's `finish_request`, with its exact `setup`/`finish` contract: `setup`
    /// (first turn only), then `handle` until it returns without parking or input runs out.
    fn turn(&mut self) -> Turn {
        let request = &mut self.request;
        let handler = &mut self.handler;
        if !self.started {
            self.started = true;
            if let Some(liveness) = &self.liveness {
                request.attach_liveness(Arc::clone(liveness));
            }
            if let Err(error) = request.prepare() {
                return Turn::Over(Err(error));
            }
            if let Err(error) = catch(|| handler.setup(request)) {
                request.take_park_request();
                return Turn::Over(Err(error));
            }
            if request.take_park_request() && !request.has_buffered_input() {
                return Turn::Parked;
            }
        }
        loop {
            let handled = catch(|| handler.handle(request));
            let parks = request.take_park_request();
            if handled.is_ok() && parks {
                if request.has_buffered_input() {
                    continue;
                }
                return Turn::Parked;
            }
            return Turn::Over(self.finish_after(handled));
        }
    }

    /// `finish` and `complete` after `handle`, returning the first failure.
    fn finish_after(&mut self, handled: Result<(), Error>) -> Result<(), Error> {
        let request = &mut self.request;
        let handler = &mut self.handler;
        let finished = catch(|| handler.finish(request));
        let completed = request.complete().map_err(Error::Handler);
        if let Some(later) = finished.as_ref().err().or(completed.as_ref().err()) {
            if handled.is_err() {
                tracing::debug!(error = %later, "a further error after the handler failed");
            }
        }
        handled.and(finished).and(completed)
    }

    /// Reports the outcome and shuts the request down; `reason` overrides the close reason
    /// the outcome gives.
    fn conclude(mut self, outcome: Result<(), Error>, reason: Option<CloseReason>) -> bool {
        // One of the connection's timeouts: the server's policy at work, not a failure.
        let timed_out = match &outcome {
            Err(Error::Handler(error)) => TimedOut::of(error),
            _ => None,
        };
        // A drain's deadline shut the socket down under the handler: its errors are ours.
        let forced = self
            .liveness
            .as_ref()
            .is_some_and(|liveness| liveness.was_forced());
        match (&outcome, timed_out) {
            (Err(_), Some(timeout)) => {
                tracing::debug!(conn_id = self.id, reason = ?timeout.reason, after = ?timeout.after, "closing: timeout");
            }
            (Err(Error::Handler(error)), None) if forced => {
                tracing::debug!(conn_id = self.id, %error, "closed by the drain's deadline");
            }
            (Err(error), None) => self.report(error),
            (Ok(()), _) => {}
        }
        let reason = reason
            .or(timed_out.map(|t| t.reason))
            .unwrap_or(match &outcome {
                Ok(()) => CloseReason::Completed,
                Err(Error::HandlerPanicked { .. }) => CloseReason::Panicked,
                Err(_) => CloseReason::Error,
            });
        if let Some(guard) = &mut self.guard {
            guard.set_reason(reason);
        }
        tracing::debug!(conn_id = self.id, ?reason, "request done");
        self.request.shutdown_request();
        outcome.is_ok()
    }

    fn report(&self, error: &Error) {
        if !self.detached && matches!(error, Error::HandlerPanicked { .. }) {
            self.registry.panicked();
        }
        let hooks = &self.hooks;
        let request = &self.request;
        if panic::catch_unwind(AssertUnwindSafe(|| hooks.handle_error(request, error))).is_err() {
            tracing::error!(peer = ?request.client_address(), %error, "handle_error panicked while reporting");
        }
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!("request", conn_id = self.id, peer = ?self.request.client_address())
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

    fn run(self) -> bool {
        let mut job = self;
        loop {
            match job.run_until_parked() {
                Ran::Finished(ok) => return ok,
                Ran::Parked(parked) => job = parked,
            }
            // Parked on a strategy that keeps its thread: wait for input here. While it waits,
            // a drain may end the wait (the connection is idle).
            let timeout = job.idle_timeout();
            let liveness = job.liveness.clone();
            let ready = match job.parked_fd() {
                // Input already here is a message in flight, which a drain lets finish (looked
                // for before the drain's check, so input that came earlier is never taken for
                // idleness).
                Some(fd) if sys::readable_now(fd) => Ok(true),
                Some(fd) => match &liveness {
                    Some(liveness) if liveness.enter_wait() => {
                        job.end_idle();
                        return true;
                    }
                    Some(liveness) => {
                        let ready = sys::wait_readable(fd, timeout);
                        liveness.leave_wait();
                        ready
                    }
                    None => sys::wait_readable(fd, timeout),
                },
                None => Ok(true),
            };
            match ready {
                Ok(true) => {}
                Ok(false) => {
                    job.end_parked(true);
                    return true;
                }
                Err(error) => {
                    let outcome = job.finish_after(Err(Error::Handler(error)));
                    return job.conclude(outcome, None);
                }
            }
        }
    }

    fn run_until_parked(mut self) -> Ran<Self> {
        let span = self.span();
        let _entered = span.enter();
        let _in_handler = InHandler::enter(self.request.shutdown_handle());
        if let Some(guard) = &mut self.guard {
            guard.set_parked(false);
        }
        match self.turn() {
            Turn::Parked => {
                tracing::trace!(conn_id = self.id, "parked");
                self.request.release_idle_buffers();
                if let Some(guard) = &mut self.guard {
                    guard.set_parked(true);
                }
                Ran::Parked(self)
            }
            Turn::Over(outcome) => Ran::Finished(self.conclude(outcome, None)),
        }
    }

    fn parked_fd(&self) -> Option<BorrowedFd<'_>> {
        self.request.parking_fd()
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.request.idle_timeout()
    }

    fn end_parked(mut self, timed_out: bool) {
        let span = self.span();
        let _entered = span.enter();
        let _in_handler = InHandler::enter(self.request.shutdown_handle());
        if timed_out {
            tracing::debug!(conn_id = self.id, after = ?self.idle_timeout(), "closing: idle timeout");
        } else {
            tracing::debug!(
                conn_id = self.id,
                "closing a parked connection: the server closes"
            );
        }
        let outcome = self.finish_after(Ok(()));
        let reason = match (&outcome, timed_out) {
            (Err(_), _) => None,
            (Ok(()), true) if self.request.has_received_input() => Some(CloseReason::IdleTimeout),
            (Ok(()), true) => Some(CloseReason::FirstByteTimeout),
            (Ok(()), false) => Some(CloseReason::ServerClosing),
        };
        self.conclude(outcome, reason);
    }

    fn idle_for_drain(&self) -> bool {
        self.liveness
            .as_ref()
            .is_some_and(|liveness| liveness.idle_may_close())
    }

    fn end_idle(self) {
        if let Some(liveness) = &self.liveness {
            liveness.mark_closed_as_idle();
        }
        tracing::debug!(
            conn_id = self.id,
            "closing a parked connection: idle while draining"
        );
        self.end_parked(false);
    }

    fn drain_liveness(&self) -> Option<Arc<Liveness>> {
        self.liveness.clone()
    }

    fn into_event_session(self) -> Result<EventSession, Self> {
        let RequestJob {
            id,
            request,
            handler,
            hooks,
            listener,
            started,
            registry,
            guard,
            detached,
            liveness,
        } = self;
        let parts = SessionParts {
            id,
            request,
            hooks: hooks.clone(),
            registry: Arc::clone(&registry),
            guard,
        };
        handler
            .into_event_session(parts)
            .map_err(|(handler, parts)| RequestJob {
                id,
                request: parts.request,
                handler,
                hooks,
                listener,
                started,
                registry,
                guard: parts.guard,
                detached,
                liveness,
            })
    }

    fn fail(self, error: Error) {
        self.conclude(Err(error), None);
    }

    fn close(self) {
        self.request.close_request();
    }

    fn take_guard(&mut self) -> Option<ConnectionGuard> {
        self.guard.take()
    }

    fn detach_in_child(&mut self) {
        self.detached = true;
        // The parent keeps the connection's slot until this child ends; the child's copy of
        // the guard must not release it (nor take the registry's lock).
        std::mem::forget(self.guard.take());
        // The child's own drain state: the parent's threads never see it, and its signal
        // handlers drive it.
        if self.liveness.is_some() {
            self.liveness = Some(Arc::new(Liveness::new(DrainLevel::Serving)));
        }
    }
}
