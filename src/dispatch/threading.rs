//! [`ThreadingMixIn`]: a thread per request.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use parking_lot::{Condvar, Mutex};

use crate::dispatch::{Dispatch, Job, LoopWaker};
use crate::Error;

/// Runs each request on a new thread: Python's `ThreadingMixIn`.
///
/// | knob | default | meaning |
/// |---|---|---|
/// | [`daemon_threads`](Self::set_daemon_threads) | `false` | `true`: `server_close` does not wait for handlers |
/// | [`block_on_close`](Self::set_block_on_close) | `true` | `server_close` (and drop) waits for handlers in flight |
/// | [`max_threads`](Self::set_max_threads) | `None` (no bound) | at the bound the loop stops accepting until a handler finishes |
/// | [`thread_name`](Self::set_thread_name) | `"socketserver-request"` | threads are named `<name>-<request id>` |
///
/// Finished threads are forgotten at once: the strategy tracks only live threads (plus the
/// last finished one, which the next finisher joins), so memory does not grow with the number
/// of requests served.
///
/// With a bound, connections beyond it wait in the kernel's listen backlog (see
/// [`TcpSocket::set_request_queue_size`](crate::TcpSocket::set_request_queue_size)). There is no
/// bound by default, as in Python, because a bound on a server with long-lived connections
/// turns the clients past it away; set one when threads, not connections, are the scarce
/// resource.
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
    max_threads: Option<usize>,
    thread_name: Arc<str>,
    registry: Arc<Registry>,
}

/// The live request threads, shared with the threads themselves.
struct Registry {
    state: Mutex<Threads>,
    all_done: Condvar,
    waker: Mutex<Option<LoopWaker>>,
}

#[derive(Default)]
struct Threads {
    live: HashMap<u64, JoinHandle<()>>,
    /// The last thread to finish; the next one to finish joins it.
    finished: Option<JoinHandle<()>>,
    /// The bound, copied here so a finishing thread knows whether to wake the loop.
    max: Option<usize>,
}

impl ThreadingMixIn {
    /// The defaults of Python's `ThreadingMixIn` (see the table above).
    pub fn new() -> Self {
        ThreadingMixIn {
            daemon_threads: false,
            block_on_close: true,
            max_threads: None,
            thread_name: Arc::from("socketserver-request"),
            registry: Arc::new(Registry {
                state: Mutex::new(Threads::default()),
                all_done: Condvar::new(),
                waker: Mutex::new(None),
            }),
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
        self.max_threads
    }

    /// Bounds the request threads that run at once (`Some(0)` is taken as 1). Default `None`.
    pub fn set_max_threads(&mut self, max: Option<usize>) -> &mut Self {
        self.max_threads = max.map(|m| m.max(1));
        self.registry.state.lock().max = self.max_threads;
        self
    }

    /// The prefix of request threads' names.
    pub fn thread_name(&self) -> &str {
        &self.thread_name
    }

    /// Names request threads `<name>-<request id>`.
    pub fn set_thread_name(&mut self, name: &str) -> &mut Self {
        self.thread_name = Arc::from(name);
        self
    }

    /// How many request threads are running now.
    pub fn active_count(&self) -> usize {
        self.registry.state.lock().live.len()
    }

    /// How many thread handles the strategy holds: the live threads and at most one finished
    /// thread not yet joined. Stays small however many requests were served.
    pub fn tracked_count(&self) -> usize {
        let state = self.registry.state.lock();
        state.live.len() + usize::from(state.finished.is_some())
    }

    /// Blocks until no request thread is running, then joins the last one.
    fn wait_for_threads(&self) {
        let last = {
            let mut state = self.registry.state.lock();
            if !state.live.is_empty() {
                tracing::info!(threads = state.live.len(), "waiting for request threads");
            }
            while !state.live.is_empty() {
                self.registry.all_done.wait(&mut state);
            }
            state.finished.take()
        };
        if let Some(handle) = last {
            let _ = handle.join();
        }
    }
}

impl Registry {
    /// The last thing a request thread does: forget itself, join its predecessor.
    fn finish(&self, id: u64) {
        let (previous, wake) = {
            let mut state = self.state.lock();
            let at_bound = state.max.is_some_and(|max| state.live.len() >= max);
            let me = state.live.remove(&id);
            let previous = std::mem::replace(&mut state.finished, me);
            if state.live.is_empty() {
                self.all_done.notify_all();
            }
            (previous, at_bound)
        };
        if wake {
            if let Some(waker) = &*self.waker.lock() {
                waker.wake();
            }
        }
        if let Some(handle) = previous {
            // It has run its last line already (it replaced this slot before us).
            let _ = handle.join();
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

    fn process_request<J: Job>(&mut self, job: J) {
        let id = job.id();
        // The slot lets us take the job back if the thread cannot be spawned.
        let slot = Arc::new(Mutex::new(Some(job)));
        let theirs = Arc::clone(&slot);
        let registry = Arc::clone(&self.registry);
        // Hold the lock across spawn and insert: a thread that finishes at once must find its
        // own handle in `live`.
        let mut state = self.registry.state.lock();
        let spawned = thread::Builder::new()
            .name(format!("{}-{id}", self.thread_name))
            .spawn(move || {
                if let Some(job) = theirs.lock().take() {
                    job.run();
                }
                registry.finish(id);
            });
        match spawned {
            Ok(handle) => {
                state.live.insert(id, handle);
            }
            Err(error) => {
                drop(state);
                tracing::error!(conn_id = id, %error, "cannot spawn a request thread");
                if let Some(job) = slot.lock().take() {
                    job.fail(Error::Dispatch(error));
                }
            }
        }
    }

    fn has_capacity(&self) -> bool {
        match self.max_threads {
            None => true,
            Some(max) => self.registry.state.lock().live.len() < max,
        }
    }

    fn attach(&mut self, waker: LoopWaker) {
        *self.registry.waker.lock() = Some(waker);
    }

    fn server_close(&mut self) {
        if self.block_on_close && !self.daemon_threads {
            self.wait_for_threads();
        }
    }
}

impl fmt::Debug for ThreadingMixIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadingMixIn")
            .field("daemon_threads", &self.daemon_threads)
            .field("block_on_close", &self.block_on_close)
            .field("max_threads", &self.max_threads)
            .field("thread_name", &self.thread_name)
            .field("active", &self.active_count())
            .finish()
    }
}
