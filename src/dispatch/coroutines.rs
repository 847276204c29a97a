//! [`Coroutines`]: each connection's blocking handler on a stackful coroutine of its own, on a
//! few loop threads.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use selectors::Interest;

use crate::dispatch::loop_threads::LoopThreads;
use crate::dispatch::offload_pool::OffloadPool;
use crate::dispatch::stall_watch::{LoopPulse, StallWatch};
use crate::dispatch::{Dispatch, Job, LiveThreads};
use crate::drain::Liveness;
use crate::error::RequestError;
use crate::reactor::{drive, Driver, Flow, Mailbox, Reactor, Ready};
use crate::sys::{self, Fiber, FiberStack, Resume, Suspend};

/// Runs each connection's blocking handler — the same [`RequestHandler`](crate::RequestHandler),
/// the same closures over [`StreamRequest`](crate::StreamRequest) — on a stackful coroutine
/// of its own, on `N` loop threads: Go's goroutines, gevent's greenlets, Java's virtual
/// threads. A read or write of the connection's socket that would block suspends the
/// coroutine and registers interest in the loop's selector (epoll); the loop resumes it when
/// the socket is ready or its timeout passes, and runs other coroutines meanwhile. So a
/// waiting connection costs a suspended stack (the pages it touched, a few KiB; after a second
/// of waiting only those above the frame it waits in) and no thread, and a message costs no
/// hand-off between threads.
///
/// Everything the other strategies have works the same: the timeouts (first byte, idle, read,
/// write, minimum rate) become the waits' deadlines; a graceful drain ends a coroutine that
/// waits for input at a message boundary; parking (`park`, `park_until`) waits on the loop;
/// limits, stats, `TestServer`, pre-fork, socket activation and PROXY are the server's and
/// unchanged. A panic ends its connection only and reaches `handle_error`.
///
/// Only the connection's own socket suspends: see [`coroutine`](crate::coroutine) for what
/// blocks a loop and the way out ([`offload`](crate::coroutine::offload),
/// [`sleep`](crate::coroutine::sleep), [`yield_now`](crate::coroutine::yield_now)).
///
/// | knob | default | meaning |
/// |---|---|---|
/// | [`workers`](Self::set_workers) | CPUs | loop threads; connections are spread over them in turn |
/// | [`stack_size`](Self::set_stack_size) | 256 KiB | each coroutine's stack (address space; only touched pages are memory), with a guard page below it |
/// | [`stall_warning`](Self::set_stall_warning) | 10 ms | a coroutine that runs this long without suspending is named in a warning (while it runs, by one watch thread, and when it suspends) |
/// | [`offload_threads`](Self::set_offload_threads) | 8 | helper threads for [`offload`](crate::coroutine::offload), started as needed |
/// | [`thread_name`](Self::set_thread_name) | `"socketserver-coroutines"` | loops are named `<name>-<n>` |
///
/// A coroutine never moves between threads. Its stack has a guard page: a handler that
/// overflows it stops the process with a message saying so (as a thread's overflow does),
/// never corrupts memory. [`server_close`](crate::BaseServer::server_close) (or dropping the
/// server) stops the loops: each shuts down its connections' sockets, lets every coroutine
/// run to its end (its `finish` runs), and is joined.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Read, Write};
/// use socketserver::{CoroutineTcpServer, StreamRequest};
///
/// // Plain blocking code: a line echo.
/// let echo = |req: &mut StreamRequest| {
///     let mut line = String::new();
///     while req.rfile.read_line(&mut line)? > 0 {
///         req.wfile.write_all(line.as_bytes())?;
///         line.clear();
///     }
///     Ok(())
/// };
/// let mut server = CoroutineTcpServer::new("127.0.0.1:0", echo)?;
/// server.dispatch_mut().set_workers(2);
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(b"ping\n")?;
/// let mut reply = [0; 5];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping\n");
///
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "gevent")]
#[doc(alias = "goroutine")]
#[doc(alias = "green threads")]
#[doc(alias = "virtual threads")]
#[doc(alias = "CoroutineMixIn")]
pub struct Coroutines {
    workers: usize,
    stack_size: usize,
    stall_warning: Duration,
    offload_threads: usize,
    thread_name: String,
    /// Started with the first connection (so a pre-fork worker starts its own after `fork`).
    loops: LoopThreads<Message>,
    live: LiveThreads,
    /// Names a coroutine that still runs past `stall_warning`; started with the loops.
    stall_watch: Option<StallWatch>,
}

enum Message {
    Adopt(Box<dyn Job>),
    /// The work a coroutine handed off has run.
    Offloaded {
        key: usize,
        generation: u64,
    },
    Stop,
}

/// A loop's settings, copied into it when it starts.
#[derive(Debug, Clone, Copy)]
struct Settings {
    stack_size: usize,
    stall_warning: Duration,
}

/// The default stack of a coroutine.
const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// Stacks a loop keeps for its next coroutines (beyond these, a finished one is unmapped).
const SPARE_STACKS: usize = 64;
/// How many times a stopping loop resumes a coroutine that does not end before it unwinds it.
const STOP_RESUMES: usize = 64;
/// How long a coroutine waits for its socket before the stack pages below where it stands go
/// back to the kernel (an idle connection then costs the stack it uses, not the deepest it
/// ever used).
const RELEASE_STACK_AFTER: Duration = Duration::from_secs(1);

impl Coroutines {
    /// A coroutine strategy with the defaults in the table above.
    pub fn new() -> Self {
        Coroutines {
            workers: thread::available_parallelism().map_or(1, usize::from),
            stack_size: DEFAULT_STACK_SIZE,
            stall_warning: Duration::from_millis(10),
            offload_threads: 8,
            thread_name: "socketserver-coroutines".to_owned(),
            loops: LoopThreads::new(),
            live: LiveThreads::default(),
            stall_watch: None,
        }
    }

    /// `workers` loop threads (at least 1), the other settings as [`new`](Self::new) gives
    /// them: for [`with_dispatch`](crate::BaseServer::with_dispatch).
    pub fn with_workers(workers: usize) -> Self {
        let mut coroutines = Coroutines::new();
        coroutines.set_workers(workers);
        coroutines
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

    /// Each coroutine's stack size, in bytes.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Sets each coroutine's stack size (rounded up to whole pages; at least 16 KiB). It is
    /// address space: only the pages a handler touches become memory. Takes effect when the
    /// loops start.
    pub fn set_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = bytes.max(16 * 1024);
        self
    }

    /// How long a coroutine may run without suspending before a warning names it.
    pub fn stall_warning(&self) -> Duration {
        self.stall_warning
    }

    /// Sets how long a coroutine may run without suspending before a `tracing` warning names
    /// it (its loop's other connections waited that long). Takes effect when the loops start.
    pub fn set_stall_warning(&mut self, after: Duration) -> &mut Self {
        self.stall_warning = after;
        self
    }

    /// The most helper threads [`offload`](crate::coroutine::offload) uses.
    pub fn offload_threads(&self) -> usize {
        self.offload_threads
    }

    /// Sets the most helper threads [`offload`](crate::coroutine::offload) uses (0 is taken
    /// as 1); they start as work arrives and end after 10 s without any. Takes effect when the
    /// loops start.
    pub fn set_offload_threads(&mut self, threads: usize) -> &mut Self {
        self.offload_threads = threads.max(1);
        self
    }

    /// Names loop threads `<name>-<n>` (and helper threads `<name>-offload-<n>`).
    pub fn set_thread_name(&mut self, name: &str) -> &mut Self {
        self.thread_name = name.to_owned();
        self
    }

    /// Loop threads started so far (0 before the first connection).
    pub fn started_workers(&self) -> usize {
        self.loops.len()
    }

    fn start(&mut self) {
        sys::report_stack_overflows();
        let settings = Settings {
            stack_size: self.stack_size,
            stall_warning: self.stall_warning,
        };
        let offload = Arc::new(OffloadPool::new(
            self.offload_threads,
            format!("{}-offload", self.thread_name),
            self.live.clone(),
        ));
        let (stall_watch, pulses) = StallWatch::start(
            self.workers,
            self.stall_warning,
            format!("{}-stall-watch", self.thread_name),
            &self.live,
        );
        self.stall_watch = Some(stall_watch);
        self.loops.start(
            self.workers,
            &self.thread_name,
            &self.live,
            move |n, mailbox: Arc<Mailbox<Message>>| {
                let mut driver = FiberDriver {
                    mailbox: Arc::clone(&mailbox),
                    offload: Arc::clone(&offload),
                    pulse: Arc::clone(&pulses[n]),
                    settings,
                    spare_stacks: Vec::new(),
                    generation: 0,
                    last_resume_end: Instant::now(),
                };
                drive(&mailbox, 1024, &mut driver)
            },
        );
        tracing::info!(workers = self.loops.len(), "coroutine loops started");
    }
}

/// One connection's coroutine, as its loop holds it.
struct Task {
    fiber: Fiber,
    /// The connection's socket (shared with its request), so the registration outlives the
    /// request's own close: the descriptor closes when the task is dropped, after it has been
    /// unregistered.
    socket: Arc<dyn AsFd + Send + Sync>,
    /// Its drain state, to end it when the loop stops.
    liveness: Option<Arc<Liveness>>,
    id: u64,
    /// Tells this task from a later one under the same key (for work handed off).
    generation: u64,
    waiting: Waiting,
    /// The deadline its wait asked for (the reactor's may be earlier: the stack's release).
    deadline: Option<Instant>,
    /// Its stack's unused pages go back to the kernel at this time if it still waits then.
    release_at: Option<Instant>,
}

/// What a suspended task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Its socket (readable or writable, as registered), or its deadline.
    Socket,
    /// Its deadline only (a sleep, a yield).
    Time,
    /// Work handed off to a helper thread.
    Offloaded,
}

impl AsFd for Task {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// A coroutine loop as a kind of loop: its entries are tasks.
struct FiberDriver {
    mailbox: Arc<Mailbox<Message>>,
    offload: Arc<OffloadPool>,
    /// What the stall watch sees of this loop.
    pulse: Arc<LoopPulse>,
    settings: Settings,
    spare_stacks: Vec<FiberStack>,
    generation: u64,
    /// When the last resume ended: the next one, in the same turn, starts then (one clock
    /// read per resume instead of two).
    last_resume_end: Instant,
}

impl FiberDriver {
    fn adopt(&mut self, reactor: &mut Reactor<Task>, job: Box<dyn Job>, now: Instant) {
        let Some(socket) = job.shared_socket() else {
            job.fail(RequestError::Dispatch(io::Error::other(
                "this request has no socket of its own to run on a coroutine",
            )));
            return;
        };
        let stack = match self.spare_stacks.pop() {
            Some(stack) => stack,
            None => match sys::new_stack(self.settings.stack_size) {
                Ok(stack) => stack,
                Err(error) => {
                    tracing::error!(%error, "cannot map a coroutine stack; closing the connection");
                    job.fail(RequestError::Dispatch(error));
                    return;
                }
            },
        };
        let id = job.id();
        let liveness = job.drain_liveness();
        // The descriptor its waits may suspend on: a stream's own socket (a datagram shares the
        // server's, which never suspends).
        let fd = job.parked_fd().map_or(-1, |fd| fd.as_raw_fd());
        let fiber = Fiber::new(stack, fd, move || {
            job.run();
        });
        self.generation += 1;
        let task = Task {
            fiber,
            socket,
            liveness,
            id,
            generation: self.generation,
            waiting: Waiting::Time,
            deadline: None,
            release_at: None,
        };
        match reactor.insert(task, None) {
            Ok(key) => self.resume(reactor, key, Resume::Ready, now),
            Err((task, error)) => {
                tracing::error!(conn_id = id, %error, "cannot hold a coroutine; ending it");
                self.end(task);
            }
        }
    }

    /// Runs the task under `key` until it suspends again (then watches what it waits for) or
    /// ends (then lets it go).
    fn resume(&mut self, reactor: &mut Reactor<Task>, key: usize, why: Resume, now: Instant) {
        let Some(task) = reactor.get_mut(key) else {
            return;
        };
        // The turn's clock, or the end of the resume before this one in the same turn.
        let started = now.max(self.last_resume_end);
        self.pulse.running(task.id, started);
        let suspended = task.fiber.resume(why);
        self.pulse.idle();
        let ended = Instant::now();
        self.last_resume_end = ended;
        let ran = ended.saturating_duration_since(started);
        if ran >= self.settings.stall_warning {
            tracing::warn!(
                conn_id = task.id,
                ran_ms = ran.as_millis() as u64,
                "a coroutine ran without suspending and held up its loop: move blocking work \
                 into coroutine::offload"
            );
        }
        let generation = task.generation;
        let (interest, deadline, waiting) = match suspended {
            None => {
                if let Some(task) = reactor.remove(key) {
                    self.recycle(task);
                }
                return;
            }
            Some(Suspend::Io { writable, deadline }) => {
                let interest = match writable {
                    true => Interest::WRITABLE,
                    false => Interest::READABLE,
                };
                (Some(interest), deadline, Waiting::Socket)
            }
            Some(Suspend::Sleep(until)) => (None, Some(until), Waiting::Time),
            Some(Suspend::Yield) => (None, Some(now), Waiting::Time),
            Some(Suspend::Offload(work)) => {
                let mailbox = Arc::clone(&self.mailbox);
                self.offload.run(Box::new(move || {
                    work();
                    mailbox.post(Message::Offloaded { key, generation });
                }));
                (None, None, Waiting::Offloaded)
            }
        };
        task.waiting = waiting;
        task.deadline = deadline;
        // A wait for the socket that lasts gives the unused stack back (once per wait).
        task.release_at = (waiting == Waiting::Socket)
            .then(|| now.checked_add(RELEASE_STACK_AFTER))
            .flatten()
            .filter(|at| deadline.is_none_or(|until| *at < until));
        let deadline = task.release_at.or(deadline);
        if let Err(error) = reactor.set_interest(key, interest) {
            // The wait cannot be watched: give it up at once (the coroutine sees an expiry).
            tracing::error!(%error, "cannot watch a coroutine's socket");
            reactor.set_deadline(key, Some(now));
            return;
        }
        reactor.set_deadline(key, deadline);
    }

    /// A finished task: its stack is kept for the next coroutine (up to [`SPARE_STACKS`]); the
    /// socket closes as the task is dropped.
    fn recycle(&mut self, task: Task) {
        if self.spare_stacks.len() < SPARE_STACKS {
            if let Some(stack) = task.fiber.into_stack() {
                self.spare_stacks.push(stack);
            }
        }
    }
}

impl Driver for FiberDriver {
    type Entry = Task;
    type Message = Message;

    fn message(&mut self, reactor: &mut Reactor<Task>, message: Message, now: Instant) -> Flow {
        match message {
            Message::Adopt(job) => self.adopt(reactor, job, now),
            Message::Offloaded { key, generation } => {
                let waits = reactor.get_mut(key).is_some_and(|task| {
                    task.generation == generation && task.waiting == Waiting::Offloaded
                });
                if waits {
                    self.resume(reactor, key, Resume::Ready, now);
                }
            }
            Message::Stop => return Flow::Stop,
        }
        Flow::Continue
    }

    fn expired(&mut self, reactor: &mut Reactor<Task>, key: usize, now: Instant) {
        if let Some(task) = reactor.get_mut(key) {
            if task.release_at.is_some_and(|at| at <= now)
                && task.deadline.is_none_or(|until| now < until)
            {
                // Still waiting, and its own deadline is later: only the stack's release.
                task.release_at = None;
                let released = task.fiber.release_unused_stack();
                tracing::trace!(
                    conn_id = task.id,
                    released,
                    "an idle coroutine's stack released"
                );
                let deadline = task.deadline;
                reactor.set_deadline(key, deadline);
                return;
            }
        }
        let why = match reactor.get_mut(key).map(|task| task.waiting) {
            Some(Waiting::Socket) => Resume::Expired,
            Some(Waiting::Time) => Resume::Ready,
            Some(Waiting::Offloaded) | None => return,
        };
        self.resume(reactor, key, why, now);
    }

    #[inline]
    fn ready(&mut self, reactor: &mut Reactor<Task>, ready: Ready, now: Instant) {
        if reactor
            .get_mut(ready.key)
            .is_some_and(|task| task.waiting == Waiting::Socket)
        {
            self.resume(reactor, ready.key, Resume::Ready, now);
        }
    }

    fn end(&mut self, mut task: Task) {
        // The loop stops: the connection's socket is shut down, so each wait ends at once (a
        // read with the end of input, a write with an error), and the handler runs to its end.
        // (A datagram request has no liveness and shares the server's socket: nothing to shut.)
        if let Some(liveness) = &task.liveness {
            liveness.force_end();
        }
        for _ in 0..STOP_RESUMES {
            let why = match task.waiting {
                Waiting::Socket => Resume::Ready,
                Waiting::Time | Waiting::Offloaded => Resume::Stop,
            };
            match task.fiber.resume(why) {
                None => return,
                Some(Suspend::Offload(_)) => task.waiting = Waiting::Offloaded,
                Some(Suspend::Io { .. }) => task.waiting = Waiting::Socket,
                Some(Suspend::Sleep(_) | Suspend::Yield) => task.waiting = Waiting::Time,
            }
        }
        tracing::warn!(
            conn_id = task.id,
            "a coroutine did not end when its loop stopped; unwinding it"
        );
        drop(task);
    }

    fn leftover(&mut self, message: Message) {
        if let Message::Adopt(job) = message {
            job.fail(RequestError::Dispatch(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed before this connection was served",
            )));
        }
    }
}

impl Default for Coroutines {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatch for Coroutines {
    fn name(&self) -> &'static str {
        "coroutine"
    }

    fn process_request(&mut self, job: Box<dyn Job>) {
        if self.loops.is_empty() {
            self.start();
        }
        if let Err(Message::Adopt(job)) = self.loops.post_next(Message::Adopt(job)) {
            job.fail(RequestError::Dispatch(io::Error::other(
                "no coroutine loop could be started",
            )));
        }
    }

    fn live_workers(&self) -> usize {
        self.live.count()
    }

    fn server_close(&mut self) {
        self.loops.stop_and_join(|| Message::Stop);
        if let Some(mut watch) = self.stall_watch.take() {
            watch.stop();
        }
    }
}

impl fmt::Debug for Coroutines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutines")
            .field("workers", &self.workers)
            .field("stack_size", &self.stack_size)
            .field("stall_warning", &self.stall_warning)
            .field("offload_threads", &self.offload_threads)
            .field("started_workers", &self.loops.len())
            .finish_non_exhaustive()
    }
}
