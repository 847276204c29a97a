//! [`SocketReader`]: the buffered reading side of a stream request (`rfile`).

use std::fmt;
use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::drain::Liveness;
use crate::handler::{MessageClock, MinRate, SocketHalf, StreamSocket, TimedOut};
use crate::stats::CloseReason;
use crate::sys;

/// A buffered reader over a stream socket: Python's `rfile`. Implements [`Read`] and
/// [`BufRead`] (`read_line`, `lines`, `read_until`, …).
///
/// Like std's `BufReader`, with one difference that matters for servers with many idle
/// connections: the buffer is allocated when the first byte is to be read, not when the
/// connection is accepted, so a connection that has sent nothing costs no buffer; and a
/// [parked](crate::StreamRequest::park) connection frees it while it is empty. Reads at least
/// as large as the buffer bypass it.
///
/// It also takes part in a graceful drain ([`ShutdownHandle::drain`](crate::ShutdownHandle::drain)):
/// a read that finds the buffer empty is taken to wait at a message boundary, and once the
/// drain counts the connection as idle it reads as an end-of-file (after any bytes that have
/// already arrived), so a handler ends as if the client had closed. A handler whose messages
/// take several reads holds a [`BusySpan`](crate::BusySpan) across them.
///
/// # Examples
///
/// ```
/// use std::io::BufRead;
/// use socketserver::{SequentialTcpServer, StreamRequest};
///
/// let first_word = |req: &mut StreamRequest| {
///     let mut word = Vec::new();
///     req.rfile.read_until(b' ', &mut word)?;
///     assert_eq!(word, b"hello ");
///     assert_eq!(req.rfile.buffer(), b"world"); // already read from the socket, not consumed
///     Ok(())
/// };
/// let mut server = SequentialTcpServer::new("127.0.0.1:0", first_word)?;
/// let mut client = std::net::TcpStream::connect(server.server_address()?)?;
/// std::io::Write::write_all(&mut client, b"hello world")?;
/// server.handle_request()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SocketReader<T> {
    half: SocketHalf<T>,
    /// A byte has arrived on this connection.
    first_byte_seen: bool,
    /// The peer's end-of-file has been read.
    eof_seen: bool,
    /// The framework's read timeouts, when they are in force (`SO_RCVTIMEO` set by the
    /// request); `None` under Python's plain `timeout`.
    timeouts: Option<ReadTimeouts>,
    /// What `SO_RCVTIMEO` is set to now (by this reader).
    rcvtimeo: Option<Duration>,
    /// The message in flight (inside a busy span), against the read timeout and minimum rate.
    message: Option<MessageClock>,
    /// Which busy span `message` times (a new span is a new message).
    message_span: u64,
    /// The connection's drain state, when its server tracks it.
    liveness: Option<Arc<Liveness>>,
    /// Empty until the first read that needs it.
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    capacity: usize,
}

impl<T: StreamSocket> SocketReader<T> {
    pub(crate) fn new(half: SocketHalf<T>, capacity: usize) -> Self {
        SocketReader {
            half,
            first_byte_seen: false,
            eof_seen: false,
            timeouts: None,
            rcvtimeo: None,
            message: None,
            message_span: 0,
            liveness: None,
            buf: Box::default(),
            pos: 0,
            filled: 0,
            capacity: capacity.max(1),
        }
    }

    /// The buffer's size (the `rbufsize` it was made with; at least 1).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The bytes read from the socket and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// The socket half this reads from.
    pub fn get_ref(&self) -> &SocketHalf<T> {
        &self.half
    }

    /// Whether the peer's end-of-file has been read (it will send nothing more).
    pub fn has_seen_eof(&self) -> bool {
        self.eof_seen
    }

    /// Whether any byte has arrived on the connection.
    pub fn has_received_input(&self) -> bool {
        self.first_byte_seen
    }

    /// The read timeout of a message in flight on this connection (inside a
    /// [busy span](crate::StreamRequest::busy)): [`StreamOptions::read_timeout`](crate::StreamOptions::read_timeout)
    /// unless changed with [`set_read_timeout`](Self::set_read_timeout). `None` under Python's
    /// plain [`timeout`](crate::StreamOptions::timeout), which replaces the framework's timeouts.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.timeouts.and_then(|timeouts| timeouts.read)
    }

    /// Changes the read timeout of this connection's messages, from the message in flight on
    /// (its clock keeps its start): an HTTP server bounds a request head tighter than the rest
    /// of the request. Does nothing under Python's plain
    /// [`timeout`](crate::StreamOptions::timeout).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        if let Some(timeouts) = &mut self.timeouts {
            timeouts.read = timeout;
        }
    }

    /// Puts the framework's read timeouts in force: `SO_RCVTIMEO` is the first-byte timeout
    /// until the first byte, then the idle timeout, shortened inside a busy span to what the
    /// read timeout and minimum rate leave; an expiry reads as a [`TimedOut`] error.
    pub(crate) fn arm_timeouts(&mut self, timeouts: ReadTimeouts) -> io::Result<()> {
        self.timeouts = Some(timeouts);
        let now = self.base_timeout();
        self.set_rcvtimeo(now)
    }

    /// The first-byte or idle timeout, whichever applies now.
    fn base_timeout(&self) -> Option<Duration> {
        let timeouts = self.timeouts?;
        match self.first_byte_seen {
            true => timeouts.idle,
            false => timeouts.first_byte,
        }
    }

    fn set_rcvtimeo(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.rcvtimeo != timeout {
            self.half.socket().set_recv_timeout(timeout)?;
            self.rcvtimeo = timeout;
        }
        Ok(())
    }

    /// Inside a busy span (`span`: which one): when the message in flight runs out of time, and
    /// why. A new span starts a new message's clock.
    fn message_deadline(&mut self, span: Option<u64>) -> Option<(Instant, CloseReason)> {
        let timeouts = self.timeouts?;
        let Some(span) = span.filter(|_| timeouts.read.is_some() || timeouts.min_rate.is_some())
        else {
            self.message = None;
            return None;
        };
        if self.message_span != span {
            self.message = None;
            self.message_span = span;
        }
        let clock = self
            .message
            .get_or_insert_with(|| MessageClock::start(Instant::now()));
        clock.deadline(timeouts.read, timeouts.min_rate)
    }

    /// The error for a message that ran out of time.
    fn message_timed_out(&self, reason: CloseReason, now: Instant) -> io::Error {
        let after = self
            .message
            .map_or(Duration::ZERO, |clock| clock.elapsed(now));
        TimedOut { reason, after }.into_io()
    }

    /// Frees the buffer while it holds nothing (a parked connection waits without it; the next
    /// read allocates it again).
    pub(crate) fn release_idle_buffer(&mut self) {
        if self.pos >= self.filled && !self.buf.is_empty() {
            self.buf = Box::default();
            self.pos = 0;
            self.filled = 0;
        }
    }

    pub(crate) fn attach_liveness(&mut self, liveness: Arc<Liveness>) {
        self.liveness = Some(liveness);
    }

    /// Waits for input with nothing buffered: a message boundary, where a drain may end the
    /// connection.
    fn recv(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(liveness) = self.liveness.take() else {
            return self.recv_blocking(out, None);
        };
        let result = if liveness.enter_wait() {
            tracing::debug!("idle while the server drains: ending at this message boundary");
            match sys::recv_now(self.half.socket().as_fd(), out) {
                Ok(n) if n > 0 => self.received(Ok(n), out.len()),
                _ => Ok(0),
            }
        } else {
            let result = self.recv_blocking(out, liveness.busy_span());
            liveness.leave_wait();
            if matches!(result, Ok(0)) && liveness.closed_as_idle() {
                // The drain's end-of-file, not the peer's: the close still lingers for its input.
                self.eof_seen = false;
            }
            result
        };
        if self.first_byte_seen {
            liveness.note_spoken();
        }
        self.liveness = Some(liveness);
        result
    }

    /// One `recv(2)`, with the timeouts' bookkeeping; `span`: the message in flight, if any.
    fn recv_blocking(&mut self, out: &mut [u8], span: Option<u64>) -> io::Result<usize> {
        let deadline = self.message_deadline(span);
        let wait = match deadline {
            Some((at, reason)) => {
                let now = Instant::now();
                let left = at.saturating_duration_since(now);
                if left.is_zero() {
                    return Err(self.message_timed_out(reason, now));
                }
                Some(self.base_timeout().map_or(left, |base| base.min(left)))
            }
            None => self.base_timeout(),
        };
        if self.timeouts.is_some() {
            self.set_rcvtimeo(wait)?;
        }
        let result = self.half.read(out);
        match (&result, deadline) {
            (Ok(n), _) => {
                if let Some(clock) = &mut self.message {
                    clock.received(*n);
                }
            }
            (Err(error), Some((at, reason))) if error.kind() == io::ErrorKind::WouldBlock => {
                let now = Instant::now();
                if now >= at {
                    return Err(self.message_timed_out(reason, now));
                }
            }
            _ => {}
        }
        self.received(result, out.len())
    }

    /// The bookkeeping after a `recv` of at most `asked` bytes.
    fn received(&mut self, result: io::Result<usize>, asked: usize) -> io::Result<usize> {
        match result {
            Ok(0) if asked > 0 => {
                self.eof_seen = true;
                Ok(0)
            }
            Ok(n) if n > 0 && !self.first_byte_seen => {
                self.first_byte_seen = true;
                if self.timeouts.is_some() {
                    self.set_rcvtimeo(self.base_timeout())?;
                }
                Ok(n)
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                let timeouts = self.timeouts.map(|t| (t.first_byte, t.idle));
                match (timeouts, self.first_byte_seen) {
                    (Some((Some(after), _)), false) => Err(TimedOut {
                        reason: CloseReason::FirstByteTimeout,
                        after,
                    }
                    .into_io()),
                    (Some((_, Some(after))), true) => Err(TimedOut {
                        reason: CloseReason::IdleTimeout,
                        after,
                    }
                    .into_io()),
                    _ => Err(error),
                }
            }
            other => other,
        }
    }
}

/// The framework's read timeouts for one connection (from its
/// [`StreamOptions`](crate::StreamOptions)).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReadTimeouts {
    pub(crate) first_byte: Option<Duration>,
    pub(crate) idle: Option<Duration>,
    pub(crate) read: Option<Duration>,
    pub(crate) min_rate: Option<MinRate>,
}

impl<T: StreamSocket> Read for SocketReader<T> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled && out.len() >= self.capacity {
            return self.recv(out);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<T: StreamSocket> BufRead for SocketReader<T> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            if self.buf.is_empty() {
                self.buf = vec![0; self.capacity].into_boxed_slice();
            }
            let mut buf = std::mem::take(&mut self.buf);
            let read = self.recv(&mut buf);
            self.buf = buf;
            self.filled = read?;
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

impl<T> fmt::Debug for SocketReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketReader")
            .field("capacity", &self.capacity)
            .field("buffered", &(self.filled - self.pos))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
