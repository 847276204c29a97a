//! [`BusySpan`]: a handler's mark that its connection is in the middle of a message.

use std::fmt;
use std::sync::Arc;

use crate::drain::Liveness;

/// While this value lives, a graceful drain does not count its connection as idle, even when
/// the handler waits in `rfile` with nothing buffered; the drain's deadline still applies. The
/// span is also the message's clock: the transport's
/// [`read_timeout`](crate::StreamOptions::read_timeout) and
/// [`min_rate`](crate::StreamOptions::min_rate) time it from its start. Made by
/// [`StreamRequest::busy`](crate::StreamRequest::busy); dropping it ends the span.
///
/// The stream reader (`rfile`) knows some messages by itself: a wait with an empty buffer at
/// the start of a read is a message boundary (right for an echo, where each read is a
/// message), and `read_line`, `read_until` and `lines()` hold a span of their own from a
/// line's first byte to its delimiter, so a drain never hands a handler half a line. A
/// message gathered for a handler parked with
/// [`park_until`](crate::StreamRequest::park_until) is in flight from its first byte too. A
/// handler that reads one message in several steps of its own (a header line, then a body
/// of the length it gives) holds a span across them, in a field if it parks in between.
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
