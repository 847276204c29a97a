//! [`ThreadingMixIn`]: a thread per request.

use std::fmt;
use std::io;
use std::sync::{Arc, Weak};
use std::thread;

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};

use crate::dispatch::live_threads::LiveThreads;
use crate::dispatch::parker::{Parker, Resume};
use crate::dispatch::{Dispatch, Job, RunOutcome};
use crate::drain::DrainStage;
use crate::error::RequestError;
use crate::shutdown::LoopWaker;

/// Runs each request on a new thread: Python's `ThreadingMixIn`.
///
/// | knob | default | meaning |
/// |---|---|---|
/// | [`daemon_threads`](Self::set_daemon_threads) | `false` | `true`: `server_close` does not wait for handlers |
/// | [`block_on_close`](Self::set_block_on_close) | `true` | `server_close` (and drop) waits for handlers in flight |
/// | [`max_threads`](Self::set_max_threads) | `None` (no bound) | at the bound the loop stops accepting until a handler finishes |
/// | [`thread_name`](Self::set_thread_name) | `"socketserver-request"` | threads are named `<name>-<request id>` |
///
/// Finished threads are forgotten at once: the strategy keeps no handle of its threads, only a
/// count of those running, so memory does not grow with the number of requests served, and
/// starting a thread takes no lock. `server_close` waits until that count is zero: by then every
/// handler has returned and its request is closed.
///
/// With a bound, connections beyond it wait in the kernel's listen backlog (see
/// [`TcpSocket::set_request_queue_size`](crate::TcpSocket::set_request_queue_size)). There is no
/// bound by default, as in Python, because a bound on a server with long-lived connections
/// turns the clients past it away; set one when threads, not connections, are the scarce
/// resource.
///
/// **Parking**: a handler that returns after
/// [`StreamRequest::park`](crate::StreamRequest::park) frees its thread; the connection waits
/// in the strategy's parker thread (one selector for every parked connection) and a thread
/// runs the next `handle` when input arrives. Threads resumed this way are not held back by
/// `max_threads`, which bounds accepting new connections.
///
/// **A short-lived thread cache**: a thread whose request ended or parked waits up to 1 s for
/// the next one (a resumed connection's message, or a new connection) before it ends, so a
/// server whose connections park between messages does not start a thread per message. At
/// most [`IDLE_THREADS`](Self::IDLE_THREADS) wait so; [`active_count`](Self::active_count)
/// counts only threads running a request, and `server_close` ends the waiting ones.
///
/// Rust threads never keep a process alive after `main` returns, so `daemon_threads` only
/// decides whether `server_close` waits for them.
///
/// # Examples
///
/// ```
/// use socketserver::{StreamRequest, ThreadingTcpServer};
///
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// server.dispatch_mut().set_max_threads(Some(64)).set_thread_name("echo");
/// assert_eq!(server.dispatch().active_count(), 0);
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct ThreadingMixIn {
    daemon_threads: bool,
    block_on_close: bool,
    /// A drain's deadline passed: `server_close` waits briefly, then lets the threads go.
    forced: bool,
    shared: Arc<Shared>,
    /// The parker thread, while it runs (request threads are in `shared.running`).
    live: LiveThreads,
}

/// What the strategy shares with its threads and its parker.
struct Shared {
    running: Mutex<Running>,
    /// Threads waiting for their next request, and the way to hand them one.
    idle: Mutex<Idle>,
    handoff: Receiver<Option<Box<dyn Job>>>,
    all_done: Condvar,
    waker: Mutex<Option<LoopWaker>>,
    thread_name: Mutex<Arc<str>>,
    parker: Parker,
}

/// The thread cache: how many threads wait on `handoff` now. A request is handed over, and a
/// waiting thread that timed out gives up, under this lock, so no job is ever left in the
/// channel with nobody to take it.
struct Idle {
    waiting: usize,
    to_waiting: Sender<Option<Box<dyn Job>>>,
    /// `server_close` ran: finished threads end instead of waiting.
    closed: bool,
}

/// How long a finished request thread waits for another request before it ends.
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
struct Running {
    count: usize,
    /// The bound (`max_threads`), here so a finishing thread knows whether the loop waits.
    max: Option<usize>,
}

impl ThreadingMixIn {
    /// The most finished request threads that wait for the next request (the thread cache).
    pub const IDLE_THREADS: usize = 64;

    /// The defaults of Python's `ThreadingMixIn` (see the table above).
    pub fn new() -> Self {
        let live = LiveThreads::default();
        let shared = Arc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let resume: Resume = Arc::new(move |job: Box<dyn Job>| match weak.upgrade() {
                Some(shared) => shared.start_resumed(job),
                None => job.end_parked(),
            });
            let (to_waiting, handoff) = unbounded();
            Shared {
                running: Mutex::new(Running::default()),
                idle: Mutex::new(Idle {
                    waiting: 0,
                    to_waiting,
                    closed: false,
                }),
                handoff,
                all_done: Condvar::new(),
                waker: Mutex::new(None),
                thread_name: Mutex::new(Arc::from("socketserver-request")),
                parker: Parker::new("socketserver-parker", resume, live.clone()),
            }
        });
        ThreadingMixIn {
            daemon_threads: false,
            block_on_close: true,
            forced: false,
            shared,
            live,
        }
    }

    /// Whether `server_close` leaves request threads running.
    pub fn daemon_threads(&self) -> bool {
        self.daemon_threads
    }

    /// `true`: `server_close` does not wait for request threads. Default `false`.
    pub fn set_daemon_threads(&mut self, daemon: bool) -> &mut Self {
        self.daemon_threads = daemon;
        self
    }

    /// Whether `server_close` waits for request threads.
    pub fn block_on_close(&self) -> bool {
        self.block_on_close
    }

    /// `true` (the default): `server_close` waits until every request thread has finished.
    pub fn set_block_on_close(&mut self, block: bool) -> &mut Self {
        self.block_on_close = block;
        self
    }

    /// The most request threads that run at once; `None` for no bound.
    pub fn max_threads(&self) -> Option<usize> {
        self.shared.running.lock().max
    }

    /// Bounds the request threads that run at once (`Some(0)` is taken as 1). Default `None`.
    pub fn set_max_threads(&mut self, max: Option<usize>) -> &mut Self {
        self.shared.running.lock().max = max.map(|m| m.max(1));
        self
    }

    /// At most `max` request threads at once (at least 1), the other settings as
    /// [`new`](Self::new) gives them: for [`with_dispatch`](crate::BaseServer::with_dispatch).
    pub fn with_max_threads(max: usize) -> Self {
        let threading = ThreadingMixIn::new();
        threading.shared.running.lock().max = Some(max.max(1));
        threading
    }

    /// The prefix of request threads' names.
    pub fn thread_name(&self) -> Arc<str> {
        Arc::clone(&self.shared.thread_name.lock())
    }

    /// Names request threads `<name>-<request id>`.
    pub fn set_thread_name(&mut self, name: &str) -> &mut Self {
        *self.shared.thread_name.lock() = Arc::from(name);
        self
    }

    /// How many request threads are running a request now.
    pub fn active_count(&self) -> usize {
        self.shared.running.lock().count
    }

    /// How many finished request threads wait in the thread cache for the next request.
    pub fn idle_threads(&self) -> usize {
        self.shared.idle.lock().waiting
    }

    /// Blocks until no request thread is running, or `deadline` passes.
    fn wait_for_threads(&self, deadline: Option<std::time::Instant>) {
        let mut running = self.shared.running.lock();
        if running.count > 0 {
            tracing::info!(threads = running.count, "waiting for request threads");
        }
        while running.count > 0 {
            match deadline {
                None => self.shared.all_done.wait(&mut running),
                Some(deadline) => {
                    if self
                        .shared
                        .all_done
                        .wait_until(&mut running, deadline)
                        .timed_out()
                    {
                        tracing::warn!(
                            threads = running.count,
                            "request threads still running after the forced close; not waiting for them"
                        );
                        return;
                    }
                }
            }
        }
    }
}

impl Shared {
    /// Runs `job` on a waiting thread of the cache, or on a new thread, until it ends or parks;
    /// gives it back if no thread starts.
    fn spawn(self: &Arc<Self>, job: Box<dyn Job>) -> Result<(), (Box<dyn Job>, io::Error)> {
        self.running.lock().count += 1;
        let job = {
            let mut idle = self.idle.lock();
            if idle.waiting > 0 {
                idle.waiting -= 1;
                // The receiver lives in `self`: the channel never disconnects.
                let _ = idle.to_waiting.send(Some(job));
                return Ok(());
            }
            job
        };
        let id = job.id();
        // The slot lets us take the job back if the thread cannot be spawned.
        let slot = Arc::new(Mutex::new(Some(job)));
        let theirs = Arc::clone(&slot);
        let shared = Arc::clone(self);
        let name = format!("{}-{id}", self.thread_name.lock());
        let spawned = thread::Builder::new().name(name).spawn(move || {
            let mut next = theirs.lock().take();
            while let Some(job) = next {
                shared.run(job);
                shared.finish();
                next = shared.wait_for_next();
            }
        });
        match spawned {
            Ok(_) => Ok(()),
            Err(error) => {
                self.running.lock().count -= 1;
                let job = slot.lock().take().expect("the thread never started");
                Err((job, error))
            }
        }
    }

    /// One request on this thread, until it ends or parks.
    fn run(&self, job: Box<dyn Job>) {
        if let RunOutcome::Parked(parked) = job.run_until_parked() {
            if let Err(refused) = self.parker.park(parked) {
                refused.end_parked();
            }
        }
    }

    /// A finished request thread waits (up to [`IDLE_WAIT`]) for the next request handed to
    /// it; `None`: it ends.
    fn wait_for_next(&self) -> Option<Box<dyn Job>> {
        {
            let mut idle = self.idle.lock();
            if idle.closed || idle.waiting >= ThreadingMixIn::IDLE_THREADS {
                return None;
            }
            idle.waiting += 1;
        }
        match self.handoff.recv_timeout(IDLE_WAIT) {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                let mut idle = self.idle.lock();
                // Handed a request just as the wait ended: the hand-over counted on us.
                if let Ok(next) = self.handoff.try_recv() {
                    return next;
                }
                idle.waiting -= 1;
                None
            }
        }
    }

    /// `server_close`: the waiting threads end, and finished ones no longer wait.
    fn close_cache(&self) {
        let mut idle = self.idle.lock();
        idle.closed = true;
        for _ in 0..idle.waiting {
            let _ = idle.to_waiting.send(None);
        }
        idle.waiting = 0;
    }

    /// A parked connection's input arrived: run it on a new thread.
    fn start_resumed(self: &Arc<Self>, job: Box<dyn Job>) {
        if let Err((job, error)) = self.spawn(job) {
            tracing::error!(conn_id = job.id(), %error, "cannot spawn a thread for a resumed connection; closing it");
            job.end_parked();
        }
    }

    /// The last thing a request thread does (its handler has returned or parked).
    fn finish(&self) {
        let wake = {
            let mut running = self.running.lock();
            let was_at_bound = running.max.is_some_and(|max| running.count >= max);
            running.count -= 1;
            if running.count == 0 {
                self.all_done.notify_all();
            }
            was_at_bound
        };
        if wake {
            if let Some(waker) = &*self.waker.lock() {
                waker.wake();
            }
        }
    }
}

impl Default for ThreadingMixIn {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatch for ThreadingMixIn {
    fn name(&self) -> &'static str {
        "threading"
    }

    fn process_request(&mut self, job: Box<dyn Job>) {
        if let Err((job, error)) = self.shared.spawn(job) {
            tracing::error!(conn_id = job.id(), %error, "cannot spawn a request thread");
            job.fail(RequestError::Dispatch(error));
        }
    }

    fn has_capacity(&self) -> bool {
        let running = self.shared.running.lock();
        running.max.is_none_or(|max| running.count < max)
    }

    fn attach(&mut self, waker: LoopWaker) {
        *self.shared.waker.lock() = Some(waker);
    }

    fn live_workers(&self) -> usize {
        self.active_count() + self.live.count()
    }

    fn drain_idle(&mut self, _stage: DrainStage) {
        self.shared.parker.drain();
    }

    fn force_close(&mut self) {
        self.forced = true;
    }

    fn server_close(&mut self) {
        // Parked connections end now (their `finish` runs), whatever the knobs say: nothing
        // would ever wake them again.
        self.shared.parker.close();
        self.shared.close_cache();
        if self.block_on_close && !self.daemon_threads {
            // After a forced close the sockets are shut down: only a handler that ignores its
            // socket still runs, and it is reported rather than waited for.
            let deadline = self
                .forced
                .then(|| std::time::Instant::now() + crate::dispatch::FORCED_CLOSE_WAIT);
            self.wait_for_threads(deadline);
        }
    }
}

impl fmt::Debug for ThreadingMixIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadingMixIn")
            .field("daemon_threads", &self.daemon_threads)
            .field("block_on_close", &self.block_on_close)
            .field("max_threads", &self.max_threads())
            .field("thread_name", &self.thread_name())
            .field("active", &self.active_count())
            .finish()
    }
}
