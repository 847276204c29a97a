//! [`reason_phrase`]: the standard reason phrase of a status code.

/// A status that refuses a request, and why (for the error page).
pub(crate) type Refusal = (u16, &'static str);

/// The reason phrase HTTP gives `code` (`"OK"` for 200, `"Created"` for 201), or `""` for a
/// code that has none.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        // The rest as the `http` crate names them (IANA's registry).
        _ => http::StatusCode::from_u16(code)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or(""),
    }
}
