//! [`RequestObserver`]: what an HTTP server tells of each request it answered (for metrics).

use std::fmt;
use std::time::Duration;

/// Told of each request a handler answered: its status and how long it took. Set with
/// [`HttpService::with_observer`](crate::HttpService::with_observer) or
/// [`HttpProtocol::with_observer`](crate::HttpProtocol::with_observer); without one, nothing
/// is measured (not even the clock is read).
///
/// `elapsed` runs from the moment the request's head was complete (parsed by the worker or the
/// loop that serves it; under a pool, after any wait in its queue) to the moment the response
/// was complete in the socket or, for a client that reads slowly, in the output the framework
/// keeps for it — so a slow reader does not stretch it, while a slow handler does. The body's
/// arrival, after the head, is part of it.
///
/// Observed: every response the handler completed, its own error pages included (and the 500
/// sent for a handler that sent nothing). Not observed: a request the HTTP layer refused
/// before the handler saw it (400, 408, 413, 414, 431, 501, 505 from the framing) and a
/// request whose handler failed with an I/O error (its connection closes without a complete
/// response).
///
/// Called on the thread that served the request, once per request: it must be cheap and must
/// not block (an atomic add, as `socketserver-metrics`' `LatencyHistogram` does).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use socketserver_http::RequestObserver;
///
/// #[derive(Debug, Default)]
/// struct ServerErrors(AtomicU64);
///
/// impl RequestObserver for ServerErrors {
///     fn request_done(&self, status: u16, _elapsed: Duration) {
///         if status >= 500 {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let errors = Arc::new(ServerErrors::default());
/// errors.request_done(503, Duration::from_millis(2));
/// assert_eq!(errors.0.load(Ordering::Relaxed), 1);
/// // `HttpService::new(handler).with_observer(errors.clone())` counts a server's.
/// ```
pub trait RequestObserver: Send + Sync + 'static {
    /// A request was answered with `status`, `elapsed` after its head was complete.
    fn request_done(&self, status: u16, elapsed: Duration);
}

impl fmt::Debug for dyn RequestObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestObserver")
    }
}
