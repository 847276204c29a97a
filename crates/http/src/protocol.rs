//! [`HttpProtocol`]: the HTTP layer as a [`Protocol`], for the event strategy.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::{Connection, Protocol};

use crate::wire::HttpSocket;

use crate::body_reader::{Body as ExchangeBody, CONTINUE};
use crate::chunked::{ChunkedDecoder, ChunkedError};
use crate::error_format::ErrorFormat;
use crate::event_wire::EventWire;
use crate::exchange::{refusal, Exchange};
use crate::framing::{framing, Framing};
use crate::handler::{answer, HttpHandler};
use crate::head::{check_bounds, head_end, parse};
use crate::limits::HttpLimits;
use crate::observer::RequestObserver;
use crate::outgoing::Outgoing;
use crate::request::{expects_continue, HttpRequest};

/// Serves HTTP/1.0 and 1.1 with an [`HttpHandler`] as a [`Protocol`]: the handler type of an
/// event-driven HTTP server ([`EventHttpServer`](crate::EventHttpServer)), where a few loop
/// threads serve every connection and none is held by a waiting or slow client.
///
/// The same limits and answers as [`HttpService`](crate::HttpService): a head is gathered as
/// it arrives under [`HttpLimits`] (414, 431, 400, 505), a body is gathered whole before the
/// handler runs (at most [`max_body`](HttpLimits::max_body), else 413; `100 Continue` is sent
/// when the head asks for it), a head slower than [`header_timeout`](HttpLimits::header_timeout)
/// (or a request slower than the transport's
/// [`read_timeout`](socketserver::StreamOptions::read_timeout)) gets 408. Pipelined requests are
/// answered in order; [`Exchange::write_file`] sends a file as the client reads it.
///
/// The handler runs on the loop thread: it must not block (no waiting on other services, no
/// long computation), or every connection of that loop waits. Static files and in-memory
/// answers fit; a handler that blocks belongs on a pool ([`HttpService`](crate::HttpService)
/// under [`ThreadPool`](socketserver::ThreadPool)).
///
/// Bodies are always gathered whole here (the handler must not wait for one), so
/// [`Exchange::body_reader`] is a cursor over the gathered bytes;
/// [`max_gathered_body`](HttpLimits::max_gathered_body) does not apply.
///
/// An [`EventHttpServer`](crate::EventHttpServer) is made from an
/// [`HttpService`](crate::HttpService), as every other HTTP server is, and serves it as this
/// type; `HttpProtocol::new(handler).into()` makes the same service.
#[derive(Debug)]
pub struct HttpProtocol<H> {
    handler: H,
    limits: HttpLimits,
    /// How error responses are written.
    error_format: ErrorFormat,
    /// Bytes received and not served yet: a partial request, or pipelined ones.
    input: Vec<u8>,
    /// How much of `input` was searched for the end of a head.
    scanned: usize,
    /// The request whose head has arrived and whose body has not (all of it).
    pending: Option<Pending>,
    /// Responses beyond the connection's buffer (files being sent).
    outgoing: Outgoing,
    /// The connection ends once `outgoing` is sent.
    close_after: bool,
    /// The server's read timeout (a head is bounded tighter).
    server_read_timeout: Option<Duration>,
    /// Told of each answered request.
    observer: Option<Arc<dyn RequestObserver>>,
}

#[derive(Debug)]
struct Pending {
    head: HttpRequest,
    /// When the head was complete, if an observer times it.
    head_at: Option<Instant>,
    body: Body,
    continue_sent: bool,
}

#[derive(Debug)]
enum Body {
    Length(u64),
    Chunked(ChunkedDecoder),
}

impl<H: HttpHandler> HttpProtocol<H> {
    /// Serves with `handler` and the default [`HttpLimits`].
    pub fn new(handler: H) -> Self {
        HttpProtocol {
            handler,
            limits: HttpLimits::default(),
            error_format: ErrorFormat::default(),
            input: Vec::new(),
            scanned: 0,
            pending: None,
            outgoing: Outgoing::default(),
            close_after: false,
            server_read_timeout: None,
            observer: None,
        }
    }

    /// Serves with these limits.
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Writes error responses in `format`, as
    /// [`HttpService::with_error_format`](crate::HttpService::with_error_format) does.
    #[doc(alias = "error_message_format")]
    #[doc(alias = "error_content_type")]
    pub fn with_error_format(mut self, format: ErrorFormat) -> Self {
        self.error_format = format;
        self
    }

    /// Sets the observer, or none.
    pub(crate) fn with_observer_option(
        mut self,
        observer: Option<Arc<dyn RequestObserver>>,
    ) -> Self {
        self.observer = observer;
        self
    }

    /// The parts a service is made of.
    pub(crate) fn into_parts(
        self,
    ) -> (H, HttpLimits, ErrorFormat, Option<Arc<dyn RequestObserver>>) {
        (self.handler, self.limits, self.error_format, self.observer)
    }

    /// Tells `observer` of every request the handler answers, with its status and how long
    /// it took ([`RequestObserver`] says what is measured; here the response is complete once
    /// it is in the connection's output buffer). Default: none, and nothing is measured.
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Answers every complete request in `input`, in order; stops at a partial one, while a
    /// response is still going out, or while the answers already written are past the high
    /// watermark (a client that pipelines requests and reads no answers gets no more
    /// answered: the loop stops reading it, and the rest waits for `resume_writing`).
    fn serve<T: HttpSocket>(&mut self, conn: &mut Connection<'_, T>) -> io::Result<()> {
        let (high, _) = conn.write_buffer_limits();
        while self.outgoing.is_empty()
            && !self.close_after
            && !conn.is_closing()
            && conn.write_buffer_size() <= high
        {
            if self.pending.is_none() && !self.take_head(conn) {
                break;
            }
            let Some(body) = self.take_body(conn) else {
                break;
            };
            let pending = self.pending.take().expect("a head was taken");
            self.respond(conn, pending.head, pending.head_at, &body)?;
            // This request is done: a pipelined one after it has a clock of its own.
            conn.set_busy(false);
        }
        if !self.outgoing.is_empty() {
            // Requests behind a file wait in the kernel, not here.
            conn.pause_reading();
        } else if self.close_after {
            conn.close();
        } else {
            conn.resume_reading();
        }
        let in_flight = !self.input.is_empty() || self.pending.is_some();
        conn.set_busy(in_flight || !self.outgoing.is_empty());
        let head_arriving = self.pending.is_none() && !self.input.is_empty();
        conn.set_read_timeout(match head_arriving {
            true => self.limits.head_timeout(self.server_read_timeout),
            false => self.server_read_timeout,
        });
        Ok(())
    }

    /// Takes a head from `input` if one has arrived; refuses a head over the limits or
    /// malformed. Returns whether a request is now pending.
    fn take_head<T: HttpSocket>(&mut self, conn: &mut Connection<'_, T>) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let end = head_end(&self.input, self.scanned);
        let arrived = &self.input[..end.unwrap_or(self.input.len())];
        if let Err((code, why)) = check_bounds(arrived, &self.limits) {
            self.refuse(conn, code, why);
            return false;
        }
        let Some(end) = end else {
            self.scanned = self.input.len();
            return false;
        };
        let head = match parse(&self.input[..end], &self.limits) {
            Ok(head) => head,
            Err((code, why)) => {
                self.refuse(conn, code, why);
                return false;
            }
        };
        self.input.drain(..end);
        self.scanned = 0;
        tracing::debug!(method = %head.method, target = %head.target, peer = %conn.client_address(), "request");
        let body = match framing(&head, &self.limits) {
            Ok(Framing::Empty) => Body::Length(0),
            Ok(Framing::Length(length)) => Body::Length(length),
            Ok(Framing::Chunked) => Body::Chunked(ChunkedDecoder::new(self.limits.max_body)),
            Err((code, why)) => {
                self.refuse(conn, code, why);
                return false;
            }
        };
        let head_at = self.observer.as_ref().map(|_| Instant::now());
        self.pending = Some(Pending {
            head,
            head_at,
            body,
            continue_sent: false,
        });
        true
    }

    /// The pending request's body, once it has arrived whole.
    fn take_body<T: HttpSocket>(&mut self, conn: &mut Connection<'_, T>) -> Option<Vec<u8>> {
        let pending = self.pending.as_mut()?;
        let body = match &mut pending.body {
            Body::Length(length) => (self.input.len() as u64 >= *length)
                .then(|| self.input.drain(..*length as usize).collect()),
            Body::Chunked(decoder) => match decoder.feed(&self.input) {
                Ok(taken) => {
                    self.input.drain(..taken);
                    decoder
                        .is_done()
                        .then(|| std::mem::replace(decoder, ChunkedDecoder::new(0)).into_body())
                }
                Err(ChunkedError::TooLarge) => {
                    self.refuse(
                        conn,
                        413,
                        "the request body is larger than the server takes",
                    );
                    return None;
                }
                Err(ChunkedError::Malformed(why)) => {
                    self.refuse(conn, 400, why);
                    return None;
                }
                Err(ChunkedError::Io(error)) => unreachable!("decoding reads nothing: {error}"),
            },
        };
        if body.is_none() && !pending.continue_sent && expects_continue(&pending.head) {
            pending.continue_sent = true;
            conn.write(CONTINUE);
        }
        body
    }

    /// Runs the handler on a complete request.
    fn respond<T: HttpSocket>(
        &mut self,
        conn: &mut Connection<'_, T>,
        head: HttpRequest,
        head_at: Option<Instant>,
        body: &[u8],
    ) -> io::Result<()> {
        let HttpProtocol {
            handler,
            outgoing,
            observer,
            error_format,
            ..
        } = self;
        let mut wire = EventWire { conn, outgoing };
        let ex = Exchange::new(&mut wire, head, ExchangeBody::Whole(body), *error_format);
        if !answer(handler, ex, observer.as_deref().zip(head_at))? {
            self.close_after = true;
            self.input.clear();
        }
        Ok(())
    }

    /// Answers a request that cannot be served and ends the connection.
    fn refuse<T: HttpSocket>(&mut self, conn: &mut Connection<'_, T>, code: u16, why: &str) {
        tracing::debug!(code, why, peer = %conn.client_address(), "refusing a request");
        self.outgoing
            .write(conn, &refusal(code, why, self.error_format));
        self.close_after = true;
        self.pending = None;
        self.input.clear();
    }
}

/// Each connection starts from the handler and the limits, with nothing received.
impl<H: HttpHandler> Clone for HttpProtocol<H> {
    fn clone(&self) -> Self {
        HttpProtocol {
            observer: self.observer.clone(),
            ..HttpProtocol::new(self.handler.clone())
                .with_limits(self.limits)
                .with_error_format(self.error_format)
        }
    }
}

impl<H: HttpHandler, T: HttpSocket> Protocol<T> for HttpProtocol<H> {
    fn connection_made(&mut self, conn: &mut Connection<'_, T>) -> io::Result<()> {
        self.server_read_timeout = conn.read_timeout();
        Ok(())
    }

    fn data_received(&mut self, conn: &mut Connection<'_, T>, data: &[u8]) -> io::Result<()> {
        if self.close_after {
            return Ok(()); // the connection ends after what is going out
        }
        self.input.extend_from_slice(data);
        self.serve(conn)
    }

    fn resume_writing(&mut self, conn: &mut Connection<'_, T>) {
        self.outgoing.pump(conn);
        if self.outgoing.is_empty() {
            if let Err(error) = self.serve(conn) {
                tracing::debug!(%error, peer = %conn.client_address(), "a handler failed; closing the connection");
                conn.abort();
            }
        }
    }

    fn read_timed_out(&mut self, conn: &mut Connection<'_, T>) {
        if self.outgoing.is_empty() {
            conn.write(&refusal(
                408,
                "the request did not arrive in time",
                self.error_format,
            ));
        }
    }
}
