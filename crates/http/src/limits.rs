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
///
/// The header timeout runs from a head's first byte; a server's
/// [`StreamOptions::read_timeout`](socketserver::StreamOptions::read_timeout), when shorter,
/// bounds the head too, and goes on bounding the whole request (head and body); the body is
/// otherwise bounded by the transport's minimum rate
/// ([`StreamOptions::min_rate`](socketserver::StreamOptions::min_rate)).
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
    /// The longest request body [`Exchange::read_body`](crate::Exchange::read_body) takes; a
    /// `Content-Length` over it is answered 413 before the handler runs.
    pub max_body: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request_line: 8 * 1024,
            max_head: 64 * 1024,
            max_headers: DEFAULT_MAX_HEADERS,
            header_timeout: Some(Duration::from_secs(10)),
            max_body: 1024 * 1024,
        }
    }
}

impl HttpLimits {
    /// The read timeout while a head arrives, given the server's read timeout: the tighter.
    pub(crate) fn head_timeout(&self, server: Option<Duration>) -> Option<Duration> {
        [self.header_timeout, server].into_iter().flatten().min()
    }
}
