//! [`StreamRequest`]: one connection, as a stream handler sees it.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::coroutine;
use crate::drain::{BusySpan, Liveness};
use crate::error::RequestError;
use crate::request::connection_writer::{ConnectionWriter, WriterSlot};
use crate::request::linger::{discard_arrived, Linger};
use crate::request::message_framing::MessageFraming;
use crate::request::pending_output::SharedOutput;
use crate::request::socket_reader::{Gathered, ReadTimeouts};
use crate::request::stream_socket::Handshake;
use crate::request::{
    Request, RequestContext, SocketHalf, SocketReader, StreamOptions, StreamSocket,
};
use crate::shutdown::ShutdownHandle;
use crate::sys;

/// One accepted connection: Python's `StreamRequestHandler` attributes `rfile`, `wfile`,
/// `request`/`connection` and `client_address`.
///
/// * [`rfile`](Self::rfile) is a buffered reader ([`BufRead`](std::io::BufRead): `read_line`,
///   `lines`, `read_until`…) of [`rbufsize`](StreamOptions::rbufsize) bytes, allocated when the
///   first byte is read (an idle connection costs no buffer).
/// * [`wfile`](Self::wfile) writes everything it is given (`sendall`): unbuffered by default,
///   so bytes reach the client without a flush; buffered when
///   [`wbufsize`](StreamOptions::wbufsize) > 0, then flushed after the handler's `finish`
///   (a flush error because the peer vanished is ignored).
/// * [`timeout`](StreamOptions::timeout) and
///   [`disable_nagle_algorithm`](StreamOptions::disable_nagle_algorithm) are applied to the
///   connection before the handler runs.
///
/// The two are separate fields, so a handler can use both at once
/// (`io::copy(&mut req.rfile, &mut req.wfile)`).
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Write};
/// use socketserver::{SequentialTcpServer, StreamRequest};
///
/// let upper = |req: &mut StreamRequest| {
///     let mut line = String::new();
///     req.rfile.read_line(&mut line)?;
///     write!(req.wfile, "{} says {}", req.client_address().ip(), line.to_uppercase())?;
///     Ok(())
/// };
/// let mut server = SequentialTcpServer::new("127.0.0.1:0", upper)?;
/// let mut client = std::net::TcpStream::connect(server.server_address()?)?;
/// client.write_all(b"hi\n")?;
/// server.handle_request()?;
/// let mut reply = String::new();
/// std::io::Read::read_to_string(&mut client, &mut reply)?;
/// assert_eq!(reply, "127.0.0.1 says HI\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "StreamRequestHandler")]
pub struct StreamRequest<T: StreamSocket = TcpStream> {
    /// The buffered reading side of the connection (Python's `rfile`).
    pub rfile: SocketReader<T>,
    /// The writing side of the connection (Python's `wfile`).
    pub wfile: BufWriter<SocketHalf<T>>,
    pub(crate) socket: Arc<T>,
    pub(crate) client_address: T::Address,
    options: StreamOptions,
    pub(crate) shutdown: ShutdownHandle,
    park_requested: bool,
    /// What the next message looks like, when the handler parked with `park_until`.
    framing: Option<Box<dyn MessageFraming>>,
    /// Output kept for the parker to send, under a strategy that parks.
    pending_output: Option<Arc<SharedOutput>>,
    /// The connection's drain state, when its server tracks it.
    liveness: Option<Arc<Liveness>>,
    /// Where the bytes the connection carried are recorded as it closes.
    traffic: Option<Arc<Liveness>>,
    /// The connection's writers, once one is made; they end when the request is dropped.
    writers: WriterSlot<T>,
}

/// The high watermark of a request's [`ConnectionWriter`]s, in bytes the peer has not taken
/// from the kernel: about what an event loop's connection holds at its default watermark, its
/// 64 KiB plus the kernel's own send buffer.
const DEFAULT_WRITER_WATERMARK: usize = 256 * 1024;

impl<T: StreamSocket> StreamRequest<T> {
    /// Wraps an accepted connection. Transports call this; handlers receive the result.
    pub fn new(
        socket: T,
        client_address: T::Address,
        options: StreamOptions,
        context: &RequestContext,
    ) -> Self {
        let socket = Arc::new(socket);
        StreamRequest {
            rfile: SocketReader::new(SocketHalf::new(Arc::clone(&socket)), options.rbufsize),
            wfile: BufWriter::with_capacity(options.wbufsize, SocketHalf::new(Arc::clone(&socket))),
            socket,
            client_address,
            options,
            shutdown: context.shutdown_handle().clone(),
            park_requested: false,
            framing: None,
            pending_output: None,
            liveness: None,
            traffic: None,
            writers: WriterSlot::default(),
        }
    }

    /// A writer other threads and other connections' handlers use to send to this connection
    /// (see [`ConnectionWriter`]): a chat or notification server's fan-out under a blocking
    /// strategy. All writers of a request share one state; its high watermark is 256 KiB of output
    /// the peer has not taken (the kernel's send queue is its only buffer).
    ///
    /// # Errors
    ///
    /// `Unsupported` for a socket that cannot be written from two threads (TLS).
    pub fn writer(&mut self) -> io::Result<ConnectionWriter<T>> {
        self.writers.writer(
            &self.socket,
            DEFAULT_WRITER_WATERMARK,
            self.options.write_timeout,
        )
    }

    /// Marks the connection as in the middle of a message until the returned span is
    /// dropped: a graceful drain ([`ShutdownHandle::drain`]) does not count it as idle
    /// meanwhile, even while the handler waits in `rfile` with nothing buffered, and the read
    /// timeout and minimum rate time the message from here. Use it around a message the
    /// handler reads in several steps of its own (a header, then its body); one read per
    /// message, or a line read with `read_line`/`lines()` (which hold a span of their own to
    /// the line's end), needs nothing. The drain's deadline still ends the connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{BufRead, Read, Write};
    /// use socketserver::StreamRequest;
    ///
    /// // A length-prefixed protocol: the header line and the body are one message.
    /// fn handle(req: &mut StreamRequest) -> std::io::Result<()> {
    ///     loop {
    ///         let mut header = String::new();
    ///         if req.rfile.read_line(&mut header)? == 0 {
    ///             return Ok(()); // the client (or a drain, between messages) ended it
    ///         }
    ///         let _busy = req.busy(); // the body belongs to this message
    ///         let mut body = vec![0; header.trim().parse().unwrap_or(0)];
    ///         req.rfile.read_exact(&mut body)?;
    ///         req.wfile.write_all(&body)?;
    ///     }
    /// }
    /// # let _ = handle;
    /// ```
    pub fn busy(&self) -> BusySpan {
        BusySpan::new(self.liveness.clone())
    }

    /// The connected socket (Python's `request` and `connection`).
    #[doc(alias = "request")]
    #[doc(alias = "connection")]
    pub fn socket(&self) -> &T {
        &self.socket
    }

    /// The client's address.
    pub fn client_address(&self) -> &T::Address {
        &self.client_address
    }

    /// The settings this connection was given.
    pub fn options(&self) -> &StreamOptions {
        &self.options
    }

    /// The handle that stops the server (Python's `self.server.shutdown`).
    ///
    /// From a handler, [`ShutdownHandle::shutdown`] stops the loop after this request on a
    /// sequential server, and returns once the loop has stopped on a threading one.
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// Parks the connection when the current [`setup`](crate::RequestHandler::setup) or
    /// [`handle`](crate::RequestHandler::handle) returns: it waits for input **without holding a
    /// thread**, and `handle` is called again on the same handler value (its fields keep their
    /// state) when input arrives — at once if `rfile` already holds unread bytes. A handler
    /// that never calls this behaves exactly as in Python: `handle` runs once for the whole
    /// connection.
    ///
    /// Call it between messages of a persistent protocol (keep-alive, chat, echo): a pool of 8
    /// workers then serves thousands of mostly idle connections. Called from `setup`, it makes
    /// even the first `handle` wait for input. `handle` runs at the first byte: a handler whose
    /// messages can arrive in pieces (a line, a request head) parks with
    /// [`park_until`](Self::park_until) instead, so the rest is gathered without a worker. `finish` runs once, when the connection ends: a
    /// `handle` that returns without parking, an error, the peer's silence beyond
    /// [`idle_timeout`](StreamOptions::idle_timeout), or the server closing.
    ///
    /// What each strategy does with a parked connection:
    ///
    /// | strategy | while parked |
    /// |---|---|
    /// | [`ThreadPool`](crate::ThreadPool) | the worker is freed; idle workers take turns watching every parked connection, and the one that sees input arrive runs the next `handle` |
    /// | [`ThreadingMixIn`](crate::ThreadingMixIn) | the thread is freed (it waits a moment for other work); one parker thread watches every parked connection and a thread runs the next `handle` |
    /// | [`Sequential`](crate::Sequential), [`ForkingMixIn`](crate::ForkingMixIn) | the serving thread or the child waits for input in place (`poll(2)`); nothing is freed, the semantics are the same |
    /// | [`Coroutines`](crate::Coroutines) | the coroutine waits in place, suspended: its loop runs the others |
    ///
    /// # Examples
    ///
    /// An echo that holds a pool worker only while a message is in flight:
    ///
    /// ```
    /// use std::io::{BufRead, Read, Write};
    /// use socketserver::{PoolTcpServer, RequestHandler, StreamRequest};
    ///
    /// #[derive(Clone)]
    /// struct Echo;
    ///
    /// impl RequestHandler<StreamRequest> for Echo {
    ///     fn setup(&mut self, req: &mut StreamRequest) -> std::io::Result<()> {
    ///         req.park(); // wait for the first message without a worker
    ///         Ok(())
    ///     }
    ///     fn handle(&mut self, req: &mut StreamRequest) -> std::io::Result<()> {
    ///         let data = req.rfile.fill_buf()?; // input is ready: this does not block
    ///         if data.is_empty() {
    ///             return Ok(()); // end of file: the connection ends
    ///         }
    ///         let n = data.len();
    ///         req.wfile.write_all(data)?;
    ///         req.rfile.consume(n);
    ///         req.park(); // wait for the next message without a worker
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut server = PoolTcpServer::new("127.0.0.1:0", Echo)?;
    /// server.dispatch_mut().set_workers(1);
    /// let address = server.server_address()?;
    /// let stop = server.shutdown_handle();
    /// let serving = std::thread::spawn(move || server.serve_forever());
    ///
    /// // Two connections at once on one worker: the first waits parked, not in the worker.
    /// let mut idle = std::net::TcpStream::connect(address)?;
    /// let mut busy = std::net::TcpStream::connect(address)?;
    /// busy.write_all(b"ping")?;
    /// let mut reply = [0; 4];
    /// busy.read_exact(&mut reply)?;
    /// assert_eq!(&reply, b"ping");
    /// idle.write_all(b"pong")?;
    /// idle.read_exact(&mut reply)?;
    /// assert_eq!(&reply, b"pong");
    ///
    /// stop.shutdown();
    /// serving.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn park(&mut self) {
        self.park_requested = true;
        self.framing = None;
    }

    /// Parks the connection as [`park`](Self::park) does, until a whole message has arrived:
    /// the loop that holds the parked connection reads into `rfile`'s buffer as bytes arrive
    /// and runs `handle` only once `framing` says the message is complete (or it reaches the
    /// framing's bound, or input ends, or the message runs out of time — then the handler's
    /// next read that would wait says so). A peer that sends slowly costs a buffer and a
    /// timer, not a worker. A gathered message is in flight for a graceful drain, which lets
    /// it finish. See [`MessageFraming`] for an example with [`Delimited::line`](crate::Delimited::line).
    ///
    /// Call it between messages, or in the middle of one to have the rest gathered (an HTTP
    /// server parks for a body after reading its head); hold a [`BusySpan`] across that park
    /// (in a field of the handler) so the message stays in flight.
    pub fn park_until(&mut self, framing: impl MessageFraming) {
        self.park_requested = true;
        self.framing = Some(Box::new(framing));
    }

    /// Sends `head` and then `len` bytes of `file`, from its current position, after what
    /// `wfile` has written (`head` — a response head, say; it may be empty — leaves in the same
    /// send as the file's first piece): a file of 16 KiB or more from the page cache
    /// (`sendfile(2)`), a shorter one read behind the head. Under a strategy that parks
    /// connections what the socket does not take at once is sent by the loop that holds the
    /// connection as the client reads, and the worker moves on at once (the socket is
    /// non-blocking for the moments `sendfile(2)` runs: a copy of it used by another thread
    /// meanwhile would see `WouldBlock`); elsewhere it is sent now. The file is never read
    /// whole.
    ///
    /// # Errors
    ///
    /// The socket's error, or the file's (one that ends before `len` bytes is an
    /// `UnexpectedEof` error: what was announced cannot be sent).
    pub fn send_file(&mut self, head: &[u8], file: std::fs::File, len: u64) -> io::Result<()> {
        self.wfile.flush()?;
        self.wfile.get_mut().write_file(head, file, len)
    }

    /// The settings an event loop applies (it keeps the timeouts itself): `TCP_NODELAY`.
    pub(crate) fn prepare_nonblocking(&mut self) -> Result<(), RequestError> {
        if self.options.disable_nagle_algorithm {
            self.socket
                .set_nodelay(true)
                .map_err(RequestError::Handler)?;
        }
        Ok(())
    }

    /// Sends what the socket takes of kept output now, and forgets the rest.
    fn drop_pending_output(&mut self) {
        if let Some(pending) = self.pending_output.take() {
            let mut pending = pending.lock();
            let _ = pending.send_now(&*self.socket);
            if !pending.is_empty() {
                tracing::debug!(
                    bytes = pending.len(),
                    "closing with output the peer did not take"
                );
                pending.discard();
            }
        }
    }

    /// The socket, the client's address and the options, for a transport that wraps what
    /// another accepted (TLS). Called before anything was read or written.
    pub(crate) fn into_parts(self) -> (T, T::Address, StreamOptions) {
        let StreamRequest {
            rfile,
            wfile,
            socket,
            client_address,
            options,
            ..
        } = self;
        drop((rfile, wfile));
        let socket = Arc::into_inner(socket).expect("nothing else holds a fresh request's socket");
        (socket, client_address, options)
    }

    /// Whether [`park`](Self::park) was called and has not taken effect yet.
    pub fn is_park_requested(&self) -> bool {
        self.park_requested
    }
}

/// True for errors that mean the peer has gone away.
pub(crate) fn is_peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}

impl<T: StreamSocket> Request for StreamRequest<T> {
    type Address = T::Address;

    fn client_address(&self) -> &T::Address {
        &self.client_address
    }

    fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    fn prepare(&mut self) -> Result<(), RequestError> {
        let options = self.options;
        if coroutine::in_coroutine() {
            // On a coroutine the socket never blocks the loop's thread: a read or write that
            // would block suspends the coroutine, with the timeouts as its deadlines.
            self.socket
                .set_nonblocking(true)
                .map_err(RequestError::Handler)?;
            self.rfile.half_mut().suspend_when_blocked();
            self.wfile.get_mut().suspend_when_blocked();
        }
        if options.timeout.is_some() {
            self.rfile
                .half_mut()
                .set_read_wait(options.timeout)
                .map_err(RequestError::Handler)?;
            self.wfile
                .get_mut()
                .set_write_wait(options.timeout)
                .map_err(RequestError::Handler)?;
        } else {
            self.rfile
                .arm_timeouts(ReadTimeouts {
                    first_byte: options.first_byte_timeout,
                    idle: options.idle_timeout,
                    read: options.read_timeout,
                    min_rate: options.min_rate,
                })
                .map_err(RequestError::Handler)?;
            if let Some(after) = options.write_timeout {
                self.wfile
                    .get_mut()
                    .arm_send_timeout(after)
                    .map_err(RequestError::Handler)?;
            }
        }
        self.prepare_nonblocking()
    }

    fn complete(&mut self) -> io::Result<()> {
        match self.wfile.flush() {
            Err(error) if is_peer_gone(&error) => {
                tracing::debug!(%error, "peer went away before the final flush");
                Ok(())
            }
            other => other,
        }
    }

    fn shutdown_request(mut self) {
        // Half-close (the client reads end-of-file after everything we wrote, even if a
        // descriptor of this socket survives elsewhere, e.g. in a forked child), then linger
        // here while what we sent is on its way.
        if let Some(linger) = self.begin_close() {
            Linger::new(Instant::now(), linger).run(self.socket.as_fd());
        }
        self.close_request();
    }

    fn closes_in_steps(&self) -> bool {
        true
    }

    fn begin_close(&mut self) -> Option<Duration> {
        self.writers.close();
        // Output still kept here cannot wait any longer (the parker is closing, or the request
        // ends where nothing parks): what the socket takes now, and no more.
        self.drop_pending_output();
        // A peer that stopped reading gets no linger: what we sent cannot arrive anyway.
        let linger = self
            .options
            .close_linger
            .filter(|_| !self.rfile.has_seen_eof() && !self.wfile.get_ref().send_timed_out());
        // Only output still on its way needs the close to wait; an idle connection's answers
        // were acknowledged long ago (and thousands of them close one after another). Asked
        // before the half-close, which queues a FIN of its own.
        self.socket.close_notify();
        let in_flight = linger.is_some()
            && sys::unacknowledged_output(self.socket.as_fd()).map_or(true, |n| n > 0);
        if let Err(error) = self.socket.shutdown(Shutdown::Write) {
            if !is_peer_gone(&error) {
                tracing::debug!(%error, "shutdown(SHUT_WR) failed");
            }
            return None;
        }
        match (linger, in_flight) {
            (Some(linger), true) => Some(linger),
            // Nothing on its way: discard what has arrived (so the close sends no reset),
            // without waiting — unless the peer is still sending: then linger.
            (Some(linger), false) => discard_arrived(self.socket.as_fd()).then_some(linger),
            (None, _) => None,
        }
    }

    fn is_connection(&self) -> bool {
        true
    }

    fn source_ip(&self) -> Option<std::net::IpAddr> {
        T::peer_ip(&self.client_address)
    }

    fn take_park_request(&mut self) -> bool {
        std::mem::take(&mut self.park_requested)
    }

    fn parking_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.socket.as_fd())
    }

    fn shared_socket(&self) -> Option<Arc<dyn AsFd + Send + Sync>> {
        Some(Arc::clone(&self.socket) as Arc<dyn AsFd + Send + Sync>)
    }

    fn has_buffered_input(&self) -> bool {
        !self.rfile.buffer().is_empty() || self.socket.holds_input()
    }

    fn handshaking(&self) -> bool {
        self.socket.handshaking()
    }

    fn advance_handshake(&mut self) -> io::Result<Handshake> {
        self.socket.advance_handshake()
    }

    fn handshake_deadline(&self) -> Option<Instant> {
        self.socket.handshake_deadline()
    }

    fn begin_turn(&mut self) {
        self.framing = None;
    }

    fn end_turn(&mut self) {
        self.rfile.turn_ended();
    }

    fn defer_output(&mut self) {
        if self.pending_output.is_some() || self.options.max_pending_output == 0 {
            return;
        }
        // The write timeout in force (none under Python's plain `timeout`, which is kept by
        // the socket itself and cannot be told apart from a full socket here).
        let write_timeout = match self.options.timeout {
            Some(_) => None,
            None => self.options.write_timeout,
        };
        let pending = SharedOutput::new(self.options.max_pending_output, write_timeout);
        self.wfile.get_mut().defer_to(Arc::clone(&pending));
        self.rfile.send_pending_first(Arc::clone(&pending));
        self.pending_output = Some(pending);
    }

    fn has_pending_output(&self) -> bool {
        self.pending_output
            .as_ref()
            .is_some_and(|pending| pending.is_waiting())
    }

    fn send_pending_output(&mut self, now: Instant) -> io::Result<Option<Instant>> {
        let Some(pending) = &self.pending_output else {
            return Ok(None);
        };
        let mut pending = pending.lock();
        pending.send_now_from_page_cache(&*self.socket)?;
        if pending.is_empty() {
            return Ok(None);
        }
        match pending.deadline() {
            Some(at) if at <= now => Err(pending.expire()),
            deadline => Ok(deadline),
        }
    }

    fn gathers(&self) -> bool {
        self.framing.is_some()
    }

    fn gather(&mut self) -> bool {
        match &mut self.framing {
            Some(framing) => self.rfile.gather(framing.as_mut()) == Gathered::Complete,
            None => true,
        }
    }

    fn gather_deadline(&mut self, parked_at: Instant) -> Option<Instant> {
        self.rfile.gather_deadline(parked_at)
    }

    fn gather_expired(&mut self, now: Instant) -> bool {
        if !self.rfile.in_message() {
            return false;
        }
        self.rfile.gather_expired(now);
        true
    }

    fn idle_timeout(&self) -> Option<Duration> {
        if self.rfile.has_received_input() {
            self.options.idle_timeout
        } else {
            self.options.first_byte_timeout
        }
    }

    fn has_received_input(&self) -> bool {
        self.rfile.has_received_input()
    }

    fn release_idle_buffers(&mut self) {
        self.rfile.release_idle_buffer();
    }

    fn apply_proxied_source(&mut self, source: std::net::SocketAddr) -> bool {
        match T::address_from_ip(source) {
            Some(address) => {
                self.client_address = address;
                true
            }
            None => false,
        }
    }

    fn attach_liveness(&mut self, liveness: Arc<Liveness>) {
        use std::os::fd::AsRawFd;
        liveness.attach_fd(self.socket.as_fd().as_raw_fd());
        self.rfile.attach_liveness(Arc::clone(&liveness));
        self.liveness = Some(liveness);
    }

    fn count_traffic_in(&mut self, liveness: Option<Arc<Liveness>>) {
        self.traffic = liveness;
    }

    fn close_request(self) {
        if let Some(traffic) = &self.traffic {
            // One `getsockopt(2)` per TCP connection, as it closes: nothing on the I/O path.
            if let Some((received, sent)) = self.socket.wire_traffic() {
                traffic.record_traffic(received, sent);
            }
        }
        if let Some(liveness) = &self.liveness {
            liveness.detach_fd();
        }
        // Dropping the last `Arc` closes the descriptor; the buffered writer must not try to
        // flush into a socket we have given up on.
        let StreamRequest { rfile, wfile, .. } = self;
        drop(rfile);
        let (_half, _unsent) = wfile.into_parts();
    }
}

impl<T: StreamSocket> fmt::Debug for StreamRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRequest")
            .field("client_address", &self.client_address)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
