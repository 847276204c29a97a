//! [`Exchange`]: one request and its response, as a handler sees them.

use std::fs::File;
use std::io::{self, Write};
use std::net::SocketAddr;

use crate::date::push_date_now;
use crate::request::HttpRequest;
use crate::status::reason_phrase;
use crate::wire::Wire;

/// What tells a client that sent `Expect: 100-continue` to send its body.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The largest body sent in the same write as its head.
const SMALL_BODY: usize = 16 * 1024;

/// One request and its response: Python's `BaseHTTPRequestHandler` instance for one request.
/// The head is parsed; the response is written through [`send_response`](Self::send_response),
/// [`send_header`](Self::send_header), [`end_headers`](Self::end_headers) and
/// [`write_body`](Self::write_body) or [`write_file`](Self::write_file), or
/// [`send_error`](Self::send_error).
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
    /// The request body, whole (both forms gather it before the handler runs); `None` once
    /// read.
    body: Option<&'a [u8]>,
}

impl<'a> Exchange<'a> {
    /// An exchange over `wire` for `request`, whose body (already received whole) is `body`.
    pub(crate) fn new(wire: &'a mut dyn Wire, request: HttpRequest, body: &'a [u8]) -> Self {
        let close = !request.keep_alive();
        Exchange {
            wire,
            request,
            head: Vec::new(),
            head_ended: false,
            status: None,
            has_length: false,
            close,
            body: Some(body),
        }
    }

    /// The request head.
    pub fn request(&self) -> &HttpRequest {
        &self.request
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
        if name.eq_ignore_ascii_case("Content-Length") {
            self.has_length = true;
        }
        if name.eq_ignore_ascii_case("Connection") && value.eq_ignore_ascii_case("close") {
            self.close = true;
        }
        // Appended as bytes: no formatting machinery for the handful of fields per response.
        for piece in [name, ": ", value, "\r\n"] {
            self.head.extend_from_slice(piece.as_bytes());
        }
        Ok(())
    }

    /// Ends the header fields (Python's `end_headers`). The head goes out with the first body
    /// bytes, or at the end of the exchange.
    pub fn end_headers(&mut self) -> io::Result<()> {
        let bodiless = matches!(self.status, Some(204 | 304));
        if !self.has_length && !bodiless {
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

    /// The request body (`Content-Length` bytes, or a chunked body decoded), at most
    /// [`HttpLimits::max_body`](crate::HttpLimits::max_body): both forms gather the body whole
    /// before the handler runs — a body over the limit, malformed, or too slow to arrive is
    /// answered (413, 400, 408) without the handler, and a client that sent
    /// `Expect: 100-continue` has been told to go on. So this never waits and is always
    /// `Some`; a second call gives an empty body. (The `Option` stays for handlers written
    /// when a chunked body could be found too long here.)
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a body read as it arrives.
    pub fn read_body(&mut self) -> io::Result<Option<Vec<u8>>> {
        Ok(Some(self.body.take().unwrap_or_default().to_vec()))
    }

    /// Sends a complete error response with a short HTML page (Python's `send_error`), and
    /// ends the connection after it unless the request was read whole.
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
        let body = error_page(code, message);
        self.send_response(code)?;
        self.send_header("Content-Type", "text/html; charset=utf-8")?;
        self.send_header("Content-Length", &body.len().to_string())?;
        for (name, value) in headers {
            self.send_header(name, value)?;
        }
        self.end_headers()?;
        self.write_body(body.as_bytes())
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

    /// After the handler: a response was sent (else 500), the output flushed. Returns whether
    /// the connection may carry another request (a body the handler did not read is already
    /// off the connection: nothing of it is left to mistake for the next request), and the
    /// response's status.
    pub(crate) fn finish(mut self) -> io::Result<(bool, u16)> {
        let status = match self.status {
            Some(status) => status,
            None => {
                self.send_error(500, "the handler sent no response")?;
                500
            }
        };
        self.send_head()?;
        self.wire.flush()?;
        Ok((!self.close, status))
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

/// The short HTML page of an error response.
pub(crate) fn error_page(code: u16, message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n<body><h1>{code} {reason}</h1><p>{message}</p></body></html>\n",
        reason = reason_phrase(code),
        message = escape_html(message)
    )
}

/// Escapes text for an HTML page.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
