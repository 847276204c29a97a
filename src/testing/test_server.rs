//! [`TestServer`]: run a server in a test, stop it with a deadline, and fail on leaks.

use std::fmt;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::connections::StatsHandle;
use crate::dispatch::Dispatch;
use crate::drain::DrainReport;
use crate::error::Error;
use crate::handler::RequestHandler;
use crate::hooks::{DefaultHooks, ServerHooks};
use crate::server::BaseServer;
use crate::shutdown::ShutdownHandle;
use crate::stats::ServerStats;
use crate::transport::TcpServer;

/// How long [`TestServer`]'s drop waits for a server that was not stopped explicitly.
const DROP_DEADLINE: Duration = Duration::from_secs(10);

/// A server running `serve_forever` on a background thread, for tests: start it (on port 0),
/// talk to [`address`](Self::address), then [`stop`](Self::stop) it with a deadline. The stop
/// fails — with a [`Leak`] that says what — when the loop does not stop in time, or when a
/// connection, a thread or a child process of the server outlives it. Python's own suite
/// lacked this, and leaked request threads (bpo-31233) and children (bpo-31151) went unnoticed
/// for years.
///
/// Dropping a `TestServer` that was not stopped stops it and panics on a leak (unless the test
/// is already panicking).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use socketserver::{StreamRequest, TestServer, ThreadingTcpServer};
///
/// let echo = |req: &mut StreamRequest| std::io::copy(&mut req.rfile, &mut req.wfile).map(drop);
/// let server = TestServer::start(ThreadingTcpServer::new("127.0.0.1:0", echo)?);
///
/// let mut client = std::net::TcpStream::connect(server.address())?;
/// client.write_all(b"ping")?;
/// client.shutdown(std::net::Shutdown::Write)?;
/// let mut reply = Vec::new();
/// client.read_to_end(&mut reply)?;
/// assert_eq!(reply, b"ping");
///
/// let stopped = server.stop(Duration::from_secs(5))?; // Err if anything outlived the server
/// assert_eq!(stopped.stats.closed_completed, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestServer<S: TcpServer, M: Dispatch, H, K = DefaultHooks> {
    address: S::Address,
    handle: ShutdownHandle,
    stats: StatsHandle,
    thread: Option<JoinHandle<Stopped<S, M, H, K>>>,
    /// Sent by the serving thread once the server is closed: open connections and live
    /// workers (`None` if it panicked).
    closed: mpsc::Receiver<(usize, usize)>,
}

/// A server that [`TestServer::stop`] stopped and closed, with what it did.
#[non_exhaustive]
pub struct Stopped<S: TcpServer, M: Dispatch, H, K> {
    /// The server, closed (its hooks and strategy can still be looked at).
    pub server: BaseServer<S, M, H, K>,
    /// What `serve_forever` returned.
    pub result: Result<(), Error>,
    /// The counters after the close.
    pub stats: ServerStats,
    /// Threads or children of the strategy still running after the close.
    pub live_workers: usize,
}

/// What outlived a server stopped by [`TestServer::stop`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Leak {
    /// The loop, or the close (waiting for handlers), did not finish before the deadline.
    #[error("the server did not stop and close within {deadline:?}: a handler or a client still holds it")]
    DidNotStop {
        /// The deadline given to `stop`.
        deadline: Duration,
    },
    /// Connections, threads or child processes outlived the close.
    #[error("{connections} connection(s) and {workers} thread(s) or child process(es) outlived the server")]
    Outlived {
        /// Connections still counted open.
        connections: usize,
        /// Threads or children of the strategy still running.
        workers: usize,
    },
    /// The serving thread panicked.
    #[error("the serving thread panicked")]
    Panicked,
}

impl<S, M, H, K> TestServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// Starts `serve_forever` on a background thread and returns once the loop runs.
    ///
    /// # Panics
    ///
    /// If the server has no address (it was closed) or its loop does not start within 10 s.
    pub fn start(mut server: BaseServer<S, M, H, K>) -> Self {
        let address = server
            .server_address()
            .expect("a TestServer needs a bound server");
        let handle = server.shutdown_handle();
        let stats = server.stats_handle();
        let (closed_tx, closed) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("socketserver-test-server".to_owned())
            .spawn(move || {
                let result = server.serve_forever();
                server.server_close();
                let stats = server.stats();
                let live_workers = server.dispatch().live_workers();
                let _ = closed_tx.send((stats.open, live_workers));
                Stopped {
                    server,
                    result,
                    stats,
                    live_workers,
                }
            })
            .expect("cannot spawn the serving thread");
        let started = Instant::now();
        while !handle.is_serving() && !thread.is_finished() {
            assert!(
                started.elapsed() < DROP_DEADLINE,
                "the server's loop did not start"
            );
            thread::yield_now();
        }
        TestServer {
            address,
            handle,
            stats,
            thread: Some(thread),
            closed,
        }
    }

    /// The server's address (the real port when it was bound to port 0).
    pub fn address(&self) -> S::Address {
        self.address.clone()
    }

    /// The server's counters now.
    pub fn stats(&self) -> ServerStats {
        self.stats.stats()
    }

    /// The handle that stops the server (for a test that stops it from a handler).
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.handle
    }

    /// Stops the loop, closes the server (which waits for its handlers as its strategy says),
    /// and checks that nothing outlived it, all within `deadline`.
    ///
    /// # Errors
    ///
    /// A [`Leak`]: the loop or the close did not finish in time, or connections, threads or
    /// children are still there after the close.
    pub fn stop(mut self, deadline: Duration) -> Result<Stopped<S, M, H, K>, Leak> {
        let thread = self.thread.take().expect("stopped once");
        self.handle.request_stop();
        wait_closed(&self.closed, deadline)?;
        let stopped = thread.join().map_err(|_| Leak::Panicked)?;
        Ok(stopped)
    }

    /// Drains the server gracefully ([`ShutdownHandle::shutdown_gracefully`] with `timeout`),
    /// then checks that nothing outlived it, as [`stop`](Self::stop) does.
    ///
    /// # Errors
    ///
    /// A [`Leak`], as for [`stop`](Self::stop); [`Leak::DidNotStop`] also when no report came
    /// (the loop had stopped already).
    #[allow(
        clippy::type_complexity,
        reason = "a pair the caller destructures: `let (report, stopped) = …`"
    )]
    pub fn drain(mut self, timeout: Duration) -> Result<(DrainReport, Stopped<S, M, H, K>), Leak> {
        let thread = self.thread.take().expect("stopped once");
        let report = self.handle.shutdown_gracefully(timeout);
        let patience = timeout + DROP_DEADLINE;
        wait_closed(&self.closed, patience)?;
        let stopped = thread.join().map_err(|_| Leak::Panicked)?;
        // A drain asked for earlier may have finished before this call.
        let report = report
            .or_else(|| self.handle.last_drain_report())
            .ok_or(Leak::DidNotStop { deadline: patience })?;
        Ok((report, stopped))
    }
}

/// Waits for the serving thread's word that the server is closed, and checks it.
fn wait_closed(closed: &mpsc::Receiver<(usize, usize)>, deadline: Duration) -> Result<(), Leak> {
    match closed.recv_timeout(deadline) {
        Ok((0, 0)) => Ok(()),
        Ok((connections, workers)) => Err(Leak::Outlived {
            connections,
            workers,
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Leak::Panicked),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Leak::DidNotStop { deadline }),
    }
}

impl<S: TcpServer, M: Dispatch, H, K> Drop for TestServer<S, M, H, K> {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.request_stop();
        let outcome = wait_closed(&self.closed, DROP_DEADLINE);
        if outcome.is_ok() {
            let _ = thread.join();
        }
        if let Err(leak) = outcome {
            if !thread::panicking() {
                panic!("TestServer dropped with a leak: {leak}");
            }
        }
    }
}

impl<S: TcpServer, M: Dispatch, H, K> fmt::Debug for TestServer<S, M, H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("address", &self.address)
            .field("stats", &self.stats.stats())
            .finish_non_exhaustive()
    }
}

impl<S: TcpServer, M: Dispatch, H, K> fmt::Debug for Stopped<S, M, H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopped")
            .field("result", &self.result)
            .field("stats", &self.stats)
            .field("live_workers", &self.live_workers)
            .finish_non_exhaustive()
    }
}
