//! [`BusySpan`]: a handler's mark that its connection is in the middle of a message.

use std::fmt;
use std::sync::Arc;

use crate::drain::Liveness;

/// While this value lives, a graceful drain does not count its connection as idle, even when
/// the handler waits in `rfile` with nothing buffered; the drain's deadline still applies.
/// Made by [`StreamRequest::busy`](crate::StreamRequest::busy); dropping it ends the span.
///
/// The stream reader treats every wait with an empty buffer as a message boundary, which is
/// right for protocols whose messages arrive in one piece (an echo, a line protocol read with
/// `read_line`). A handler that reads one message in several waits (a header, then a body)
/// holds a span across them.
#[must_use = "the span ends when this value is dropped"]
pub struct BusySpan {
    liveness: Option<Arc<Liveness>>,
}

impl BusySpan {
    pub(crate) fn new(liveness: Option<Arc<Liveness>>) -> Self {
        if let Some(liveness) = &liveness {
            liveness.busy_started();
        }
        BusySpan { liveness }
    }
}

impl Drop for BusySpan {
    fn drop(&mut self) {
        if let Some(liveness) = &self.liveness {
            liveness.busy_ended();
        }
    }
}

impl fmt::Debug for BusySpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusySpan").finish_non_exhaustive()
    }
}
