//! [`Job`]: one accepted request on its way through a dispatch strategy.

use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connections::ConnectionGuard;
use crate::drain::Liveness;
use crate::error::RequestError;
use crate::session::EventSession;

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

    /// The request's socket, shared: a loop that runs the job on a coroutine keeps it
    /// registered (and open) until the coroutine has ended. `None` for a request without one.
    #[doc(hidden)]
    fn shared_socket(&self) -> Option<Arc<dyn AsFd + Send + Sync>> {
        None
    }

    /// Ends a parked job the server no longer serves (it closes, or no worker could take the
    /// job back) without running `handle` again: `finish`, then `shutdown_request`; counted
    /// as [`CloseReason::ServerClosing`](crate::CloseReason::ServerClosing).
    fn end_parked(self: Box<Self>);

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
