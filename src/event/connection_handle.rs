//! [`ConnectionHandle`]: a connection on an event loop, as other threads and other
//! connections reach it (asyncio's `call_soon_threadsafe` with `transport.write`).

use std::fmt;
use std::marker::PhantomData;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::HandleError;
use crate::event::Connection;
use crate::request::{StreamSocket, WhenFull, Written};
use crate::session::{HandleOp, HandlePoster};

/// A connection served on an [`EventLoop`](crate::EventLoop), usable from any thread and from
/// other connections' callbacks: write to it, close it, or run a closure on its loop thread.
/// This is what chat, pub/sub and notification servers are made of. Made by
/// [`Connection::handle`]; `Clone`, `Send` and `Sync`, cheap to clone.
///
/// Every operation is posted to the connection's loop and runs there, in the order posted
/// (from one thread), between the loop's other work — asyncio's `call_soon_threadsafe`. Nothing
/// blocks the caller. Once the connection has ended the handle says [`HandleError::Closed`],
/// and what was posted but had not run yet is dropped with it.
///
/// A peer that reads slower than others write to it cannot grow the server's memory: a write
/// counts against the connection's high watermark (the bytes the socket has not taken, plus
/// the writes posted and not yet run), and past it [`WhenFull`] says what happens — the caller
/// chooses per write. Writers racing on one connection may each pass the check with one
/// message, so the bound is the high watermark plus one message per writer at that instant.
///
/// # Examples
///
/// A server that greets a connection from another thread, then closes it:
///
/// ```
/// use std::io::Read;
/// use std::sync::mpsc;
/// use socketserver::{Connection, ConnectionHandle, EventTcpServer, Protocol, ProtocolHandler, WhenFull};
///
/// #[derive(Clone)]
/// struct Register(mpsc::Sender<ConnectionHandle>);
///
/// impl Protocol for Register {
///     fn connection_made(&mut self, conn: &mut Connection<'_>) -> std::io::Result<()> {
///         let handle = conn.handle()?;
///         let _ = self.0.send(handle);
///         Ok(())
///     }
///     fn data_received(&mut self, _: &mut Connection<'_>, _: &[u8]) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let (handles, registered) = mpsc::channel();
/// let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Register(handles)))?;
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let mut client = std::net::TcpStream::connect(address)?;
/// let handle = registered.recv()?;
/// // Another thread writes to the connection and closes it.
/// std::thread::spawn(move || {
///     handle.write(b"hello from elsewhere\n", WhenFull::Refuse).unwrap();
///     handle.close();
/// })
/// .join()
/// .unwrap();
/// let mut heard = String::new();
/// client.read_to_string(&mut heard)?; // to the end: the handle closed it
/// assert_eq!(heard, "hello from elsewhere\n");
///
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "call_soon_threadsafe")]
#[doc(alias = "Transport")]
pub struct ConnectionHandle<T: StreamSocket = TcpStream> {
    shared: Arc<HandleShared>,
    /// Closures posted with `call_soon` take a `Connection<'_, T>`.
    stream: PhantomData<fn(T)>,
}

/// A closure posted with [`ConnectionHandle::call_soon`], as the loop runs it.
pub(crate) type CallSoon<T> = Box<dyn FnOnce(&mut Connection<'_, T>) + Send>;

/// What a connection's handles share with it.
pub(crate) struct HandleShared {
    id: u64,
    key: usize,
    poster: Arc<dyn HandlePoster>,
    high_watermark: usize,
    /// The connection ended: handles write no more.
    closed: AtomicBool,
    /// Bytes written through handles and not yet handed to the connection.
    posted: AtomicUsize,
    /// The connection's output the socket had not taken when the loop last looked.
    buffered: AtomicUsize,
}

/// What a connection on a loop needs to make handles: where its loop is, and the handles'
/// shared state once one is made.
pub(crate) struct LoopLink {
    pub(crate) poster: Arc<dyn HandlePoster>,
    pub(crate) key: usize,
    pub(crate) id: u64,
    pub(crate) shared: Option<Arc<HandleShared>>,
}

impl fmt::Debug for LoopLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopLink")
            .field("key", &self.key)
            .field("id", &self.id)
            .field("handles", &self.shared.is_some())
            .finish()
    }
}

impl LoopLink {
    /// The handles' shared state, made with the first handle.
    pub(crate) fn shared(&mut self, high_watermark: usize) -> Arc<HandleShared> {
        let LoopLink {
            poster, key, id, ..
        } = self;
        Arc::clone(self.shared.get_or_insert_with(|| {
            Arc::new(HandleShared {
                id: *id,
                key: *key,
                poster: Arc::clone(poster),
                high_watermark,
                closed: AtomicBool::new(false),
                posted: AtomicUsize::new(0),
                buffered: AtomicUsize::new(0),
            })
        }))
    }

    /// The loop looked at the connection's output: `buffered` bytes wait in it.
    pub(crate) fn note_buffered(&self, buffered: usize) {
        if let Some(shared) = &self.shared {
            shared.buffered.store(buffered, Ordering::Relaxed);
        }
    }

    /// A handle's write of `len` bytes reached the connection.
    pub(crate) fn note_delivered(&self, len: usize) {
        if let Some(shared) = &self.shared {
            shared.posted.fetch_sub(len, Ordering::Relaxed);
        }
    }

    /// The connection ended: its handles say so from now on.
    pub(crate) fn close(&self) {
        if let Some(shared) = &self.shared {
            shared.closed.store(true, Ordering::Release);
        }
    }
}

impl<T: StreamSocket> ConnectionHandle<T> {
    pub(crate) fn new(shared: Arc<HandleShared>) -> Self {
        ConnectionHandle {
            shared,
            stream: PhantomData,
        }
    }

    /// The connection's id, as in the server's logs (`conn_id`): unique in the process, so a
    /// fan-out can skip the sender.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Whether the connection has ended (then every operation says
    /// [`HandleError::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Writes `data` to the connection, on its loop, after everything written before
    /// (asyncio's `transport.write` through `call_soon_threadsafe`). When the connection's
    /// output is past its high watermark, `when_full` decides (see [`WhenFull`]); a write into
    /// an empty output is always taken.
    ///
    /// # Errors
    ///
    /// [`HandleError::Closed`] after the connection ended; [`HandleError::Full`] or
    /// [`HandleError::Disconnected`] as `when_full` says.
    pub fn write(&self, data: &[u8], when_full: WhenFull) -> Result<Written, HandleError> {
        let shared = &*self.shared;
        if self.is_closed() {
            return Err(HandleError::Closed);
        }
        if data.is_empty() {
            return Ok(Written::Queued);
        }
        let buffered = shared.buffered.load(Ordering::Relaxed);
        let fits = |posted: usize| {
            let pending = posted.saturating_add(buffered);
            (pending == 0 || pending.saturating_add(data.len()) <= shared.high_watermark)
                .then(|| posted.saturating_add(data.len()))
        };
        if shared
            .posted
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, fits)
            .is_err()
        {
            return match when_full {
                WhenFull::Refuse => Err(HandleError::Full),
                WhenFull::Drop => Ok(Written::Dropped),
                WhenFull::Disconnect => {
                    tracing::debug!(
                        conn_id = shared.id,
                        "a handle found the output past its high watermark: disconnecting"
                    );
                    self.post(HandleOp::Disconnect);
                    Err(HandleError::Disconnected)
                }
            };
        }
        self.post(HandleOp::Write(data.to_vec()));
        Ok(Written::Queued)
    }

    /// Closes the connection once everything written before (through handles or callbacks)
    /// is sent, as [`Connection::close`] does. Does nothing after the connection ended.
    pub fn close(&self) {
        if !self.is_closed() {
            self.post(HandleOp::Close);
        }
    }

    /// Runs `callback` on the connection's loop thread, with the connection, after what was
    /// posted before: asyncio's `call_soon_threadsafe`. The callback may write, close, set
    /// timers or make more handles; a panic in it closes this connection only (reported
    /// through `handle_error`). It does not run if the connection ends first.
    ///
    /// # Errors
    ///
    /// [`HandleError::Closed`] after the connection ended.
    pub fn call_soon(
        &self,
        callback: impl FnOnce(&mut Connection<'_, T>) + Send + 'static,
    ) -> Result<(), HandleError> {
        if self.is_closed() {
            return Err(HandleError::Closed);
        }
        let callback: CallSoon<T> = Box::new(callback);
        self.post(HandleOp::Call(Box::new(callback)));
        Ok(())
    }

    fn post(&self, op: HandleOp) {
        let shared = &*self.shared;
        shared.poster.post(shared.key, shared.id, op);
    }
}

impl<T: StreamSocket> Clone for ConnectionHandle<T> {
    fn clone(&self) -> Self {
        ConnectionHandle::new(Arc::clone(&self.shared))
    }
}

impl<T: StreamSocket> fmt::Debug for ConnectionHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("conn_id", &self.shared.id)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
