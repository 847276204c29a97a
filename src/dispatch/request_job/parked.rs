//! A [`RequestJob`] while parked: its kept output sent, its next message gathered, its
//! timeouts, and its close — sent, half-closed and lingered over — without a thread.

use std::time::Instant;

use crate::dispatch::job::{Job, ParkedEvent, ParkedStep};
use crate::dispatch::request_job::{input_ready, Handled, RequestJob};
use crate::error::{RequestError, TlsError};
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::{Handshake, Linger, Request};
use crate::shutdown::InHandler;
use crate::stats::CloseReason;

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
    /// The opening handshake failed or ran out of time: the handler never had the
    /// connection.
    Handshake(std::io::Error),
}

impl<R, H, K> RequestJob<R, H, K>
where
    R: Request,
    H: RequestHandler<R>,
    K: ServerHooks<R>,
{
    /// Reports the outcome and closes the request — the end of every turn that did not park,
    /// and of every parked job: here, lingering in place, for a job run in place; otherwise
    /// without waiting (a close that has to linger, or output still to send, comes back as
    /// [`Handled::Parked`], for the parker, whose thread serves every parked connection).
    pub(super) fn conclude_parked(
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
    /// has to linger comes back as [`Handled::Parked`].
    pub(super) fn end_parked_here(mut self, timed_out: bool) -> Handled<Self> {
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
        // A job still in its opening handshake never ran `setup`: no `finish` either.
        let outcome = match self.started {
            true => self.finish_after(Ok(())),
            false => Ok(()),
        };
        let reason = match (&outcome, timed_out) {
            (Err(_), _) => None,
            (Ok(()), true) if self.request.has_received_input() => Some(CloseReason::IdleTimeout),
            (Ok(()), true) => Some(CloseReason::FirstByteTimeout),
            (Ok(()), false) => Some(CloseReason::ServerClosing),
        };
        self.conclude_parked(outcome, reason)
    }

    /// The request is over (its outcome settled): closes it here if nothing is left to wait
    /// for, else hands it back to be parked while its output goes out and the close lingers,
    /// so no worker waits on a slow reader.
    pub(super) fn close_or_park(mut self, now: Instant) -> Handled<Self> {
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
    pub(super) fn close_now(mut self) {
        if matches!(self.closing, Some(Closing::Flushing)) {
            let _ = self.request.begin_close();
        }
        self.request.close_request();
    }

    /// A parked job's turn to look at its output: sends what the socket takes; `Some` with
    /// what to do when output is still waiting (or sending failed).
    pub(super) fn step_output(&mut self, now: Instant) -> Option<ParkedStep> {
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
    pub(super) fn step_closing(&mut self, closing: Closing, now: Instant) -> ParkedStep {
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

    pub(super) fn end_parked_now(self) {
        // Nothing will look at it again (the server is closing): a close that would linger
        // does not wait.
        if let Handled::Parked(job) = self.end_parked_here(false) {
            job.close_now();
        }
    }

    pub(super) fn end_idle_here(self) -> Handled<Self> {
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

    pub(super) fn finish_parked_here(mut self) -> Handled<Self> {
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
            Some(ParkedEnd::Handshake(error)) => self.end_handshake(error),
            None => {
                self.close_now();
                Handled::Finished(true)
            }
        }
    }

    /// The opening handshake's step: moved on with what has arrived, never waiting.
    fn step_handshake(&mut self, event: ParkedEvent, now: Instant) -> ParkedStep {
        let deadline = self.request.handshake_deadline();
        let wait = match self.request.advance_handshake() {
            Ok(Handshake::Done) => return ParkedStep::Resume,
            Ok(wait) => wait,
            Err(error) => {
                self.parked_end = Some(ParkedEnd::Handshake(error));
                return ParkedStep::Done;
            }
        };
        if deadline.is_some_and(|at| at <= now) && event != ParkedEvent::Admitted {
            let error = TlsError::handshake_timed_out().into_io();
            self.parked_end = Some(ParkedEnd::Handshake(error));
            return ParkedStep::Done;
        }
        ParkedStep::Wait {
            writable: wait == Handshake::WantWrite,
            deadline,
        }
    }

    /// Ends a job whose opening handshake failed: counted and logged (the handler never had
    /// it, so `handle_error` is not called), then closed.
    fn end_handshake(mut self, error: std::io::Error) -> Handled<Self> {
        let error = RequestError::from_io(error);
        error.log_handshake_failure(self.id, self.request.client_address());
        if let Some(guard) = &mut self.guard {
            guard.set_reason(error.close_reason());
        }
        self.close_or_park(Instant::now())
    }

    /// Where the parked job stands after `event` ([`Job::parked_step`]).
    pub(super) fn step_parked(&mut self, event: ParkedEvent, now: Instant) -> ParkedStep {
        if event == ParkedEvent::Admitted {
            self.parked_at = now;
        }
        if !self.started && self.request.handshaking() && self.closing.is_none() {
            return self.step_handshake(event, now);
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
                _ if input_ready(&mut self.request) => return ParkedStep::Resume,
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
}
