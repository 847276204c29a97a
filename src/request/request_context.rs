//! [`RequestContext`]: what a server gives every request it accepts.

use crate::shutdown::ShutdownHandle;

/// What a server gives every request it accepts, through its transport's
/// [`get_request`](crate::TcpServer::get_request) (which passes it on without looking): the
/// handle that stops or drains the server, Python's `self.server` as a handler sees it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    shutdown: ShutdownHandle,
}

impl RequestContext {
    pub(crate) fn new(shutdown: ShutdownHandle) -> Self {
        RequestContext { shutdown }
    }

    /// The server's shutdown handle.
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }
}
