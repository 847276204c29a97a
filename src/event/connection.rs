//! [`Connection`]: what a [`Protocol`](crate::Protocol) callback writes to and controls.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::time::Duration;

use crate::event::connection_handle::LoopLink;
use crate::event::connection_timers::{ConnectionTimers, TimerId};
use crate::event::ConnectionHandle;
use crate::request::{file_shrank, is_peer_gone, StreamSocket, SENDFILE_CHUNK};
use crate::shutdown::ShutdownHandle;

/// One connection as a [`Protocol`](crate::Protocol) callback sees it: asyncio's `Transport`.
///
/// [`write`](Self::write) never blocks on an event loop: what the socket does not take at once
/// is kept in the connection's output buffer (allocated only while bytes are pending) and sent
/// when the peer reads. Past the loop's high watermark the framework stops reading from this
/// peer and calls [`pause_writing`](crate::Protocol::pause_writing), so a peer that does not
/// read cannot make the server's memory grow without bound.
///
/// Under a thread strategy (the same protocol run through [`ProtocolHandler`](crate::ProtocolHandler) on a
/// pool or a thread), the buffer is sent, blocking, after each callback.
#[doc(alias = "Transport")]
pub struct Connection<'a, T: StreamSocket = TcpStream> {
    pub(crate) socket: &'a T,
    pub(crate) client_address: &'a T::Address,
    pub(crate) shutdown: &'a ShutdownHandle,
    pub(crate) out: &'a mut OutBuf,
    pub(crate) state: &'a mut ConnState,
    /// The high and low watermarks of pending output.
    pub(crate) limits: (usize, usize),
    /// The read timeout of a message in flight (the session's).
    pub(crate) read_timeout: &'a mut Option<Duration>,
}

/// The default high and low watermarks: an [`EventLoop`](crate::EventLoop)'s until it is set
/// otherwise, and what a thread strategy applies.
pub(crate) const DEFAULT_WATERMARKS: (usize, usize) = (64 * 1024, 16 * 1024);

/// The output a socket has not taken yet.
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    bytes: Vec<u8>,
    start: usize,
    /// The socket holds output of its own (TLS records of bytes already written) that it
    /// has not sent: the connection still waits to write.
    held: bool,
}

/// What the callbacks asked for, and what went wrong.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// Close once the output is sent (`close`, or the end of input).
    pub(crate) closing: bool,
    /// Close now, dropping the output.
    pub(crate) aborted: bool,
    /// The protocol asked not to be given input.
    pub(crate) reading_paused: bool,
    /// A write failed: the connection is closed after the callback.
    pub(crate) write_error: Option<io::Error>,
    /// The protocol is in the middle of a message: a drain does not count it as idle.
    pub(crate) busy: bool,
    /// The protocol has said when it is busy (`set_busy`): from then on only that counts.
    pub(crate) busy_declared: bool,
    /// Bytes arrived and nothing was written since: until the protocol says otherwise, a
    /// drain takes them for a message not answered yet.
    pub(crate) unanswered: bool,
    /// A message ended (`set_busy(false)`) since the loop last looked: the next busy time is
    /// a new message, with a fresh read-timeout clock.
    pub(crate) message_ended: bool,
    /// `send_file` found the socket full: `resume_writing` is due once it takes more, and
    /// until then the connection counts as backed up.
    pub(crate) file_waits: bool,
    /// On an event loop (its socket never blocks): `send_file` may send from the page cache.
    pub(crate) on_loop: bool,
    /// The protocol's timers (on an event loop).
    pub(crate) timers: ConnectionTimers,
    /// Where the connection's loop is, for handles (on an event loop).
    pub(crate) link: Option<LoopLink>,
}

impl OutBuf {
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// Whether bytes wait here (the socket may hold more of its own).
    fn has_bytes(&self) -> bool {
        self.start < self.bytes.len()
    }

    /// Whether nothing waits to be sent: no bytes here, none held by the socket.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0 && !self.held
    }

    /// Notes whether `socket` holds output of its own after a write.
    pub(crate) fn note_held<T: StreamSocket>(&mut self, socket: &T) {
        self.held = socket.holds_output();
    }

    fn extend(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// Sends what the socket takes; `Ok` when nothing is left or the socket is full.
    pub(crate) fn send<T: StreamSocket>(&mut self, socket: &T) -> io::Result<()> {
        while self.has_bytes() {
            match socket.write_some(&self.bytes[self.start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.start += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !self.has_bytes() {
            // Give the memory back: an idle connection holds no buffer.
            *self = OutBuf::default();
            self.held = !socket.flush_held()?;
        }
        Ok(())
    }
}

impl ConnState {
    /// Whether a message is in flight: the protocol said so, or (until it says anything)
    /// bytes arrived that it has not answered.
    pub(crate) fn in_message(&self) -> bool {
        match self.busy_declared {
            true => self.busy,
            false => self.unanswered,
        }
    }
}

impl OutBuf {
    /// The bytes not sent yet.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// Forgets everything (it was handed on).
    pub(crate) fn clear(&mut self) {
        *self = OutBuf::default();
    }
}

impl<T: StreamSocket> Connection<'_, T> {
    /// Sends `data`, or keeps what the socket cannot take now and sends it as the peer reads:
    /// asyncio's `Transport.write`. Never blocks on an event loop. After
    /// [`close`](Self::close), [`abort`](Self::abort) or a failed write, does nothing (the
    /// connection is closing).
    pub fn write(&mut self, data: &[u8]) {
        if self.is_closing() || data.is_empty() {
            return;
        }
        self.state.unanswered = false;
        let mut rest = data;
        if self.out.is_empty() {
            loop {
                match self.socket.write_some(rest) {
                    Ok(n) => {
                        rest = &rest[n..];
                        if rest.is_empty() || n == 0 {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.state.write_error = Some(e);
                        return;
                    }
                }
            }
        }
        if !rest.is_empty() {
            self.out.extend(rest);
        }
        self.out.held |= self.socket.holds_output();
    }

    /// Sends `head`, then up to `len` bytes of `file` from its position straight from the
    /// kernel's page cache to the socket (`sendfile(2)`: no copy through this process, no
    /// buffer), and returns how many bytes of the file went. The head (a response's, say)
    /// leaves in the same packet as the file's start.
    ///
    /// The file is sent only while nothing written before is waiting; when output waits, or
    /// the socket fills, it stops (the head, if it was not taken, is kept as
    /// [`write`](Self::write) keeps bytes), and the framework calls
    /// [`resume_writing`](crate::Protocol::resume_writing) once the socket takes more — as
    /// after a `pause_writing`, and with the same rules meanwhile: no input is read from this
    /// peer, and the write timeout runs. So a protocol sends a large file by calling this
    /// again (with an empty head) in `resume_writing` until all of it went, never holding any
    /// of it in memory.
    ///
    /// # Errors
    ///
    /// `Unsupported`, with nothing written, under a thread strategy (there a socket may block,
    /// and a slow reader must not hold a thread in the kernel: write the file's bytes, which
    /// the framework paces) and where the system has no such call or the file cannot be sent
    /// this way (not a regular file); the file cannot be read, or it ended before `len` bytes
    /// (the response it belongs to cannot be completed: abort the connection). The socket's
    /// own errors are a failed write: the connection closes, as after a failed
    /// [`write`](Self::write).
    pub fn send_file(&mut self, head: &[u8], file: &std::fs::File, len: u64) -> io::Result<u64> {
        if !self.state.on_loop {
            return Err(io::ErrorKind::Unsupported.into());
        }
        if self.is_closing() {
            return Ok(0);
        }
        self.state.unanswered = false;
        // The head goes now only when nothing waits before it; what it does not take is kept,
        // and the file goes once that has gone.
        let free = self.out.is_empty() && !self.state.file_waits;
        let sent_now = match free && !head.is_empty() {
            true => self.socket.send_now_more(head),
            false => Ok(0),
        };
        let taken = match sent_now {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(e) => {
                self.state.write_error = Some(e);
                return Ok(0);
            }
        };
        if !free || taken < head.len() {
            self.out.extend(&head[taken..]);
            self.state.file_waits = len > 0;
            return Ok(0);
        }
        let mut sent = 0;
        while sent < len {
            let count = usize::try_from(len - sent)
                .unwrap_or(usize::MAX)
                .min(SENDFILE_CHUNK);
            match self.socket.send_file_now(file, count) {
                Ok(0) => return Err(file_shrank()),
                Ok(n) => sent += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.state.file_waits = true;
                    break;
                }
                Err(e) if is_peer_gone(&e) || e.kind() == io::ErrorKind::TimedOut => {
                    self.state.write_error = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        self.out.note_held(self.socket);
        Ok(sent)
    }

    /// Bytes written and not yet taken by the socket (asyncio's `get_write_buffer_size`).
    #[doc(alias = "get_write_buffer_size")]
    pub fn write_buffer_size(&self) -> usize {
        self.out.len()
    }

    /// The high and low watermarks of pending output (asyncio's `get_write_buffer_limits`):
    /// past `high` the framework calls [`pause_writing`](crate::Protocol::pause_writing), and
    /// [`resume_writing`](crate::Protocol::resume_writing) once the output is back at `low`. A
    /// protocol that streams a large body writes until the buffer is past `high`, then goes on
    /// in `resume_writing`, so the body is never held whole in memory.
    #[doc(alias = "get_write_buffer_limits")]
    pub fn write_buffer_limits(&self) -> (usize, usize) {
        self.limits
    }

    /// Closes the connection once everything written has been sent (then the peer reads
    /// end-of-file): asyncio's `Transport.close`. No more input is delivered.
    pub fn close(&mut self) {
        self.state.closing = true;
    }

    /// Closes the connection now, dropping unsent output: asyncio's `Transport.abort`.
    pub fn abort(&mut self) {
        self.state.aborted = true;
    }

    /// Whether the connection is closing (closed, aborted or failed).
    pub fn is_closing(&self) -> bool {
        self.state.closing || self.state.aborted || self.state.write_error.is_some()
    }

    /// Marks the connection as in the middle of a message (`true`) or between messages
    /// (`false`). A graceful drain ([`ShutdownHandle::drain`](crate::ShutdownHandle::drain))
    /// closes a connection that has no output pending and is not busy; its deadline still
    /// closes a busy one. While busy, the message is timed by the transport's read timeout and
    /// minimum rate; `set_busy(false)` ends the message, so `set_busy(true)` after it (even in
    /// the same callback) starts a new one with a fresh clock.
    ///
    /// Until a protocol first calls this, the framework judges by what it sees: bytes that
    /// arrived and that the protocol has not answered (it has written nothing since) are a
    /// message in flight, which a drain lets finish — so a line protocol holding half a line
    /// is not cut. A protocol that keeps part of a message across callbacks says so exactly
    /// with `set_busy` (as [`Protocol`](crate::Protocol)'s example does); one that only
    /// listens (a log sink that never answers) calls `set_busy(false)` once, in
    /// `connection_made`, so a drain may close it between messages.
    pub fn set_busy(&mut self, busy: bool) {
        self.state.busy = busy;
        self.state.busy_declared = true;
        self.state.message_ended |= !busy;
    }

    /// The read timeout of a message in flight while the connection is
    /// [busy](Self::set_busy): [`StreamOptions::read_timeout`](crate::StreamOptions::read_timeout)
    /// unless changed with [`set_read_timeout`](Self::set_read_timeout).
    pub fn read_timeout(&self) -> Option<Duration> {
        *self.read_timeout
    }

    /// Changes the read timeout of this connection's messages, from the message in flight on
    /// (its clock keeps its start): an HTTP server bounds a request head tighter than the rest
    /// of the request. On an event loop, which times busy connections; a thread strategy
    /// parks between callbacks and times only the idle wait.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        *self.read_timeout = timeout;
    }

    /// Stops delivering input until [`resume_reading`](Self::resume_reading) (the peer's bytes
    /// wait in the kernel, which slows the peer down): asyncio's `pause_reading`. On an event
    /// loop only; a thread strategy reads when the protocol's callbacks return.
    pub fn pause_reading(&mut self) {
        self.state.reading_paused = true;
    }

    /// Delivers input again after [`pause_reading`](Self::pause_reading).
    pub fn resume_reading(&mut self) {
        self.state.reading_paused = false;
    }

    /// Whether input is being delivered (asyncio's `is_reading`).
    pub fn is_reading(&self) -> bool {
        !self.state.reading_paused && !self.is_closing()
    }

    /// The peer's address (asyncio's `get_extra_info('peername')`).
    #[doc(alias = "peername")]
    pub fn client_address(&self) -> &T::Address {
        self.client_address
    }

    /// The connected socket (asyncio's `get_extra_info('socket')`).
    pub fn socket(&self) -> &T {
        self.socket
    }

    /// The handle that stops the server.
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        self.shutdown
    }

    /// Calls [`Protocol::timer_fired`](crate::Protocol::timer_fired) on this connection's loop
    /// thread once `delay` has passed: asyncio's `loop.call_later`. A timer costs no thread
    /// and no system call; it is cancelled with [`cancel_timer`](Self::cancel_timer), and with
    /// the connection when it ends. For heartbeats, a protocol's own step deadlines, or output
    /// batched over a few milliseconds.
    ///
    /// # Errors
    ///
    /// `Unsupported` under a thread strategy: timers run on an [`EventLoop`](crate::EventLoop)
    /// (a thread strategy's handler can use its own read timeouts).
    ///
    /// # Examples
    ///
    /// A heartbeat every 10 ms until the client has had three:
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// use socketserver::{Connection, EventTcpServer, Protocol, ProtocolHandler, TimerId};
    ///
    /// #[derive(Clone, Default)]
    /// struct Heartbeat {
    ///     beats: u32,
    /// }
    ///
    /// impl Protocol for Heartbeat {
    ///     fn connection_made(&mut self, conn: &mut Connection<'_>) -> std::io::Result<()> {
    ///         conn.call_later(Duration::from_millis(10))?;
    ///         Ok(())
    ///     }
    ///     fn data_received(&mut self, _: &mut Connection<'_>, _: &[u8]) -> std::io::Result<()> {
    ///         Ok(())
    ///     }
    ///     fn timer_fired(&mut self, conn: &mut Connection<'_>, _: TimerId) -> std::io::Result<()> {
    ///         self.beats += 1;
    ///         conn.write(b"beat\n");
    ///         match self.beats {
    ///             3 => conn.close(),
    ///             _ => drop(conn.call_later(Duration::from_millis(10))?),
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Heartbeat::default()))?;
    /// let address = server.server_address()?;
    /// let stop = server.shutdown_handle();
    /// let serving = std::thread::spawn(move || server.serve_forever());
    ///
    /// let mut heard = String::new();
    /// std::net::TcpStream::connect(address)?.read_to_string(&mut heard)?;
    /// assert_eq!(heard, "beat\nbeat\nbeat\n");
    ///
    /// stop.shutdown();
    /// serving.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_later(&mut self, delay: Duration) -> io::Result<TimerId> {
        // Past what the clock can say: never, as good as a timer that does not fire.
        let at = std::time::Instant::now()
            .checked_add(delay)
            .unwrap_or_else(|| std::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        self.call_at(at)
    }

    /// Calls [`Protocol::timer_fired`](crate::Protocol::timer_fired) at `when` (at once, on
    /// the loop's next turn, if it has passed): asyncio's `loop.call_at`. As
    /// [`call_later`](Self::call_later).
    ///
    /// # Errors
    ///
    /// `Unsupported` under a thread strategy.
    pub fn call_at(&mut self, when: std::time::Instant) -> io::Result<TimerId> {
        if self.state.link.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "timers run on an event loop",
            ));
        }
        Ok(self.state.timers.add(when))
    }

    /// Cancels a timer (asyncio's `TimerHandle.cancel`): `false` when it has already fired or
    /// been cancelled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.state.timers.cancel(timer)
    }

    /// A handle other threads and other connections use to write to this connection, close it,
    /// or run a closure on its loop (see [`ConnectionHandle`]). All handles of a connection
    /// share one state; making one costs an allocation the first time, nothing after.
    ///
    /// # Errors
    ///
    /// `Unsupported` under a thread strategy, where the connection's thread is blocked or
    /// parked: there a blocking handler's [`StreamRequest::writer`](crate::StreamRequest::writer)
    /// is the way in.
    pub fn handle(&mut self) -> io::Result<ConnectionHandle<T>> {
        let high_watermark = self.limits.0;
        match &mut self.state.link {
            Some(link) => Ok(ConnectionHandle::new(link.shared(high_watermark))),
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "handles reach connections on an event loop",
            )),
        }
    }
}

impl<T: StreamSocket> fmt::Debug for Connection<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("client_address", self.client_address)
            .field("write_buffer_size", &self.out.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
