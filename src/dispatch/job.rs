//! [`Job`]: one accepted request on its way through a dispatch strategy.

use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connections::{ConnectionGuard, Registry};
use crate::drain::{DrainProgress, Liveness};
use crate::error::RequestError;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::{Linger, Request};
use crate::session::{EventSession, SessionParts};
use crate::shutdown::InHandler;
use crate::stats::CloseReason;
use crate::sys;

/// One verified request, ready to run, behind a box: strategies of any kind hold any job in
/// one queue or one parker. Strategies end every job exactly once, by one of the consuming
/// methods: [`run`](Self::run), [`fail`](Self::fail), [`close`](Self::close), or — for a job
/// its handler parked — [`run_until_parked`](Self::run_until_parked) again or
/// [`end_parked`](Self::end_parked).
pub trait Job: Send + 'static {
    /// A number unique within the server, for thread names and logs.
    fn id(&self) -> u64;

    /// Serves the request for its whole life: Python's `finish_request` (the handler's
    /// `setup`, `handle`, `finish`), then `handle_error` on failure, then `shutdown_request`.
    /// When the handler [parks](crate::StreamRequest::park) the connection, this waits for
    /// input in place (the thread stays busy) and calls `handle` again. Panics in the handler
    /// or the hooks are caught; this never unwinds. Returns whether the request succeeded.
    fn run(self: Box<Self>) -> bool;

    /// Serves the request until it ends or its handler parks it. A new job runs `setup` first;
    /// a parked one continues with `handle`. A job parked while `rfile` holds unread bytes runs
    /// on at once. Returns [`RunOutcome::Parked`] with the job when it waits for input: the
    /// strategy watches [`parked_fd`](Self::parked_fd) and calls this again when it is
    /// readable.
    fn run_until_parked(self: Box<Self>) -> RunOutcome;

    /// The connection's descriptor while the job is parked.
    fn parked_fd(&self) -> Option<BorrowedFd<'_>>;

    /// How long a parked job may wait for input before [`end_parked`](Self::end_parked) with a
    /// timeout ([`StreamOptions::idle_timeout`](crate::StreamOptions::idle_timeout)).
    fn idle_timeout(&self) -> Option<Duration>;

    /// Ends a parked job without running `handle` again: `finish`, then `shutdown_request`.
    /// `timed_out` says the peer stayed silent past the idle timeout (logged); otherwise the
    /// server is closing.
    fn end_parked(self: Box<Self>, timed_out: bool);

    /// Hands the request to an event loop if its handler is made of callbacks
    /// ([`ProtocolHandler`](crate::ProtocolHandler)); gives the job back otherwise. Used by
    /// [`EventLoop`](crate::EventLoop).
    fn into_event_session(self: Box<Self>) -> Result<EventSession, Box<dyn Job>>;

    /// The listening socket's descriptor, for a forked child to close before serving (so a
    /// long-lived child does not keep the server's port or path open); `None` when the request
    /// needs that socket (datagram transports).
    fn listener_fd(&self) -> Option<RawFd>;

    /// Reports `error` through `handle_error`, then `shutdown_request`. For a strategy that
    /// could not start the request.
    fn fail(self: Box<Self>, error: RequestError);

    /// Closes this copy of the request without a shutdown (Python's `close_request`).
    fn close(self: Box<Self>);

    /// Takes the connection's slot in the server's counts, for a strategy that keeps it
    /// elsewhere while the connection lives on (a forking parent keeps it until the child
    /// ends). `None` for datagrams, or when taken already.
    fn take_guard(&mut self) -> Option<ConnectionGuard>;

    /// Called in a forked child before [`run`](Self::run): cuts the job's ties to the parent's
    /// bookkeeping (counts, panic policy, drain state), so the child touches no lock another
    /// thread of the parent may have held at `fork`.
    fn detach_in_child(&mut self);

    /// Whether a graceful drain may close this (parked) job now: it has spoken, or the
    /// first-byte grace is over, and no busy span is open.
    #[doc(hidden)]
    fn idle_for_drain(&self) -> bool;

    /// Ends a parked job that a drain found idle (closed as [`CloseReason::Drained`]).
    /// [`RunOutcome::Parked`] when its close still has to linger: the parker keeps it until
    /// then.
    #[doc(hidden)]
    fn end_idle(self: Box<Self>) -> RunOutcome;

    /// The job's drain state (in a forked child, after [`detach_in_child`](Self::detach_in_child):
    /// the child's own), for the child's signal handlers.
    #[doc(hidden)]
    fn drain_liveness(&self) -> Option<Arc<Liveness>>;

    /// Where a parked job stands after `event` (at `now`): what to wait for, or what to do
    /// next. The parker calls it when it takes the job and after each event it asked for.
    #[doc(hidden)]
    fn parked_step(&mut self, event: ParkedEvent, now: Instant) -> ParkedStep;

    /// Ends a parked job for which [`parked_step`](Self::parked_step) said
    /// [`ParkedStep::Done`]; [`RunOutcome::Parked`] when its close still has to linger (the
    /// parker keeps it until then, so no close waits on the parker's thread).
    #[doc(hidden)]
    fn finish_parked(self: Box<Self>) -> RunOutcome;
}

/// What happened to a parked job, for [`Job::parked_step`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkedEvent {
    /// The parker has just taken it.
    Admitted,
    /// Its socket has input (or an error, or the peer's end).
    Readable,
    /// Its socket takes output.
    Writable,
    /// The deadline it asked for has passed.
    Expired,
}

/// What a parked job needs next, from [`Job::parked_step`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkedStep {
    /// Watch its socket for input (or, `writable`, for room to send) until `deadline`.
    Wait {
        /// Room to send, rather than input.
        writable: bool,
        /// When it runs out of time (`None`: never).
        deadline: Option<Instant>,
    },
    /// Its message has arrived (or its time ran out in the middle of one): run its handler
    /// again ([`Job::run_until_parked`]).
    Resume,
    /// It is over: end it ([`Job::finish_parked`]).
    Done,
}

/// What [`Job::run_until_parked`] (and a parked job's end) did.
pub enum RunOutcome {
    /// The request ended (and was shut down); `true` if it succeeded.
    Finished(bool),
    /// The job waits: for input (its handler parked the connection), or for its close to
    /// linger.
    Parked(Box<dyn Job>),
}

impl std::fmt::Debug for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunOutcome::Finished(ok) => f.debug_tuple("Finished").field(ok).finish(),
            RunOutcome::Parked(job) => f.debug_tuple("Parked").field(&job.id()).finish(),
        }
    }
}

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

/// A request that is over, on its way out in the parker.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Closing {
    /// Its output is being sent.
    Flushing,
    /// Half-closed; input is discarded until what was sent is acknowledged, or its time is up.
    Lingering(Linger),
}

/// Why the parker ends a job.
#[derive(Debug)]
pub(crate) enum ParkedEnd {
    /// It waited past its first-byte or idle timeout.
    TimedOut,
    /// Sending its output failed (the write timeout, or the peer went away).
    Failed(std::io::Error),
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
                && (request.has_pending_output() || !request.input_ready())
            {
                return Turn::Parked;
            }
        }
        loop {
            request.begin_turn();
            let handled = catch(|| handler.handle(request));
            let parks = request.take_park_request();
            request.end_turn();
            if handled.is_ok() && parks {
                // The next message runs at once if it is here — unless answers are still
                // waiting for the peer: it reads no more until they are taken (flow control).
                if !request.has_pending_output() && request.input_ready() {
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

    /// Reports the outcome and closes the request: here, lingering in place, for a job run in
    /// place; otherwise without waiting — a close that has to linger comes back as
    /// [`RunOutcome::Parked`], for the parker (whose thread serves every parked connection).
    fn conclude_parked(
        mut self,
        outcome: Result<(), RequestError>,
        reason: Option<CloseReason>,
    ) -> Handled<Self> {
        if self.in_place {
            return Handled::Finished(self.conclude(outcome, reason));
        }
        let ok = outcome.is_ok();
        self.settle(&outcome, reason);
        match self.close_or_park(Instant::now()) {
            Handled::Finished(_) => Handled::Finished(ok),
            parked => parked,
        }
    }

    /// Ends a parked job without running `handle` again ([`Job::end_parked`]); a close that
    /// has to linger comes back as [`RunOutcome::Parked`].
    fn end_parked_here(mut self, timed_out: bool) -> Handled<Self> {
        if self.closing.is_some() {
            // Already over: only its close was left.
            self.close_now();
            return Handled::Finished(true);
        }
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
        self.conclude_parked(outcome, reason)
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
            (Err(error), None) => self.report(error),
            (Ok(()), _) => {}
        }
        let reason = reason.unwrap_or(match outcome {
            Ok(()) => CloseReason::Completed,
            Err(error) => error.close_reason(),
        });
        if let Some(guard) = &mut self.guard {
            guard.set_reason(reason);
        }
        tracing::debug!(conn_id = self.id, ?reason, "request done");
    }

    /// The request is over (its outcome settled): closes it here if nothing is left to wait
    /// for, else hands it back to be parked while its output goes out and the close lingers,
    /// so no worker waits on a slow reader.
    fn close_or_park(mut self, now: Instant) -> Handled<Self> {
        if !self.request.closes_in_steps() {
            self.request.shutdown_request();
            return Handled::Finished(true);
        }
        if self.request.has_pending_output() {
            self.closing = Some(Closing::Flushing);
            return Handled::Parked(self);
        }
        match self.request.begin_close() {
            Some(linger) => {
                self.closing = Some(Closing::Lingering(Linger::new(now, linger)));
                Handled::Parked(self)
            }
            None => {
                self.request.close_request();
                Handled::Finished(true)
            }
        }
    }

    /// Ends a closing job now: what is left of its output is dropped.
    fn close_now(mut self) {
        if matches!(self.closing, Some(Closing::Flushing)) {
            let _ = self.request.begin_close();
        }
        self.request.close_request();
    }

    /// A parked job's turn to look at its output: sends what the socket takes; `Some` with
    /// what to do when output is still waiting (or sending failed).
    fn step_output(&mut self, now: Instant) -> Option<ParkedStep> {
        if !self.request.has_pending_output() {
            return None;
        }
        match self.request.send_pending_output(now) {
            Ok(_) if !self.request.has_pending_output() => {
                // Sent: from now on the connection waits for input (its idle time starts).
                self.parked_at = now;
                None
            }
            Ok(deadline) => Some(ParkedStep::Wait {
                writable: true,
                deadline,
            }),
            Err(error) => {
                self.parked_end = Some(ParkedEnd::Failed(error));
                Some(ParkedStep::Done)
            }
        }
    }

    /// A closing job's next step once its output is sent: half-close, then linger.
    fn step_closing(&mut self, closing: Closing, now: Instant) -> ParkedStep {
        let mut linger = match closing {
            Closing::Flushing => match self.request.begin_close() {
                Some(linger) => Linger::new(now, linger),
                None => {
                    self.closing = None;
                    return ParkedStep::Done;
                }
            },
            Closing::Lingering(mut linger) => {
                let over = self
                    .request
                    .parking_fd()
                    .is_none_or(|fd| linger.step(fd, now));
                if over {
                    self.closing = None;
                    return ParkedStep::Done;
                }
                linger
            }
        };
        let deadline = linger.next_look(now);
        self.closing = Some(Closing::Lingering(linger));
        ParkedStep::Wait {
            writable: false,
            deadline: Some(deadline),
        }
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

/// Runs a handler step, turning an `Err` or a panic into an [`Error`].
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
    fn run_in_place(mut self) -> bool {
        self.in_place = true;
        let mut job = self;
        loop {
            match job.run_here() {
                Handled::Finished(ok) => return ok,
                Handled::Parked(parked) => job = parked,
            }
            // Parked on a strategy that keeps its thread: wait here, as the parker would.
            let mut event = ParkedEvent::Admitted;
            loop {
                let (writable, deadline) = match job.parked_step(event, Instant::now()) {
                    ParkedStep::Resume => break,
                    ParkedStep::Done => match job.finish_parked_here() {
                        Handled::Finished(ok) => return ok,
                        // In place, a close lingers where it runs; never handed back.
                        Handled::Parked(job) => {
                            job.close_now();
                            return true;
                        }
                    },
                    ParkedStep::Wait { writable, deadline } => (writable, deadline),
                };
                let Some(fd) = job.parked_fd() else {
                    break;
                };
                let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
                let ready = match (writable, &job.liveness) {
                    (true, _) => sys::wait_writable_for(fd, timeout),
                    // Input already here is a message in flight, which a drain lets finish
                    // (looked for before the drain's check, so input that came earlier is
                    // never taken for idleness).
                    (false, _) if sys::readable_now(fd) => Ok(true),
                    // While it waits, a drain may end the wait (the connection is idle).
                    (false, Some(liveness)) => {
                        let liveness = Arc::clone(liveness);
                        if liveness.enter_wait() {
                            if let Handled::Parked(job) = job.end_idle_here() {
                                job.close_now();
                            }
                            return true;
                        }
                        let ready = sys::wait_readable(fd, timeout);
                        liveness.leave_wait();
                        ready
                    }
                    (false, None) => sys::wait_readable(fd, timeout),
                };
                event = match ready {
                    Ok(true) if writable => ParkedEvent::Writable,
                    Ok(true) => ParkedEvent::Readable,
                    Ok(false) => ParkedEvent::Expired,
                    Err(error) => {
                        let outcome = job.finish_after(Err(RequestError::from_io(error)));
                        return job.conclude(outcome, None);
                    }
                };
            }
        }
    }

    fn run_here(mut self) -> Handled<Self> {
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
                Handled::Parked(self)
            }
            Turn::Over(outcome) if self.in_place => Handled::Finished(self.conclude(outcome, None)),
            Turn::Over(outcome) => {
                let ok = outcome.is_ok();
                self.settle(&outcome, None);
                match self.close_or_park(Instant::now()) {
                    Handled::Finished(_) => Handled::Finished(ok),
                    parked => parked,
                }
            }
        }
    }

    fn end_parked_now(self, timed_out: bool) {
        // Nothing will look at it again (the server is closing): a close that would linger
        // does not wait.
        if let Handled::Parked(job) = self.end_parked_here(timed_out) {
            job.close_now();
        }
    }

    fn end_idle_here(self) -> Handled<Self> {
        if self.closing.is_some() {
            self.close_now();
            return Handled::Finished(true);
        }
        if let Some(liveness) = &self.liveness {
            liveness.mark_closed_as_idle();
        }
        tracing::debug!(
            conn_id = self.id,
            "closing a parked connection: idle while draining"
        );
        self.end_parked_here(false)
    }

    fn finish_parked_here(mut self) -> Handled<Self> {
        match self.parked_end.take() {
            Some(ParkedEnd::Failed(error)) if self.closing.is_some() => {
                // The handler is done; only its last output could not be sent.
                let error = RequestError::from_io(error);
                let reason = error.close_reason();
                tracing::debug!(conn_id = self.id, %error, "closing: the peer did not take the last output");
                if let Some(guard) = &mut self.guard {
                    guard.set_reason(reason);
                }
                self.close_now();
                Handled::Finished(false)
            }
            Some(ParkedEnd::Failed(error)) => {
                let span = self.span();
                let _entered = span.enter();
                let _in_handler = InHandler::enter(self.request.shutdown_handle());
                let outcome = self.finish_after(Err(RequestError::from_io(error)));
                self.conclude_parked(outcome, None)
            }
            Some(ParkedEnd::TimedOut) => self.end_parked_here(true),
            None => {
                self.close_now();
                Handled::Finished(true)
            }
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

    fn close_now_without_shutdown(self) {
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
        if event == ParkedEvent::Admitted {
            self.parked_at = now;
        }
        // Output first: while any waits, no input is read (the peer's answers are backed up).
        if let Some(step) = self.step_output(now) {
            return step;
        }
        if let Some(closing) = self.closing {
            return self.step_closing(closing, now);
        }
        if self.request.gathers() {
            let due = |job: &mut Self| {
                job.request
                    .gather_deadline(job.parked_at)
                    .is_some_and(|at| at <= now)
            };
            match event {
                ParkedEvent::Expired if due(self) => {
                    if self.request.gather_expired(now) {
                        return ParkedStep::Resume;
                    }
                    self.parked_end = Some(ParkedEnd::TimedOut);
                    return ParkedStep::Done;
                }
                // Input, or input that waited in the buffer behind answers that have just gone
                // out: gather what has arrived. (Nothing is read otherwise, so a connection that
                // waits takes no buffer.)
                ParkedEvent::Readable if self.request.gather() => return ParkedStep::Resume,
                _ if self.request.has_buffered_input() && self.request.gather() => {
                    return ParkedStep::Resume
                }
                _ => {}
            }
            return ParkedStep::Wait {
                writable: false,
                // Gathering may have moved it (a minimum rate earns time with each byte).
                deadline: self.request.gather_deadline(self.parked_at),
            };
        }
        let deadline = self
            .idle_timeout()
            .and_then(|after| self.parked_at.checked_add(after));
        match event {
            ParkedEvent::Readable => ParkedStep::Resume,
            ParkedEvent::Expired if deadline.is_some_and(|at| at <= now) => {
                self.parked_end = Some(ParkedEnd::TimedOut);
                ParkedStep::Done
            }
            // Input that waited in the buffer behind answers that have just gone out.
            _ if self.request.has_buffered_input() => ParkedStep::Resume,
            _ => ParkedStep::Wait {
                writable: false,
                deadline,
            },
        }
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
        (*self).run_in_place()
    }

    fn run_until_parked(self: Box<Self>) -> RunOutcome {
        (*self).run_here().boxed()
    }

    fn end_parked(self: Box<Self>, timed_out: bool) {
        (*self).end_parked_now(timed_out);
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
