//! [`EventSession`]: a connection on its way to an event loop, and the [`Session`] the loop
//! drives.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Instant;

use selectors::Interest;

use crate::drain::DrainProgress;
use crate::session::handle_op::{HandleOp, HandlePoster};

/// A connection on its way to an [`EventLoop`](crate::EventLoop), made by
/// [`Job::into_event_session`](crate::Job::into_event_session). Opaque.
pub struct EventSession(pub(crate) Box<dyn Session>);

impl fmt::Debug for EventSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSession")
            .field("conn_id", &self.0.id())
            .finish()
    }
}

/// The loop's settings that sessions follow.
#[derive(Debug)]
pub(crate) struct LoopContext {
    /// The loop's one read buffer, shared by all its connections.
    pub(crate) buffer: Vec<u8>,
    pub(crate) now: Instant,
    pub(crate) high_watermark: usize,
    pub(crate) low_watermark: usize,
    /// The server's drain level.
    pub(crate) drain: Arc<DrainProgress>,
    /// The reactor key of the session the loop is calling (for its handles).
    pub(crate) key: usize,
    /// Where handles post to this loop.
    pub(crate) poster: Arc<dyn HandlePoster>,
}

impl fmt::Debug for dyn HandlePoster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlePoster")
    }
}

/// What the loop does with a session after an event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) enum Next {
    /// Watch for this (nothing: `None`) until this deadline.
    Watch(Option<Interest>, Option<Instant>),
    /// End it: call [`Session::end`].
    #[default]
    Close,
}

/// A connection the loop drives. Object safe, so one loop holds sessions of any protocol.
pub(crate) trait Session: Send {
    fn id(&self) -> u64;
    fn fd(&self) -> BorrowedFd<'_>;
    /// Sets the socket up and calls `connection_made`.
    fn start(&mut self, ctx: &mut LoopContext) -> Next;
    /// Acts on readiness.
    fn ready(&mut self, readable: bool, writable: bool, ctx: &mut LoopContext) -> Next;
    /// Its deadline passed (at `now`): first byte, idle, or write — or, for a lingering close,
    /// its next look.
    fn timed_out(&mut self, now: Instant, ctx: &mut LoopContext) -> Next;
    /// A handle's operation for this session; `None`: nothing changed (it is not a
    /// connection that handles reach, e.g. a close that lingers).
    fn handle_op(&mut self, op: HandleOp, ctx: &mut LoopContext) -> Option<Next> {
        let _ = (op, ctx);
        None
    }
    /// The server's drain began or moved on: close the connection if it is idle now.
    fn drain(&mut self, ctx: &mut LoopContext) -> Next;
    /// Closes the connection and calls `connection_lost`. `stopping`: the loop stops. `Some`
    /// when the close lingers (its last output on its way): the loop keeps that entry, as the
    /// `Next` says.
    fn end(self: Box<Self>, stopping: bool) -> Option<(EventSession, Next)>;
}

impl AsFd for EventSession {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }
}
