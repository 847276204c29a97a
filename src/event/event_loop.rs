//! [`EventLoop`]: many connections on a few threads, each an event loop over a selector.

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::dispatch::{Dispatch, Job, LiveThreads, LoopThreads};
use crate::drain::{DrainProgress, DrainStage};
use crate::error::RequestError;
use crate::event::connection::DEFAULT_WATERMARKS;
use crate::reactor::{drive, Driver, Flow, Mailbox, Reactor, Ready};
use crate::session::{EventSession, HandleOp, HandlePoster, LoopContext, Next};
use crate::shutdown::LoopWaker;

/// Runs connections as callbacks on `N` loop threads, each waiting in its own selector (epoll
/// on Linux): Python's `asyncio` event loop with `Protocol`s, Perl's `Net::Server::Multiplex`.
/// A connection that waits costs its socket, a slab entry and its protocol's fields — no
/// thread, and no buffer unless output is pending.
///
/// The handler is a [`Protocol`](crate::Protocol) wrapped in [`ProtocolHandler`](crate::ProtocolHandler)
/// (the named combinations [`EventTcpServer`](crate::EventTcpServer) and
/// [`EventUnixStreamServer`](crate::EventUnixStreamServer) say so in their types). A request
/// whose handler is not made of callbacks, or a datagram transport, is failed through
/// `handle_error` with [`RequestError::Dispatch`].
///
/// The serving thread accepts, runs `verify_request`, and hands each connection to the loops in
/// turn. Each loop reads into one buffer of its own, calls `data_received`, and writes straight
/// to the socket; only what the socket does not take is buffered, and write interest is asked
/// for only while bytes are pending. Flow control both ways: past the high watermark of pending
/// output the loop stops reading from that peer (and calls `pause_writing`), and resumes below
/// the low watermark; a protocol can stop its own input with
/// [`Connection::pause_reading`](crate::Connection::pause_reading). Idle deadlines
/// ([`StreamOptions::idle_timeout`](crate::StreamOptions::idle_timeout)) live in each loop's
/// timer heap.
///
/// | knob | default | meaning |
/// |---|---|---|
/// | [`workers`](Self::set_workers) | CPUs | loop threads; connections are spread over them in turn |
/// | [`high_watermark`](Self::set_watermarks) | 64 KiB | pending output that stops reading from the peer |
/// | [`low_watermark`](Self::set_watermarks) | 16 KiB | pending output that resumes it |
/// | [`read_buffer_size`](Self::set_read_buffer_size) | 64 KiB | each loop's one read buffer: the most one `data_received` gets |
/// | [`thread_name`](Self::set_thread_name) | `"socketserver-loop"` | loops are named `<name>-<n>` |
///
/// A panic or an `Err` in a callback closes that connection only and reaches `handle_error`.
/// [`server_close`](crate::BaseServer::server_close) (or dropping the server) stops the loops:
/// each sends what it can without waiting, closes its connections cleanly (`connection_lost`
/// runs), and is joined.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use socketserver::{ProtocolHandler, Connection, EventTcpServer, Protocol};
///
/// #[derive(Clone)]
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> std::io::Result<()> {
///         conn.write(data);
///         Ok(())
///     }
/// }
///
/// let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Echo))?;
/// server.dispatch_mut().set_workers(2);
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
///
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "asyncio")]
#[doc(alias = "Multiplex")]
pub struct EventLoop {
    workers: usize,
    high_watermark: usize,
    low_watermark: usize,
    read_buffer_size: usize,
    thread_name: String,
    /// Started with the first connection.
    loops: LoopThreads<Message>,
    live: LiveThreads,
    /// The server's drain level (the server's own once attached).
    progress: Arc<DrainProgress>,
}

enum Message {
    Adopt(EventSession),
    /// The server's drain began or moved on: look at every session again.
    Drain,
    /// A [`ConnectionHandle`](crate::ConnectionHandle)'s operation for the session under
    /// `key`, if it is still connection `id`.
    Handle {
        key: usize,
        id: u64,
        op: HandleOp,
    },
    Stop,
}

impl HandlePoster for Mailbox<Message> {
    fn post(&self, key: usize, id: u64, op: HandleOp) {
        Mailbox::post(self, Message::Handle { key, id, op });
    }
}

/// A loop's settings, copied into it when it starts.
#[derive(Debug, Clone)]
struct Settings {
    high_watermark: usize,
    low_watermark: usize,
    read_buffer_size: usize,
    progress: Arc<DrainProgress>,
}

impl EventLoop {
    /// An event loop strategy with the defaults in the table above.
    pub fn new() -> Self {
        EventLoop {
            workers: thread::available_parallelism().map_or(1, usize::from),
            high_watermark: DEFAULT_WATERMARKS.0,
            low_watermark: DEFAULT_WATERMARKS.1,
            read_buffer_size: 64 * 1024,
            thread_name: "socketserver-loop".to_owned(),
            loops: LoopThreads::new(),
            live: LiveThreads::default(),
            progress: DrainProgress::new(),
        }
    }

    /// The number of loop threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Sets the number of loop threads (0 is taken as 1). Takes effect when the loops start,
    /// with the first connection.
    pub fn set_workers(&mut self, workers: usize) -> &mut Self {
        self.workers = workers.max(1);
        self
    }

    /// `workers` loop threads (at least 1), the other settings as [`new`](Self::new) gives
    /// them: for [`with_dispatch`](crate::BaseServer::with_dispatch).
    pub fn with_workers(workers: usize) -> Self {
        let mut loops = EventLoop::new();
        loops.set_workers(workers);
        loops
    }

    /// The pending output (bytes) above which reading from a peer stops.
    pub fn high_watermark(&self) -> usize {
        self.high_watermark
    }

    /// The pending output (bytes) at or below which reading resumes.
    pub fn low_watermark(&self) -> usize {
        self.low_watermark
    }

    /// Sets both watermarks (asyncio's `set_write_buffer_limits`); `low` is capped at `high`.
    #[doc(alias = "set_write_buffer_limits")]
    pub fn set_watermarks(&mut self, high: usize, low: usize) -> &mut Self {
        self.high_watermark = high;
        self.low_watermark = low.min(high);
        self
    }

    /// The size of each loop's read buffer.
    pub fn read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }

    /// Sets the size of each loop's read buffer (0 is taken as 1).
    pub fn set_read_buffer_size(&mut self, size: usize) -> &mut Self {
        self.read_buffer_size = size.max(1);
        self
    }

    /// Names loop threads `<name>-<n>`.
    pub fn set_thread_name(&mut self, name: &str) -> &mut Self {
        self.thread_name = name.to_owned();
        self
    }

    /// Loop threads started so far (0 before the first connection).
    pub fn started_workers(&self) -> usize {
        self.loops.len()
    }

    fn start(&mut self) {
        let settings = Settings {
            high_watermark: self.high_watermark,
            low_watermark: self.low_watermark,
            read_buffer_size: self.read_buffer_size,
            progress: Arc::clone(&self.progress),
        };
        self.loops.start(
            self.workers,
            &self.thread_name,
            &self.live,
            move |_, mailbox: Arc<Mailbox<Message>>| run_loop(&mailbox, settings.clone()),
        );
        tracing::info!(workers = self.loops.len(), "event loops started");
    }
}

/// One loop thread: adopt connections, act on readiness and deadlines, until told to stop.
fn run_loop(mailbox: &Arc<Mailbox<Message>>, settings: Settings) -> io::Result<()> {
    let poster: Arc<dyn HandlePoster> = Arc::clone(mailbox) as _;
    let mut driver = SessionDriver {
        ctx: LoopContext {
            buffer: vec![0; settings.read_buffer_size],
            now: Instant::now(),
            high_watermark: settings.high_watermark,
            low_watermark: settings.low_watermark,
            drain: settings.progress,
            key: 0,
            poster,
        },
    };
    drive(mailbox, 1024, &mut driver)
}

/// An event loop as a kind of loop: its entries are sessions, sharing one context.
struct SessionDriver {
    ctx: LoopContext,
}

impl Driver for SessionDriver {
    type Entry = EventSession;
    type Message = Message;

    fn message(
        &mut self,
        reactor: &mut Reactor<EventSession>,
        message: Message,
        now: Instant,
    ) -> Flow {
        let ctx = &mut self.ctx;
        ctx.now = now;
        match message {
            Message::Adopt(session) => adopt(reactor, session, ctx),
            Message::Drain => {
                for key in reactor.keys() {
                    let Some(session) = reactor.get_mut(key) else {
                        continue;
                    };
                    ctx.key = key;
                    let next = guarded(session.0.id(), || session.0.drain(ctx));
                    apply(reactor, key, next);
                }
            }
            Message::Handle { key, id, op } => {
                // The connection may have ended, and its key gone to another since.
                if let Some(session) = reactor.get_mut(key).filter(|s| s.0.id() == id) {
                    ctx.key = key;
                    if let Some(next) = guarded(id, || session.0.handle_op(op, ctx)) {
                        apply(reactor, key, next);
                    }
                }
            }
            Message::Stop => return Flow::Stop,
        }
        Flow::Continue
    }

    fn expired(&mut self, reactor: &mut Reactor<EventSession>, key: usize, now: Instant) {
        let ctx = &mut self.ctx;
        ctx.now = now;
        ctx.key = key;
        let Some(session) = reactor.get_mut(key) else {
            return;
        };
        let next = guarded(session.0.id(), || session.0.timed_out(now, ctx));
        apply(reactor, key, next);
    }

    #[inline]
    fn ready(&mut self, reactor: &mut Reactor<EventSession>, ready: Ready, now: Instant) {
        let ctx = &mut self.ctx;
        ctx.now = now;
        ctx.key = ready.key;
        let Some(session) = reactor.get_mut(ready.key) else {
            return;
        };
        let next = guarded(session.0.id(), || {
            session.0.ready(ready.readable, ready.writable, ctx)
        });
        apply(reactor, ready.key, next);
    }

    fn end(&mut self, session: EventSession) {
        end(session, true);
    }

    fn leftover(&mut self, message: Message) {
        if let Message::Adopt(session) = message {
            end(session, true);
        }
    }
}

fn adopt(reactor: &mut Reactor<EventSession>, mut session: EventSession, ctx: &mut LoopContext) {
    // The key `keep` will insert it under: nothing is inserted in between.
    ctx.key = reactor.next_key();
    let next = guarded(session.0.id(), || session.0.start(ctx));
    keep(reactor, session, next);
}

#[inline]
fn apply(reactor: &mut Reactor<EventSession>, key: usize, next: Next) {
    match next {
        Next::Close => close(reactor, key, false),
        Next::Watch(interest, deadline) => {
            if let Err(error) = reactor.set_interest(key, interest) {
                tracing::error!(%error, "cannot change what a connection waits for; closing it");
                close(reactor, key, false);
                return;
            }
            reactor.set_deadline(key, deadline);
        }
    }
}

fn close(reactor: &mut Reactor<EventSession>, key: usize, stopping: bool) {
    if let Some(session) = reactor.remove(key) {
        finish(reactor, session, stopping);
    }
}

/// Ends a session; a close that lingers stays in the reactor until it is done.
fn finish(reactor: &mut Reactor<EventSession>, session: EventSession, stopping: bool) {
    if let Some((lingering, next)) = end(session, stopping) {
        keep(reactor, lingering, next);
    }
}

/// Ends a session; `Some` with the close that lingers (never when the loop stops).
fn end(session: EventSession, stopping: bool) -> Option<(EventSession, Next)> {
    let id = session.0.id();
    guarded(id, || session.0.end(stopping))
}

/// Takes in a session (a new one, or a close that lingers) that goes on as `next` says.
fn keep(reactor: &mut Reactor<EventSession>, session: EventSession, next: Next) {
    match next {
        Next::Close => finish(reactor, session, false),
        Next::Watch(interest, deadline) => match reactor.insert(session, interest) {
            Ok(key) => reactor.set_deadline(key, deadline),
            Err((session, error)) => {
                tracing::error!(conn_id = session.0.id(), %error, "cannot watch a connection; closing it");
                // Closed at once: a close that cannot be watched does not linger either.
                drop(end(session, false));
            }
        },
    }
}

/// Sessions catch their callbacks' panics; this guards the loop against anything else.
fn guarded<R: Default>(id: u64, step: impl FnOnce() -> R) -> R {
    panic::catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|_| {
        tracing::error!(
            conn_id = id,
            "a connection's session panicked outside its callbacks"
        );
        R::default()
    })
}

impl Default for EventLoop {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatch for EventLoop {
    fn name(&self) -> &'static str {
        "event"
    }

    fn process_request(&mut self, job: Box<dyn Job>) {
        match job.into_event_session() {
            Ok(session) => {
                if self.loops.is_empty() {
                    self.start();
                }
                if let Err(Message::Adopt(session)) =
                    self.loops.post_next(Message::Adopt(session))
                {
                    tracing::error!("no event loop could be started; closing the connection");
                    drop(end(session, false));
                }
            }
            Err(job) => job.fail(RequestError::Dispatch(io::Error::other(
                "EventLoop runs Protocol handlers over stream sockets: wrap the protocol in \
                 ProtocolHandler (e.g. EventTcpServer::new(address, ProtocolHandler::new(MyProtocol)))",
            ))),
        }
    }

    fn live_workers(&self) -> usize {
        self.live.count()
    }

    fn attach(&mut self, waker: LoopWaker) {
        self.progress = waker.drain_progress();
    }

    fn drain_idle(&mut self, _stage: DrainStage) {
        // The sessions read the level itself; the loops only look at them again now.
        self.loops.post_all(|| Message::Drain);
    }

    fn server_close(&mut self) {
        self.loops.stop_and_join(|| Message::Stop);
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("workers", &self.workers)
            .field("high_watermark", &self.high_watermark)
            .field("low_watermark", &self.low_watermark)
            .field("read_buffer_size", &self.read_buffer_size)
            .field("started_workers", &self.loops.len())
            .finish_non_exhaustive()
    }
}
