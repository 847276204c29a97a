//! [`StreamSocket`]: what a connected stream socket must offer, and [`SocketHalf`], one
//! direction of it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use crate::coroutine;
use crate::error::TimedOut;
use crate::request::pending_output::SharedOutput;
use crate::stats::CloseReason;
use crate::sys;

/// A connected stream socket that a [`StreamRequest`](crate::StreamRequest) can wrap:
/// [`TcpStream`] here, `UnixStream` with the Unix transports.
///
/// The methods take `&self` so that the reading and the writing half can share one socket.
pub trait StreamSocket: AsFd + Send + Sync + 'static {
    /// The address type of the peer.
    type Address: Clone + fmt::Debug + Send + Sync + 'static;

    /// Reads into `buf` (`recv(2)`).
    ///
    /// # Errors
    ///
    /// The OS error.
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes from `buf`, possibly partly (`send(2)`).
    ///
    /// # Errors
    ///
    /// The OS error.
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;

    /// Shuts down one or both directions (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// The OS error (e.g. `NotConnected` when the peer already reset).
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// Sets `SO_RCVTIMEO` and `SO_SNDTIMEO`; `None` blocks forever. Default:
    /// [`set_recv_timeout`](Self::set_recv_timeout), then
    /// [`set_send_timeout`](Self::set_send_timeout).
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_recv_timeout(timeout)?;
        self.set_send_timeout(timeout)
    }

    /// Sets `SO_RCVTIMEO` only; `None` blocks forever.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Sets `SO_SNDTIMEO` only; `None` blocks forever.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Sets `TCP_NODELAY`; a no-op for sockets without Nagle's algorithm.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;

    /// The IP address in a peer address, for per-source limits; `None` (the default) for
    /// address families without one.
    fn peer_ip(address: &Self::Address) -> Option<std::net::IpAddr> {
        let _ = address;
        None
    }

    /// The address type's form of an IP client address carried by a PROXY header, if it has
    /// one. Default: `None`.
    #[doc(hidden)]
    fn address_from_ip(address: std::net::SocketAddr) -> Option<Self::Address> {
        let _ = address;
        None
    }

    /// Reads what has already arrived, never waiting: `WouldBlock` when nothing has. The
    /// loops that hold parked connections read this way. Default: `recv(2)` with
    /// `MSG_DONTWAIT` on the descriptor.
    ///
    /// # Errors
    ///
    /// The OS error (a wrapper's own, e.g. a TLS error, as `InvalidData`).
    fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv_now(self.as_fd(), buf)
    }

    /// Sends what the socket takes now, never waiting: `WouldBlock` when it takes nothing.
    /// Default: `send(2)` with `MSG_DONTWAIT | MSG_NOSIGNAL`.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn send_now(&self, buf: &[u8]) -> io::Result<usize> {
        sys::send_now(self.as_fd(), buf)
    }

    /// [`send_now`](Self::send_now) of several pieces, in order, in one call (`sendmsg(2)`):
    /// returns how many bytes went, from the first piece on. Default: so.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn send_vectored_now(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        sys::send_vectored_now(self.as_fd(), bufs)
    }

    /// [`send_now`](Self::send_now) for bytes that more will follow at once (a file's start
    /// after its head): Linux's `MSG_MORE`, so both leave in one packet. Default: so.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn send_now_more(&self, buf: &[u8]) -> io::Result<usize> {
        sys::send_now_more(self.as_fd(), buf)
    }

    /// Sends up to `count` bytes of `file` from its position (which advances), never waiting:
    /// `WouldBlock` when the socket takes nothing, `Ok(0)` at the file's end, `Unsupported`
    /// when this socket or file cannot be sent this way. Default: `sendfile(2)`.
    ///
    /// # Errors
    ///
    /// The OS error, or the file's.
    fn send_file_now(&self, file: &std::fs::File, count: usize) -> io::Result<usize> {
        sys::send_file(self.as_fd(), file.as_fd(), count)
    }

    /// Sets or clears non-blocking mode. Default: `ioctl(FIONBIO)` on the descriptor.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        sys::set_nonblocking(self.as_fd(), on)
    }

    /// Whether the socket holds output of its own that the descriptor has not taken yet (a
    /// TLS record encrypted from bytes already written): the writer must wait for the socket
    /// to be writable and call [`flush_held`](Self::flush_held). Default: `false`.
    fn holds_output(&self) -> bool {
        false
    }

    /// Sends what the socket holds of its own output, never waiting; `Ok(true)` once nothing
    /// is held. Default: `Ok(true)`.
    ///
    /// # Errors
    ///
    /// The OS error.
    fn flush_held(&self) -> io::Result<bool> {
        Ok(true)
    }

    /// Whether input has arrived that the descriptor no longer shows (TLS records already
    /// decrypted): a reader reads before it waits for readiness. Default: `false`.
    fn holds_input(&self) -> bool {
        false
    }

    /// Whether an opening handshake (TLS) must finish before the connection carries a
    /// handler's bytes. Default: `false`.
    fn handshaking(&self) -> bool {
        false
    }

    /// Moves the opening handshake on with what has arrived, never waiting, and says what it
    /// waits for next. Default: [`Handshake::Done`].
    ///
    /// # Errors
    ///
    /// Why the handshake failed (a wrapper's error, e.g. [`TlsError`](crate::TlsError),
    /// inside the `io::Error`).
    fn advance_handshake(&self) -> io::Result<Handshake> {
        Ok(Handshake::Done)
    }

    /// When the opening handshake must be over (an absolute deadline, from the accept).
    /// Default: `None`.
    fn handshake_deadline(&self) -> Option<std::time::Instant> {
        None
    }

    /// The connection ends cleanly: a wrapper says so to its peer (TLS's `close_notify`),
    /// sending what the socket takes now. Default: nothing.
    fn close_notify(&self) {}

    /// Whether [`send_now`](Self::send_now) may be called from another thread while the
    /// handler uses the socket (a [`ConnectionWriter`](crate::ConnectionWriter)). Default:
    /// `true`, as for a plain descriptor; a wrapper with state of its own (TLS) says `false`.
    fn writes_from_other_threads(&self) -> bool {
        true
    }

    /// The bytes the connection has carried, received and sent, as the kernel counts them
    /// (TCP's `TCP_INFO`; a wrapper gives its transport's, so TLS counts the records on the
    /// wire); read once, as the connection closes, for
    /// [`ServerStats`](crate::ServerStats). Default: `None`, not known (Unix sockets).
    fn wire_traffic(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Where an opening handshake stands ([`StreamSocket::advance_handshake`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// It is over: the connection carries the handler's bytes.
    Done,
    /// It waits for the peer's next bytes.
    WantRead,
    /// It waits for the socket to take what it has to send.
    WantWrite,
}

impl StreamSocket for TcpStream {
    type Address = std::net::SocketAddr;

    fn wire_traffic(&self) -> Option<(u64, u64)> {
        sys::tcp_traffic(self.as_fd())
    }

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }

    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(timeout)
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, nodelay)
    }

    fn peer_ip(address: &Self::Address) -> Option<std::net::IpAddr> {
        Some(address.ip())
    }

    fn address_from_ip(address: std::net::SocketAddr) -> Option<Self::Address> {
        Some(address)
    }
}

/// One direction of a shared stream socket; the inner type of `rfile` and `wfile`.
///
/// Reading retries `EINTR`. Writing is `sendall`: [`write`](Write::write) returns only when
/// every byte was written (partial writes and `EINTR` are retried) or an error occurred, so
/// even the unbuffered `wfile` never writes short. Under a strategy that parks connections
/// ([`ThreadPool`](crate::ThreadPool), [`ThreadingMixIn`](crate::ThreadingMixIn)), what the
/// socket does not take at once is kept, up to
/// [`StreamOptions::max_pending_output`](crate::StreamOptions::max_pending_output), and sent
/// by the loop that holds the parked connection, so a client that reads slowly holds no
/// worker; only a write past that bound waits for the client.
pub struct SocketHalf<T> {
    socket: Arc<T>,
    /// The framework's write timeout, when `SO_SNDTIMEO` carries it: an expiry then writes as
    /// a [`TimedOut`] error.
    send_timeout: Option<Duration>,
    /// The write timeout passed: the peer is not reading.
    send_timed_out: bool,
    /// On a coroutine: the socket is non-blocking, and a read or write that would block
    /// suspends the coroutine until the socket is ready.
    suspends: bool,
    /// How long one read or write waits (what `SO_RCVTIMEO`/`SO_SNDTIMEO` say on a thread):
    /// the deadline of a suspended wait.
    wait_limit: Option<Duration>,
    /// Output kept for the parker to send (shared by both halves of a request), when the
    /// strategy parks.
    pending: Option<Arc<SharedOutput>>,
}

impl<T: StreamSocket> SocketHalf<T> {
    pub(crate) fn new(socket: Arc<T>) -> Self {
        SocketHalf {
            socket,
            send_timeout: None,
            send_timed_out: false,
            suspends: false,
            wait_limit: None,
            pending: None,
        }
    }

    /// Whether a write gave up because the write timeout passed (the peer stopped reading),
    /// here or while the parker sent the kept output (still known once that output is dropped).
    pub(crate) fn send_timed_out(&self) -> bool {
        self.send_timed_out
            || self
                .pending
                .as_ref()
                .is_some_and(|pending| pending.lock().timed_out())
    }

    /// Puts the framework's write timeout in force (`SO_SNDTIMEO`).
    pub(crate) fn arm_send_timeout(&mut self, after: Duration) -> io::Result<()> {
        self.set_write_wait(Some(after))?;
        self.send_timeout = Some(after);
        Ok(())
    }

    /// Runs on a coroutine from now on: a read or write that would block suspends it (the
    /// socket is made non-blocking by the request).
    pub(crate) fn suspend_when_blocked(&mut self) {
        self.suspends = true;
    }

    /// How long a read may wait: `SO_RCVTIMEO` on a thread, the wait's deadline on a coroutine.
    pub(crate) fn set_read_wait(&mut self, limit: Option<Duration>) -> io::Result<()> {
        self.wait_limit = limit;
        match self.suspends {
            true => Ok(()),
            false => self.socket.set_recv_timeout(limit),
        }
    }

    /// How long a write may wait: `SO_SNDTIMEO` on a thread, the wait's deadline on a
    /// coroutine.
    pub(crate) fn set_write_wait(&mut self, limit: Option<Duration>) -> io::Result<()> {
        self.wait_limit = limit;
        match self.suspends {
            true => Ok(()),
            false => self.socket.set_send_timeout(limit),
        }
    }

    /// On a coroutine, suspends until the socket is readable (`writable`) or this half's
    /// wait limit passes: `Ok(true)` when it is ready. `Ok(false)` at once on a thread (the
    /// blocking socket already waited).
    fn wait_suspended(&self, writable: bool) -> io::Result<bool> {
        if !self.suspends {
            return Ok(false);
        }
        coroutine::wait(self.socket.as_fd(), writable, self.wait_limit)
    }

    /// Keeps what the socket does not take at once in `pending` instead of waiting. Only where
    /// the socket blocks (a job run in place — on a coroutine — keeps nothing): kept output is
    /// sent with the socket made non-blocking for a moment and blocking again after it.
    pub(crate) fn defer_to(&mut self, pending: Arc<SharedOutput>) {
        debug_assert!(
            !self.suspends,
            "output is kept only where the socket blocks"
        );
        self.pending = Some(pending);
    }

    /// Sends every byte kept for later, waiting for the peer (up to the write timeout).
    pub(crate) fn send_pending(&mut self) -> io::Result<()> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        let result = pending.lock().send_all(&*self.socket);
        if result.as_ref().is_err_and(|e| TimedOut::of(e).is_some()) {
            self.send_timed_out = true;
        }
        result
    }

    /// The socket this half reads from or writes to.
    pub fn socket(&self) -> &T {
        &self.socket
    }

    /// The write timeout passed (a write found the socket still full when it ended): noted,
    /// and the error that ends the connection.
    fn write_timed_out(&mut self) -> io::Error {
        self.send_timed_out = true;
        TimedOut::new(
            CloseReason::WriteTimeout,
            self.send_timeout.unwrap_or_default(),
        )
        .into_io()
    }

    /// `sendall` on the blocking socket: every byte, or an error.
    fn send_blocking(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut rest = buf;
        while !rest.is_empty() {
            match self.socket.write_some(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.wait_suspended(true)? => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.send_timeout.is_some() => {
                    return Err(self.write_timed_out());
                }
                Err(e) => return Err(e),
            }
        }
        self.flush_held_blocking()
    }

    /// Waits until the socket has sent what it holds of its own (TLS records of bytes already
    /// written), as a blocking write waits.
    fn flush_held_blocking(&mut self) -> io::Result<()> {
        while !self.socket.flush_held()? {
            let ready = match self.suspends {
                true => self.wait_suspended(true)?,
                false => coroutine::wait(self.socket.as_fd(), true, self.send_timeout)?,
            };
            if !ready {
                return Err(self.write_timed_out());
            }
        }
        Ok(())
    }

    /// Sends `len` bytes of `file` from its position straight from the page cache
    /// (`sendfile(2)`), waiting as a blocking write does (suspending on a coroutine). Returns
    /// what is left to send some other way: all of it when the file or the socket cannot be
    /// sent this way (nothing was sent), else 0.
    fn send_file_blocking(&mut self, file: &std::fs::File, len: u64) -> io::Result<u64> {
        let mut left = len;
        while left > 0 {
            let count = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(SENDFILE_CHUNK);
            match self.socket.send_file_now(file, count) {
                Ok(0) => return Err(file_shrank()),
                Ok(n) => left -= n as u64,
                Err(e) if e.kind() == io::ErrorKind::Unsupported && left == len => return Ok(len),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.wait_suspended(true)? => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.send_timeout.is_some() => {
                    return Err(self.write_timed_out());
                }
                Err(e) => return Err(e),
            }
        }
        self.flush_held_blocking()?;
        Ok(0)
    }

    /// A write when output may be kept for later: what the socket takes now goes, the rest is
    /// kept if nothing else is, or if it fits under the bound with what is; otherwise
    /// everything kept goes first, waiting, and then `buf` as a blocking write.
    fn write_deferring(&mut self, pending: &SharedOutput, buf: &[u8]) -> io::Result<()> {
        let socket = &*self.socket;
        let mut rest = buf;
        if !pending.is_waiting() {
            // Nothing kept (and only this half adds to it): straight to the socket, no lock.
            rest = send_what_it_takes(socket, rest)?;
            if rest.is_empty() && !socket.holds_output() {
                return Ok(());
            }
        }
        let mut kept = pending.lock();
        // Older output first: keep the order, and move it along while we are here.
        kept.send_now(socket)?;
        if kept.is_empty() {
            rest = send_what_it_takes(socket, rest)?;
            kept.note_held(socket);
        }
        if rest.is_empty() {
            return Ok(());
        }
        // A write that finds nothing kept is kept whole (the handler holds those bytes
        // already); more is kept only under the bound.
        if kept.is_empty() || kept.fits(rest.len()) {
            kept.push_bytes(rest);
            return Ok(());
        }
        // Past the bound: wait for the peer, as any blocking write does.
        let sent = kept.send_all(socket);
        drop(kept);
        if sent.as_ref().is_err_and(|e| TimedOut::of(e).is_some()) {
            self.send_timed_out = true;
        }
        sent?;
        self.send_blocking(rest)
    }

    /// Sends `head`, then `len` bytes of `file` after what was written: kept for the parker
    /// when the strategy parks — sent here until the socket is full, a file of
    /// [`SENDFILE_FROM`] bytes or more from the page cache
    /// ([`PendingOutput::send_now_from_page_cache`]: only `StreamRequest::send_file` calls
    /// this, holding both halves of the request, so nothing else waits on the socket), a
    /// shorter one read behind its head into one send; the parker sends the rest as the peer
    /// reads — else sent now, blocking, the same way.
    pub(crate) fn write_file(
        &mut self,
        head: &[u8],
        mut file: std::fs::File,
        len: u64,
    ) -> io::Result<()> {
        if let Some(pending) = self.pending.clone() {
            let mut kept = pending.lock();
            if kept.takes_a_file() {
                kept.push_bytes(head);
                kept.push_file(file, len);
                return match len >= SENDFILE_FROM {
                    true => kept.send_now_from_page_cache(&*self.socket),
                    false => kept.send_now(&*self.socket),
                };
            }
            drop(kept);
            self.send_pending()?;
        }
        let (mut head, mut left) = (head, len);
        if len >= SENDFILE_FROM {
            self.send_blocking(head)?;
            head = &[];
            left = self.send_file_blocking(&file, len)?;
            if left == 0 {
                return Ok(());
            }
        }
        // The head (unless it went already) with the file's first piece: one send.
        let mut piece = Vec::with_capacity(head.len() + left.min(FILE_PIECE as u64) as usize);
        piece.extend_from_slice(head);
        loop {
            left -= read_piece(&mut file, left, &mut piece)? as u64;
            self.send_blocking(&piece)?;
            piece.clear();
            if left == 0 {
                return Ok(());
            }
        }
    }
}

/// The most one `sendfile(2)` call is asked to move (nginx's `sendfile_max_chunk`, 2 MiB): a
/// call of a gigabyte holds the socket's lock for all of it, and the acknowledgements that
/// would open the window further wait behind it. A 1 GiB download over loopback went from
/// about nginx's throughput to 1.1–1.3 times it with this bound (docs/benchmarks.md).
pub(crate) const SENDFILE_CHUNK: usize = 2 << 20;

/// The error of a file that ended before the length announced for it (a `Content-Length`
/// that cannot be kept: the connection must end).
pub(crate) fn file_shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "a file shrank while it was sent",
    )
}

/// The size of the pieces a file is sent in.
pub(crate) const FILE_PIECE: usize = 64 * 1024;

/// The shortest file a blocking write sends with `sendfile(2)` (when output is not kept for
/// the parker): below it, reading the file behind its head (one send for both) costs less
/// than a second system call.
pub(crate) const SENDFILE_FROM: u64 = 16 * 1024;

/// Appends the next piece of `file` to `buffer`: at most [`FILE_PIECE`] bytes, at most `left`.
/// Returns how many. A file that ends before `left` is an error: what was announced (a
/// `Content-Length`) cannot be sent, so the connection must end.
pub(crate) fn read_piece(
    file: &mut std::fs::File,
    left: u64,
    buffer: &mut Vec<u8>,
) -> io::Result<usize> {
    let start = buffer.len();
    let want = usize::try_from(left).unwrap_or(FILE_PIECE).min(FILE_PIECE);
    buffer.resize(start + want, 0);
    let read = loop {
        match file.read(&mut buffer[start..]) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Ok(0) if want > 0 => break Err(file_shrank()),
            other => break other,
        }
    };
    buffer.truncate(start + *read.as_ref().unwrap_or(&0));
    read
}

impl<T: StreamSocket> Read for SocketHalf<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.socket.read_some(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // On a coroutine: suspended until input arrives; an expiry reads as the
                // blocking socket's `SO_RCVTIMEO` would (`WouldBlock`).
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock && self.wait_suspended(false)? => {}
                other => return other,
            }
        }
    }
}

impl<T: StreamSocket> Write for SocketHalf<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Taken out for the call and put back (no reference count to touch per write).
        match self.pending.take() {
            Some(pending) => {
                let written = self.write_deferring(&pending, buf);
                self.pending = Some(pending);
                written?;
            }
            None => self.send_blocking(buf)?,
        }
        Ok(buf.len())
    }

    /// Sends nothing more itself: what is kept for later is on its way (the parker sends it,
    /// and every later write or wait for input moves it along first).
    fn flush(&mut self) -> io::Result<()> {
        if let Some(pending) = &self.pending {
            if pending.is_waiting() {
                pending.lock().send_now(&*self.socket)?;
            }
        }
        Ok(())
    }
}

/// Sends what the socket takes of `buf` now, without waiting; returns the rest.
pub(crate) fn send_what_it_takes<'b, T: StreamSocket>(
    socket: &T,
    buf: &'b [u8],
) -> io::Result<&'b [u8]> {
    send_what_it_takes_with(socket, buf, false)
}

/// [`send_what_it_takes`], saying (`more`) that more follows at once (`MSG_MORE`: a head
/// before the file `sendfile(2)` sends, in one packet).
pub(crate) fn send_what_it_takes_with<'b, T: StreamSocket>(
    socket: &T,
    mut buf: &'b [u8],
    more: bool,
) -> io::Result<&'b [u8]> {
    while !buf.is_empty() {
        let sent = match more {
            true => socket.send_now_more(buf),
            false => socket.send_now(buf),
        };
        match sent {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}

impl<T> fmt::Debug for SocketHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketHalf").finish_non_exhaustive()
    }
}

impl StreamSocket for std::os::unix::net::UnixStream {
    type Address = std::os::unix::net::SocketAddr;

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, how)
    }

    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_write_timeout(timeout)
    }

    /// Unix sockets have no Nagle's algorithm: nothing to do.
    fn set_nodelay(&self, _nodelay: bool) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
