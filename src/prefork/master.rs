//! [`Prefork`]: the master process of a pre-fork server.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use selectors::{DefaultSelector, Events, Interest, Selector, Token};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook::low_level::{pipe, unregister};
use signal_hook::SigId;

use crate::activation::Notifier;
use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::prefork::PreforkReport;
use crate::server::BaseServer;
use crate::signals::SignalHandling;
use crate::sys::{self, Forked};
use crate::transport::TcpServer;

const STOP: Token = Token(0);
const CHILD: Token = Token(1);
const HANGUP: Token = Token(2);

/// Runs a server as a master and `N` worker processes (Perl's `Net::Server::PreFork`, nginx's
/// workers): the master binds once; each worker is a `fork` of it that serves the shared
/// listening socket with the server's own strategy (threading, pool, event…, each started
/// in the worker). The master serves nothing; it
///
/// - replaces a worker that ends (killed, crashed, or recycled) at once;
/// - recycles workers: with [`max_requests`](Self::max_requests) a worker drains and ends
///   after that many connections (Net::Server's answer to slow leaks), and is replaced;
/// - on SIGHUP calls [`on_hangup`](Self::on_hangup)'s hook, if any: a hot restart, where a new
///   master with its own workers takes over the listening socket
///   ([`start_successor`](crate::start_successor)) and this tree then drains as on SIGTERM;
/// - on SIGTERM or SIGINT sends SIGTERM to every worker (each drains gracefully, as
///   [`serve_until_signal`](crate::BaseServer::serve_until_signal) does) and returns once all
///   are reaped; a second signal kills them (SIGKILL);
/// - reaps only its own workers, so no zombie is left;
/// - speaks for the tree to a service manager (`NOTIFY_SOCKET`): READY=1 once the workers run,
///   STOPPING=1 when they drain, WATCHDOG=1 from its own loop; the workers stay silent.
///
/// One shared listening socket rather than `SO_REUSEPORT` per worker: the kernel wakes one
/// waiting worker per connection either way on Linux, and a shared socket keeps connections
/// queued for a worker that dies in the backlog (with `SO_REUSEPORT` they are reset), which is
/// what the drain and restart rules need.
///
/// The master must be single-threaded when it runs (start no threads before it: every
/// strategy starts its threads with its first request, in the worker).
///
/// # Examples
///
/// ```no_run
/// use socketserver::{Prefork, StreamRequest, ThreadingTcpServer};
///
/// let echo = |req: &mut StreamRequest| std::io::copy(&mut req.rfile, &mut req.wfile).map(drop);
/// let mut server = ThreadingTcpServer::new("127.0.0.1:9999", echo)?;
/// let report = Prefork::new(4).max_requests(Some(10_000)).run(&mut server)?;
/// eprintln!("{report:?}");
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Clone)]
pub struct Prefork {
    workers: usize,
    max_requests: Option<u64>,
    drain_timeout: Duration,
    on_ready: Option<Arc<dyn Fn() + Send + Sync>>,
    on_hangup: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl fmt::Debug for Prefork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prefork")
            .field("workers", &self.workers)
            .field("max_requests", &self.max_requests)
            .field("drain_timeout", &self.drain_timeout)
            .field("on_ready", &self.on_ready.is_some())
            .field("on_hangup", &self.on_hangup.is_some())
            .finish()
    }
}

/// The master's signal pipes (one per kind), registered through signal-hook.
struct MasterSignals {
    ids: Vec<SigId>,
    stop: UnixStream,
    child: UnixStream,
    hangup: UnixStream,
}

impl Prefork {
    /// `workers` worker processes (0 is taken as 1), no recycling, a 30 s drain.
    pub fn new(workers: usize) -> Self {
        Prefork {
            workers: workers.max(1),
            max_requests: None,
            drain_timeout: Duration::from_secs(30),
            on_ready: None,
            on_hangup: None,
        }
    }

    /// Recycle a worker after this many connections (`None`: never).
    pub fn max_requests(mut self, max: Option<u64>) -> Self {
        self.max_requests = max;
        self
    }

    /// How long each worker's drain may take on SIGTERM.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Called once the workers run and the master handles its signals: where a program says it
    /// is ready (a ready line printed before would let a SIGTERM sent on reading it kill the
    /// master instead of draining it), as [`SignalHandling::on_ready`] does for one process.
    pub fn on_ready(mut self, ready: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_ready = Some(Arc::new(ready));
        self
    }

    /// What SIGHUP does in the master (by default it is logged and ignored): `restart` runs in
    /// the master's loop and returns whether a new master now serves the listening sockets —
    /// typically [`start_successor`](crate::start_successor) with the server's
    /// [`fileno`](crate::BaseServer::fileno), which returns once the new master's workers run.
    /// Then this tree drains as on SIGTERM (the workers finish what they serve; the kernel
    /// queues new connections for the new tree meanwhile) and [`run`](Self::run) returns. On
    /// `false` this tree goes on serving.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::os::fd::AsRawFd;
    /// use std::time::Duration;
    /// use socketserver::{Prefork, StreamRequest, ThreadingTcpServer};
    ///
    /// let echo = |req: &mut StreamRequest| std::io::copy(&mut req.rfile, &mut req.wfile).map(drop);
    /// let mut server = ThreadingTcpServer::new("127.0.0.1:9999", echo)?;
    /// let listener = server.fileno().expect("listening").as_raw_fd();
    /// Prefork::new(4)
    ///     .on_hangup(move || {
    ///         socketserver::start_successor(&[listener], &["web"], Duration::from_secs(10))
    ///             .inspect_err(|error| eprintln!("{error}; still serving"))
    ///             .is_ok()
    ///     })
    ///     .run(&mut server)?;
    /// # Ok::<(), socketserver::Error>(())
    /// ```
    pub fn on_hangup(mut self, restart: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.on_hangup = Some(Arc::new(restart));
        self
    }

    /// Forks the workers and supervises them until SIGTERM or SIGINT has stopped them all.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the signal pipes cannot be set up or the first worker cannot be
    /// forked.
    pub fn run<S, M, H, K>(
        self,
        server: &mut BaseServer<S, M, H, K>,
    ) -> Result<PreforkReport, Error>
    where
        S: TcpServer,
        M: Dispatch,
        H: RequestHandler<S::Request>,
        K: ServerHooks<S::Request>,
    {
        let signals = MasterSignals::install()?;
        let mut selector = DefaultSelector::new()?;
        for (stream, token) in [
            (&signals.stop, STOP),
            (&signals.child, CHILD),
            (&signals.hangup, HANGUP),
        ] {
            selector
                .register(stream.as_fd(), Interest::READABLE, token)
                .map_err(std::io::Error::from)?;
        }
        let mut workers: HashMap<libc::pid_t, Instant> = HashMap::new();
        let mut report = PreforkReport::default();
        for _ in 0..self.workers {
            let pid = self.fork_worker(server, &signals)?;
            workers.insert(pid, Instant::now());
            report.started += 1;
        }
        tracing::info!(workers = self.workers, "pre-fork master: workers started");
        // The master speaks for the tree to a service manager: ready once the workers run,
        // stopping when they drain, and the watchdog from its own loop.
        let mut notifier = Notifier::from_env();
        notifier.ready(&format!("{} workers", self.workers));
        if let Some(ready) = &self.on_ready {
            ready();
        }
        let mut stopping = false;
        let mut events = Events::with_capacity(4);
        while !(stopping && workers.is_empty()) {
            notifier.ping_if_due();
            selector.select(&mut events, notifier.wait_hint())?;
            let tokens: Vec<Token> = events.iter().map(|event| event.token()).collect();
            for token in tokens {
                let stream = match token {
                    STOP => &signals.stop,
                    CHILD => &signals.child,
                    _ => &signals.hangup,
                };
                let received = drain_pipe(stream);
                // A hot restart that a new master took over ends this tree as SIGTERM does.
                let handed_over = token == HANGUP
                    && !stopping
                    && self.on_hangup.as_ref().is_some_and(|restart| {
                        tracing::info!("pre-fork master: SIGHUP, starting a new master");
                        restart()
                    });
                match token {
                    STOP | HANGUP if !stopping && (token == STOP || handed_over) => {
                        stopping = true;
                        notifier.stopping();
                        tracing::info!(
                            workers = workers.len(),
                            handed_over,
                            "pre-fork master: draining the workers"
                        );
                        for &pid in workers.keys() {
                            sys::signal_child(pid, libc::SIGTERM);
                        }
                    }
                    STOP if received > 0 => {
                        tracing::warn!("pre-fork master: second signal, killing the workers");
                        for &pid in workers.keys() {
                            sys::signal_child(pid, libc::SIGKILL);
                        }
                    }
                    HANGUP if self.on_hangup.is_none() => {
                        tracing::info!("pre-fork master: SIGHUP ignored")
                    }
                    HANGUP if !stopping => tracing::info!("pre-fork master: still serving"),
                    _ => {}
                }
            }
            // Reap whatever ended (a SIGCHLD may stand for several), and replace it.
            let ended: Vec<libc::pid_t> = workers
                .keys()
                .copied()
                .filter(|&pid| !matches!(sys::try_reap(pid), Ok(None)))
                .collect();
            for pid in ended {
                let started = workers.remove(&pid);
                if stopping {
                    continue;
                }
                report.replaced += 1;
                let lived = started.map(|at| at.elapsed()).unwrap_or_default();
                tracing::info!(pid, ?lived, "pre-fork master: a worker ended; replacing it");
                if lived < Duration::from_secs(1) {
                    // A worker that fails at once would make the master fork in a tight loop.
                    std::thread::sleep(Duration::from_millis(100));
                }
                match self.fork_worker(server, &signals) {
                    Ok(new) => {
                        workers.insert(new, Instant::now());
                        report.started += 1;
                    }
                    Err(error) => {
                        tracing::error!(%error, "pre-fork master: cannot replace a worker")
                    }
                }
            }
        }
        signals.uninstall();
        report.still_running = workers.len();
        tracing::info!(?report, "pre-fork master: all workers ended");
        Ok(report)
    }

    /// Forks one worker; the child serves until it is told to stop, then exits.
    fn fork_worker<S, M, H, K>(
        &self,
        server: &mut BaseServer<S, M, H, K>,
        signals: &MasterSignals,
    ) -> Result<libc::pid_t, Error>
    where
        S: TcpServer,
        M: Dispatch,
        H: RequestHandler<S::Request>,
        K: ServerHooks<S::Request>,
    {
        match sys::fork()? {
            Forked::Parent(pid) => Ok(pid),
            Forked::Child(held) => {
                // The master's signal actions must not run here: they would report this
                // worker's signals to the master.
                signals.forget_in_child();
                if let Err(error) = server.renew_after_fork() {
                    tracing::error!(%error, "worker: cannot set up its own selector");
                    sys::exit_child(1);
                }
                server.set_max_requests(self.max_requests, self.drain_timeout);
                let unblock = move || sys::restore_signal_mask(held);
                let handling = SignalHandling::new()
                    .drain_timeout(self.drain_timeout)
                    .on_ready(unblock);
                let code = match server.serve_until_signal(handling) {
                    Ok(_) => 0,
                    Err(error) => {
                        tracing::error!(%error, "worker stopped by an error");
                        1
                    }
                };
                server.server_close();
                sys::exit_child(code)
            }
        }
    }
}

impl MasterSignals {
    fn install() -> Result<Self, Error> {
        let (stop, stop_writer) = UnixStream::pair()?;
        let (child, child_writer) = UnixStream::pair()?;
        let (hangup, hangup_writer) = UnixStream::pair()?;
        for stream in [&stop, &child, &hangup] {
            stream.set_nonblocking(true)?;
        }
        let ids = vec![
            pipe::register(SIGTERM, stop_writer.try_clone()?)?,
            pipe::register(SIGINT, stop_writer)?,
            pipe::register(SIGCHLD, child_writer)?,
            pipe::register(SIGHUP, hangup_writer)?,
        ];
        Ok(MasterSignals {
            ids,
            stop,
            child,
            hangup,
        })
    }

    /// In a worker: drop the master's actions (signal-hook keeps its handler; the worker
    /// registers its own actions next).
    fn forget_in_child(&self) {
        for &id in &self.ids {
            unregister(id);
        }
    }

    /// Removes the master's actions; the pipes close as `self` drops.
    fn uninstall(self) {
        self.forget_in_child();
    }
}

/// Reads what the signal pipe holds; returns how many bytes (signals) it was.
fn drain_pipe(mut stream: &UnixStream) -> usize {
    let mut buffer = [0u8; 64];
    let mut total = 0;
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}
