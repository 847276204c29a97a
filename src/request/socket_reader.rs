//! [`SocketReader`]: the buffered reading side of a stream request (`rfile`).

use std::fmt;
use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::drain::{BusySpan, Liveness};
use crate::error::TimedOut;
use crate::request::message_framing::{Framed, MessageFraming};
use crate::request::pending_output::SharedOutput;
use crate::request::{MessageClock, MinRate, SocketHalf, StreamSocket};
use crate::stats::CloseReason;

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
/// take several reads holds a [`BusySpan`] across them.
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
    /// Output the handler wrote that the peer has not taken yet (under a strategy that
    /// parks): sent, waiting, before this reader waits for input.
    pending_output: Option<Arc<SharedOutput>>,
    /// Empty until the first read that needs it; `capacity` bytes, or more while a parked
    /// connection gathers a longer message.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    capacity: usize,
    /// What gathering found after the bytes it buffered (the end of input, an error, a
    /// timeout): the next read that would wait returns it instead of waiting.
    gathered_end: Option<io::Result<()>>,
    /// Holds the connection busy while a gathered message is in flight.
    gather_span: Option<BusySpan>,
    /// When the last byte arrived while gathering.
    last_input: Option<Instant>,
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
            pending_output: None,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            capacity: capacity.max(1),
            gathered_end: None,
            gather_span: None,
            last_input: None,
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

    /// The socket half this reads from, to change how it waits.
    pub(crate) fn half_mut(&mut self) -> &mut SocketHalf<T> {
        &mut self.half
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
            self.half.set_read_wait(timeout)?;
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
        TimedOut::new(reason, after).into_io()
    }

    /// Frees the buffer while it holds nothing (a parked connection waits without it; the next
    /// read allocates it again), and gives back what a long gathered message grew it by.
    pub(crate) fn release_idle_buffer(&mut self) {
        if self.pos >= self.filled && !self.buf.is_empty() {
            self.buf = Vec::new();
            self.pos = 0;
            self.filled = 0;
        } else if self.buf.len() > self.capacity && self.filled - self.pos <= self.capacity {
            let mut smaller = vec![0; self.capacity];
            smaller[..self.filled - self.pos].copy_from_slice(&self.buf[self.pos..self.filled]);
            self.filled -= self.pos;
            self.pos = 0;
            self.buf = smaller;
        }
    }

    pub(crate) fn attach_liveness(&mut self, liveness: Arc<Liveness>) {
        self.liveness = Some(liveness);
    }

    /// Waits for input with nothing buffered: a message boundary, where a drain may end the
    /// connection.
    fn recv(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(end) = self.gathered_end.take() {
            // What gathering met after the bytes it buffered: given now, in their place.
            return end.map(|()| {
                self.eof_seen = true;
                0
            });
        }
        if let Some(pending) = self.pending_output.as_ref().filter(|p| p.is_waiting()) {
            // The peer may wait for our answer before it sends more: it goes first.
            pending.lock().send_all(self.half.socket())?;
        }
        let Some(liveness) = self.liveness.take() else {
            return self.recv_blocking(out, None);
        };
        let result = if liveness.enter_wait() {
            tracing::debug!("idle while the server drains: ending at this message boundary");
            match self.half.socket().recv_now(out) {
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
        if matches!(result, Ok(n) if n > 0) {
            liveness.note_input();
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
                    (Some((Some(after), _)), false) => {
                        Err(TimedOut::new(CloseReason::FirstByteTimeout, after).into_io())
                    }
                    (Some((_, Some(after))), true) => {
                        Err(TimedOut::new(CloseReason::IdleTimeout, after).into_io())
                    }
                    _ => Err(error),
                }
            }
            other => other,
        }
    }
}

impl<T: StreamSocket> SocketReader<T> {
    /// Reads through the next `delimiter` (keeping the bytes in `out`, if given), holding the
    /// connection busy from the first byte of the message to its delimiter.
    fn read_through(&mut self, delimiter: u8, mut out: Option<&mut Vec<u8>>) -> io::Result<usize> {
        let mut span: Option<BusySpan> = None;
        let mut read = 0;
        loop {
            let available = match self.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (found, used) = match available.iter().position(|&b| b == delimiter) {
                Some(at) => (true, at + 1),
                None => (false, available.len()),
            };
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&available[..used]);
            }
            self.consume(used);
            read += used;
            if found || used == 0 {
                return Ok(read);
            }
            // Part of the message is here: the rest belongs to it.
            if span.is_none() {
                span = Some(BusySpan::new(self.liveness.clone()));
            }
        }
    }

    /// Output that waits to be sent (under a strategy that parks): sent before this reader
    /// waits for input, since the peer may wait for it.
    pub(crate) fn send_pending_first(&mut self, pending: Arc<SharedOutput>) {
        self.pending_output = Some(pending);
    }

    /// Reads what has arrived into the buffer, without waiting, until `framing` says the
    /// handler can act on it, the bound is reached, or nothing more has arrived. The end of
    /// input or an error found here is kept for the handler's next read. For the loop that
    /// holds a parked connection.
    pub(crate) fn gather(&mut self, framing: &mut dyn MessageFraming) -> Gathered {
        let bound = framing.max_len().max(1);
        loop {
            let buffered = self.filled - self.pos;
            if buffered > 0 {
                match framing.frame(&self.buf[self.pos..self.filled]) {
                    Framed::Complete => return Gathered::Complete,
                    Framed::Incomplete if buffered >= bound => {
                        self.gathered_end = Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("a message longer than {bound} bytes"),
                        )));
                        return Gathered::Complete;
                    }
                    Framed::Incomplete => {}
                }
            }
            if self.gathered_end.is_some() {
                return Gathered::Complete;
            }
            self.make_room(bound);
            match self.half.socket().recv_now(&mut self.buf[self.filled..]) {
                Ok(0) => self.gathered_end = Some(Ok(())),
                Ok(n) => self.gathered(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Gathered::Incomplete,
                Err(e) => self.gathered_end = Some(Err(e)),
            }
        }
    }

    /// Makes room after the buffered bytes: moves them to the front, then grows the buffer,
    /// doubling, to at most `bound` bytes.
    fn make_room(&mut self, bound: usize) {
        if self.buf.is_empty() {
            self.buf = vec![0; self.capacity];
        }
        if self.filled < self.buf.len() {
            return;
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.buf.len() {
            // `filled` < `bound` here (the caller stops at the bound).
            let grown = self
                .buf
                .len()
                .saturating_mul(2)
                .min(bound)
                .max(self.filled + 1);
            self.buf.resize(grown, 0);
        }
    }

    /// The bookkeeping after gathering `n` bytes: the first byte, the drain, the message's
    /// clock (started with the message's first byte, which the handler's own busy span then
    /// continues).
    fn gathered(&mut self, n: usize) {
        self.filled += n;
        self.last_input = Some(Instant::now());
        self.first_byte_seen = true;
        if let Some(liveness) = &self.liveness {
            liveness.note_spoken();
            liveness.note_input();
        }
        if self.gather_span.is_none() {
            self.gather_span = Some(BusySpan::new(self.liveness.clone()));
        }
        let span = self.message_span_now();
        let _ = self.message_deadline(span);
        if let Some(clock) = &mut self.message {
            clock.received(n);
        }
    }

    /// When a parked connection that gathers runs out of time: for a message in flight, its
    /// read timeout, minimum rate and the idle timeout since its last byte; between messages,
    /// the first-byte or idle timeout from `parked_at`.
    pub(crate) fn gather_deadline(&mut self, parked_at: Instant) -> Option<Instant> {
        let base = self.base_timeout();
        if !self.in_message() {
            return base.and_then(|after| parked_at.checked_add(after));
        }
        let since = self.last_input.unwrap_or(parked_at).max(parked_at);
        let idle = base.and_then(|after| since.checked_add(after));
        let span = self.message_span_now();
        let message = self.message_deadline(span).map(|(at, _)| at);
        [idle, message].into_iter().flatten().min()
    }

    /// The busy span open now (the message in flight), if any.
    fn message_span_now(&self) -> Option<u64> {
        self.liveness
            .as_ref()
            .and_then(|liveness| liveness.busy_span())
    }

    /// Whether a message is in flight: part of one is buffered, or the handler holds the
    /// connection busy (it parked in the middle of a message).
    pub(crate) fn in_message(&self) -> bool {
        self.filled > self.pos || self.message_span_now().is_some()
    }

    /// The gathering deadline passed at `now` for a message in flight: the handler runs, and
    /// its next read that would wait gets the timeout that passed.
    pub(crate) fn gather_expired(&mut self, now: Instant) {
        let span = self.message_span_now();
        let timed_out = match self.message_deadline(span) {
            Some((at, reason)) if at <= now => self.message_timed_out(reason, now),
            _ => TimedOut::new(
                CloseReason::IdleTimeout,
                self.base_timeout().unwrap_or_default(),
            )
            .into_io(),
        };
        self.gathered_end = Some(Err(timed_out));
    }

    /// A handler's turn ended: the gathered message's span ends with it (a handler that
    /// parked in the middle of a message holds its own).
    pub(crate) fn turn_ended(&mut self) {
        self.gather_span = None;
        self.gathered_end = match self.gathered_end.take() {
            // The end of input stays known; a bound or a timeout was the last message's.
            Some(Ok(())) => Some(Ok(())),
            _ => None,
        };
    }
}

/// What [`SocketReader::gather`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gathered {
    /// The handler can run: the message is whole, or input ended, or it cannot grow.
    Complete,
    /// More must arrive.
    Incomplete,
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
                self.buf = vec![0; self.capacity];
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

    /// As `BufRead::read_until`; once part of the message has been read, the connection is
    /// busy until the delimiter arrives (a drain lets the message finish instead of handing
    /// the handler half of it as if it were whole).
    fn read_until(&mut self, delimiter: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        self.read_through(delimiter, Some(out))
    }

    /// As `BufRead::skip_until`, busy as [`read_until`](Self::read_until) is.
    fn skip_until(&mut self, delimiter: u8) -> io::Result<usize> {
        self.read_through(delimiter, None)
    }

    /// As `BufRead::read_line` (and so `lines()`), busy as [`read_until`](Self::read_until)
    /// is until the line's `\n` arrives.
    fn read_line(&mut self, out: &mut String) -> io::Result<usize> {
        // Read into `out`'s own buffer; as std, the new bytes are kept only if they are text
        // (an error with text keeps it too).
        let mut bytes = std::mem::take(out).into_bytes();
        let start = bytes.len();
        let result = self.read_until(b'\n', &mut bytes);
        let text = std::str::from_utf8(&bytes[start..]).is_ok();
        if !text {
            bytes.truncate(start);
        }
        // What was there was text, and so is what was added: this never falls back.
        *out = String::from_utf8(bytes)
            .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned());
        match text {
            true => result,
            false => result.and(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ))),
        }
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
