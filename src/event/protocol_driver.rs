//! [`ProtocolDriver`]: one connection's [`Protocol`] and what its callbacks share — the output
//! they wrote, the connection's state, the watermarks and the flow control around them —
//! driven the same way on an event loop ([`StreamSession`](crate::event::stream_session)) and
//! on threads ([`ProtocolHandler`](crate::ProtocolHandler)).

use std::time::Duration;

use crate::event::connection::{ConnState, OutBuf};
use crate::event::{Connection, Protocol};
use crate::request::StreamSocket;
use crate::shutdown::ShutdownHandle;

/// A connection's protocol with its callbacks' shared state.
#[derive(Debug)]
pub(crate) struct ProtocolDriver<P> {
    pub(crate) protocol: P,
    /// What the callbacks wrote and the socket has not taken yet.
    pub(crate) out: OutBuf,
    pub(crate) state: ConnState,
    /// The read timeout of a message in flight (`Connection::set_read_timeout`).
    pub(crate) read_timeout: Option<Duration>,
    /// The high and low watermarks of pending output.
    pub(crate) limits: (usize, usize),
    /// Output went past the high watermark: `pause_writing` was called, `resume_writing` is
    /// due once it is back at the low one.
    backed_up: bool,
}

/// The parts of a request a [`Connection`] borrows.
pub(crate) struct Peer<'a, T: StreamSocket> {
    pub(crate) socket: &'a T,
    pub(crate) client_address: &'a T::Address,
    pub(crate) shutdown: &'a ShutdownHandle,
}

// By hand: a derive would ask `T: Copy`, and only references are copied.
impl<T: StreamSocket> Clone for Peer<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: StreamSocket> Copy for Peer<'_, T> {}

/// A flow-control callback that has fallen due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writing {
    Pause,
    Resume,
}

impl Writing {
    /// Calls `pause_writing` or `resume_writing`.
    pub(crate) fn deliver<T: StreamSocket, P: Protocol<T>>(
        self,
        protocol: &mut P,
        conn: &mut Connection<'_, T>,
    ) {
        match self {
            Writing::Pause => protocol.pause_writing(conn),
            Writing::Resume => protocol.resume_writing(conn),
        }
    }
}

impl<P> ProtocolDriver<P> {
    pub(crate) fn new(protocol: P, limits: (usize, usize)) -> Self {
        ProtocolDriver {
            protocol,
            out: OutBuf::default(),
            state: ConnState::default(),
            read_timeout: None,
            limits,
            backed_up: false,
        }
    }

    /// Runs one callback with a [`Connection`] over `peer` and this driver's state.
    pub(crate) fn run<T: StreamSocket, R>(
        &mut self,
        peer: Peer<'_, T>,
        callback: impl FnOnce(&mut P, &mut Connection<'_, T>) -> R,
    ) -> R {
        let ProtocolDriver {
            protocol,
            out,
            state,
            read_timeout,
            limits,
            ..
        } = self;
        let mut conn = Connection {
            socket: peer.socket,
            client_address: peer.client_address,
            shutdown: peer.shutdown,
            out,
            state,
            limits: *limits,
            read_timeout,
        };
        callback(protocol, &mut conn)
    }

    /// The flow-control callback due now, if any (the caller delivers it and asks again):
    /// `resume_writing` once the output is back at the low watermark, then `pause_writing`
    /// once it is past the high one — also right after a resume that wrote past it again (a
    /// protocol streaming a body), so every pause is followed by a resume.
    pub(crate) fn writing_due(&mut self) -> Option<Writing> {
        let (high, low) = self.limits;
        if self.backed_up && self.out.len() <= low {
            self.backed_up = false;
            return Some(Writing::Resume);
        }
        if !self.backed_up && self.out.len() > high && !self.state.aborted {
            self.backed_up = true;
            return Some(Writing::Pause);
        }
        None
    }

    /// Whether output is still to send: bytes the socket has not taken, or a file
    /// `send_file` left for when it takes more.
    pub(crate) fn sending(&self) -> bool {
        !self.out.is_empty() || self.state.file_waits
    }

    /// Whether the output is past the high watermark (reading from the peer stops).
    pub(crate) fn backed_up(&self) -> bool {
        self.backed_up
    }
}

impl<P: Clone> Clone for ProtocolDriver<P> {
    /// The protocol cloned, with a fresh state (a prototype's is never used).
    fn clone(&self) -> Self {
        ProtocolDriver::new(self.protocol.clone(), self.limits)
    }
}
