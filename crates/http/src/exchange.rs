//! [`Exchange`]: one request and its response, as a handler sees them.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::SystemTime;

use socketserver::StreamRequest;

use crate::date::http_date;
use crate::request::HttpRequest;
use crate::status::reason_phrase;

/// One request and its response: Python's `BaseHTTPRequestHandler` instance for one request.
/// The head is parsed; the response is written through [`send_response`](Self::send_response),
/// [`send_header`](Self::send_header), [`end_headers`](Self::end_headers) and
/// [`write_body`](Self::write_body), or [`send_error`](Self::send_error).
///
/// Headers are buffered until `end_headers` (as Python does). For a `HEAD` request the body is
/// dropped. A response without `Content-Length` (other than 204 and 304) ends the connection
/// after it, since the client can only tell its end by the close.
pub struct Exchange<'a> {
    stream: &'a mut StreamRequest<TcpStream>,
    request: HttpRequest,
    head: Vec<u8>,
    status: Option<u16>,
    has_length: bool,
    close: bool,
    /// `Content-Length` bytes not read yet.
    body_left: u64,
    /// The body is chunked and not read yet.
    chunked: bool,
    /// The client waits for `100 Continue` before it sends the body.
    expects_continue: bool,
}

impl<'a> Exchange<'a> {
    pub(crate) fn new(stream: &'a mut StreamRequest<TcpStream>, request: HttpRequest) -> Self {
        let body_left = request
            .header("Content-Length")
            .and_then(|length| length.trim().parse().ok())
            .unwrap_or(0);
        let close = !request.keep_alive();
        let chunked = request
            .header("Transfer-Encoding")
            .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
        let expects_continue = request.version == crate::request::Version::Http11
            && request
                .header("Expect")
                .is_some_and(|expect| expect.trim().eq_ignore_ascii_case("100-continue"));
        Exchange {
            stream,
            request,
            head: Vec::new(),
            status: None,
            has_length: false,
            close,
            body_left,
            chunked,
            expects_continue,
        }
    }

    /// The request head.
    pub fn request(&self) -> &HttpRequest {
        &self.request
    }

    /// The client's address.
    pub fn client_address(&self) -> SocketAddr {
        *self.stream.client_address()
    }

    /// Starts the response: the status line, `Server` and `Date` (Python's `send_response`).
    pub fn send_response(&mut self, code: u16) -> io::Result<()> {
        self.head.clear();
        write!(
            self.head,
            "HTTP/1.1 {code} {}\r\nServer: socketserver-http/{}\r\nDate: {}\r\n",
            reason_phrase(code),
            env!("CARGO_PKG_VERSION"),
            http_date(SystemTime::now())
        )?;
        self.status = Some(code);
        tracing::debug!(method = %self.request.method, target = %self.request.target, code, "response");
        Ok(())
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
        write!(self.head, "{name}: {value}\r\n")
    }

    /// Ends the header fields and sends the head (Python's `end_headers`).
    pub fn end_headers(&mut self) -> io::Result<()> {
        let bodiless = matches!(self.status, Some(204 | 304));
        if !self.has_length && !bodiless {
            self.close = true;
        }
        if self.close {
            self.head.extend_from_slice(b"Connection: close\r\n");
        }
        self.head.extend_from_slice(b"\r\n");
        let head = std::mem::take(&mut self.head);
        self.stream.wfile.write_all(&head)
    }

    /// Writes body bytes (nothing for a `HEAD` request).
    pub fn write_body(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.request.method == "HEAD" {
            return Ok(());
        }
        self.stream.wfile.write_all(bytes)
    }

    /// Reads the request body (`Content-Length` bytes or chunked), at most `limit`; `None`
    /// when it is longer (answer 413; the connection then ends after the response). A client
    /// that sent `Expect: 100-continue` is told to go on first, and only when the body is read.
    ///
    /// # Errors
    ///
    /// The connection's; `InvalidData` for malformed chunked encoding.
    pub fn read_body(&mut self, limit: u64) -> io::Result<Option<Vec<u8>>> {
        if self.body_left > limit {
            return Ok(None);
        }
        if std::mem::take(&mut self.expects_continue) && (self.body_left > 0 || self.chunked) {
            self.stream
                .wfile
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            self.stream.wfile.flush()?;
        }
        if std::mem::take(&mut self.chunked) {
            return match crate::chunked::read_chunked(&mut self.stream.rfile, limit) {
                Ok(body) => Ok(Some(body)),
                Err(crate::chunked::ChunkedError::TooLarge) => {
                    self.close = true;
                    Ok(None)
                }
                Err(crate::chunked::ChunkedError::Malformed(why)) => {
                    self.close = true;
                    Err(io::Error::new(io::ErrorKind::InvalidData, why))
                }
                Err(crate::chunked::ChunkedError::Io(error)) => Err(error),
            };
        }
        let mut body = vec![0; self.body_left as usize];
        self.stream.rfile.read_exact(&mut body)?;
        self.body_left = 0;
        Ok(Some(body))
    }

    /// Sends a complete error response with a short HTML page (Python's `send_error`), and
    /// ends the connection after it unless the request was read whole.
    pub fn send_error(&mut self, code: u16, message: &str) -> io::Result<()> {
        let body = error_page(code, message);
        self.send_response(code)?;
        self.send_header("Content-Type", "text/html; charset=utf-8")?;
        self.send_header("Content-Length", &body.len().to_string())?;
        if code >= 400 && (self.body_left > 0 || self.chunked) {
            self.send_header("Connection", "close")?;
        }
        self.end_headers()?;
        self.write_body(body.as_bytes())
    }

    /// Whether the connection ends after this response.
    pub fn closes_connection(&self) -> bool {
        self.close
    }

    /// After the handler: a response was sent, the unread body (if small) is skipped, the
    /// output flushed. Returns whether the connection may carry another request.
    pub(crate) fn finish(mut self) -> io::Result<bool> {
        if self.status.is_none() {
            self.send_error(500, "the handler sent no response")?;
        }
        if self.close {
            // The connection ends: an unread body does not matter.
        } else if self.chunked || self.expects_continue && self.body_left > 0 {
            // An unread chunked body, or one the client has not sent yet: end the connection
            // rather than guess where the next request starts.
            self.close = true;
        } else if self.body_left > 64 * 1024 {
            self.close = true;
        } else if self.body_left > 0 {
            let mut rest = (&mut self.stream.rfile).take(self.body_left);
            io::copy(&mut rest, &mut io::sink())?;
        }
        self.stream.wfile.flush()?;
        Ok(!self.close)
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
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#x27;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
