//! A graceful drain run by the serving thread: the backlog, the listener, the strategy's idle
//! connections, the grace, the deadline, then `server_close` and the report.

use std::time::{Duration, Instant};

use crate::dispatch::Dispatch;
use crate::drain::{DrainLevel, DrainReport, DrainStage};
use crate::error::Error;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::Request;
use crate::shutdown::DrainPlan;
use crate::transport::TcpServer;

use super::base_server::BaseServer;

/// Draining.
impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// A graceful drain (see [`ShutdownHandle::drain`](crate::ShutdownHandle::drain)), from
    /// the serving thread: the backlog, the listener, the strategy's idle connections, the
    /// grace, the deadline, then `server_close` and the report.
    pub(super) fn drain(&mut self, first: DrainPlan) -> Result<(), Error> {
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
        self.parts.dispatch.drain_idle(DrainStage::Began);
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
                    self.parts.dispatch.drain_idle(DrainStage::GraceOver);
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

    /// Sleeps until a connection closes, a drain step is due, or the strategy needs a look.
    pub(super) fn wait_while_draining(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.serving.reactor.wait(timeout)?;
        // The listener is closed by now: nothing to accept.
        self.handle_events()?;
        Ok(())
    }
}
