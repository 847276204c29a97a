//! [`ForkingMixIn`]: a child process per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::connections::ConnectionGuard;
use crate::dispatch::{Dispatch, Job};
use crate::drain::{DrainProgress, DrainStage, Liveness};
use crate::error::RequestError;
use crate::shutdown::LoopWaker;
use crate::stats::CloseReason;
use crate::sys::{self, Forked};

/// Runs each request in a child process of its own: Python's `ForkingMixIn`.
///
/// | knob | default | meaning |
/// |---|---|---|
/// | [`max_children`](Self::set_max_children) | 40 | at the limit the loop stops accepting (but still answers `shutdown`) |
/// | [`block_on_close`](Self::set_block_on_close) | `true` | `server_close` (and drop) waits for the children |
/// | [`timeout`](Self::set_timeout) | 300 s | the server's `handle_request` timeout, as Python's |
///
/// The child runs the handler's `setup`/`handle`/`finish` (and `handle_error` if they fail),
/// shuts the request down and ends with `_exit(2)`: status 0 if the request succeeded, 1 if it
/// failed or panicked. No destructor of the parent's state runs in the child and no buffer the
/// parent also holds is flushed twice. The parent closes its copy of the connection at once;
/// the child closes its copy of the listening socket before serving. The parent logs children
/// that end abnormally, with their status.
///
/// A handler that [parks](crate::StreamRequest::park) its connection waits for the next input
/// in its child (`poll(2)`): the semantics are kept, and the child is held as before.
///
/// **Graceful drain**: the parent sends each child SIGTERM; the child finishes its current
/// message and ends at the next message boundary (at once if it is idle; one whose client
/// has not spoken yet after the drain's first-byte grace, timed in the child by `alarm(2)`).
/// At the drain's deadline the parent kills what remains (SIGKILL) and reaps it. In a child,
/// SIGTERM and SIGINT mean "drain" (so a Ctrl-C that reaches the whole process group, or
/// systemd's SIGTERM to every process of a service, lets each child finish its message), SIGHUP
/// is ignored, and no signal handler the parent installed runs in the child.
///
/// Only the server's own children are reaped, by pid (`waitpid(pid, WNOHANG)`): never
/// `waitpid(-1)`, so processes the application forked itself are left to it. At
/// `max_children` the loop stops accepting (new connections wait in the kernel backlog),
/// checks every 10 ms for finished children, and still stops at once on `shutdown()`.
///
/// # What is safe in the child
///
/// `fork(2)` copies only the calling thread. Every lock another thread of the parent held at
/// that instant stays locked forever in the child. So in a handler running under this strategy:
///
/// * **Safe**: the request (`rfile`, `wfile`, the socket), the handler's own fields, memory
///   allocation (glibc's and musl's `malloc` reset their locks at fork), plain syscalls.
/// * **Not safe** if other threads may hold them: `println!`/`eprintln!` (std's stdout/stderr
///   locks), a `tracing` subscriber that locks its writer, `Mutex`es and channels shared with
///   other threads, and anything from the parent's thread pools or async runtimes. A panic
///   message is printed through stderr's lock, too.
/// * The framework's own code in the child takes none of the server's locks: it does not touch
///   the thread registry, the shutdown state or the selector; it runs the handler, `handle_error`
///   and `shutdown_request`, closes the listening descriptor and calls `_exit`. A
///   [`ShutdownHandle::shutdown`](crate::ShutdownHandle::shutdown) from the child writes to a
///   descriptor and takes no lock. The one shared thing it uses is your `tracing` subscriber
///   (a request span, a debug event, and the default `handle_error`'s error event): with a
///   subscriber that locks its writer (the `fmt` subscriber locks stderr for each event), a
///   parent thread logging at the instant of the fork leaves that lock held in the child.
///
/// A single-threaded parent (the usual forking server) has none of these hazards.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use socketserver::{ForkingTcpServer, StreamRequest};
///
/// let pid = |req: &mut StreamRequest| write!(req.wfile, "{}", std::process::id());
/// let mut server = ForkingTcpServer::new("127.0.0.1:0", pid)?;
/// server.dispatch_mut().set_max_children(8);
/// let mut client = std::net::TcpStream::connect(server.server_address()?)?;
/// server.handle_request()?;
/// let mut reply = String::new();
/// std::io::Read::read_to_string(&mut client, &mut reply)?;
/// assert_ne!(reply, std::process::id().to_string(), "served by a child process");
/// server.server_close(); // waits for the child
/// assert_eq!(server.dispatch().active_children(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Platform-specific behavior
///
/// Unix only.
#[derive(Debug)]
pub struct ForkingMixIn {
    max_children: usize,
    block_on_close: bool,
    timeout: Option<Duration>,
    /// Each child with its connection's slot in the server's counts, released when it ends.
    children: HashMap<libc::pid_t, Option<ConnectionGuard>>,
    /// A graceful drain runs: every child, including one forked from now on, is told.
    draining: bool,
    waker: Option<LoopWaker>,
}

/// How often a server at `max_children` looks for finished children.
const AT_LIMIT_CHECK: Duration = Duration::from_millis(10);
/// How often a server with children below the limit reaps them (Python's poll interval).
const REAP_INTERVAL: Duration = Duration::from_millis(500);

impl ForkingMixIn {
    /// The defaults of Python's `ForkingMixIn` (see the table above).
    pub fn new() -> Self {
        ForkingMixIn {
            max_children: 40,
            block_on_close: true,
            timeout: Some(Duration::from_secs(300)),
            children: HashMap::new(),
            draining: false,
            waker: None,
        }
    }

    /// The most children that run at once.
    pub fn max_children(&self) -> usize {
        self.max_children
    }

    /// Bounds the children that run at once (0 is taken as 1). Default 40.
    pub fn set_max_children(&mut self, max: usize) -> &mut Self {
        self.max_children = max.max(1);
        self
    }

    /// At most `max` children at once (at least 1), the other settings as
    /// [`new`](Self::new) gives them: for [`with_dispatch`](crate::BaseServer::with_dispatch).
    pub fn with_max_children(max: usize) -> Self {
        let mut forking = ForkingMixIn::new();
        forking.set_max_children(max);
        forking
    }

    /// Whether `server_close` waits for the children.
    pub fn block_on_close(&self) -> bool {
        self.block_on_close
    }

    /// `true` (the default): `server_close` waits until every child has ended.
    pub fn set_block_on_close(&mut self, block: bool) -> &mut Self {
        self.block_on_close = block;
        self
    }

    /// The `handle_request` timeout this strategy gives a new server.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Sets the `handle_request` timeout a server created with this strategy starts with
    /// (change a running server's with [`BaseServer::set_timeout`](crate::BaseServer::set_timeout)).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// How many children are running (or ended and not yet reaped).
    pub fn active_children(&self) -> usize {
        self.children.len()
    }

    /// The pids of the children.
    pub fn children(&self) -> impl Iterator<Item = i32> + '_ {
        self.children.keys().copied()
    }

    /// Reaps every child of ours that has ended, without waiting.
    fn collect_children(&mut self) {
        self.children
            .retain(|&pid, guard| match sys::try_reap(pid) {
                Ok(None) => true,
                Ok(Some(status)) => {
                    log_exit(pid, status, guard);
                    false
                }
                Err(error) => {
                    // ECHILD: someone else reaped it (e.g. SIGCHLD set to SIG_IGN).
                    tracing::debug!(pid, %error, "child already gone");
                    false
                }
            });
    }
}

/// Logs a child's end, and records it as its connection's close reason.
fn log_exit(pid: libc::pid_t, status: sys::ChildStatus, guard: &mut Option<ConnectionGuard>) {
    if let Some(guard) = guard {
        // The child exits 0 when its request succeeded, 1 when it failed or panicked.
        guard.set_reason(if status.success() {
            CloseReason::Completed
        } else {
            CloseReason::Error
        });
    }
    if status.success() {
        tracing::debug!(pid, "child finished");
    } else {
        tracing::warn!(pid, %status, "child ended abnormally");
    }
}

impl Default for ForkingMixIn {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatch for ForkingMixIn {
    fn name(&self) -> &'static str {
        "forking"
    }

    fn process_request(&mut self, job: Box<dyn Job>) {
        self.collect_children();
        let id = job.id();
        // Read before the fork: the child must take no lock (another thread may hold it).
        let grace = self
            .waker
            .as_ref()
            .map_or(Duration::from_secs(1), LoopWaker::drain_grace);
        match sys::fork() {
            Ok(Forked::Child(held)) => {
                let mut job = job;
                job.detach_in_child();
                let liveness = job
                    .drain_liveness()
                    .unwrap_or_else(|| Arc::new(Liveness::new(DrainProgress::new())));
                sys::child_drain_signals(held, liveness, grace);
                if let Some(listener) = job.listener_fd() {
                    sys::close_in_child(listener);
                }
                let served = job.run();
                sys::exit_child(if served { 0 } else { 1 });
            }
            Ok(Forked::Parent(pid)) => {
                tracing::debug!(conn_id = id, pid, "forked");
                if self.draining {
                    sys::signal_child(pid, libc::SIGTERM);
                }
                let mut job = job;
                self.children.insert(pid, job.take_guard());
                job.close();
            }
            Err(error) => {
                tracing::error!(conn_id = id, %error, "cannot fork");
                job.fail(RequestError::Dispatch(error));
            }
        }
    }

    fn has_capacity(&self) -> bool {
        self.children.len() < self.max_children
    }

    fn live_workers(&self) -> usize {
        self.children.len()
    }

    fn attach(&mut self, waker: LoopWaker) {
        self.waker = Some(waker);
    }

    fn drain_idle(&mut self, stage: DrainStage) {
        // The children time their own grace; they are told once.
        if stage == DrainStage::Began && !self.draining {
            self.draining = true;
            for &pid in self.children.keys() {
                sys::signal_child(pid, libc::SIGTERM);
            }
        }
    }

    fn force_close(&mut self) {
        self.collect_children();
        if !self.children.is_empty() {
            tracing::info!(
                children = self.children.len(),
                "drain deadline: killing the children still serving"
            );
        }
        for (pid, guard) in std::mem::take(&mut self.children) {
            sys::signal_child(pid, libc::SIGKILL);
            if let Err(error) = sys::reap(pid) {
                tracing::debug!(pid, %error, "child already gone");
            }
            if let Some(mut guard) = guard {
                guard.set_reason(CloseReason::ServerClosing);
            }
        }
    }

    fn service_actions(&mut self) {
        if !self.children.is_empty() {
            self.collect_children();
        }
    }

    fn wait_hint(&self) -> Option<Duration> {
        if self.children.is_empty() {
            None
        } else if self.has_capacity() && !self.draining {
            Some(REAP_INTERVAL)
        } else {
            Some(AT_LIMIT_CHECK)
        }
    }

    fn default_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn server_close(&mut self) {
        if !self.block_on_close {
            self.collect_children();
            return;
        }
        if !self.children.is_empty() {
            tracing::info!(children = self.children.len(), "waiting for children");
        }
        for (pid, mut guard) in std::mem::take(&mut self.children) {
            match sys::reap(pid) {
                Ok(status) => log_exit(pid, status, &mut guard),
                Err(error) => tracing::debug!(pid, %error, "child already gone"),
            }
        }
    }
}
