//! [`HttpLimits`]: the bounds on a request.

use std::time::Duration;

/// The default bound on header fields.
pub(crate) const DEFAULT_MAX_HEADERS: usize = 100;

/// The bounds a request head must stay within, and what breaking each answers.
///
/// | limit | default | answer |
/// |---|---|---|
/// | [`max_request_line`](Self::max_request_line) | 8 KiB | 414 URI Too Long |
/// | [`max_head`](Self::max_head) | 64 KiB | 431 Request Header Fields Too Large |
/// | [`max_headers`](Self::max_headers) | 100 | 431 |
/// | [`header_timeout`](Self::header_timeout) | 10 s | 408 Request Timeout |
/// | [`max_body`](Self::max_body) | 1 MiB (nginx's `client_max_body_size`) | 413 Content Too Large |
/// | [`max_gathered_body`](Self::max_gathered_body) | 1 MiB | (none: a longer body is streamed to the handler) |
///
/// The header timeout runs from a head's first byte; a server's
/// [`StreamOptions::read_timeout`](socketserver::StreamOptions::read_timeout), when shorter,
/// bounds the head too, and goes on bounding the whole request (head and body); the body is
/// otherwise bounded by the transport's minimum rate
/// ([`StreamOptions::min_rate`](socketserver::StreamOptions::min_rate)).
///
/// # Examples
///
/// Each field has a builder method, from [`HttpLimits::new`] (the defaults):
///
/// ```
/// use std::time::Duration;
/// use socketserver_http::HttpLimits;
///
/// let limits = HttpLimits::new()
///     .with_max_body(1024)
///     .with_header_timeout(Some(Duration::from_secs(5)));
/// assert_eq!(limits.max_body, 1024);
/// assert_eq!(limits.max_headers, HttpLimits::default().max_headers);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    /// The longest request line, CRLF excluded.
    pub max_request_line: usize,
    /// The longest head (request line and header fields).
    pub max_head: usize,
    /// The most header fields.
    pub max_headers: usize,
    /// How long a request head may take to arrive, from its first byte (`None`: only the
    /// server's read timeout).
    pub header_timeout: Option<Duration>,
    /// The longest request body, `Content-Length` or chunked, that
    /// [`Exchange::read_body`](crate::Exchange::read_body) and
    /// [`Exchange::body_reader`](crate::Exchange::body_reader) give; a `Content-Length` over it
    /// is answered 413 before the handler runs, a chunked body that grows past it as soon as
    /// it does.
    pub max_body: u64,
    /// The longest body [`HttpService`](crate::HttpService) gathers before the handler runs
    /// (parked, so a slow upload holds no worker); a body that may be longer — a
    /// `Content-Length` over it, or any chunked body when this is under `max_body` — is read by
    /// the handler as it arrives ([`Exchange::body_reader`](crate::Exchange::body_reader)),
    /// a buffer at a time, on the handler's thread. [`HttpProtocol`](crate::HttpProtocol)
    /// always gathers (its handler must not wait), up to `max_body`.
    pub max_gathered_body: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request_line: 8 * 1024,
            max_head: 64 * 1024,
            max_headers: DEFAULT_MAX_HEADERS,
            header_timeout: Some(Duration::from_secs(10)),
            max_body: 1024 * 1024,
            max_gathered_body: 1024 * 1024,
        }
    }
}

impl HttpLimits {
    /// The default limits (as [`Default`]), to change with the `with_` methods.
    pub fn new() -> Self {
        HttpLimits::default()
    }

    /// Sets [`max_request_line`](Self::max_request_line).
    pub fn with_max_request_line(mut self, bytes: usize) -> Self {
        self.max_request_line = bytes;
        self
    }

    /// Sets [`max_head`](Self::max_head).
    pub fn with_max_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes;
        self
    }

    /// Sets [`max_headers`](Self::max_headers).
    pub fn with_max_headers(mut self, fields: usize) -> Self {
        self.max_headers = fields;
        self
    }

    /// Sets [`header_timeout`](Self::header_timeout).
    pub fn with_header_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets [`max_body`](Self::max_body).
    pub fn with_max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sets [`max_gathered_body`](Self::max_gathered_body).
    pub fn with_max_gathered_body(mut self, bytes: u64) -> Self {
        self.max_gathered_body = bytes;
        self
    }
}

impl HttpLimits {
    /// The read timeout while a head arrives, given the server's read timeout: the tighter.
    pub(crate) fn head_timeout(&self, server: Option<Duration>) -> Option<Duration> {
        [self.header_timeout, server].into_iter().flatten().min()
    }
}
