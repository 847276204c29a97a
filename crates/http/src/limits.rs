//! [`HttpLimits`]: the bounds on a request.

/// The bounds a request head must stay within, and what breaking each answers.
///
/// | limit | default | answer |
/// |---|---|---|
/// | [`max_request_line`](Self::max_request_line) | 8 KiB | 414 URI Too Long |
/// | [`max_head`](Self::max_head) | 64 KiB | 431 Request Header Fields Too Large |
/// | [`max_headers`](Self::max_headers) | 100 | 431 |
/// | [`max_body`](Self::max_body) | 1 MiB (nginx's `client_max_body_size`) | 413 Content Too Large |
///
/// How long a head may take to arrive is the transport's
/// [`StreamOptions::read_timeout`](socketserver::StreamOptions::read_timeout) (a head is read
/// inside a busy span); when it passes the client gets 408.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    /// The longest request line, CRLF excluded.
    pub max_request_line: usize,
    /// The longest head (request line and header fields).
    pub max_head: usize,
    /// The most header fields.
    pub max_headers: usize,
    /// The longest request body [`Exchange::read_body`](crate::Exchange::read_body) takes; a
    /// `Content-Length` over it is answered 413 before the handler runs.
    pub max_body: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request_line: 8 * 1024,
            max_head: 64 * 1024,
            max_headers: 100,
            max_body: 1024 * 1024,
        }
    }
}
