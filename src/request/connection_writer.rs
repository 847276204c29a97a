//! [`ConnectionWriter`]: a blocking handler's connection, as other threads and other
//! connections write to it.

use std::fmt;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::HandleError;
use crate::request::{StreamSocket, WhenFull, Written};
use crate::sys;

/// A connection served by a blocking handler (any strategy but the event loop), usable from
/// other threads and other connections' handlers: the counterpart of an event loop's
/// [`ConnectionHandle`](crate::ConnectionHandle). Made by
/// [`StreamRequest::writer`](crate::StreamRequest::writer); `Clone`, `Send` and `Sync`.
///
/// Each [`write`](Self::write) is sent whole, never interleaved with another writer's, and
/// never waits for a slow peer: the kernel's send queue is the only buffer. When the bytes the
/// peer has not taken (`SIOCOUTQ`) would pass the high watermark, [`WhenFull`] decides, as on
/// an event loop. The socket's send buffer is sized (`SO_SNDBUF`) so that a write within the
/// watermark fits at once; should the kernel still take only part of one (memory pressure),
/// the rest is waited for up to a second (the write timeout, if shorter), and the
/// connection is cut if it does not go, since half a message cannot be taken back.
///
/// Once the request ends (its handler returned and the connection closed) every write says
/// [`HandleError::Closed`]; writers do not keep the connection open.
///
/// Write the connection's own output through a writer too (or flush `wfile` first): bytes
/// buffered in `wfile` are sent when it flushes, after what writers sent meanwhile.
///
/// Plain TCP and Unix connections only: a TLS connection's records cannot be written from
/// two threads (`writer` says `Unsupported`); serve it on an event loop with
/// [`ConnectionHandle`](crate::ConnectionHandle)s.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use std::sync::mpsc;
/// use socketserver::{ConnectionWriter, StreamRequest, ThreadingTcpServer, WhenFull};
///
/// // Each client's writer goes to a notifier thread; the handler itself only waits for the
/// // client to leave.
/// let (writers, registered) = mpsc::channel::<ConnectionWriter>();
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", move |req: &mut StreamRequest| {
///     writers.send(req.writer()?).ok();
///     let mut line = String::new();
///     while req.rfile.read_line(&mut line)? > 0 {}
///     Ok(())
/// })?;
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let client = std::net::TcpStream::connect(address)?;
/// let writer = registered.recv()?;
/// assert_eq!(writer.write(b"notice\n", WhenFull::Refuse), Ok(socketserver::Written::Queued));
/// let mut heard = String::new();
/// BufReader::new(&client).read_line(&mut heard)?;
/// assert_eq!(heard, "notice\n");
///
/// drop(client);
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ConnectionWriter<T: StreamSocket = TcpStream> {
    shared: Arc<WriterShared<T>>,
}

/// The longest a write waits for the kernel to take the rest of it.
const STALL_LIMIT: Duration = Duration::from_secs(1);

/// What a connection's writers share with its request.
pub(crate) struct WriterShared<T> {
    /// The socket while the request lives; writing holds the lock, so the request never closes
    /// the descriptor under a write.
    socket: Mutex<Option<Arc<T>>>,
    high_watermark: AtomicUsize,
    /// How long the rest of a write the kernel took only part of is waited for.
    stall_limit: Duration,
}

/// The request's side: ends every writer when the request is dropped.
pub(crate) struct WriterSlot<T>(Option<Arc<WriterShared<T>>>);

impl<T> Default for WriterSlot<T> {
    fn default() -> Self {
        WriterSlot(None)
    }
}

impl<T> WriterSlot<T> {
    /// The request closes: writers write no more.
    pub(crate) fn close(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.socket.lock().take();
        }
    }
}

impl<T: StreamSocket> WriterSlot<T> {
    /// A writer for `socket`, the first one setting the slot up.
    pub(crate) fn writer(
        &mut self,
        socket: &Arc<T>,
        high_watermark: usize,
        write_timeout: Option<Duration>,
    ) -> io::Result<ConnectionWriter<T>> {
        if let Some(shared) = &self.0 {
            return Ok(ConnectionWriter {
                shared: Arc::clone(shared),
            });
        }
        if !socket.writes_from_other_threads() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this connection cannot be written from another thread (TLS)",
            ));
        }
        // Room in the kernel for a whole write within the watermark, with what the kernel's
        // bookkeeping adds per buffer (it reserves twice what is set here).
        let wanted = high_watermark.max(64 * 1024);
        if let Err(error) = sys::grow_send_buffer(socket.as_fd(), wanted) {
            tracing::debug!(%error, "could not size the send buffer for writers");
        }
        let shared = Arc::new(WriterShared {
            socket: Mutex::new(Some(Arc::clone(socket))),
            high_watermark: AtomicUsize::new(high_watermark),
            stall_limit: write_timeout.map_or(STALL_LIMIT, |limit| limit.min(STALL_LIMIT)),
        });
        self.0 = Some(Arc::clone(&shared));
        Ok(ConnectionWriter { shared })
    }
}

impl<T> Drop for WriterSlot<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T: StreamSocket> ConnectionWriter<T> {
    /// Sends `data` whole, after every write before it, without waiting for the peer. When the
    /// bytes the peer has not taken would pass the high watermark, `when_full` decides; a
    /// write when nothing is pending is always taken.
    ///
    /// # Errors
    ///
    /// [`HandleError::Closed`] once the request has ended or the connection failed;
    /// [`HandleError::Full`] or [`HandleError::Disconnected`] as `when_full` says (and
    /// `Disconnected` when the kernel would not take the rest of a write in time).
    pub fn write(&self, data: &[u8], when_full: WhenFull) -> Result<Written, HandleError> {
        let mut slot = self.shared.socket.lock();
        let Some(socket) = slot.as_ref() else {
            return Err(HandleError::Closed);
        };
        if data.is_empty() {
            return Ok(Written::Queued);
        }
        let pending = sys::unacknowledged_output(socket.as_fd()).unwrap_or(0);
        if pending > 0 && pending.saturating_add(data.len()) > self.high_watermark() {
            return match when_full {
                WhenFull::Refuse => Err(HandleError::Full),
                WhenFull::Drop => Ok(Written::Dropped),
                WhenFull::Disconnect => {
                    tracing::debug!(
                        "a writer found the output past its high watermark: disconnecting"
                    );
                    let _ = socket.shutdown(Shutdown::Both);
                    slot.take();
                    Err(HandleError::Disconnected)
                }
            };
        }
        let mut rest = data;
        while !rest.is_empty() {
            match socket.send_now(rest) {
                Ok(0) => break,
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Rare: the buffer was sized for this. Half a message cannot be taken
                    // back, so the rest is waited for, within a bound.
                    if !sys::wait_writable_for(socket.as_fd(), Some(self.shared.stall_limit))
                        .unwrap_or(false)
                    {
                        let _ = socket.shutdown(Shutdown::Both);
                        slot.take();
                        return Err(HandleError::Disconnected);
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "a writer's send failed");
                    slot.take();
                    return Err(HandleError::Closed);
                }
            }
        }
        match rest.is_empty() {
            true => Ok(Written::Queued),
            false => Err(HandleError::Closed),
        }
    }

    /// Shuts the connection down both ways (its handler's next read sees the end, the peer
    /// sees a close); writers write no more.
    pub fn close(&self) {
        if let Some(socket) = self.shared.socket.lock().take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Whether the request has ended or the connection was closed through a writer.
    pub fn is_closed(&self) -> bool {
        self.shared.socket.lock().is_none()
    }

    /// The most bytes the peer may leave untaken before [`WhenFull`] applies: 256 KiB unless
    /// set. It counts what the kernel has sent and the peer not yet acknowledged, so over a
    /// long, fast path it needs room for the bytes in flight.
    pub fn high_watermark(&self) -> usize {
        self.shared.high_watermark.load(Ordering::Relaxed)
    }

    /// Sets the high watermark for every writer of this connection (0 is taken as 1). The
    /// socket's send buffer grows with it, so that a write within it fits at once.
    pub fn set_high_watermark(&self, bytes: usize) -> &Self {
        let bytes = bytes.max(1);
        self.shared.high_watermark.store(bytes, Ordering::Relaxed);
        if let Some(socket) = self.shared.socket.lock().as_ref() {
            if let Err(error) = sys::grow_send_buffer(socket.as_fd(), bytes) {
                tracing::debug!(%error, "could not size the send buffer for writers");
            }
        }
        self
    }
}

impl<T: StreamSocket> Clone for ConnectionWriter<T> {
    fn clone(&self) -> Self {
        ConnectionWriter {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: StreamSocket> fmt::Debug for ConnectionWriter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionWriter")
            .field("closed", &self.is_closed())
            .field("high_watermark", &self.high_watermark())
            .finish()
    }
}
