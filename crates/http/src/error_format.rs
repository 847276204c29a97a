//! [`ErrorFormat`]: what the body of an error response is — Python's `error_message_format`
//! and `error_content_type`, for [`Exchange::send_error`](crate::Exchange::send_error) and for
//! the answers the server gives without the handler (400, 408, 413, 414, 431…).

use std::fmt;
use std::io::Write;

use crate::status::reason_phrase;

/// The body of error responses, and its type: an HTML page (Python's default), JSON for an
/// API, plain text, or a function of the status and message. Set for a server with
/// [`HttpService::with_error_format`](crate::HttpService::with_error_format) (or
/// [`HttpProtocol::with_error_format`](crate::HttpProtocol::with_error_format)): it then
/// covers the refusals the server answers before the handler runs (a body over
/// [`max_body`](crate::HttpLimits::max_body) gets a JSON 413, say); for one response with
/// [`Exchange::set_error_format`](crate::Exchange::set_error_format).
///
/// | format | `Content-Type` | body for `send_error(404, "no such key")` |
/// |---|---|---|
/// | [`Html`](Self::Html) (default) | `text/html; charset=utf-8` | a short page, the message escaped |
/// | [`Json`](Self::Json) | `application/json` | `{"error":"no such key","status":404}` |
/// | [`Text`](Self::Text) | `text/plain; charset=utf-8` | `404 Not Found: no such key` and a newline |
/// | [`Custom`](Self::Custom) | the function's | the function's |
///
/// # Examples
///
/// ```
/// use socketserver_http::ErrorFormat;
///
/// let (content_type, body) = ErrorFormat::Json.render(404, "no \"such\" key");
/// assert_eq!(content_type, "application/json");
/// assert_eq!(body, br#"{"error":"no \"such\" key","status":404}"#);
///
/// fn problem(code: u16, message: &str) -> (&'static str, Vec<u8>) {
///     ("application/problem+json", format!(r#"{{"status":{code},"detail":{message:?}}}"#).into_bytes())
/// }
/// let (content_type, _) = ErrorFormat::Custom(problem).render(500, "oops");
/// assert_eq!(content_type, "application/problem+json");
/// ```
#[doc(alias = "error_message_format")]
#[doc(alias = "error_content_type")]
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub enum ErrorFormat {
    /// A short HTML page (Python's `DEFAULT_ERROR_MESSAGE`).
    #[default]
    Html,
    /// `{"error":MESSAGE,"status":CODE}`, the message escaped as a JSON string.
    Json,
    /// One line of text: `CODE REASON: MESSAGE`.
    Text,
    /// The content type and body a function makes of the status and the message (the
    /// message is the server's or the handler's text: escape it for the format).
    Custom(fn(u16, &str) -> (&'static str, Vec<u8>)),
}

impl ErrorFormat {
    /// The content type and body of an error response with status `code` and `message`.
    pub fn render(&self, code: u16, message: &str) -> (&'static str, Vec<u8>) {
        match self {
            ErrorFormat::Html => (
                "text/html; charset=utf-8",
                error_page(code, message).into_bytes(),
            ),
            ErrorFormat::Json => {
                let mut body = b"{\"error\":".to_vec();
                push_json_string(&mut body, message);
                // Writing to a Vec cannot fail.
                let _ = write!(body, ",\"status\":{code}}}");
                ("application/json", body)
            }
            ErrorFormat::Text => (
                "text/plain; charset=utf-8",
                format!("{code} {}: {message}\n", reason_phrase(code)).into_bytes(),
            ),
            ErrorFormat::Custom(make) => make(code, message),
        }
    }
}

impl fmt::Debug for ErrorFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorFormat::Html => "Html",
            ErrorFormat::Json => "Json",
            ErrorFormat::Text => "Text",
            ErrorFormat::Custom(_) => "Custom(..)",
        })
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

/// Appends `text` as a JSON string (RFC 8259): quotes, backslashes and control characters
/// escaped, the rest as UTF-8.
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                // Writing to a Vec cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        push_json_string(&mut out, "a\"b\\c\n\u{1}é\u{2028}");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001é\u{2028}\"".as_bytes());
    }

    #[test]
    fn every_format_has_its_type() {
        assert!(ErrorFormat::Html
            .render(404, "<x>")
            .1
            .starts_with(b"<!DOCTYPE html>"));
        assert_eq!(
            ErrorFormat::Text.render(413, "too big"),
            (
                "text/plain; charset=utf-8",
                b"413 Content Too Large: too big\n".to_vec()
            )
        );
        assert_eq!(
            ErrorFormat::Json.render(405, "no").1,
            br#"{"error":"no","status":405}"#
        );
    }
}
