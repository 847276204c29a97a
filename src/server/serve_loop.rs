//! The server loop: `serve_forever`, `handle_request`, and accepting and dispatching.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use selectors::Interest;

use crate::dispatch::{Dispatch, Job, RequestJob};
use crate::drain::{DrainLevel, DrainReport};
use crate::error::{Error, RequestError};
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::Request;
use crate::shutdown::DrainPlan;
use crate::sys::{self, AcceptErrorClass};
use crate::transport::TcpServer;

use super::base_server::{BaseServer, LISTENER, STOP};

/// Requests accepted per wake-up before the loop looks at shutdown and service actions again.
const ACCEPTS_PER_WAKE: usize = 64;
/// The first pause after running out of descriptors or memory; it doubles up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What one wait of the loop found.
struct Wake {
    accept: bool,
}

/// What one accept attempt did.
#[derive(PartialEq, Eq)]
enum Accepted {
    /// A request was taken and dispatched (or rejected).
    Request,
    /// A transient error: try again.
    Retry,
    /// Nothing to take, or accepting is paused.
    Nothing,
}

/// The loop.
impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// Handles requests until [`shutdown`](crate::ShutdownHandle::shutdown) is called: Python's
    /// `serve_forever`.
    ///
    /// The loop sleeps in the selector on the listening socket and a waker, so it uses no CPU
    /// while idle and stops at once on shutdown. It can be called again after it returns.
    /// A shutdown asked for before the loop started makes it return at once (once).
    ///
    /// Accept errors are classified: transient ones (`ECONNABORTED`, `EINTR`, network errors
    /// of the new connection) are retried; running out of descriptors or memory (`EMFILE`,
    /// `ENFILE`, `ENOBUFS`, `ENOMEM`) pauses accepting (10 ms, doubling up to 1 s, logged once
    /// per episode) without spinning; anything else ends the loop with [`Error::Accept`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`server_close`](Self::server_close), [`Error::NotActivated`]
    /// before [`server_activate`](Self::server_activate), [`Error::Accept`] as above,
    /// [`Error::Io`] if the selector fails.
    pub fn serve_forever(&mut self) -> Result<(), Error> {
        self.ensure_listening()?;
        // Before the loop counts as running: a caller that waits for `is_serving` sees the
        // descriptor baseline taken.
        self.registry
            .serving_starts(sys::open_descriptors(), sys::descriptor_limit());
        let shutdown = self.shutdown.clone();
        let Some(_running) = shutdown.enter_loop() else {
            return Ok(());
        };
        let span = tracing::info_span!(
            "serve_forever",
            address = ?self.parts.socket.server_address().ok(),
            strategy = self.parts.dispatch.name()
        );
        let _entered = span.enter();
        tracing::info!("serving");
        let status = format!("listening on {}", self.address_for_messages());
        self.serving.notifier.ready(&status);
        let mut result = self.run_loop();
        if let Some(fatal) = self.registry.take_fatal() {
            result = Err(fatal);
        }
        match &result {
            Ok(()) => tracing::info!("stopped"),
            Err(error) => tracing::error!(%error, "stopped by an error"),
        }
        result
    }

    fn run_loop(&mut self) -> Result<(), Error> {
        loop {
            let wake = self.wait(self.loop_timeout(None))?;
            self.serving.notifier.ping_if_due();
            // The lock-free flag first: the plan's lock is taken only once a drain was asked for.
            if self.shutdown.is_draining() {
                if let Some(plan) = self.shutdown.drain_plan() {
                    return self.drain(plan);
                }
            }
            if self.shutdown.take_pending() {
                return Ok(());
            }
            if wake.accept {
                for _ in 0..ACCEPTS_PER_WAKE {
                    // A drain asked for meanwhile takes what is left in the backlog itself.
                    if self.shutdown.is_draining()
                        || !self.parts.dispatch.has_capacity()
                        || !self.registry.has_room()
                        || self.accept_one()? == Accepted::Nothing
                    {
                        break;
                    }
                }
            }
            self.parts.dispatch.service_actions();
            self.hooks.service_actions();
        }
    }

    /// A graceful drain (see [`ShutdownHandle::drain`](crate::ShutdownHandle::drain)), from
    /// the serving thread: the backlog, the listener, the strategy's idle connections, the
    /// grace, the deadline, then `server_close` and the report.
    fn drain(&mut self, first: DrainPlan) -> Result<(), Error> {
        // The requester told the connections already; count from that moment.
        self.registry.advance_drain(DrainLevel::Draining);
        self.shutdown.drain_begins();
        self.serving.notifier.stopping();
        let before = self
            .registry
            .stats_at_drain_start()
            .expect("advance_drain(Draining) above records the counters");
        let mut backlog = self.take_backlog();
        let from_backlog = backlog.len() as u64;
        self.unregister_listener();
        self.parts.socket.server_close();
        tracing::info!(
            open = before.open,
            from_backlog,
            "draining: listener closed, idle connections closing"
        );
        self.parts.dispatch.drain_idle(false);
        let mut grace_done = false;
        let mut unserved = 0u64;
        loop {
            while !backlog.is_empty()
                && self.parts.dispatch.has_capacity()
                && self.registry.has_room()
            {
                if let Some(request) = backlog.pop_front() {
                    self.admit_accepted(request);
                }
            }
            self.parts.dispatch.service_actions();
            let plan = self.shutdown.drain_plan().unwrap_or(first);
            let now = Instant::now();
            match plan.due(now, grace_done) {
                Some(DrainLevel::Forced) => {
                    let open = self.registry.open();
                    tracing::info!(open, "drain deadline: closing what remains");
                    self.registry.advance_drain(DrainLevel::Forced);
                    self.parts.dispatch.force_close();
                    unserved = backlog.len() as u64;
                    for request in backlog.drain(..) {
                        request.shutdown_request();
                    }
                    break;
                }
                Some(level) => {
                    grace_done = true;
                    self.registry.advance_drain(level);
                    self.parts.dispatch.drain_idle(true);
                }
                None => {}
            }
            if backlog.is_empty() && self.registry.open() == 0 && self.proxy_waiting() == 0 {
                break;
            }
            self.serving.notifier.ping_if_due();
            let until_next_step = plan.next_step(grace_done).saturating_duration_since(now);
            self.wait_while_draining(self.hint_timeout(Some(until_next_step)))?;
        }
        self.server_close();
        let after = self.registry.stats();
        let idle_closed = after.closed_drained - before.closed_drained;
        let forced = after.closed_server_closing - before.closed_server_closing + unserved;
        let report = DrainReport {
            idle_closed,
            finished: (after.closed_total() - before.closed_total())
                .saturating_sub(idle_closed + forced - unserved),
            forced,
            from_backlog,
            still_running: self.parts.dispatch.live_workers(),
            elapsed: first.started.elapsed(),
        };
        tracing::info!(%report, "drained");
        self.shutdown.finish_drain(report);
        Ok(())
    }

    /// Accepts everything the kernel holds in the listen backlog now: those clients'
    /// `connect` succeeded, so they are served rather than reset by the listener's close.
    fn take_backlog(&mut self) -> VecDeque<S::Request> {
        let mut backlog = VecDeque::new();
        loop {
            match self.parts.socket.get_request(&self.shutdown) {
                Ok(request) => backlog.push_back(request),
                Err(error) => match sys::classify_accept_error(&error) {
                    AcceptErrorClass::WouldBlock => break,
                    AcceptErrorClass::Transient => {}
                    AcceptErrorClass::Exhausted | AcceptErrorClass::Fatal => {
                        tracing::warn!(%error, "accepting the backlog while draining failed; closing the listener");
                        break;
                    }
                },
            }
        }
        backlog
    }

    /// Sleeps until a connection closes, a drain step is due, or the strategy needs a look.
    fn wait_while_draining(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.serving.reactor.wait(timeout)?;
        // The listener is closed by now: nothing to accept.
        self.handle_events()?;
        Ok(())
    }

    /// Waits for and handles at most one request: Python's `handle_request`.
    ///
    /// Waits up to [`timeout`](Self::timeout) (forever when `None`); when it passes with no
    /// request, calls [`handle_timeout`](ServerHooks::handle_timeout) and returns `Ok`.
    /// Signals do not shorten or lengthen the wait. A shutdown request does not end the wait; it
    /// stays pending for the next [`serve_forever`](Self::serve_forever).
    ///
    /// # Errors
    ///
    /// As [`serve_forever`](Self::serve_forever).
    pub fn handle_request(&mut self) -> Result<(), Error> {
        self.ensure_listening()?;
        let deadline = self.serving.timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let remaining = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => {
                        tracing::debug!(timeout = ?self.serving.timeout, "no request before the timeout");
                        self.hooks.handle_timeout();
                        return Ok(());
                    }
                },
            };
            let wake = self.wait(self.loop_timeout(remaining))?;
            self.parts.dispatch.service_actions();
            if wake.accept
                && self.parts.dispatch.has_capacity()
                && self.registry.has_room()
                && self.accept_one()? == Accepted::Request
            {
                return Ok(());
            }
        }
    }

    /// The shortest of: what the caller allows, the accept back-off, the service interval, and
    /// the [hints](Self::hint_timeout).
    fn loop_timeout(&self, limit: Option<Duration>) -> Option<Duration> {
        let limit = [limit, self.serving.backoff, self.serving.service_interval]
            .into_iter()
            .flatten()
            .min();
        self.hint_timeout(limit)
    }

    /// The shortest of `limit` and what the strategy and the watchdog ask for (the PROXY
    /// header stage's deadlines are in the reactor's timer heap).
    fn hint_timeout(&self, limit: Option<Duration>) -> Option<Duration> {
        [
            limit,
            self.parts.dispatch.wait_hint(),
            self.serving.notifier.wait_hint(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn ensure_listening(&self) -> Result<(), Error> {
        if self.parts.closed || self.parts.socket.fileno().is_none() {
            Err(Error::Closed)
        } else if !self.serving.activated {
            Err(Error::NotActivated)
        } else {
            Ok(())
        }
    }

    /// One wait in the selector.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Wake, Error> {
        self.sync_listener()?;
        self.serving.reactor.wait(timeout)?;
        // After a back-off pause, try again without waiting for readiness.
        let retry = self.serving.backoff.is_some() && self.serving.reactor.found_nothing();
        let listener_ready = self.handle_events()?;
        Ok(Wake {
            accept: listener_ready || retry,
        })
    }

    /// Handles what the last wait found: the waker, a stop request, PROXY headers arriving
    /// (and PROXY deadlines passing). Returns whether the listener was readable.
    fn handle_events(&mut self) -> Result<bool, Error> {
        let mut listener_ready = false;
        for token in self.serving.reactor.fixed_ready().to_vec() {
            match token {
                LISTENER => listener_ready = true,
                STOP => self.shutdown.stop_signalled(),
                _ => self.shutdown.waker().drain()?, // the waker: only a wake-up
            }
        }
        let headers: Vec<usize> = self
            .serving
            .reactor
            .ready()
            .iter()
            .map(|ready| ready.key)
            .collect();
        for key in headers {
            self.proxy_ready(key);
        }
        self.expire_proxy();
        Ok(listener_ready)
    }

    /// Watches the listener only while accepting is possible; otherwise a readable listener
    /// would wake the loop again and again.
    fn sync_listener(&mut self) -> Result<(), Error> {
        let want = self.serving.backoff.is_none()
            && self.parts.dispatch.has_capacity()
            && self.registry.has_room();
        match (want, self.serving.listener_registered) {
            (true, false) => {
                let fd = self.parts.socket.fileno().ok_or(Error::Closed)?;
                self.serving
                    .reactor
                    .watch_fixed(fd, Interest::READABLE, LISTENER)?;
                self.serving.listener_registered = true;
            }
            (false, true) => self.unregister_listener(),
            _ => {}
        }
        Ok(())
    }

    /// Takes one request and dispatches it, classifying accept errors.
    fn accept_one(&mut self) -> Result<Accepted, Error> {
        match self.parts.socket.get_request(&self.shutdown) {
            Ok(request) => {
                if let Some(pause) = self.serving.backoff.take() {
                    tracing::info!(last_pause = ?pause, "accepting again");
                }
                self.admit_accepted(request);
                Ok(Accepted::Request)
            }
            Err(error) => match sys::classify_accept_error(&error) {
                AcceptErrorClass::WouldBlock => Ok(Accepted::Nothing),
                AcceptErrorClass::Transient => {
                    tracing::debug!(%error, "transient accept error; retrying");
                    Ok(Accepted::Retry)
                }
                AcceptErrorClass::Exhausted => {
                    let pause = match self.serving.backoff {
                        None => {
                            tracing::warn!(%error, "out of resources: pausing accept until they free up");
                            BACKOFF_START
                        }
                        Some(pause) => (pause * 2).min(BACKOFF_MAX),
                    };
                    self.serving.backoff = Some(pause);
                    Ok(Accepted::Nothing)
                }
                AcceptErrorClass::Fatal => Err(Error::Accept {
                    address: self.address_for_messages(),
                    source: error,
                }),
            },
        }
    }

    /// Python's `_handle_request_noblock` after `get_request`: take a slot, verify, then
    /// `process_request`; every path ends the request exactly once.
    pub(super) fn dispatch_request(&mut self, request: S::Request) {
        let id = self.serving.next_request_id;
        self.serving.next_request_id += 1;
        if let Some((left, drain_timeout)) = &mut self.serving.request_budget {
            *left -= 1;
            if *left == 0 {
                tracing::info!("served its max_requests: draining");
                let timeout = *drain_timeout;
                self.serving.request_budget = None;
                self.shutdown.drain(timeout);
            }
        }
        tracing::debug!(conn_id = id, peer = ?request.client_address(), "accepted");
        let guard = if request.is_connection() {
            match self.registry.admit(request.source_ip()) {
                Ok(guard) => Some(guard),
                Err(refusal) => {
                    tracing::debug!(conn_id = id, ?refusal, "refused: closing at once");
                    request.shutdown_request();
                    return;
                }
            }
        } else {
            self.registry.accepted_datagram();
            None
        };
        let hooks = &self.hooks;
        let verdict = panic::catch_unwind(AssertUnwindSafe(|| hooks.verify_request(&request)));
        let listener = match self.parts.socket.child_closes_socket() {
            true => self.parts.socket.fileno().map(|fd| fd.as_raw_fd()),
            false => None,
        };
        let registry = &self.registry;
        let handler = &self.handler;
        let job = |request, guard| -> Box<dyn Job> {
            Box::new(RequestJob::new(
                id,
                request,
                handler.clone(),
                Arc::clone(hooks),
                listener,
                Arc::clone(registry),
                guard,
            ))
        };
        match verdict {
            Ok(Ok(true)) => {
                tracing::trace!(
                    conn_id = id,
                    strategy = self.parts.dispatch.name(),
                    "dispatching"
                );
                let job = job(request, guard);
                self.parts.dispatch.process_request(job);
            }
            Ok(Ok(false)) => {
                tracing::debug!(conn_id = id, "rejected by verify_request");
                request.shutdown_request();
                if let Some(guard) = guard {
                    guard.refuse();
                }
                self.registry.refused_by_verify();
            }
            Ok(Err(error)) => job(request, guard).fail(RequestError::Handler(error)),
            Err(payload) => job(request, guard).fail(RequestError::from_panic(payload)),
        }
    }
}
