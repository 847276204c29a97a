//! Admission: Python's `_handle_request_noblock` after `get_request` — a recycled worker's
//! request budget, the connection limits, `verify_request`, then the strategy.

use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::dispatch::{Dispatch, Job, RequestJob};
use crate::error::RequestError;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::request::Request;
use crate::transport::TcpServer;

use super::base_server::BaseServer;

/// Admitting.
impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
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
