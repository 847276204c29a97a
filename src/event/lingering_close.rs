//! [`LingeringClose`]: a loop's connection that is over but whose last output is still on its
//! way — half-closed, its input discarded by the one [`Linger`] until the peer has
//! acknowledged what was sent, looked at through the loop's timer heap (a loop never waits).

use std::os::fd::BorrowedFd;
use std::time::Instant;

use selectors::Interest;

use crate::connections::ConnectionGuard;
use crate::request::{Linger, Request, StreamRequest, StreamSocket};
use crate::session::{EventSession, LoopContext, Next, Session};

/// A closed connection lingering on its loop; it keeps its slot in the server's counts until
/// the socket is closed.
pub(crate) struct LingeringClose<T: StreamSocket> {
    id: u64,
    request: StreamRequest<T>,
    guard: Option<ConnectionGuard>,
    linger: Linger,
    next_look: Instant,
}

impl<T: StreamSocket> LingeringClose<T> {
    /// A half-closed `request` lingering for `linger`, with what the loop does first: close it
    /// at once when the first look finds nothing to wait for.
    pub(crate) fn start(
        id: u64,
        request: StreamRequest<T>,
        guard: Option<ConnectionGuard>,
        linger: Linger,
    ) -> (EventSession, Next) {
        let now = Instant::now();
        let mut lingering = LingeringClose {
            id,
            request,
            guard,
            linger,
            next_look: now,
        };
        let next = lingering.look(now);
        (EventSession(Box::new(lingering)), next)
    }

    /// One look at `now`: over (close it), or the next look.
    fn look(&mut self, now: Instant) -> Next {
        if self.linger.step(self.request.socket().as_fd(), now) {
            return Next::Close;
        }
        self.next_look = self.linger.next_look(now);
        self.waiting()
    }

    fn waiting(&self) -> Next {
        Next::Watch(Some(Interest::READABLE), Some(self.next_look))
    }
}

impl<T: StreamSocket> Session for LingeringClose<T> {
    fn id(&self) -> u64 {
        self.id
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.request.socket().as_fd()
    }

    fn start(&mut self, _ctx: &mut LoopContext) -> Next {
        self.waiting()
    }

    fn ready(&mut self, _readable: bool, _writable: bool, ctx: &mut LoopContext) -> Next {
        self.look(ctx.now)
    }

    fn timed_out(&mut self, now: Instant, _ctx: &mut LoopContext) -> Next {
        self.look(now)
    }

    fn drain(&mut self, _ctx: &mut LoopContext) -> Next {
        // Not idle: its last answer is on its way (the drain's deadline still ends it).
        self.waiting()
    }

    fn end(self: Box<Self>, _stopping: bool) -> Option<(EventSession, Next)> {
        let LingeringClose { request, guard, .. } = *self;
        request.close_request();
        drop(guard); // counted as closed once the socket is
        None
    }
}
