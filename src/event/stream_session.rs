//! [`StreamSession`]: a [`Protocol`] over a stream socket, as an event loop drives it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use selectors::Interest;

use crate::connections::{ConnectionGuard, Registry};
use crate::drain::DrainLevel;
use crate::error::{RequestError, TimedOut, TlsError};
use crate::event::connection_handle::LoopLink;
use crate::event::lingering_close::LingeringClose;
use crate::event::protocol_driver::{Peer, ProtocolDriver};
use crate::event::{CallSoon, Connection, Protocol};
use crate::hooks::ServerHooks;
use crate::request::{
    discard_arrived, Handshake, Linger, MessageClock, MinRate, Request, StreamRequest, StreamSocket,
};
use crate::session::{EventSession, HandleOp, LoopContext, Next, Session, SessionParts};
use crate::stats::CloseReason;

/// A [`Protocol`] over a stream request.
pub(crate) struct StreamSession<T: StreamSocket, P> {
    id: u64,
    request: StreamRequest<T>,
    /// The protocol, its output, its state and the watermarks.
    driver: ProtocolDriver<P>,
    hooks: Arc<dyn ServerHooks<StreamRequest<T>>>,
    registry: Arc<Registry>,
    guard: Option<ConnectionGuard>,
    /// The peer shut down its side.
    eof: bool,
    idle_timeout: Option<Duration>,
    first_byte_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    min_rate: Option<MinRate>,
    /// The message in flight while the protocol is busy, against the read timeout and the
    /// minimum rate.
    message: Option<MessageClock>,
    /// A byte has arrived (until then the first-byte timeout applies).
    got_input: bool,
    /// When input last arrived (or the connection was adopted).
    last_input: Instant,
    /// When the pending output last shrank (or started), and how long it was then.
    last_progress: Instant,
    pending_seen: usize,
    /// Why the connection ends, once known.
    reason: Option<RequestError>,
    /// A drain closed it while idle.
    drained: bool,
    /// It had a message in flight, or input arrived, while a drain was on: its close at the
    /// next boundary is a message finished, not an idle connection closed.
    served_while_draining: bool,
    /// The protocol has the connection (`connection_made` ran): not before the opening
    /// handshake is over.
    made: bool,
    /// The earliest of the read, write and message timeouts when the loop last looked (not
    /// the protocol's timers): whether a deadline that passed is a timeout.
    timeout_at: Option<Instant>,
}

impl<T: StreamSocket, P: Protocol<T>> StreamSession<T, P> {
    pub(crate) fn new(parts: SessionParts<StreamRequest<T>>, protocol: P) -> Self {
        let options = *parts.request.options();
        let mut driver = ProtocolDriver::new(protocol, (0, 0));
        driver.read_timeout = options.read_timeout;
        StreamSession {
            id: parts.id,
            request: parts.request,
            driver,
            hooks: parts.hooks,
            registry: parts.registry,
            guard: parts.guard,
            eof: false,
            idle_timeout: options.idle_timeout,
            first_byte_timeout: options.first_byte_timeout,
            write_timeout: options.write_timeout,
            min_rate: options.min_rate,
            message: None,
            got_input: false,
            last_input: Instant::now(),
            last_progress: Instant::now(),
            pending_seen: 0,
            reason: None,
            drained: false,
            served_while_draining: false,
            made: false,
            timeout_at: None,
        }
    }

    /// The protocol gets the connection.
    fn make(&mut self, ctx: &mut LoopContext) -> Next {
        self.made = true;
        tracing::debug!(conn_id = self.id, peer = ?self.request.client_address, "connection made");
        self.call(|protocol, conn| protocol.connection_made(conn));
        self.settle(ctx)
    }

    /// Moves the opening handshake on with what has arrived; once it is over, the protocol
    /// gets the connection.
    fn handshake(&mut self, ctx: &mut LoopContext) -> Next {
        let deadline = self.request.socket.handshake_deadline();
        let interest = match self.request.socket.advance_handshake() {
            Ok(Handshake::Done) => return self.make(ctx),
            Ok(Handshake::WantRead) => Interest::READABLE,
            Ok(Handshake::WantWrite) => Interest::WRITABLE,
            Err(error) => {
                let error = RequestError::from_io(error);
                error.log_handshake_failure(self.id, &self.request.client_address);
                self.reason = Some(error);
                self.driver.state.aborted = true;
                return Next::Close;
            }
        };
        Next::Watch(Some(interest), deadline)
    }

    /// Reads again while the socket holds input the descriptor no longer shows (decrypted
    /// TLS records) and the protocol still takes input.
    fn read_held(&mut self, ctx: &mut LoopContext) {
        while self.reads_held() && self.read(ctx) {}
    }

    /// Whether the socket holds decrypted input the protocol takes now.
    fn reads_held(&self) -> bool {
        self.request.socket.holds_input()
            && !self.eof
            && !self.driver.state.closing
            && !self.driver.state.aborted
            && !self.driver.state.reading_paused
    }

    /// Runs one callback with a [`Connection`]; an `Err` or a panic is reported and ends the
    /// connection.
    fn call<R>(
        &mut self,
        callback: impl FnOnce(&mut P, &mut Connection<'_, T>) -> io::Result<R>,
    ) -> Option<R> {
        let StreamSession {
            request, driver, ..
        } = self;
        let peer = Peer {
            socket: &*request.socket,
            client_address: &request.client_address,
            shutdown: &request.shutdown,
        };
        let ran = driver.run(peer, |protocol, conn| {
            panic::catch_unwind(AssertUnwindSafe(|| callback(protocol, conn)))
        });
        let error = match ran {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(error)) => RequestError::from_io(error),
            Err(payload) => RequestError::from_panic(payload),
        };
        self.fail(error);
        None
    }

    /// Reports a callback's failure and marks the connection for closing.
    fn fail(&mut self, error: RequestError) {
        if matches!(error, RequestError::HandlerPanicked { .. }) {
            self.registry.panicked();
        }
        let hooks = &self.hooks;
        let request = &self.request;
        if panic::catch_unwind(AssertUnwindSafe(|| hooks.handle_error(request, &error))).is_err() {
            tracing::error!(conn_id = self.id, %error, "handle_error panicked while reporting");
        }
        self.driver.state.aborted = true;
        self.reason.get_or_insert(error);
    }

    /// A transport-level failure (a reset peer, a failed write): not a handler error.
    fn lost(&mut self, error: io::Error) {
        tracing::debug!(conn_id = self.id, %error, "connection lost");
        self.driver.state.aborted = true;
        self.reason.get_or_insert(RequestError::Handler(error));
    }

    /// One read; returns whether it found anything (input, the end of input, or an error).
    fn read(&mut self, ctx: &mut LoopContext) -> bool {
        let result = self.request.socket.read_some(&mut ctx.buffer);
        match result {
            Ok(0) => {
                self.eof = true;
                match self.call(|protocol, conn| protocol.eof_received(conn)) {
                    Some(true) => {}
                    Some(false) => self.driver.state.closing = true,
                    None => {}
                }
            }
            Ok(n) => {
                self.last_input = ctx.now;
                self.got_input = true;
                self.driver.state.unanswered = true;
                if ctx.drain.level() != DrainLevel::Serving {
                    self.served_while_draining = true;
                }
                if let Some(clock) = &mut self.message {
                    clock.received(n);
                }
                let data = &ctx.buffer[..n];
                self.call(|protocol, conn| protocol.data_received(conn, data));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return false
            }
            Err(e) => self.lost(e),
        }
        true
    }

    /// [`next`](Self::next), and during a drain: a connection with nothing to send, not
    /// busy, that has spoken (or whose first-byte grace is over) is idle; it is closed unless
    /// input has already arrived (then that input is served first).
    fn settle(&mut self, ctx: &mut LoopContext) -> Next {
        // Bounded: a peer that keeps sending to a protocol that answers nothing is closed at the
        // drain's deadline instead.
        for _ in 0..16 {
            // Input the socket holds decrypted (it came with the handshake's end, with other
            // records, or while reading was paused): no readiness will say it is here.
            self.read_held(ctx);
            let next = self.next(ctx);
            let level = ctx.drain.level();
            let draining = level != DrainLevel::Serving;
            let sending = self.driver.sending();
            if draining && (self.driver.state.in_message() || sending) {
                // A message in flight when (or after) the drain began finishes during it.
                self.served_while_draining = true;
            }
            let idle = draining
                && next != Next::Close
                && !sending
                && !self.driver.state.in_message()
                && !self.driver.state.reading_paused
                && (self.got_input || level >= DrainLevel::GraceOver);
            if !idle {
                // A callback may have resumed reading with input already decrypted: read it
                // now (the loop is bounded), no readiness will come for it.
                if next != Next::Close && self.reads_held() {
                    continue;
                }
                return next;
            }
            if !self.read(ctx) {
                tracing::debug!(conn_id = self.id, "idle while the server drains: closing");
                self.drained = true;
                return Next::Close;
            }
        }
        self.next(ctx)
    }

    /// Applies the watermarks and decides what to watch next.
    fn next(&mut self, ctx: &LoopContext) -> Next {
        if let Some(error) = self.driver.state.write_error.take() {
            self.lost(error);
        }
        if self.driver.state.aborted {
            return Next::Close;
        }
        // The watermarks first: a protocol resumed here may still have output to write (the
        // rest of a file), even when the peer's input has ended.
        while let Some(writing) = self.driver.writing_due() {
            self.call(|protocol, conn| {
                writing.deliver(protocol, conn);
                Ok(())
            });
        }
        // After the peer's end of input nothing can call the protocol again: once its output
        // is sent, the connection is done whatever `eof_received` said.
        let done = self.driver.state.closing || self.eof;
        let sending = self.driver.sending();
        if self.driver.state.aborted || (done && !sending) {
            return Next::Close;
        }
        let reading = !self.eof
            && !self.driver.state.closing
            && !self.driver.state.reading_paused
            && !self.driver.backed_up()
            && !self.driver.state.file_waits;
        let interest = match (reading, sending) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        // Output that shrank (or just started) restarts the write timeout; a file waiting for
        // the socket restarts it where the socket took some (in `ready`).
        if !self.driver.state.file_waits
            && (self.driver.out.len() < self.pending_seen || self.pending_seen == 0)
        {
            self.last_progress = ctx.now;
        }
        self.pending_seen = self.driver.out.len();
        let input_timeout = if self.got_input {
            self.idle_timeout
        } else {
            self.first_byte_timeout
        };
        let input_deadline = input_timeout
            .filter(|_| reading)
            .and_then(|t| self.last_input.checked_add(t));
        let output_deadline = self
            .write_timeout
            .filter(|_| sending)
            .and_then(|t| self.last_progress.checked_add(t));
        let message_deadline = self.message_deadline(ctx.now).filter(|_| reading);
        self.timeout_at = [input_deadline, output_deadline, message_deadline]
            .into_iter()
            .flatten()
            .min();
        let state = &self.driver.state;
        let deadline = match state.timers.next() {
            Some(timer) => Some(self.timeout_at.map_or(timer, |at| at.min(timer))),
            None => self.timeout_at,
        };
        if let Some(link) = &state.link {
            link.note_buffered(self.driver.out.len());
        }
        Next::Watch(interest, deadline)
    }

    /// While the protocol is busy (a message in flight): when the message runs out of time.
    fn message_deadline(&mut self, now: Instant) -> Option<Instant> {
        if std::mem::take(&mut self.driver.state.message_ended) {
            self.message = None;
        }
        if !self.driver.state.busy
            || (self.driver.read_timeout.is_none() && self.min_rate.is_none())
        {
            self.message = None;
            return None;
        }
        let clock = self.message.get_or_insert_with(|| MessageClock::start(now));
        clock
            .deadline(self.driver.read_timeout, self.min_rate)
            .map(|(at, _)| at)
    }
}

impl<T: StreamSocket, P: Protocol<T>> Session for StreamSession<T, P> {
    fn id(&self) -> u64 {
        self.id
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.request.socket.as_fd()
    }

    fn start(&mut self, ctx: &mut LoopContext) -> Next {
        self.driver.limits = (ctx.high_watermark, ctx.low_watermark);
        self.driver.state.link = Some(LoopLink {
            poster: Arc::clone(&ctx.poster),
            key: ctx.key,
            id: self.id,
            shared: None,
        });
        self.last_input = ctx.now;
        self.last_progress = ctx.now;
        if let Err(error) = self.request.prepare_nonblocking() {
            self.fail(error);
            return Next::Close;
        }
        if let Err(error) = self.request.socket.set_nonblocking(true) {
            self.fail(RequestError::Handler(error));
            return Next::Close;
        }
        self.driver.state.on_loop = true;
        match self.request.socket.handshaking() {
            true => self.handshake(ctx),
            false => self.make(ctx),
        }
    }

    fn ready(&mut self, readable: bool, writable: bool, ctx: &mut LoopContext) -> Next {
        if !self.made {
            return self.handshake(ctx);
        }
        if writable && !self.driver.out.is_empty() {
            if let Err(error) = self.driver.out.send(&*self.request.socket) {
                self.lost(error);
                return Next::Close;
            }
        }
        if writable && self.driver.out.is_empty() && self.driver.state.file_waits {
            // The socket takes more of the file `send_file` left: the protocol goes on.
            self.driver.state.file_waits = false;
            self.last_progress = ctx.now;
            self.call(|protocol, conn| {
                protocol.resume_writing(conn);
                Ok(())
            });
        }
        if readable && !self.eof && !self.driver.state.closing && !self.driver.state.aborted {
            self.read(ctx);
        }
        self.settle(ctx)
    }

    fn drain(&mut self, ctx: &mut LoopContext) -> Next {
        if !self.made {
            return self.handshake(ctx);
        }
        self.settle(ctx)
    }

    fn timed_out(&mut self, now: Instant, ctx: &mut LoopContext) -> Next {
        if !self.made {
            let error = RequestError::Tls(TlsError::handshake_timed_out());
            error.log_handshake_failure(self.id, &self.request.client_address);
            self.reason = Some(error);
            self.driver.state.aborted = true;
            return Next::Close;
        }
        // The protocol's timers first: one may answer, or close, before a timeout would. At
        // most those pending now: a callback that sets a timer already due (`call_at` in the
        // past) has it fired on the loop's next turn, not in an endless loop here.
        for _ in 0..self.driver.state.timers.len() {
            if self.driver.state.aborted {
                break;
            }
            let Some(timer) = self.driver.state.timers.take_due(now) else {
                break;
            };
            self.call(|protocol, conn| protocol.timer_fired(conn, timer));
        }
        if self.driver.state.aborted || self.timeout_at.is_none_or(|at| at > now) {
            return self.settle(ctx);
        }
        let sending = self.driver.sending();
        let write_expired = self
            .write_timeout
            .filter(|&t| sending && self.last_progress + t <= now);
        let message_expired = self.message.and_then(|clock| {
            clock
                .deadline(self.driver.read_timeout, self.min_rate)
                .filter(|&(at, _)| at <= now)
                .map(|(_, reason)| (clock, reason))
        });
        let timed_out = match (write_expired, message_expired, self.got_input) {
            (Some(after), _, _) => TimedOut::new(CloseReason::WriteTimeout, after),
            (None, Some((clock, reason)), _) => {
                let after = clock.elapsed(now);
                match reason {
                    CloseReason::ReadTimeout => TimedOut::new(reason, after),
                    _ => TimedOut::too_slow(
                        self.min_rate.map_or(0, |rate| rate.bytes_per_second),
                        clock.bytes(),
                        after,
                    ),
                }
            }
            (None, None, false) => TimedOut::new(
                CloseReason::FirstByteTimeout,
                self.first_byte_timeout.unwrap_or_default(),
            ),
            (None, None, true) => TimedOut::new(
                CloseReason::IdleTimeout,
                self.idle_timeout.unwrap_or_default(),
            ),
        };
        let reason = RequestError::TimedOut(timed_out);
        if matches!(
            timed_out.reason(),
            CloseReason::ReadTimeout | CloseReason::TooSlow
        ) {
            // A last word before the close (an HTTP 408), sent only if the socket takes it now.
            self.call(|protocol, conn| {
                protocol.read_timed_out(conn);
                Ok(())
            });
            let _ = self.driver.out.send(&*self.request.socket);
        }
        tracing::debug!(conn_id = self.id, %reason, "closing: timeout");
        self.reason.get_or_insert(reason);
        self.driver.state.aborted = true;
        Next::Close
    }

    fn handle_op(&mut self, op: HandleOp, ctx: &mut LoopContext) -> Option<Next> {
        if self.driver.state.aborted {
            return None;
        }
        match op {
            HandleOp::Write(bytes) => {
                if let Some(link) = &self.driver.state.link {
                    link.note_delivered(bytes.len());
                }
                self.call(|_, conn| {
                    conn.write(&bytes);
                    Ok(())
                });
            }
            HandleOp::Close => self.driver.state.closing = true,
            HandleOp::Disconnect => self.lost(io::Error::new(
                io::ErrorKind::WriteZero,
                "the peer did not read: its output passed the high watermark",
            )),
            HandleOp::Call(callback) => match callback.downcast::<CallSoon<T>>() {
                Ok(callback) => {
                    self.call(|_, conn| {
                        callback(conn);
                        Ok(())
                    });
                }
                Err(_) => tracing::error!(
                    conn_id = self.id,
                    "a handle posted a closure for another stream type"
                ),
            },
        }
        Some(self.settle(ctx))
    }

    fn end(self: Box<Self>, stopping: bool) -> Option<(EventSession, Next)> {
        let mut this = *self;
        if let Some(link) = &this.driver.state.link {
            link.close();
        }
        if stopping && !this.driver.state.aborted {
            // The loop stops: send what can be sent without waiting, then close cleanly.
            let _ = this.driver.out.send(&*this.request.socket);
        }
        let reason = this.reason.take();
        let close_reason = match &reason {
            None if this.drained && this.served_while_draining => CloseReason::Completed,
            None if this.drained => CloseReason::Drained,
            None if stopping => CloseReason::ServerClosing,
            None => CloseReason::Completed,
            Some(error) => error.close_reason(),
        };
        if let Some(guard) = &mut this.guard {
            guard.set_reason(close_reason);
        }
        let protocol = &mut this.driver.protocol;
        if this.made
            && panic::catch_unwind(AssertUnwindSafe(|| {
                protocol.connection_lost(reason.as_ref())
            }))
            .is_err()
        {
            tracing::error!(conn_id = this.id, "connection_lost panicked");
        }
        if this.made && !this.driver.state.aborted {
            // A clean end: the peer learns it was not cut short (TLS's close_notify).
            this.request.socket.close_notify();
        }
        tracing::debug!(conn_id = this.id, reason = ?close_reason, "connection closed");
        if this.eof && this.driver.out.is_empty() && !this.driver.state.aborted {
            // Both sides are done and nothing is unread: close(2) alone sends the FIN, and no
            // other process holds this socket (a `shutdown(2)` would be one more syscall).
            this.request.close_request();
        } else if stopping || this.eof || close_reason == CloseReason::WriteTimeout {
            // The loop stops, the peer has gone, or it stopped reading: half-close, drop what
            // has already arrived (so the close sends no reset), and close without lingering.
            let socket = &this.request.socket;
            let lingers = this.request.options().close_linger.is_some();
            if socket.shutdown(std::net::Shutdown::Write).is_ok() && !this.eof && lingers {
                let _ = discard_arrived(socket.as_fd());
            }
            this.request.close_request();
        } else {
            // Half-close; while what we sent is still on its way, linger over it in the loop
            // (its input discarded), so the close sends no reset over an answer unread.
            match this.request.begin_close() {
                Some(linger) => {
                    let linger = Linger::new(Instant::now(), linger);
                    let guard = this.guard.take();
                    return Some(LingeringClose::start(this.id, this.request, guard, linger));
                }
                None => this.request.close_request(),
            }
        }
        None
    }
}
