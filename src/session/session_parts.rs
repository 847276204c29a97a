//! [`SessionParts`]: what a request brings to an event loop.

use std::fmt;
use std::sync::Arc;

use crate::connections::{ConnectionGuard, Registry};
use crate::hooks::ServerHooks;
use crate::request::Request;

/// What a request brings to an event loop: the request itself and the server's hooks.
#[doc(hidden)]
pub struct SessionParts<R: Request> {
    /// The request's number (`conn_id` in logs).
    pub id: u64,
    /// The accepted request.
    pub request: R,
    /// The server's hooks (`handle_error`).
    pub hooks: Arc<dyn ServerHooks<R>>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) guard: Option<ConnectionGuard>,
}

impl<R: Request> fmt::Debug for SessionParts<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionParts")
            .field("id", &self.id)
            .field("peer", self.request.client_address())
            .finish_non_exhaustive()
    }
}
