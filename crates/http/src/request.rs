//! [`HttpRequest`]: a parsed request head.

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless the client asks otherwise.
    Http10,
    /// HTTP/1.1: persistent unless `Connection: close`.
    Http11,
}

/// A request head: Python's `command`, `path`, `request_version` and `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method (`GET`), as sent.
    #[doc(alias = "command")]
    pub method: String,
    /// The request target (`/index.html?q=1`), as sent.
    #[doc(alias = "path")]
    pub target: String,
    /// The version.
    #[doc(alias = "request_version")]
    pub version: Version,
    /// The header fields in order; names as sent, values as bytes.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl HttpRequest {
    /// The first value of header `name` (case-insensitive), as text if it is.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// Whether the connection stays open after the response (the version's default, changed by
    /// `Connection: close` or `keep-alive`).
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("Connection");
        let has = |token: &str| {
            connection.is_some_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        };
        match self.version {
            Version::Http11 => !has("close"),
            Version::Http10 => has("keep-alive"),
        }
    }
}

/// Whether the client waits for `100 Continue` before it sends the body.
pub(crate) fn expects_continue(request: &HttpRequest) -> bool {
    request.version == Version::Http11
        && request
            .header("Expect")
            .is_some_and(|expect| expect.trim().eq_ignore_ascii_case("100-continue"))
}
