//! Dispatch strategies: how each accepted request is run (Python's mix-ins).

use std::time::Duration;

mod coroutines;
mod forking;
mod job;
mod live_threads;
mod loop_threads;
mod offload_pool;
mod parker;
mod request_job;
mod sequential;
mod stall_watch;
mod thread_pool;
mod threading;

use crate::drain::DrainStage;
use crate::shutdown::LoopWaker;

pub use coroutines::Coroutines;
pub use forking::ForkingMixIn;
pub use job::{Job, RunOutcome};
pub(crate) use live_threads::LiveThreads;
pub(crate) use loop_threads::LoopThreads;
pub(crate) use request_job::RequestJob;
pub use sequential::Sequential;
pub use thread_pool::ThreadPool;

/// How long `server_close` still waits for threads or children after a forced close (their
/// sockets are shut down, so only a handler that neither reads nor writes is still running).
pub(crate) const FORCED_CLOSE_WAIT: Duration = Duration::from_millis(200);
pub use threading::ThreadingMixIn;

/// How the server runs each accepted request: Python's `process_request` and the
/// `server_close` part of its mix-ins.
///
/// Six come with the crate:
///
/// | strategy | runs each request | Python / peers |
/// |---|---|---|
/// | [`Sequential`] | on the serving thread, one at a time | plain `TCPServer` |
/// | [`ThreadingMixIn`] | on a thread of its own (a parked connection holds none) | `ThreadingMixIn` |
/// | [`ForkingMixIn`] | in a child process of its own | `ForkingMixIn` |
/// | [`ThreadPool`] | on one of a fixed set of worker threads (a parked connection holds none) | Go's, Java's executors |
/// | [`EventLoop`](crate::EventLoop) | as [`Protocol`](crate::Protocol) callbacks on a few loop threads | `asyncio` |
/// | [`Coroutines`] | on a stackful coroutine of its own, on a few loop threads | Go's goroutines, gevent, Java's virtual threads |
///
/// A strategy receives a boxed [`Job`] and must end it exactly once: [`Job::run`] (serve it,
/// report errors, shut the request down), [`Job::fail`] (report why it could not be served,
/// shut it down) or [`Job::close`] (close this copy only, e.g. in a parent after `fork`).
///
/// A strategy with a bound says so through [`has_capacity`](Self::has_capacity): while it is
/// `false` the loop stops accepting (the kernel backlog holds new connections) and waits for the
/// strategy to call [`LoopWaker::wake`].
pub trait Dispatch: Send + 'static {
    /// A short name for logs (`"sequential"`, `"threading"`).
    fn name(&self) -> &'static str;

    /// Runs or hands off one request. Called by the loop for each verified request.
    /// Overridden by every strategy.
    fn process_request(&mut self, job: Box<dyn Job>);

    /// Whether the loop may accept another request now. Default: always.
    fn has_capacity(&self) -> bool {
        true
    }

    /// Gives the strategy the means to wake the loop (when capacity frees up). Called once, when
    /// the server is created. Default: ignores it.
    fn attach(&mut self, waker: LoopWaker) {
        let _ = waker;
    }

    /// Periodic work on the serving thread (e.g. reaping children). Called after every wake-up
    /// of the loop. Default: nothing.
    fn service_actions(&mut self) {}

    /// The longest the loop may sleep before calling [`service_actions`](Self::service_actions)
    /// again, for strategies that must look at something the loop cannot wait on (e.g.
    /// children exiting). Default: `None`, sleep until woken.
    fn wait_hint(&self) -> Option<Duration> {
        None
    }

    /// The server's `timeout` for [`handle_request`](crate::BaseServer::handle_request) when
    /// this strategy is used (Python's `ForkingMixIn.timeout = 300`). Default: `None`.
    fn default_timeout(&self) -> Option<Duration> {
        None
    }

    /// Threads or child processes of this strategy still running; after
    /// [`server_close`](Self::server_close), what outlived the server (0 when it waited for
    /// everything). Used by [`TestServer`](crate::TestServer)'s leak check. Default: 0.
    fn live_workers(&self) -> usize {
        0
    }

    /// A graceful drain reached `stage`: close the idle connections the strategy holds itself
    /// (parked, on event loops) and tell its child processes. Connections served by blocking
    /// handlers are told by the server. Default: nothing.
    fn drain_idle(&mut self, stage: DrainStage) {
        let _ = stage;
    }

    /// A drain's deadline passed: close what the strategy still holds at once, and make the
    /// coming [`server_close`](Self::server_close) wait a short while at most (what outlives
    /// it is reported, not waited for). Default: nothing.
    fn force_close(&mut self) {}

    /// Waits for, or lets go of, requests in flight. Called once by
    /// [`BaseServer::server_close`](crate::BaseServer::server_close) after the listening socket
    /// is closed. Default: nothing.
    fn server_close(&mut self) {}
}
