//! [`ShutdownHandle`]: stops or drains a running loop from any thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use selectors::Waker;

use crate::drain::{DrainLevel, DrainOptions, DrainProgress, DrainReport, DrainTarget};
use crate::shutdown::drain_timer::drain_timer;
use crate::shutdown::{DrainPlan, InHandler};

/// A cloneable, `Send + Sync` handle that stops [`serve_forever`](crate::BaseServer::serve_forever).
///
/// Python's `BaseServer.shutdown()`, without its two traps:
///
/// * The loop does not poll a flag every half second: it sleeps in the selector on the listening
///   socket *and* a [`Waker`], so [`shutdown`](Self::shutdown) takes effect at once.
/// * Calling it from a handler that runs on the serving thread (a sequential server) does not
///   deadlock: the loop stops after the current request.
///
/// Calling it before any loop has started makes the next `serve_forever` return at once, exactly
/// once; calling it twice is harmless (the request is a flag, not a count).
///
/// # Examples
///
/// ```
/// use socketserver::{StreamRequest, ThreadingTcpServer};
///
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// handle.shutdown(); // returns once the loop has stopped (or at once if it had not started)
/// serving.join().unwrap()?;
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) state: Mutex<LoopState>,
    /// Notified when a loop stops, a drain ends, or a drain's plan changes.
    pub(super) stopped: Condvar,
    /// Wakes the loop to look at its state (capacity freed, and so on).
    waker: Waker,
    /// Readable means "stop": the loop drains it and stops. A descriptor, so that a handler in a
    /// forked child (which shares it but not our memory) can stop the server too.
    pub(super) stop: Waker,
    /// The process that created the handle; any other is a forked child.
    pid: AtomicU32,
    /// A drain was asked for and has not finished (read on the accept path, without a lock).
    draining: AtomicBool,
    /// How far the server's drain has gone: raised by the registry, read by every connection
    /// and loop.
    progress: Arc<DrainProgress>,
}

#[derive(Debug, Default)]
pub(super) struct LoopState {
    /// A shutdown was asked for and no loop has consumed it yet.
    pending: bool,
    /// The thread running `serve_forever`, while one does.
    pub(super) serving_thread: Option<ThreadId>,
    /// A graceful drain asked for and not finished.
    pub(super) drain: Option<DrainPlan>,
    /// Drains finished so far, and the last one's report.
    pub(super) drains_finished: u64,
    report: Option<DrainReport>,
    drain_options: DrainOptions,
    /// The server's connections, which a drain tells at once.
    pub(super) target: Option<Weak<dyn DrainTarget>>,
    /// Moves a drain's levels on at the grace and the deadline, even while the serving thread is
    /// busy (a sequential server's handler).
    timer: Option<JoinHandle<()>>,
}

impl ShutdownHandle {
    pub(crate) fn new(waker: Waker, stop: Waker) -> Self {
        ShutdownHandle {
            shared: Arc::new(Shared {
                state: Mutex::new(LoopState::default()),
                stopped: Condvar::new(),
                waker,
                stop,
                pid: AtomicU32::new(std::process::id()),
                draining: AtomicBool::new(false),
                progress: DrainProgress::new(),
            }),
        }
    }

    /// Stops `serve_forever` and waits until it has returned.
    ///
    /// * From another thread while the loop runs: wakes the loop and blocks until it has stopped
    ///   (a request being handled on the serving thread finishes first).
    /// * From the serving thread itself (a handler of a sequential server): does not wait; the
    ///   loop stops after the current request.
    /// * With no loop running: returns at once; the next `serve_forever` returns immediately,
    ///   once.
    /// * From a handler in a child forked by [`ForkingMixIn`](crate::ForkingMixIn): stops the
    ///   parent's loop and returns at once (it touches no lock, so it is safe after `fork`).
    pub fn shutdown(&self) {
        if self.in_forked_child() {
            // A forked child: only the shared descriptor reaches the parent.
            let _ = self.shared.stop.wake();
            return;
        }
        let mut state = self.shared.state.lock();
        state.pending = true;
        tracing::info!("shutdown requested");
        if let Err(error) = self.shared.stop.wake() {
            // Only possible if the eventfd/pipe is gone; the flag is still seen on the next wake.
            tracing::warn!(%error, "could not wake the server loop");
        }
        let me = thread::current().id();
        while let Some(serving) = state.serving_thread {
            if serving == me {
                break;
            }
            self.shared.stopped.wait(&mut state);
        }
    }

    /// Asks for a graceful drain and returns at once; safe from any thread, a handler included.
    ///
    /// The loop that runs [`serve_forever`](crate::BaseServer::serve_forever):
    ///
    /// 1. accepts what the kernel already holds in the listen backlog (those clients' `connect`
    ///    succeeded: they are served, not reset), then closes the listening socket, so new
    ///    connects are refused;
    /// 2. closes every idle connection at once: waiting between messages in `rfile` with
    ///    nothing buffered, parked, or on an event loop with no output pending. A connection
    ///    that has sent nothing yet counts as idle only after the
    ///    [first-byte grace](crate::DrainOptions::first_byte_grace);
    /// 3. lets every connection in the middle of a message finish it and closes it at the
    ///    message boundary (a blocking reader sees an end-of-file there, so an `io::copy` echo
    ///    ends cleanly without changes; a handler whose messages span several reads marks them
    ///    with [`StreamRequest::busy`](crate::StreamRequest::busy));
    /// 4. at `timeout` closes what remains at once: blocked reads and writes in handler
    ///    threads return, forked children are killed;
    /// 5. closes the server ([`server_close`](crate::BaseServer::server_close): threads joined,
    ///    children reaped) and returns `Ok` from `serve_forever`.
    ///
    /// Every close is a clean one (a half-close, then a short linger), so a client reads every
    /// answer and then an end-of-file. Children of a
    /// [`ForkingMixIn`](crate::ForkingMixIn) server are told with SIGTERM and drain their own
    /// connection the same way.
    ///
    /// Asked again while a drain runs, the earlier deadline wins: `drain(Duration::ZERO)` closes
    /// everything at once (what a second Ctrl-C does). From a handler in a forked child it
    /// stops the parent's loop as [`shutdown`](Self::shutdown) does (a child cannot reach the
    /// parent's memory). Asked before a loop runs, the next `serve_forever` drains at once.
    pub fn drain(&self, timeout: Duration) {
        if self.in_forked_child() {
            let _ = self.shared.stop.wake();
            return;
        }
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let target = {
            let mut state = self.shared.state.lock();
            let grace = state.drain_options.first_byte_grace;
            let plan = match state.drain {
                Some(plan) => DrainPlan {
                    deadline: plan.deadline.min(deadline),
                    ..plan
                },
                None => {
                    tracing::info!(?timeout, "graceful drain requested");
                    DrainPlan {
                        started: now,
                        grace_over: now + grace,
                        deadline,
                    }
                }
            };
            let first = state.drain.is_none();
            state.drain = Some(plan);
            self.shared.draining.store(true, Ordering::SeqCst);
            self.shared.stopped.notify_all();
            if first && state.serving_thread.is_some() {
                self.start_drain_timer(&mut state);
            }
            state.target.as_ref().and_then(Weak::upgrade)
        };
        if let Some(target) = target {
            target.advance_drain(DrainLevel::Draining);
            if deadline <= now {
                target.advance_drain(DrainLevel::Forced);
            }
        }
        if let Err(error) = self.shared.stop.wake() {
            tracing::warn!(%error, "could not wake the server loop");
        }
    }

    /// Asks for a graceful [`drain`](Self::drain) and waits for its report: Go's
    /// `Server.Shutdown`, with a deadline instead of a context, and a report.
    ///
    /// Returns `None` at once (the drain goes on) where waiting would wait for the caller
    /// itself: on the serving thread, in a handler of this server, or in a forked child; and
    /// when no loop is serving (the next `serve_forever` drains).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use socketserver::{StreamRequest, ThreadingTcpServer};
    ///
    /// let echo = |req: &mut StreamRequest| std::io::copy(&mut req.rfile, &mut req.wfile).map(drop);
    /// let mut server = ThreadingTcpServer::new("127.0.0.1:0", echo)?;
    /// let address = server.server_address()?;
    /// let handle = server.shutdown_handle();
    /// let serving = std::thread::spawn(move || server.serve_forever());
    /// while !handle.is_serving() {
    ///     std::thread::yield_now();
    /// }
    ///
    /// let mut client = std::net::TcpStream::connect(address)?;
    /// client.write_all(b"ping")?;
    /// let mut reply = [0; 4];
    /// client.read_exact(&mut reply)?; // answered; now idle between messages
    ///
    /// let report = handle.shutdown_gracefully(Duration::from_secs(10)).expect("a loop serves");
    /// assert_eq!((report.idle_closed, report.forced, report.still_running), (1, 0, 0));
    /// assert_eq!(client.read(&mut reply)?, 0, "a clean end-of-file after the answer");
    /// serving.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_gracefully(&self, timeout: Duration) -> Option<DrainReport> {
        let finished_before = self.drains_finished();
        self.drain(timeout);
        if self.in_forked_child() || InHandler::is_in(self.id()) {
            return None;
        }
        let me = thread::current().id();
        let mut state = self.shared.state.lock();
        loop {
            if state.drains_finished > finished_before {
                return state.report;
            }
            match state.serving_thread {
                Some(serving) if serving != me => self.shared.stopped.wait(&mut state),
                _ => return None,
            }
        }
    }

    /// The report of the last finished drain, if any.
    pub fn last_drain_report(&self) -> Option<DrainReport> {
        self.shared.state.lock().report
    }

    /// Whether a graceful drain was asked for and has not finished.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::SeqCst)
    }

    /// How many drains have finished so far: a caller that reads it before and after tells
    /// whether a drain ended in between.
    pub(crate) fn drains_finished(&self) -> u64 {
        self.shared.state.lock().drains_finished
    }

    /// Whether this process is a child forked after the handle was made (it shares the stop
    /// descriptor with the serving process, but not its memory).
    fn in_forked_child(&self) -> bool {
        std::process::id() != self.shared.pid.load(Ordering::Relaxed)
    }

    /// Tells this server's handle apart from another's (its shared state's address).
    pub(super) fn id(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// What a drain tells at once (the server's connections).
    pub(crate) fn attach_drain_target(&self, target: Weak<dyn DrainTarget>) {
        self.shared.state.lock().target = Some(target);
    }

    /// The server's drain level, shared.
    pub(crate) fn drain_progress(&self) -> &Arc<DrainProgress> {
        &self.shared.progress
    }

    pub(crate) fn drain_options(&self) -> DrainOptions {
        self.shared.state.lock().drain_options
    }

    pub(crate) fn set_drain_options(&self, options: DrainOptions) {
        self.shared.state.lock().drain_options = options;
    }

    /// Starts the thread that moves a drain on at its grace and deadline, unless it runs.
    fn start_drain_timer(&self, state: &mut LoopState) {
        if state.timer.is_some() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let drain = state.drains_finished;
        let spawned = thread::Builder::new()
            .name("socketserver-drain".to_owned())
            .spawn(move || drain_timer(&shared, drain));
        match spawned {
            Ok(timer) => state.timer = Some(timer),
            Err(error) => tracing::error!(%error, "cannot start the drain timer"),
        }
    }

    /// The loop begins a drain: its timer runs from now on (a drain asked for before the loop
    /// started has none yet).
    pub(crate) fn drain_begins(&self) {
        let mut state = self.shared.state.lock();
        if state.drain.is_some() {
            self.start_drain_timer(&mut state);
        }
    }

    /// The drain asked for, if any (its deadline may shrink while it runs).
    pub(crate) fn drain_plan(&self) -> Option<DrainPlan> {
        self.shared.state.lock().drain
    }

    /// The loop finished a drain: publish the report and stop the timer.
    pub(crate) fn finish_drain(&self, report: DrainReport) {
        let timer = {
            let mut state = self.shared.state.lock();
            state.drain = None;
            self.shared.draining.store(false, Ordering::SeqCst);
            state.report = Some(report);
            state.drains_finished += 1;
            self.shared.stopped.notify_all();
            state.timer.take()
        };
        if let Some(timer) = timer {
            let _ = timer.join();
        }
    }

    /// Asks the loop to stop without waiting for it (for the framework's own threads, which
    /// the loop's end may be waiting for).
    pub(crate) fn request_stop(&self) {
        self.shared.state.lock().pending = true;
        if let Err(error) = self.shared.stop.wake() {
            tracing::warn!(%error, "could not wake the server loop");
        }
    }

    /// Whether a `serve_forever` loop is running now (for a caller that must wait until the
    /// server serves, e.g. a test).
    pub fn is_serving(&self) -> bool {
        self.shared.state.lock().serving_thread.is_some()
    }

    /// Whether a shutdown was asked for and not yet consumed by a loop.
    pub fn is_shutdown_requested(&self) -> bool {
        self.shared.state.lock().pending
    }

    /// A pre-fork worker becomes the process this handle serves (a child of a forking
    /// strategy stays one: it must reach its parent's loop).
    pub(crate) fn adopt_this_process(&self) {
        self.shared.pid.store(std::process::id(), Ordering::Relaxed);
    }

    /// The stop descriptor (for a forked worker to give itself a fresh one).
    pub(crate) fn stop_waker(&self) -> &Waker {
        &self.shared.stop
    }

    pub(crate) fn waker(&self) -> &Waker {
        &self.shared.waker
    }

    /// Records a stop request that arrived through the stop descriptor.
    pub(crate) fn stop_signalled(&self) {
        let _ = self.shared.stop.drain();
        let mut state = self.shared.state.lock();
        // A drain wakes the loop through the same descriptor; it is not a stop.
        if state.drain.is_none() {
            state.pending = true;
        }
    }

    /// Marks a loop as running on this thread; `None` if a pending shutdown means it must not run.
    pub(crate) fn enter_loop(&self) -> Option<LoopGuard<'_>> {
        let mut state = self.shared.state.lock();
        if state.pending {
            state.pending = false;
            let _ = self.shared.stop.drain();
            tracing::info!("shutdown was requested before the loop started: returning at once");
            return None;
        }
        state.serving_thread = Some(thread::current().id());
        Some(LoopGuard { handle: self })
    }

    /// Consumes a pending shutdown request, if any.
    pub(crate) fn take_pending(&self) -> bool {
        std::mem::take(&mut self.shared.state.lock().pending)
    }
}

/// Ends the "loop running" state when `serve_forever` returns, however it returns.
pub(crate) struct LoopGuard<'a> {
    handle: &'a ShutdownHandle,
}

impl Drop for LoopGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.handle.shared.state.lock();
        // A shutdown asked for while this loop ran was meant for this loop.
        state.pending = false;
        let _ = self.handle.shared.stop.drain();
        state.serving_thread = None;
        self.handle.shared.stopped.notify_all();
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("ShutdownHandle")
            .field("pending", &state.pending)
            .field("serving_thread", &state.serving_thread)
            .field("draining", &state.drain.is_some())
            .finish_non_exhaustive()
    }
}
