//! [`HttpService`]: an [`HttpHandler`] as the framework's stream handler.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::{
    BusySpan, EventSession, Framed, MessageFraming, ProtocolHandler, RequestHandler, SessionParts,
    SocketReader, StreamRequest,
};

use crate::wire::HttpSocket;

use crate::body_reader::{Body, CONTINUE};
use crate::chunked::{read_chunked, ChunkedError};
use crate::error_format::ErrorFormat;
use crate::exchange::{refusal, Exchange};
use crate::framing::{framing, Framing};
use crate::handler::{answer, HttpHandler};
use crate::head::{read_head, HeadError};
use crate::limits::HttpLimits;
use crate::observer::RequestObserver;
use crate::protocol::HttpProtocol;
use crate::request::{expects_continue, HttpRequest};
use crate::request_framing::{BodyFraming, HeadFraming};
use crate::status::Refusal;

/// Serves HTTP/1.0 and 1.1 over a stream request with an [`HttpHandler`]: the handler type of
/// an HTTP server (`ThreadingTcpServer::new(address, HttpService::new(MyHandler))`).
///
/// No client holds a worker by being slow. Between requests of a persistent connection, and
/// while a request's head and then its body arrive, the connection is
/// [parked](socketserver::StreamRequest::park_until): the loop that holds it gathers the
/// request, and a worker runs the handler only once the request is whole (under a pool or
/// threading server; sequential and forking servers wait in place). A response the client
/// reads slowly is sent by that loop too ([`StreamOptions::max_pending_output`](socketserver::StreamOptions::max_pending_output),
/// files as the client reads). Each request is in flight from its first byte to its answer,
/// so a graceful drain closes idle keep-alive connections at once and lets requests finish.
/// Pipelined requests are answered in order.
///
/// The same value makes every HTTP server, the event one included:
/// `PoolHttpServer::new(address, HttpService::new(handler))`,
/// `EventHttpServer::new(address, HttpService::new(handler))` — on an
/// [`EventLoop`](socketserver::EventLoop) it is served as [`HttpProtocol`], with the same
/// handler, limits, error format and observer.
///
/// # Examples
///
/// ```
/// use socketserver_http::{
///     ErrorFormat, EventHttpServer, Exchange, HttpHandler, HttpLimits, HttpService, PoolHttpServer,
/// };
///
/// #[derive(Clone)]
/// struct Api;
///
/// impl HttpHandler for Api {
///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
///         ex.send_json(200, br#"{"ok":true}"#)
///     }
/// }
///
/// let service = HttpService::new(Api)
///     .with_limits(HttpLimits::new().with_max_body(64 * 1024))
///     .with_error_format(ErrorFormat::Json);
/// let pool = PoolHttpServer::new("127.0.0.1:0", service.clone())?;
/// let event = EventHttpServer::new("127.0.0.1:0", service)?;
/// # drop((pool, event));
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct HttpService<H> {
    handler: H,
    limits: HttpLimits,
    /// How error responses are written (the handler's and the server's own).
    error_format: ErrorFormat,
    /// A request whose head has been read and whose body is being gathered.
    pending: Option<Pending>,
    /// The server's read timeout (a head's is tighter).
    server_read_timeout: Option<Duration>,
    /// Told of each answered request.
    observer: Option<Arc<dyn RequestObserver>>,
}

/// A request waiting for its body.
struct Pending {
    head: HttpRequest,
    /// When its head was complete, if an observer times it.
    head_at: Option<Instant>,
    framing: Framing,
    /// The request is in flight until it is answered.
    _busy: BusySpan,
}

impl<H: HttpHandler> HttpService<H> {
    /// Serves with `handler` and the default [`HttpLimits`].
    pub fn new(handler: H) -> Self {
        HttpService {
            handler,
            limits: HttpLimits::default(),
            error_format: ErrorFormat::default(),
            pending: None,
            server_read_timeout: None,
            observer: None,
        }
    }

    /// Serves with these limits.
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Writes error responses in `format` (Python's `error_message_format` and
    /// `error_content_type`): [`Exchange::send_error`]'s, and the refusals the server answers
    /// before the handler runs (413 for a body over the limit, 400, 408, 414, 431…). Default:
    /// [`ErrorFormat::Html`].
    #[doc(alias = "error_message_format")]
    #[doc(alias = "error_content_type")]
    pub fn with_error_format(mut self, format: ErrorFormat) -> Self {
        self.error_format = format;
        self
    }

    /// Tells `observer` of every request the handler answers, with its status and how long
    /// it took ([`RequestObserver`] says what is measured). Default: none, and nothing is
    /// measured.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use socketserver_http::{HttpService, RequestObserver, SimpleHttpRequestHandler};
    ///
    /// #[derive(Debug, Default)]
    /// struct Answered(AtomicU64);
    ///
    /// impl RequestObserver for Answered {
    ///     fn request_done(&self, _status: u16, _elapsed: Duration) {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let answered = Arc::new(Answered::default());
    /// let handler = SimpleHttpRequestHandler::new(".")?;
    /// let service = HttpService::new(handler).with_observer(answered.clone());
    /// # let _ = service;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Parks the connection until the next request's head has arrived, under the header
    /// timeout.
    fn wait_for_head<T: HttpSocket>(&self, stream: &mut StreamRequest<T>) {
        stream
            .rfile
            .set_read_timeout(self.limits.head_timeout(self.server_read_timeout));
        stream.park_until(HeadFraming::new(self.limits));
    }
}

/// Each connection starts from the handler and the limits, with no request in flight.
impl<H: HttpHandler> Clone for HttpService<H> {
    fn clone(&self) -> Self {
        HttpService {
            observer: self.observer.clone(),
            ..HttpService::new(self.handler.clone())
                .with_limits(self.limits)
                .with_error_format(self.error_format)
        }
    }
}

/// A service's settings in the event form (what an event loop serves an [`HttpService`] as).
impl<H: HttpHandler> From<HttpService<H>> for HttpProtocol<H> {
    fn from(service: HttpService<H>) -> Self {
        let (handler, limits, error_format, observer) = service.into_parts();
        HttpProtocol::new(handler)
            .with_limits(limits)
            .with_error_format(error_format)
            .with_observer_option(observer)
    }
}

/// The event form's settings as a service: `HttpProtocol::new(h).into()` still makes an
/// [`EventHttpServer`](crate::EventHttpServer)'s handler.
impl<H: HttpHandler> From<HttpProtocol<H>> for HttpService<H> {
    fn from(protocol: HttpProtocol<H>) -> Self {
        let (handler, limits, error_format, observer) = protocol.into_parts();
        HttpService {
            observer,
            ..HttpService::new(handler)
                .with_limits(limits)
                .with_error_format(error_format)
        }
    }
}

impl<H: fmt::Debug> fmt::Debug for HttpService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpService")
            .field("handler", &self.handler)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<H: HttpHandler, T: HttpSocket> RequestHandler<StreamRequest<T>> for HttpService<H> {
    fn setup(&mut self, stream: &mut StreamRequest<T>) -> io::Result<()> {
        self.server_read_timeout = stream.rfile.read_timeout();
        // Wait for the first request without a thread.
        self.wait_for_head(stream);
        Ok(())
    }

    fn handle(&mut self, stream: &mut StreamRequest<T>) -> io::Result<()> {
        let format = self.error_format;
        let (head, head_at, framing, busy) = match self.pending.take() {
            Some(Pending {
                head,
                head_at,
                framing,
                _busy,
            }) => (head, head_at, framing, _busy),
            None => {
                // The head is here (or it broke a limit, or its time ran out): one request is
                // in flight until it is answered.
                let busy = stream.busy();
                let head = read_head(&mut stream.rfile, &self.limits);
                // The rest of the request is bounded by the server's read timeout.
                stream.rfile.set_read_timeout(self.server_read_timeout);
                let head = match head {
                    Ok(Some(head)) => head,
                    Ok(None) => return Ok(()),
                    Err(HeadError::Status((code, why))) => {
                        return refuse(stream, code, why, format)
                    }
                    Err(HeadError::Io(error)) => return fail_reading(stream, error, format),
                };
                let head_at = self.observer.as_ref().map(|_| Instant::now());
                tracing::debug!(method = %head.method, target = %head.target, peer = %stream.client_address(), "request");
                let framing = match framing(&head, &self.limits) {
                    Ok(framing) => framing,
                    Err((code, why)) => return refuse(stream, code, why, format),
                };
                if self.streams(framing) {
                    // Longer than what is gathered: the handler reads it as it arrives.
                    let body =
                        Body::streamed(framing, self.limits.max_body, expects_continue(&head));
                    return self.respond(stream, head, head_at, body, busy);
                }
                let mut body_framing = match framing {
                    Framing::Empty => None,
                    Framing::Length(length) => Some(BodyFraming::Length(length)),
                    Framing::Chunked => Some(BodyFraming::chunked(self.limits.max_body)),
                };
                let arrived = body_framing
                    .as_mut()
                    .is_none_or(|body| body.frame(stream.rfile.buffer()) == Framed::Complete);
                if let (false, Some(body_framing)) = (arrived, body_framing) {
                    // Gather the body without a worker; a client that waits for it is told to
                    // send it first.
                    if expects_continue(&head) {
                        stream.wfile.write_all(CONTINUE)?;
                        stream.wfile.flush()?;
                    }
                    self.pending = Some(Pending {
                        head,
                        head_at,
                        framing,
                        _busy: busy,
                    });
                    stream.park_until(body_framing);
                    return Ok(());
                }
                (head, head_at, framing, busy)
            }
        };
        // The body is here whole (or its arrival failed: reading it says how).
        let body = match read_whole_body(&mut stream.rfile, framing, self.limits.max_body) {
            Ok(body) => body,
            Err(BodyError::Status((code, why))) => return refuse(stream, code, why, format),
            Err(BodyError::Io(error)) => return fail_reading(stream, error, format),
        };
        self.respond(stream, head, head_at, Body::Whole(&body), busy)
    }

    /// On an event loop: served as [`HttpProtocol`].
    fn into_event_session(
        self,
        parts: SessionParts<StreamRequest<T>>,
    ) -> Result<EventSession, (Self, SessionParts<StreamRequest<T>>)> {
        // On an event loop the service is served as its event form.
        ProtocolHandler::new(HttpProtocol::from(self))
            .into_event_session(parts)
            .map_err(|(handler, parts)| (HttpService::from(handler.protocol().clone()), parts))
    }
}

impl<H: HttpHandler> HttpService<H> {
    /// Whether a body framed so is read by the handler as it arrives, not gathered first.
    fn streams(&self, framing: Framing) -> bool {
        match framing {
            Framing::Empty => false,
            Framing::Length(length) => length > self.limits.max_gathered_body,
            Framing::Chunked => self.limits.max_gathered_body < self.limits.max_body,
        }
    }

    /// Runs the handler on a request, then waits for the next one if the connection stays.
    fn respond<T: HttpSocket>(
        &mut self,
        stream: &mut StreamRequest<T>,
        head: HttpRequest,
        head_at: Option<Instant>,
        body: Body<'_>,
        busy: BusySpan,
    ) -> io::Result<()> {
        let ex = Exchange::new(stream, head, body, self.error_format);
        let observed = self.observer.as_deref().zip(head_at);
        let keep = answer(&mut self.handler, ex, observed)?;
        drop(busy);
        if keep {
            self.wait_for_head(stream);
        }
        Ok(())
    }

    /// The parts the event form is made of.
    pub(crate) fn into_parts(
        self,
    ) -> (H, HttpLimits, ErrorFormat, Option<Arc<dyn RequestObserver>>) {
        (self.handler, self.limits, self.error_format, self.observer)
    }
}

/// Why a body could not be taken.
enum BodyError {
    /// Answer with this status, then close.
    Status(Refusal),
    /// The connection failed.
    Io(io::Error),
}

/// Reads a body that has arrived whole from `rfile` (it never waits then). A body that did
/// not arrive whole tells why: the client closed (400), its time ran out (408), it grew past
/// what the server gathers (413), or its chunked encoding is malformed (400).
fn read_whole_body<T: HttpSocket>(
    rfile: &mut SocketReader<T>,
    framing: Framing,
    max_body: u64,
) -> Result<Vec<u8>, BodyError> {
    let failed = |error: io::Error| match error.kind() {
        io::ErrorKind::UnexpectedEof => {
            BodyError::Status((400, "the connection ended inside the request body"))
        }
        io::ErrorKind::InvalidData => {
            BodyError::Status((413, "the request body is larger than the server takes"))
        }
        io::ErrorKind::TimedOut => {
            BodyError::Status((408, "the request body did not arrive in time"))
        }
        _ => BodyError::Io(error),
    };
    match framing {
        Framing::Empty => Ok(Vec::new()),
        Framing::Length(length) => {
            // At most `max_body`: a longer Content-Length was refused with the head.
            let mut body = vec![
                0;
                usize::try_from(length)
                    .map_err(|_| failed(io::ErrorKind::InvalidData.into()))?
            ];
            rfile.read_exact(&mut body).map_err(failed)?;
            Ok(body)
        }
        Framing::Chunked => match read_chunked(rfile, max_body) {
            Ok(body) => Ok(body),
            Err(ChunkedError::TooLarge) => Err(BodyError::Status((
                413,
                "the request body is larger than the server takes",
            ))),
            Err(ChunkedError::Malformed(why)) => Err(BodyError::Status((400, why))),
            Err(ChunkedError::Io(error)) => Err(failed(error)),
        },
    }
}

/// A request could not be read: a timeout is answered 408 (the client is told), anything
/// else is the connection's error.
fn fail_reading<T: HttpSocket>(
    stream: &mut StreamRequest<T>,
    error: io::Error,
    format: ErrorFormat,
) -> io::Result<()> {
    match error.kind() {
        io::ErrorKind::TimedOut => {
            refuse(stream, 408, "the request did not arrive in time", format)
        }
        _ => Err(error),
    }
}

/// Answers a request that could not be read with `code` and closes: always with a status line
/// (Python sends a 400 page without one when the version is not valid).
fn refuse<T: HttpSocket>(
    stream: &mut StreamRequest<T>,
    code: u16,
    why: &str,
    format: ErrorFormat,
) -> io::Result<()> {
    tracing::debug!(code, why, peer = %stream.client_address(), "refusing a request");
    stream.wfile.write_all(&refusal(code, why, format))?;
    stream.wfile.flush()
}
