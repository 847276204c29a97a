//! [`RequestJob`]: the job the server builds for each request — Python's `finish_request`
//! with its `setup`/`handle`/`finish` contract, the outcome reported and counted, run in place
//! or handed between workers and the parker.

mod parked;

use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connections::{ConnectionGuard, Registry};
use crate::coroutine;
use crate::dispatch::job::{Job, ParkedEvent, ParkedStep, RunOutcome};
use crate::drain::{DrainProgress, Liveness};
use crate::error::RequestError;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::Request;
use crate::session::{EventSession, SessionParts};
use crate::shutdown::InHandler;
use crate::stats::CloseReason;
use crate::sys;

use parked::{Closing, ParkedEnd};

/// What one of a [`RequestJob`]'s steps did, the job still typed.
enum Handled<J> {
    Finished(bool),
    Parked(J),
}

impl<J: Job> Handled<J> {
    fn boxed(self) -> RunOutcome {
        match self {
            Handled::Finished(ok) => RunOutcome::Finished(ok),
            Handled::Parked(job) => RunOutcome::Parked(Box::new(job)),
        }
    }
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
    /// Run where it waits (Sequential, Forking): nothing is left for a parker.
    pub(crate) in_place: bool,
    /// When it was last parked (its first-byte or idle timeout runs from there).
    pub(crate) parked_at: Instant,
    /// The request is over; the parker sends what is left of its output and closes it.
    pub(crate) closing: Option<Closing>,
    /// Why the parker ends it, once known.
    pub(crate) parked_end: Option<ParkedEnd>,
}

/// How far one turn of a request got.
enum Turn {
    /// The handler parked the connection.
    Parked,
    /// The request is over: the first failure, if any, after `finish` and `complete`.
    Over(Result<(), RequestError>),
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
        let mut request = request;
        if liveness.is_some() {
            // Its registry entry carries what the connection recorded to the counters.
            request.count_traffic_in(liveness.clone());
        }
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
            in_place: false,
            parked_at: Instant::now(),
            closing: None,
            parked_end: None,
        }
    }

    /// One turn of Python's `finish_request`, with its exact `setup`/`finish` contract: `setup`
    /// (first turn only), then `handle` until it returns without parking or input runs out.
    fn turn(&mut self) -> Turn {
        let request = &mut self.request;
        let handler = &mut self.handler;
        if !self.started {
            if request.handshaking() {
                // The opening handshake goes on parked (never waiting here), and the handler
                // first sees the connection once it is over.
                return Turn::Parked;
            }
            self.started = true;
            if let Some(liveness) = &self.liveness {
                request.attach_liveness(Arc::clone(liveness));
            }
            if let Err(error) = request.prepare() {
                return Turn::Over(Err(error));
            }
            if !self.in_place {
                request.defer_output();
            }
            if let Err(error) = catch(|| handler.setup(request)) {
                request.take_park_request();
                return Turn::Over(Err(error));
            }
            if request.take_park_request()
                && (request.has_pending_output() || !input_ready(request))
            {
                return Turn::Parked;
            }
        }
        loop {
            request.begin_turn();
            if !self.detached {
                self.registry.count_request();
            }
            let handled = catch(|| handler.handle(request));
            let parks = request.take_park_request();
            request.end_turn();
            if handled.is_ok() && parks {
                // The next message runs at once if it is here — unless answers are still
                // waiting for the peer: it reads no more until they are taken (flow control).
                if !request.has_pending_output() && input_ready(request) {
                    continue;
                }
                return Turn::Parked;
            }
            return Turn::Over(self.finish_after(handled));
        }
    }

    /// `finish` and `complete` after `handle`, returning the first failure.
    fn finish_after(&mut self, handled: Result<(), RequestError>) -> Result<(), RequestError> {
        let request = &mut self.request;
        let handler = &mut self.handler;
        let finished = catch(|| handler.finish(request));
        let completed = request.complete().map_err(RequestError::from_io);
        if let Some(later) = finished.as_ref().err().or(completed.as_ref().err()) {
            if handled.is_err() {
                tracing::debug!(error = %later, "a further error after the handler failed");
            }
        }
        handled.and(finished).and(completed)
    }

    /// Reports the outcome and shuts the request down; `reason` overrides the close reason
    /// the outcome gives.
    fn conclude(mut self, outcome: Result<(), RequestError>, reason: Option<CloseReason>) -> bool {
        self.settle(&outcome, reason);
        self.request.shutdown_request();
        outcome.is_ok()
    }

    /// Reports the outcome (`handle_error` while the request is still open) and records why
    /// the connection ends; `reason` overrides the close reason the outcome gives.
    fn settle(&mut self, outcome: &Result<(), RequestError>, reason: Option<CloseReason>) {
        // One of the connection's timeouts: the server's policy at work, not a failure.
        let timed_out = match outcome {
            Err(RequestError::TimedOut(timed_out)) => Some(*timed_out),
            _ => None,
        };
        // A drain's deadline shut the socket down under the handler: its errors are ours.
        let forced = self
            .liveness
            .as_ref()
            .is_some_and(|liveness| liveness.was_forced());
        match (outcome, timed_out) {
            (Err(_), Some(timeout)) => {
                tracing::debug!(conn_id = self.id, reason = ?timeout.reason(), after = ?timeout.after(), "closing: timeout");
            }
            (Err(RequestError::Handler(error)), None) if forced => {
                tracing::debug!(conn_id = self.id, %error, "closed by the drain's deadline");
            }
            (Err(RequestError::Tls(error)), None) => {
                error.log(self.id, self.request.client_address());
            }
            (Err(error), None) => self.report(error),
            (Ok(()), _) => {}
        }
        let reason = reason.unwrap_or(match outcome {
            Ok(()) => CloseReason::Completed,
            Err(error) => error.close_reason(),
        });
        match &mut self.guard {
            Some(guard) => guard.set_reason(reason),
            // A datagram: counted now (a connection's bytes are counted as it closes).
            None if !self.detached => {
                let (received, sent) = self.request.message_traffic();
                self.registry.count_traffic(received, sent);
            }
            None => {}
        }
        tracing::debug!(conn_id = self.id, ?reason, "request done");
    }

    fn report(&self, error: &RequestError) {
        if !self.detached && matches!(error, RequestError::HandlerPanicked { .. }) {
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

/// Whether the next message is here: buffered input and, for a request that gathers, a whole
/// message. Only what is buffered is looked at (and added to): with nothing buffered, the
/// parker learns of input from the selector, and no buffer is taken for a connection that
/// waits.
fn input_ready<R: Request>(request: &mut R) -> bool {
    request.has_buffered_input() && request.gather()
}

/// Runs a handler step, turning an `Err` or a panic into a [`RequestError`].
fn catch(step: impl FnOnce() -> std::io::Result<()>) -> Result<(), RequestError> {
    match panic::catch_unwind(AssertUnwindSafe(step)) {
        Ok(result) => result.map_err(RequestError::from_io),
        Err(payload) => Err(RequestError::from_panic(payload)),
    }
}

impl<R, H, K> RequestJob<R, H, K>
where
    R: Request,
    H: RequestHandler<R>,
    K: ServerHooks<R>,
{
    /// The job's whole life on this thread. The job stays in its box: it is moved only at its
    /// end (the frames of a coroutine that waits here stay small).
    fn run_in_place(mut self: Box<Self>) -> bool {
        self.in_place = true;
        let mut job = self;
        loop {
            if let Some(outcome) = job.run_turn() {
                job = match job.conclude_turn(outcome) {
                    Ok(ok) => return ok,
                    Err(parked) => parked,
                };
            }
            // Parked on a strategy that keeps its thread: wait here, as the parker would.
            let mut event = ParkedEvent::Admitted;
            loop {
                let (writable, deadline) = match job.parked_step(event, Instant::now()) {
                    ParkedStep::Resume => break,
                    ParkedStep::Done => return job.finish_parked_in_place(),
                    ParkedStep::Wait { writable, deadline } => (writable, deadline),
                };
                let Some(fd) = job.parked_fd() else {
                    break;
                };
                let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
                let ready = match (writable, &job.liveness) {
                    // (On a coroutine, each wait suspends it instead.)
                    (true, _) => coroutine::wait(fd, true, timeout),
                    // Input already here is a message in flight, which a drain lets finish
                    // (looked for before the drain's check, so input that came earlier is
                    // never taken for idleness).
                    (false, _) if sys::readable_now(fd) => Ok(true),
                    // While it waits, a drain may end the wait (the connection is idle).
                    (false, Some(liveness)) => {
                        let liveness = Arc::clone(liveness);
                        if liveness.enter_wait() {
                            return job.end_idle_in_place();
                        }
                        let ready = coroutine::wait(fd, false, timeout);
                        liveness.leave_wait();
                        ready
                    }
                    (false, None) => coroutine::wait(fd, false, timeout),
                };
                event = match ready {
                    Ok(true) if writable => ParkedEvent::Writable,
                    Ok(true) => ParkedEvent::Readable,
                    Ok(false) => ParkedEvent::Expired,
                    Err(error) => return job.fail_in_place(error),
                };
            }
        }
    }

    // What `run_in_place` does with the whole job by value lives out of line, so that the
    // frame a coroutine waits in (all of `run_in_place`'s) reserves no room for a moved job:
    // an idle coroutine's stack is that much shallower.

    /// Concludes a turn's outcome: `Ok` with the result once the job has ended, or the job
    /// back (in its box) when it parks.
    #[inline(never)]
    fn conclude_turn(
        mut self: Box<Self>,
        outcome: Result<(), RequestError>,
    ) -> Result<bool, Box<Self>> {
        match (*self).conclude_parked(outcome, None) {
            Handled::Finished(ok) => Ok(ok),
            Handled::Parked(parked) => {
                *self = parked;
                Err(self)
            }
        }
    }

    /// Ends a parked job whose wait is over for good, here.
    #[inline(never)]
    #[expect(
        clippy::boxed_local,
        reason = "the move out of the box happens here, not in the caller's frame"
    )]
    fn finish_parked_in_place(self: Box<Self>) -> bool {
        match (*self).finish_parked_here() {
            Handled::Finished(ok) => ok,
            // In place, a close lingers where it runs; never handed back.
            Handled::Parked(job) => {
                job.close_now();
                true
            }
        }
    }

    /// Ends a job a drain found idle, here.
    #[inline(never)]
    #[expect(
        clippy::boxed_local,
        reason = "the move out of the box happens here, not in the caller's frame"
    )]
    fn end_idle_in_place(self: Box<Self>) -> bool {
        if let Handled::Parked(job) = (*self).end_idle_here() {
            job.close_now();
        }
        true
    }

    /// Ends a job whose wait failed.
    #[inline(never)]
    #[expect(
        clippy::boxed_local,
        reason = "the move out of the box happens here, not in the caller's frame"
    )]
    fn fail_in_place(mut self: Box<Self>, error: std::io::Error) -> bool {
        let outcome = self.finish_after(Err(RequestError::from_io(error)));
        (*self).conclude(outcome, None)
    }

    /// Runs the job until it ends or parks ([`Job::run_until_parked`]), in its box: a parked
    /// job goes back as it came, without a move or a new allocation.
    fn run_here(mut self: Box<Self>) -> RunOutcome {
        match self.run_turn() {
            None => RunOutcome::Parked(self),
            Some(outcome) => (*self).conclude_parked(outcome, None).boxed(),
        }
    }

    /// One turn of the handler; `None` when it parked the connection, else the request's
    /// outcome, still to be concluded.
    fn run_turn(&mut self) -> Option<Result<(), RequestError>> {
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
                None
            }
            Turn::Over(outcome) => Some(outcome),
        }
    }

    fn into_session(self) -> Result<EventSession, Box<Self>> {
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
            in_place,
            parked_at,
            closing,
            parked_end,
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
            .map_err(|(handler, parts)| {
                Box::new(RequestJob {
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
                    in_place,
                    parked_at,
                    closing,
                    parked_end,
                })
            })
    }

    fn fail_now(self, error: RequestError) {
        self.conclude(Err(error), None);
    }

    fn close_now_without_shutdown(mut self) {
        // The parent's copy after a fork: the connection's bytes are the child's, uncounted.
        self.request.count_traffic_in(None);
        self.request.close_request();
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

    fn parked_fd(&self) -> Option<BorrowedFd<'_>> {
        self.request.parking_fd()
    }

    fn shared_socket(&self) -> Option<Arc<dyn AsFd + Send + Sync>> {
        self.request.shared_socket()
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.request.idle_timeout()
    }

    fn idle_for_drain(&self) -> bool {
        // A closing job is not idle: its last answer is on its way out; nor one whose
        // answers wait to be sent.
        self.closing.is_none()
            && !self.request.has_pending_output()
            && self
                .liveness
                .as_ref()
                .is_some_and(|liveness| liveness.idle_may_close())
    }

    fn parked_step(&mut self, event: ParkedEvent, now: Instant) -> ParkedStep {
        self.step_parked(event, now)
    }

    fn drain_liveness(&self) -> Option<Arc<Liveness>> {
        self.liveness.clone()
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
            self.liveness = Some(Arc::new(Liveness::new(DrainProgress::new())));
        }
    }

    fn run(self: Box<Self>) -> bool {
        self.run_in_place()
    }

    fn run_until_parked(self: Box<Self>) -> RunOutcome {
        self.run_here()
    }

    fn end_parked(self: Box<Self>) {
        (*self).end_parked_now();
    }

    fn end_idle(self: Box<Self>) -> RunOutcome {
        (*self).end_idle_here().boxed()
    }

    fn finish_parked(self: Box<Self>) -> RunOutcome {
        (*self).finish_parked_here().boxed()
    }

    fn into_event_session(self: Box<Self>) -> Result<EventSession, Box<dyn Job>> {
        (*self).into_session().map_err(|job| job as Box<dyn Job>)
    }

    fn fail(self: Box<Self>, error: RequestError) {
        (*self).fail_now(error);
    }

    fn close(self: Box<Self>) {
        (*self).close_now_without_shutdown();
    }
}
