//! [`Exchange`]: one request and its response, as a handler sees them.

use std::cell::OnceCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use crate::body_reader::{Body, BodyReader, BodyRefused, BodySource};
use crate::date::push_date_now;
use crate::error_format::ErrorFormat;
use crate::request::HttpRequest;
use crate::status::reason_phrase;
use crate::target::RequestTarget;
use crate::wire::Wire;

/// The largest body sent in the same write as its head.
const SMALL_BODY: usize = 16 * 1024;

/// One request and its response: Python's `BaseHTTPRequestHandler` instance for one request.
/// The head is parsed; the response is written through [`send_response`](Self::send_response),
/// [`send_header`](Self::send_header), [`end_headers`](Self::end_headers) and
/// [`write_body`](Self::write_body) or [`write_file`](Self::write_file), or
/// [`send_error`](Self::send_error).
///
/// For an API: the target split and decoded ([`path`](Self::path),
/// [`query_pairs`](Self::query_pairs)), a whole response in one call
/// ([`send_text`](Self::send_text), [`send_json`](Self::send_json),
/// [`send_bytes`](Self::send_bytes)), errors in the server's [`ErrorFormat`], the body in
/// pieces ([`body_reader`](Self::body_reader)), and the `http` crate's types
/// ([`send_http_response`](Self::send_http_response)).
///
/// Headers are buffered until `end_headers` (as Python does). For a `HEAD` request the body is
/// dropped. A response without `Content-Length` (other than 204 and 304) ends the connection
/// after it, since the client can only tell its end by the close.
#[doc(alias = "BaseHTTPRequestHandler")]
pub struct Exchange<'a> {
    wire: &'a mut dyn Wire,
    request: HttpRequest,
    /// The response head being built, then (after `end_headers`) waiting to go out with the
    /// first body bytes: one write per small response.
    head: Vec<u8>,
    head_ended: bool,
    status: Option<u16>,
    has_length: bool,
    close: bool,
    /// The request body: gathered whole, or read from the connection as the handler asks.
    body: Body<'a>,
    /// How error responses are written.
    error_format: ErrorFormat,
    /// The target split and decoded, once asked for.
    target: OnceCell<RequestTarget>,
}

impl<'a> Exchange<'a> {
    /// An exchange over `wire` for `request` and its `body`.
    pub(crate) fn new(
        wire: &'a mut dyn Wire,
        request: HttpRequest,
        body: Body<'a>,
        error_format: ErrorFormat,
    ) -> Self {
        let close = !request.keep_alive();
        Exchange {
            wire,
            request,
            head: Vec::new(),
            head_ended: false,
            status: None,
            has_length: false,
            close,
            body,
            error_format,
            target: OnceCell::new(),
        }
    }

    /// The request head.
    pub fn request(&self) -> &HttpRequest {
        &self.request
    }

    /// The request target split into its path and query and percent-decoded (Python's
    /// `urlsplit`, `unquote`, `parse_qsl`); [`RequestTarget`] says how odd input is read. The
    /// raw target stays in [`request().target`](HttpRequest::target).
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_http::{Exchange, HttpHandler};
    ///
    /// #[derive(Clone)]
    /// struct Search;
    ///
    /// impl HttpHandler for Search {
    ///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
    ///         // GET /search/caf%C3%A9?page=2 → "café", page 2
    ///         let path = ex.path().to_owned();
    ///         let page = ex.target().query("page").unwrap_or("1").to_owned();
    ///         match path.strip_prefix("/search/") {
    ///             Some(term) => ex.send_text(200, &format!("{term}, page {page}\n")),
    ///             None => ex.send_error(404, "no such page"),
    ///         }
    ///     }
    /// }
    /// # let _ = Search;
    /// ```
    #[doc(alias = "urlsplit")]
    pub fn target(&self) -> &RequestTarget {
        self.target
            .get_or_init(|| RequestTarget::parse(&self.request.target))
    }

    /// The request's path, percent-decoded (`/kv/a%20b?x=1` → `/kv/a b`): [`RequestTarget::path`].
    #[doc(alias = "unquote")]
    pub fn path(&self) -> &str {
        self.target().path()
    }

    /// The request's query as decoded name–value pairs (`?x=1&y=a+b` → `x`: `1`, `y`: `a b`):
    /// [`RequestTarget::query_pairs`].
    #[doc(alias = "parse_qsl")]
    pub fn query_pairs(&self) -> &[(String, String)] {
        self.target().query_pairs()
    }

    /// The client's address.
    pub fn client_address(&self) -> SocketAddr {
        self.wire.client_address()
    }

    /// Starts the response: the status line, `Server` and `Date` (Python's `send_response`),
    /// and logs the request ([`log_request`](Self::log_request)).
    pub fn send_response(&mut self, code: u16) -> io::Result<()> {
        self.send_head()?;
        self.head.clear();
        // Room for a head's usual fields (and a small body after them): one allocation, not
        // a doubling for every few fields.
        self.head.reserve(512);
        self.head_ended = false;
        start_head(&mut self.head, code);
        self.status = Some(code);
        self.log_request(code);
        Ok(())
    }

    /// Logs the request and its status (Python's `log_request`): a `tracing` event at INFO
    /// under the target `socketserver_http::access`, so an access log is a subscriber's filter
    /// away (`RUST_LOG=socketserver_http::access=info`) and costs nothing otherwise.
    pub fn log_request(&self, code: u16) {
        tracing::info!(
            target: "socketserver_http::access",
            client = %self.wire.client_address(),
            method = %self.request.method,
            target = %self.request.target,
            code,
            "request"
        );
    }

    /// Logs a message about this request (Python's `log_message`): a `tracing` event at INFO
    /// under `socketserver_http::access`, with the client's address.
    pub fn log_message(&self, message: &str) {
        tracing::info!(
            target: "socketserver_http::access",
            client = %self.wire.client_address(),
            "{message}"
        );
    }

    /// Logs an error about this request (Python's `log_error`): as
    /// [`log_message`](Self::log_message), at WARN.
    pub fn log_error(&self, message: &str) {
        tracing::warn!(
            target: "socketserver_http::access",
            client = %self.wire.client_address(),
            "{message}"
        );
    }

    /// Adds a header field (Python's `send_header`). `Connection: close` ends the connection
    /// after this response.
    pub fn send_header(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.push_header(name, value.as_bytes());
        Ok(())
    }

    /// Adds a header field whose value is bytes.
    pub(crate) fn push_header(&mut self, name: &str, value: &[u8]) {
        if name.eq_ignore_ascii_case("Content-Length") {
            self.has_length = true;
        }
        if name.eq_ignore_ascii_case("Connection") && value.eq_ignore_ascii_case(b"close") {
            self.close = true;
        }
        // Appended as bytes: no formatting machinery for the handful of fields per response.
        for piece in [name.as_bytes(), b": ", value, b"\r\n"] {
            self.head.extend_from_slice(piece);
        }
    }

    /// Ends the header fields (Python's `end_headers`). The head goes out with the first body
    /// bytes, or at the end of the exchange.
    pub fn end_headers(&mut self) -> io::Result<()> {
        let bodiless = matches!(self.status, Some(204 | 304));
        if !self.has_length && !bodiless {
            self.close = true;
        }
        if self.body.rest_to_come(&mut *self.wire) {
            // The request body left unread is still arriving: nothing tells where the next
            // request would start but reading it, so the connection ends after this answer.
            self.close = true;
        }
        if self.close {
            self.head.extend_from_slice(b"Connection: close\r\n");
        }
        self.head.extend_from_slice(b"\r\n");
        self.head_ended = true;
        Ok(())
    }

    /// Sends an ended head that has not gone out yet.
    fn send_head(&mut self) -> io::Result<()> {
        if !self.head_ended || self.head.is_empty() {
            return Ok(());
        }
        let head = std::mem::take(&mut self.head);
        self.wire.write_all(&head)
    }

    /// Writes body bytes (nothing for a `HEAD` request).
    pub fn write_body(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.request.method == "HEAD" {
            return Ok(());
        }
        if self.head_ended && !self.head.is_empty() && bytes.len() <= SMALL_BODY {
            // The head and a small body in one write.
            self.head.extend_from_slice(bytes);
            return self.send_head();
        }
        self.send_head()?;
        self.wire.write_all(bytes)
    }

    /// Sends the head and what was written so far now (Python's `wfile.flush()`): for a
    /// response written over time (progress lines, server-sent events). Otherwise the head
    /// waits for the first body bytes (to leave in one write with them), and body bytes wait
    /// in `wfile`'s buffer when the server has one
    /// ([`StreamOptions::wbufsize`](socketserver::StreamOptions::wbufsize)).
    pub fn flush(&mut self) -> io::Result<()> {
        self.send_head()?;
        self.wire.flush()
    }

    /// Writes `len` bytes of `file`, from its current position, as body (nothing for a `HEAD`
    /// request), never the whole file in memory: from the page cache (`sendfile(2)`, for 16 KiB
    /// or more) on an event loop and in a write that sends at once, else a buffer at a time. On
    /// an event loop the file goes on as the client reads, without holding the loop. A file that turns out shorter
    /// than `len` ends the connection (its `Content-Length` cannot be kept).
    pub fn write_file(&mut self, file: File, len: u64) -> io::Result<()> {
        if self.request.method == "HEAD" {
            return Ok(());
        }
        let head = match self.head_ended {
            true => std::mem::take(&mut self.head),
            false => Vec::new(),
        };
        self.wire.write_file(head, file, len)
    }

    /// The request body whole (`Content-Length` bytes, or a chunked body decoded), at most
    /// [`HttpLimits::max_body`](crate::HttpLimits::max_body); what a
    /// [`body_reader`](Self::body_reader) already read is not in it, and a second call gives
    /// an empty body. A body the server gathered before the handler ran (always on an event
    /// loop; up to [`max_gathered_body`](crate::HttpLimits::max_gathered_body) on threads) is
    /// here at once: a body over the limit, malformed, or too slow to arrive was answered
    /// (413, 400, 408) without the handler. A longer body is read now. Always `Some` (the
    /// `Option` stays for handlers written when a chunked body could be found too long here).
    ///
    /// # Errors
    ///
    /// For a body read now: as [`body_reader`](Self::body_reader)'s reads.
    pub fn read_body(&mut self) -> io::Result<Option<Vec<u8>>> {
        if let Body::Whole(rest) = &mut self.body {
            return Ok(Some(std::mem::take(rest).to_vec()));
        }
        let mut body = Vec::new();
        self.body_reader().read_to_end(&mut body)?;
        Ok(Some(body))
    }

    /// The request body as an [`io::Read`], read in pieces: an upload of any allowed size is
    /// never in memory whole. [`BodyReader`] says where the bytes come from in each form and
    /// what happens to what the handler leaves unread.
    pub fn body_reader(&mut self) -> BodyReader<'_> {
        BodyReader { source: self }
    }

    /// Why the request body could not be read, once a read failed: the server answers that
    /// status if the handler had not answered.
    pub fn body_refused(&self) -> Option<BodyRefused> {
        self.body.refused()
    }

    /// Sends a complete response in one call: the status line, `Content-Type`,
    /// `Content-Length` (from `body`), then `body` (dropped for `HEAD`). For 204 and 304, which
    /// have no body, neither field nor body is sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_http::{Exchange, HttpHandler};
    ///
    /// #[derive(Clone)]
    /// struct Api;
    ///
    /// impl HttpHandler for Api {
    ///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
    ///         match ex.path() {
    ///             "/hello" => ex.send_text(200, "hello\n"),
    ///             "/version" => ex.send_json(200, br#"{"version":1}"#),
    ///             "/logo" => ex.send_body(200, "image/png", &[0x89, b'P', b'N', b'G']),
    ///             _ => ex.send_error(404, "no such resource"),
    ///         }
    ///     }
    /// }
    /// # let _ = Api;
    /// ```
    pub fn send_body(&mut self, code: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        self.send_response(code)?;
        if !matches!(code, 204 | 304) {
            self.send_header("Content-Type", content_type)?;
            self.send_header("Content-Length", &body.len().to_string())?;
        }
        self.end_headers()?;
        match code {
            204 | 304 => Ok(()),
            _ => self.write_body(body),
        }
    }

    /// [`send_body`](Self::send_body) with `text/plain; charset=utf-8`.
    pub fn send_text(&mut self, code: u16, text: &str) -> io::Result<()> {
        self.send_body(code, "text/plain; charset=utf-8", text.as_bytes())
    }

    /// [`send_body`](Self::send_body) with `application/octet-stream`.
    pub fn send_bytes(&mut self, code: u16, bytes: &[u8]) -> io::Result<()> {
        self.send_body(code, "application/octet-stream", bytes)
    }

    /// [`send_body`](Self::send_body) with `application/json`; the JSON is given made (by
    /// hand, or by `serde_json::to_vec`).
    pub fn send_json(&mut self, code: u16, json: impl AsRef<[u8]>) -> io::Result<()> {
        self.send_body(code, "application/json", json.as_ref())
    }

    /// A complete response without a body: `Content-Length: 0` (none for 204 and 304).
    pub fn send_empty(&mut self, code: u16) -> io::Result<()> {
        self.send_response(code)?;
        if !matches!(code, 204 | 304) {
            self.send_header("Content-Length", "0")?;
        }
        self.end_headers()
    }

    /// How [`send_error`](Self::send_error) writes this response's error body; the server's
    /// ([`HttpService::with_error_format`](crate::HttpService::with_error_format)) unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_http::{ErrorFormat, Exchange, HttpHandler};
    ///
    /// #[derive(Clone)]
    /// struct Api;
    ///
    /// impl HttpHandler for Api {
    ///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
    ///         ex.set_error_format(ErrorFormat::Json);
    ///         // {"error":"no such key","status":404}, as application/json
    ///         ex.send_error(404, "no such key")
    ///     }
    /// }
    /// # let _ = Api;
    /// ```
    #[doc(alias = "error_content_type")]
    pub fn set_error_format(&mut self, format: ErrorFormat) {
        self.error_format = format;
    }

    /// Sends a complete error response (Python's `send_error`): a short HTML page, or the
    /// body of the server's [`ErrorFormat`] (JSON for an API).
    pub fn send_error(&mut self, code: u16, message: &str) -> io::Result<()> {
        self.send_error_with(code, message, &[])
    }

    /// [`send_error`](Self::send_error) with extra header fields (`Allow` for a 405).
    pub fn send_error_with(
        &mut self,
        code: u16,
        message: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<()> {
        let (content_type, body) = self.error_format.render(code, message);
        self.send_response(code)?;
        self.send_header("Content-Type", content_type)?;
        self.send_header("Content-Length", &body.len().to_string())?;
        for (name, value) in headers {
            self.send_header(name, value)?;
        }
        self.end_headers()?;
        self.write_body(&body)
    }

    /// Answers `405 Method Not Allowed` with the `Allow` header listing `allowed`: for a
    /// method the server knows but this resource does not take.
    pub fn send_method_not_allowed(&mut self, allowed: &[&str]) -> io::Result<()> {
        let allow = allowed.join(", ");
        let message = format!(
            "{} is not allowed here; allowed: {allow}",
            self.request.method
        );
        self.send_error_with(405, &message, &[("Allow", &allow)])
    }

    /// Whether the connection ends after this response.
    pub fn closes_connection(&self) -> bool {
        self.close
    }

    /// After the handler: a response was sent (else the body's refusal, or 500), the output
    /// flushed. Returns whether the connection may carry another request (a body the handler
    /// did not read is off the connection, or the connection ends: nothing of it is left to
    /// mistake for the next request), and the response's status.
    pub(crate) fn finish(mut self) -> io::Result<(bool, u16)> {
        let status = match self.status {
            Some(status) => status,
            None => match self.body.refused() {
                Some(refused) => {
                    self.send_error(refused.status, refused.reason)?;
                    refused.status
                }
                None => {
                    self.send_error(500, "the handler sent no response")?;
                    500
                }
            },
        };
        self.send_head()?;
        self.wire.flush()?;
        let keep = !self.close && self.body.skip_rest(&mut *self.wire);
        Ok((keep, status))
    }

    /// Whether a response has been started.
    pub(crate) fn answered(&self) -> bool {
        self.status.is_some()
    }
}

impl BodySource for Exchange<'_> {
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.body.read(&mut *self.wire, buf);
        if result.is_err() && self.body.refused().is_some() {
            // Where the next request would start is unknown.
            self.close = true;
        }
        result
    }
}

impl std::fmt::Debug for Exchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("request", &self.request)
            .field("status", &self.status)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

/// A complete response that refuses a request (in `format`), then closes the connection.
pub(crate) fn refusal(code: u16, why: &str, format: ErrorFormat) -> Vec<u8> {
    let (content_type, body) = format.render(code, why);
    let mut out = Vec::with_capacity(256 + body.len());
    start_head(&mut out, code);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(&body);
    out
}

/// Starts a response head in `out`: the status line, `Server` and `Date`.
pub(crate) fn start_head(out: &mut Vec<u8>, code: u16) {
    const SERVER: &str = concat!("\r\nServer: socketserver-http/", env!("CARGO_PKG_VERSION"));
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {code} {}{SERVER}\r\nDate: ",
        reason_phrase(code)
    );
    push_date_now(out);
    out.extend_from_slice(b"\r\n");
}
