//! [`ThreadPool`]: a fixed set of worker threads fed through a bounded queue.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::dispatch::live_threads::LiveThreads;
use crate::dispatch::parker::{self, Message, Parked, ParkerDriver, Resume};
use crate::dispatch::{Dispatch, Job, RunOutcome};
use crate::drain::DrainStage;
use crate::error::RequestError;
use crate::reactor::{drive_until, end_all, Driver, Flow, Mailbox, Reactor};
use crate::shutdown::LoopWaker;

type Task = Box<dyn Job>;

/// Runs requests on a fixed set of worker threads fed through a bounded queue. Python has no
/// such mix-in; Perl's `Net::Server::PreForkSimple` and tiny-http work this way.
///
/// | knob | default | meaning |
/// |---|---|---|
/// | [`workers`](Self::set_workers) | CPUs × 4 | threads that run handlers |
/// | [`queue_size`](Self::set_queue_size) | same as `workers` | requests accepted and waiting for a worker |
/// | [`block_on_close`](Self::set_block_on_close) | `true` | `server_close` lets the workers finish the queue and joins them |
/// | [`thread_name`](Self::set_thread_name) | `"socketserver-worker"` | workers are named `<name>-<n>` |
///
/// **Backpressure**: when the queue is full, the loop stops accepting until a worker takes a
/// request; meanwhile new connections wait in the kernel's listen backlog.
///
/// **Parking**: a connection holds its worker while its handler runs. A handler that
/// returns between messages after [`StreamRequest::park`](crate::StreamRequest::park) gives
/// the worker back: the connection waits in the pool's selector (one for all parked
/// connections, with their idle deadlines), which the workers watch in turn — leader and
/// followers: one idle worker waits in the selector, and when a parked connection's next
/// message arrives that worker runs it itself and another idle worker takes over the wait.
/// Other connections that became ready at the same moment are queued for the other workers,
/// ahead of new connections. So a message crosses no thread on its way to a handler, more
/// workers never add a queue to go through, and `N` workers serve any number of persistent,
/// mostly idle connections. While every worker runs a handler, parked connections wait (their
/// deadlines, their output for slow readers and their gathering go on when one is free). A handler that never parks holds its worker for the connection's
/// whole life, as in Python: `N` workers then serve at most `N` connections at once, and a
/// keep-alive connection blocks a worker even while it sends nothing.
///
/// **Slow peers**: a handler that parks with
/// [`StreamRequest::park_until`](crate::StreamRequest::park_until) runs only once its next
/// message has arrived whole (the parker gathers it), and what a client does not read at once
/// is kept and sent by the parker ([`StreamOptions::max_pending_output`](crate::StreamOptions::max_pending_output)),
/// so a client that sends or reads slowly (slowloris, slow reads) costs a buffer and a timer,
/// not a worker. `socketserver-http`'s `HttpService` works this way. Parking has a price per
/// message (two selector updates, and a hand-over of the wait between workers): it pays when
/// connections outnumber workers; with a worker per connection, not parking is faster.
///
/// A handler that panics is reported through `handle_error`; the worker survives. Dropping the
/// server never hangs on an idle pool: closing the queue ends the workers.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use socketserver::{PoolTcpServer, StreamRequest};
///
/// let mut server = PoolTcpServer::new("127.0.0.1:0", |req: &mut StreamRequest| req.wfile.write_all(b"ok"))?;
/// server.dispatch_mut().set_workers(4).set_queue_size(16);
/// let mut client = std::net::TcpStream::connect(server.server_address()?)?;
/// server.handle_request()?;
/// let mut reply = String::new();
/// std::io::Read::read_to_string(&mut client, &mut reply)?;
/// assert_eq!(reply, "ok");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ThreadPool {
    workers: usize,
    queue_size: usize,
    block_on_close: bool,
    thread_name: String,
    waker: Option<LoopWaker>,
    /// Started with the first request.
    running: Option<Running>,
    /// The workers, while they run.
    live: LiveThreads,
    /// A drain's deadline passed: `server_close` waits briefly, then lets the workers go.
    forced: bool,
}

struct Running {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// What the workers share: the queues, the parked connections' reactor (held by the worker
/// that leads, or here while none does), and the way to wake them.
struct Shared {
    state: Mutex<State>,
    /// Idle workers wait here for a request, or for the lead.
    work_ready: Condvar,
    /// The parked connections' mail (parks, drains, the close); its waker ends the leader's
    /// wait.
    mailbox: Arc<Mailbox<Message>>,
    /// What the reactor's holder resumed in its last turn: only the holder pushes (through
    /// `resume`) and takes.
    batch: Arc<Mutex<Vec<Task>>>,
    resume: Resume,
    queue_size: usize,
    /// Set by the loop when it stops accepting because the queue is full; the worker that
    /// takes the next request clears it and wakes the loop.
    loop_waits: AtomicBool,
    waker: Option<LoopWaker>,
}

struct State {
    /// Accepted connections waiting for a worker (at most `queue_size`).
    new: VecDeque<Task>,
    /// Parked connections whose next message has arrived, waiting for a worker.
    resumed: VecDeque<Task>,
    /// The parked connections, while no worker leads (`None` while one does, and once closed).
    reactor: Option<Reactor<Parked>>,
    /// A worker holds the reactor.
    leading: bool,
    /// Workers waiting on `work_ready`.
    idle: usize,
    /// Of those, woken and not yet back: one wake-up at a time is enough (the woken worker
    /// wakes the next if work remains).
    waking: usize,
    closed: bool,
}

impl ThreadPool {
    /// A pool with the defaults in the table above.
    pub fn new() -> Self {
        let workers = thread::available_parallelism().map_or(4, usize::from) * 4;
        ThreadPool {
            workers,
            queue_size: workers,
            block_on_close: true,
            thread_name: "socketserver-worker".to_owned(),
            waker: None,
            running: None,
            live: LiveThreads::default(),
            forced: false,
        }
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Sets the number of worker threads (0 is taken as 1). Takes effect when the pool starts,
    /// with the first request.
    pub fn set_workers(&mut self, workers: usize) -> &mut Self {
        self.workers = workers.max(1);
        self
    }

    /// A pool of `workers` threads (at least 1), the other settings as [`new`](Self::new)
    /// gives them: for [`with_dispatch`](crate::BaseServer::with_dispatch).
    pub fn with_workers(workers: usize) -> Self {
        let mut pool = ThreadPool::new();
        pool.set_workers(workers);
        pool
    }

    /// How many accepted requests may wait for a worker.
    pub fn queue_size(&self) -> usize {
        self.queue_size
    }

    /// Sets how many accepted requests may wait for a worker (0 is taken as 1).
    pub fn set_queue_size(&mut self, size: usize) -> &mut Self {
        self.queue_size = size.max(1);
        self
    }

    /// Whether `server_close` waits for the queue to drain and the workers to end.
    pub fn block_on_close(&self) -> bool {
        self.block_on_close
    }

    /// `true` (the default): `server_close` lets the workers finish every queued request, then
    /// joins them. `false`: they finish in the background.
    pub fn set_block_on_close(&mut self, block: bool) -> &mut Self {
        self.block_on_close = block;
        self
    }

    /// Names worker threads `<name>-<n>`.
    pub fn set_thread_name(&mut self, name: &str) -> &mut Self {
        self.thread_name = name.to_owned();
        self
    }

    /// Requests accepted and waiting for a worker now.
    pub fn queued(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |running| running.shared.state.lock().new.len())
    }

    /// Worker threads started so far (0 before the first request).
    pub fn started_workers(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |running| running.threads.len())
    }

    /// Parked connections whose input has arrived and that wait for a worker now.
    pub fn resumed_waiting(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |running| running.shared.state.lock().resumed.len())
    }

    fn start(&mut self) -> Option<&Running> {
        let mailbox = Mailbox::new()
            .map_err(|error| tracing::error!(%error, "cannot create the pool's waker"))
            .ok()?;
        let reactor = Reactor::new(256)
            .and_then(|mut reactor| reactor.watch_waker(mailbox.waker()).map(|()| reactor))
            .map_err(|error| tracing::error!(%error, "cannot create the pool's selector"))
            .ok()?;
        let batch: Arc<Mutex<Vec<Task>>> = Arc::default();
        let theirs = Arc::clone(&batch);
        let resume: Resume = Arc::new(move |task| theirs.lock().push(task));
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                new: VecDeque::with_capacity(self.queue_size),
                resumed: VecDeque::new(),
                reactor: Some(reactor),
                leading: false,
                idle: 0,
                waking: 0,
                closed: false,
            }),
            work_ready: Condvar::new(),
            mailbox,
            batch,
            resume,
            queue_size: self.queue_size,
            loop_waits: AtomicBool::new(false),
            waker: self.waker.clone(),
        });
        let threads = (0..self.workers)
            .filter_map(|n| {
                let shared = Arc::clone(&shared);
                let builder = thread::Builder::new().name(format!("{}-{n}", self.thread_name));
                self.live
                    .spawn(builder, move || work(&shared))
                    .map_err(|error| tracing::error!(%error, "cannot spawn a pool worker"))
                    .ok()
            })
            .collect();
        tracing::info!(
            workers = self.workers,
            queue_size = self.queue_size,
            "thread pool started"
        );
        Some(self.running.insert(Running { shared, threads }))
    }
}

/// A worker's life: run requests (resumed connections first, then new ones), lead the wait
/// for parked connections when idle, until the pool closes and nothing is left.
fn work(shared: &Shared) {
    while let Some(task) = shared.next_task() {
        let mut next = Some(task);
        while let Some(task) = next.take() {
            // Jobs catch their own panics; this guards the worker against anything else.
            match panic::catch_unwind(AssertUnwindSafe(|| task.run_until_parked())) {
                Ok(RunOutcome::Parked(parked)) => next = shared.park(parked),
                Ok(RunOutcome::Finished(_)) => {}
                Err(_) => tracing::error!("a pool task panicked outside its handler"),
            }
        }
    }
}

impl Shared {
    /// The next request for this worker: a resumed connection, a new one, or — when there is
    /// none and no worker leads — what arrives while this worker leads the wait. `None` once
    /// the pool is closed and nothing is left.
    fn next_task(&self) -> Option<Task> {
        let mut state = self.state.lock();
        loop {
            if let Some(task) = state.resumed.pop_front() {
                self.pass_on(&mut state);
                return Some(task);
            }
            if let Some(task) = state.new.pop_front() {
                self.pass_on(&mut state);
                drop(state);
                self.took_new();
                return Some(task);
            }
            if state.closed {
                return None;
            }
            if let Some(reactor) = state.reactor.take() {
                state.leading = true;
                drop(state);
                let (reactor, kept) = self.lead(reactor);
                match reactor {
                    // The lead passes to a worker that waits, if one does.
                    Some(reactor) => self.give_back(reactor, true),
                    None => self.state.lock().leading = false,
                }
                if let Some(task) = kept {
                    return Some(task);
                }
                state = self.state.lock();
                continue;
            }
            state.idle += 1;
            self.work_ready.wait(&mut state);
            state.idle -= 1;
            state.waking = state.waking.saturating_sub(1);
        }
    }

    /// Leads: drives the parked connections until one is resumed (it is returned, for this
    /// worker to run; others resumed with it are queued for the rest) or a request waits that
    /// no idle worker will take. Gives the reactor back, or `None` once the pool closed.
    fn lead(&self, mut reactor: Reactor<Parked>) -> (Option<Reactor<Parked>>, Option<Task>) {
        let mut driver = ParkerDriver {
            resume: &self.resume,
        };
        let flow = drive_until(&mut reactor, &self.mailbox, &mut driver, |_| {
            !self.batch.lock().is_empty() || self.work_waits()
        });
        let closing = !matches!(flow, Ok(Flow::Continue));
        if let Err(error) = &flow {
            tracing::error!(%error, "the pool's selector failed; ending its parked connections");
        }
        if closing {
            self.state.lock().closed = true;
            end_all(&mut reactor, &self.mailbox, &mut driver);
        }
        let kept = self.share_batch(closing);
        ((!closing).then_some(reactor), kept)
    }

    /// Wakes one idle worker, unless one is already on its way.
    fn wake_one(&self, state: &mut State) {
        if state.idle > state.waking && state.waking == 0 {
            state.waking += 1;
            self.work_ready.notify_one();
        }
    }

    /// A worker took a queued request: if more wait, it wakes one idle worker for the next.
    /// Waking one at a time, each by the last one woken, keeps as many workers awake as the
    /// queue needs and no more: a batch of readiness wakes no crowd that then fights over the
    /// CPUs (more workers must not make the pool slower).
    /// So is one woken when nobody leads the wait for parked connections while this worker
    /// runs a request.
    fn pass_on(&self, state: &mut State) {
        let work_left = !(state.new.is_empty() && state.resumed.is_empty());
        if work_left || state.reactor.is_some() {
            self.wake_one(state);
        }
    }

    /// The reactor's holder gives it back (`leading` ends): kept for the next leader, or, if
    /// the pool closed meanwhile, its parked connections ended here. `wake`: an idle worker is
    /// woken to lead (the holder goes on to run a request).
    fn give_back(&self, mut reactor: Reactor<Parked>, wake: bool) {
        let mut state = self.state.lock();
        state.leading = false;
        if state.closed {
            drop(state);
            let mut driver = ParkerDriver {
                resume: &self.resume,
            };
            end_all(&mut reactor, &self.mailbox, &mut driver);
            let _ = self.share_batch(true);
            return;
        }
        state.reactor = Some(reactor);
        if wake {
            self.wake_one(&mut state);
        }
    }

    /// A request waits and no worker waits to take it: the leader takes it.
    fn work_waits(&self) -> bool {
        let state = self.state.lock();
        state.idle == 0 && !(state.new.is_empty() && state.resumed.is_empty())
    }

    /// Takes what the reactor's holder resumed: the first is returned (the holder runs it), the
    /// rest queued for the other workers. When `closing`, all of them run (their input is
    /// here), queued.
    fn share_batch(&self, closing: bool) -> Option<Task> {
        let mut resumed = std::mem::take(&mut *self.batch.lock());
        if resumed.is_empty() {
            return None;
        }
        let kept = (!closing).then(|| resumed.remove(0));
        if !resumed.is_empty() {
            let mut state = self.state.lock();
            state.resumed.extend(resumed);
            // One idle worker; it wakes the next if more wait (`pass_on`).
            self.wake_one(&mut state);
        }
        kept
    }

    /// A worker's request parked: it waits in the reactor (admitted here while no worker
    /// leads, else by the leader). Returns it when its next message is here already (this
    /// worker runs it on).
    fn park(&self, job: Task) -> Option<Task> {
        if job.parked_fd().is_none() {
            job.end_parked();
            return None;
        }
        let mut state = self.state.lock();
        if state.closed {
            drop(state);
            job.end_parked();
            return None;
        }
        let Some(mut reactor) = state.reactor.take() else {
            drop(state);
            self.mailbox.post(Message::Park(job));
            return None;
        };
        state.leading = true;
        drop(state);
        parker::admit(&mut reactor, job, Instant::now(), &self.resume);
        let kept = self.share_batch(false);
        // This worker leads next itself, unless it runs a resumed request first: then an idle
        // worker takes the lead.
        self.give_back(reactor, kept.is_some());
        kept
    }

    /// A new request was taken: wake the loop if it waits for room in the queue.
    fn took_new(&self) {
        if self.loop_waits.swap(false, Ordering::SeqCst) {
            if let Some(waker) = &self.waker {
                waker.wake();
            }
        }
    }

    /// A graceful drain began or moved on: end the idle parked connections (here while no
    /// worker leads, else by the leader).
    fn drain(&self) {
        let mut state = self.state.lock();
        let Some(mut reactor) = state.reactor.take() else {
            if state.leading {
                self.mailbox.post(Message::Drain);
            }
            return;
        };
        state.leading = true;
        drop(state);
        let mut driver = ParkerDriver {
            resume: &self.resume,
        };
        let _ = driver.message(&mut reactor, Message::Drain, Instant::now());
        // What the drain resumed (its input had arrived) is queued for the workers.
        if let Some(task) = self.share_batch(false) {
            self.state.lock().resumed.push_front(task);
        }
        self.give_back(reactor, false);
        let state = self.state.lock();
        if state.idle > 0 {
            self.work_ready.notify_all();
        }
    }

    /// Closes the pool: parked connections end (here while no worker leads, else by the
    /// leader, told so), later parks are refused, and workers end once the queues are empty.
    fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        let reactor = state.reactor.take();
        let leading = state.leading;
        self.work_ready.notify_all();
        drop(state);
        match reactor {
            Some(mut reactor) => {
                let mut driver = ParkerDriver {
                    resume: &self.resume,
                };
                end_all(&mut reactor, &self.mailbox, &mut driver);
            }
            None if leading => self.mailbox.post(Message::Close),
            None => {}
        }
    }
}

impl Default for ThreadPool {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatch for ThreadPool {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn process_request(&mut self, job: Box<dyn Job>) {
        let running = match self.running {
            Some(ref running) => Some(running),
            None => self.start(),
        };
        let Some(running) = running.filter(|running| !running.threads.is_empty()) else {
            job.fail(RequestError::Dispatch(std::io::Error::other(
                "no pool worker could be started",
            )));
            return;
        };
        let shared = &running.shared;
        let mut state = shared.state.lock();
        // The loop checks `has_capacity` first, so the queue has room; should it not, the
        // request is failed rather than blocking the loop.
        if state.closed || state.new.len() >= shared.queue_size {
            let reason = match state.closed {
                true => "the pool is closed",
                false => "the pool's queue is full",
            };
            drop(state);
            job.fail(RequestError::Dispatch(std::io::Error::other(reason)));
            return;
        }
        state.new.push_back(job);
        if state.idle > 0 {
            shared.wake_one(&mut state);
        } else if state.leading {
            // Every other worker is busy: the leader takes it.
            shared.mailbox.post(Message::Nudge);
        }
    }

    fn has_capacity(&self) -> bool {
        let Some(running) = &self.running else {
            return true;
        };
        let shared = &running.shared;
        let full = || shared.state.lock().new.len() >= shared.queue_size;
        if !full() {
            return true;
        }
        // Ask the next worker that takes a request to wake us, then look again in case one
        // did between the two checks.
        shared.loop_waits.store(true, Ordering::SeqCst);
        !full()
    }

    fn attach(&mut self, waker: LoopWaker) {
        self.waker = Some(waker);
    }

    fn live_workers(&self) -> usize {
        self.live.count()
    }

    fn drain_idle(&mut self, _stage: DrainStage) {
        // Queued connections are served as usual; parked ones that are idle end.
        if let Some(running) = &self.running {
            running.shared.drain();
        }
    }

    fn force_close(&mut self) {
        self.forced = true;
    }

    fn server_close(&mut self) {
        // Parked connections end first (their `finish` runs); a connection that parks after
        // this is ended by its worker, and the workers end once the queue is empty.
        let Some(Running { shared, threads }) = self.running.take() else {
            return;
        };
        shared.close();
        if self.forced {
            // Their sockets are shut down: only a handler that ignores its socket still runs.
            let deadline = std::time::Instant::now() + crate::dispatch::FORCED_CLOSE_WAIT;
            if !self.live.wait_none(deadline) {
                tracing::warn!(
                    threads = self.live.count(),
                    "pool workers still running after the forced close; not waiting for them"
                );
                return;
            }
        }
        if self.block_on_close {
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers)
            .field("queue_size", &self.queue_size)
            .field("block_on_close", &self.block_on_close)
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}
