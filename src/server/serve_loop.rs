//! The server loop: `serve_forever`, `handle_request`, and what one wait of it finds.

use std::time::{Duration, Instant};

use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::sys;
use crate::transport::TcpServer;

use super::accept::Accepted;
use super::base_server::{BaseServer, LISTENER, STOP};

/// Requests accepted per wake-up before the loop looks at shutdown and service actions again.
const ACCEPTS_PER_WAKE: usize = 64;

/// What one wait of the loop found.
struct Wake {
    accept: bool,
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
            // A transport with no more requests to give (a handed-over connection, served):
            // the loop's work ends with its last connection.
            if self.parts.socket.exhausted() && self.registry.none_open_or_wake_when_none() {
                tracing::info!("the transport has no more requests and none is open");
                return Ok(());
            }
        }
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
    pub(super) fn hint_timeout(&self, limit: Option<Duration>) -> Option<Duration> {
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
    pub(super) fn handle_events(&mut self) -> Result<bool, Error> {
        let (mut listener_ready, mut stop, mut woken) = (false, false, false);
        for &token in self.serving.reactor.fixed_ready() {
            match token {
                LISTENER => listener_ready = true,
                STOP => stop = true,
                _ => woken = true, // the waker: only a wake-up
            }
        }
        if woken {
            self.shutdown.waker().drain()?;
        }
        if stop {
            self.shutdown.stop_signalled();
        }
        // Readiness of entries is PROXY headers arriving (empty, and no allocation, otherwise).
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
}
