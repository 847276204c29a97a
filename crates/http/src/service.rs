//! [`HttpService`]: an [`HttpHandler`] as the framework's stream handler.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::{BusySpan, Framed, MessageFraming, RequestHandler, SocketReader, StreamRequest};

use crate::wire::HttpSocket;

use crate::chunked::{read_chunked, ChunkedError};
use crate::exchange::{error_page, start_head, Exchange, CONTINUE};
use crate::framing::{framing, Framing};
use crate::handler::{answer, HttpHandler};
use crate::head::{read_head, HeadError};
use crate::limits::HttpLimits;
use crate::observer::RequestObserver;
use crate::request::{HttpRequest, Version};
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
pub struct HttpService<H> {
    handler: H,
    limits: HttpLimits,
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
            ..HttpService::new(self.handler.clone()).with_limits(self.limits)
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
                    Err(HeadError::Status((code, why))) => return refuse(stream, code, why),
                    Err(HeadError::Io(error)) => return fail_reading(stream, error),
                };
                let head_at = self.observer.as_ref().map(|_| Instant::now());
                tracing::debug!(method = %head.method, target = %head.target, peer = %stream.client_address(), "request");
                let framing = match framing(&head, &self.limits) {
                    Ok(framing) => framing,
                    Err((code, why)) => return refuse(stream, code, why),
                };
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
            Err(BodyError::Status((code, why))) => return refuse(stream, code, why),
            Err(BodyError::Io(error)) => return fail_reading(stream, error),
        };
        let ex = Exchange::new(stream, head, &body);
        let observed = self.observer.as_deref().zip(head_at);
        let keep = answer(&mut self.handler, ex, observed)?;
        drop(busy);
        if keep {
            self.wait_for_head(stream);
        }
        Ok(())
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

/// Whether the client waits for `100 Continue` before it sends the body.
pub(crate) fn expects_continue(request: &HttpRequest) -> bool {
    request.version == Version::Http11
        && request
            .header("Expect")
            .is_some_and(|expect| expect.trim().eq_ignore_ascii_case("100-continue"))
}

/// A request could not be read: a timeout is answered 408 (the client is told), anything
/// else is the connection's error.
fn fail_reading<T: HttpSocket>(stream: &mut StreamRequest<T>, error: io::Error) -> io::Result<()> {
    match error.kind() {
        io::ErrorKind::TimedOut => refuse(stream, 408, "the request did not arrive in time"),
        _ => Err(error),
    }
}

/// Answers a request that could not be read with `code` and closes: always with a status line
/// (Python sends a 400 page without one when the version is not valid).
fn refuse<T: HttpSocket>(stream: &mut StreamRequest<T>, code: u16, why: &str) -> io::Result<()> {
    tracing::debug!(code, why, peer = %stream.client_address(), "refusing a request");
    stream.wfile.write_all(&refusal(code, why))?;
    stream.wfile.flush()
}

/// A complete response that refuses a request, then closes the connection.
pub(crate) fn refusal(code: u16, why: &str) -> Vec<u8> {
    let body = error_page(code, why);
    let mut out = Vec::with_capacity(256 + body.len());
    start_head(&mut out, code);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    out
}
