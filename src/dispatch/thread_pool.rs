//! [`ThreadPool`]: a fixed set of worker threads fed through a bounded queue.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{bounded, select_biased, unbounded, Receiver, Sender, TrySendError};

use crate::dispatch::live_threads::LiveThreads;
use crate::dispatch::parker::{Parker, Resume};
use crate::dispatch::{Dispatch, Job, RunOutcome};
use crate::drain::DrainStage;
use crate::error::RequestError;
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
/// the worker back: the connection waits in the pool's parker thread (one selector for all
/// parked connections, with their idle deadlines) and is queued for a worker when its next
/// message arrives, ahead of new connections. So `N` workers serve any number of persistent,
/// mostly idle connections. A handler that never parks holds its worker for the connection's
/// whole life, as in Python: `N` workers then serve at most `N` connections at once, and a
/// keep-alive connection blocks a worker even while it sends nothing.
///
/// **Slow peers**: a handler that parks with
/// [`StreamRequest::park_until`](crate::StreamRequest::park_until) runs only once its next
/// message has arrived whole (the parker gathers it), and what a client does not read at once
/// is kept and sent by the parker ([`StreamOptions::max_pending_output`](crate::StreamOptions::max_pending_output)),
/// so a client that sends or reads slowly (slowloris, slow reads) costs a buffer and a timer,
/// not a worker. `socketserver-http`'s `HttpService` works this way. Parking has a price per
/// message (two hand-offs between threads and two selector updates): it pays when connections
/// outnumber workers; with a worker per connection, not parking is faster.
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
    /// Holds parked connections; created with the workers.
    parker: Option<Arc<Parker>>,
    /// The workers and the parker, while they run.
    live: LiveThreads,
    /// Set by the loop when it stops accepting because the queue is full; the worker that
    /// takes the next request clears it and wakes the loop.
    loop_waits: Arc<AtomicBool>,
    /// A drain's deadline passed: `server_close` waits briefly, then lets the workers go.
    forced: bool,
}

struct Running {
    queue: Sender<Task>,
    resumed: Receiver<Task>,
    threads: Vec<JoinHandle<()>>,
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
            parker: None,
            live: LiveThreads::default(),
            loop_waits: Arc::new(AtomicBool::new(false)),
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
            .map_or(0, |running| running.queue.len())
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
            .map_or(0, |running| running.resumed.len())
    }

    fn start(&mut self) -> &Running {
        let (queue, tasks) = bounded::<Task>(self.queue_size);
        let (resumer, resumed) = unbounded::<Task>();
        let resume: Resume = Arc::new(move |task| {
            // The receiver lives as long as a worker does; without workers the job ends here.
            if let Err(returned) = resumer.send(task) {
                returned.into_inner().end_parked();
            }
        });
        let parker = Arc::new(Parker::new(
            &format!("{}-parker", self.thread_name),
            resume,
            self.live.clone(),
        ));
        self.parker = Some(Arc::clone(&parker));
        let threads = (0..self.workers)
            .filter_map(|n| {
                let inboxes = Inboxes {
                    tasks: tasks.clone(),
                    resumed: resumed.clone(),
                };
                let loop_waits = Arc::clone(&self.loop_waits);
                let waker = self.waker.clone();
                let parker = Arc::clone(&parker);
                let builder = thread::Builder::new().name(format!("{}-{n}", self.thread_name));
                self.live
                    .spawn(builder, move || {
                        work(&inboxes, &parker, &loop_waits, waker.as_ref());
                    })
                    .map_err(|error| tracing::error!(%error, "cannot spawn a pool worker"))
                    .ok()
            })
            .collect();
        tracing::info!(
            workers = self.workers,
            queue_size = self.queue_size,
            "thread pool started"
        );
        self.running.insert(Running {
            queue,
            resumed,
            threads,
        })
    }
}

/// Where a worker takes work from.
struct Inboxes {
    /// New connections, from the loop (bounded: the loop's backpressure).
    tasks: Receiver<Task>,
    /// Parked connections whose input arrived, from the parker.
    resumed: Receiver<Task>,
}

/// A worker's life: take resumed connections first, then new ones, until the queue closes.
fn work(inboxes: &Inboxes, parker: &Parker, loop_waits: &AtomicBool, waker: Option<&LoopWaker>) {
    loop {
        let task = select_biased! {
            recv(inboxes.resumed) -> task => task.ok(),
            recv(inboxes.tasks) -> task => match task {
                Ok(task) => {
                    if loop_waits.swap(false, Ordering::SeqCst) {
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    }
                    Some(task)
                }
                // Closed: the parker is closed too, so nothing more will be resumed.
                Err(_) => inboxes.resumed.try_recv().ok(),
            },
        };
        let Some(task) = task else {
            return;
        };
        // Jobs catch their own panics; this guards the worker against anything else.
        let parked = panic::catch_unwind(AssertUnwindSafe(|| task.run_until_parked()));
        match parked {
            Ok(RunOutcome::Parked(parked)) => {
                if let Err(refused) = parker.park(parked) {
                    refused.end_parked();
                }
            }
            Ok(RunOutcome::Finished(_)) => {}
            Err(_) => tracing::error!("a pool task panicked outside its handler"),
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
            Some(ref running) => running,
            None => self.start(),
        };
        if running.threads.is_empty() {
            job.fail(RequestError::Dispatch(std::io::Error::other(
                "no pool worker could be started",
            )));
            return;
        }
        // The loop checks `has_capacity` first, so the queue has room; should it not, the
        // request is failed rather than blocking the loop.
        if let Err(error) = running.queue.try_send(job) {
            let (task, reason) = match error {
                TrySendError::Full(task) => (task, "the pool's queue is full"),
                TrySendError::Disconnected(task) => (task, "the pool is closed"),
            };
            task.fail(RequestError::Dispatch(std::io::Error::other(reason)));
        }
    }

    fn has_capacity(&self) -> bool {
        let Some(running) = &self.running else {
            return true;
        };
        if !running.queue.is_full() {
            return true;
        }
        // Ask the next worker that takes a request to wake us, then look again in case one
        // did between the two checks.
        self.loop_waits.store(true, Ordering::SeqCst);
        !running.queue.is_full()
    }

    fn attach(&mut self, waker: LoopWaker) {
        self.waker = Some(waker);
    }

    fn live_workers(&self) -> usize {
        self.live.count()
    }

    fn drain_idle(&mut self, _stage: DrainStage) {
        // Queued connections are served as usual; parked ones that are idle end.
        if let Some(parker) = &self.parker {
            parker.drain();
        }
    }

    fn force_close(&mut self) {
        self.forced = true;
    }

    fn server_close(&mut self) {
        // Parked connections end first (their `finish` runs); a connection that parks after
        // this is ended by its worker.
        if let Some(parker) = self.parker.take() {
            parker.close();
        }
        let Some(Running { queue, threads, .. }) = self.running.take() else {
            return;
        };
        drop(queue); // workers end once the queue is empty
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
