//! [`Framing`]: how a request's body is delimited, and the framings that are refused.

use crate::limits::HttpLimits;
use crate::request::{HttpRequest, Version};
use crate::status::Refusal;

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The request's framing, or the status that refuses it (then the connection closes: where
/// the next request would start is unknown).
pub(crate) fn framing(request: &HttpRequest, limits: &HttpLimits) -> Result<Framing, Refusal> {
    let mut lengths = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
        .map(|(_, value)| {
            std::str::from_utf8(value)
                .ok()
                .map(str::trim)
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse::<u64>().ok())
        });
    let length = match lengths.next() {
        None => None,
        Some(None) => return Err((400, "Content-Length is not a number")),
        Some(Some(first)) => {
            if lengths.any(|other| other != Some(first)) {
                // Two lengths that disagree: the way request smuggling starts.
                return Err((400, "Content-Length fields disagree"));
            }
            Some(first)
        }
    };
    // Every Transfer-Encoding field, as one list (a second field must not hide from us what a
    // proxy in front reads).
    let mut codings = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Transfer-Encoding"))
        .peekable();
    if codings.peek().is_some() {
        if length.is_some() {
            return Err((400, "both Transfer-Encoding and Content-Length"));
        }
        if request.version == Version::Http10 {
            // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            return Err((400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        let mut list = Vec::new();
        for (_, value) in codings {
            let Ok(value) = std::str::from_utf8(value) else {
                return Err((400, "Transfer-Encoding is not text"));
            };
            list.extend(value.split(',').map(str::trim));
        }
        let chunked = |coding: &str| coding.eq_ignore_ascii_case("chunked");
        return match list.iter().filter(|coding| chunked(coding)).count() {
            1 if list.len() == 1 => Ok(Framing::Chunked),
            // A coding we do not know (RFC 9112 6.1), with no chunked to frame it: the
            // connection closes after the 501.
            0 => Err((501, "only the chunked transfer coding is served")),
            // RFC 9112 6.3: chunked must be the final coding, and only once, else the length
            // cannot be known.
            1 if list.last().is_some_and(|coding| chunked(coding)) => {
                Err((501, "only the chunked transfer coding is served"))
            }
            _ => Err((400, "chunked is not the one final transfer coding")),
        };
    }
    match length {
        Some(length) if length > limits.max_body => {
            Err((413, "the request body is larger than the server takes"))
        }
        Some(0) | None => Ok(Framing::Empty),
        Some(length) => Ok(Framing::Length(length)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            version: Version::Http11,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn framings_and_refusals() {
        let limits = HttpLimits::default();
        let framing_of = |headers: &[(&str, &str)]| framing(&request(headers), &limits);
        assert_eq!(framing_of(&[]), Ok(Framing::Empty));
        assert_eq!(
            framing_of(&[("Content-Length", " 12 ")]),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            framing_of(&[("content-length", "3"), ("Content-Length", "3")]),
            Ok(Framing::Length(3))
        );
        assert_eq!(
            framing_of(&[("Transfer-Encoding", "chunked")]),
            Ok(Framing::Chunked)
        );
        let status = |headers: &[(&str, &str)]| framing_of(headers).unwrap_err().0;
        assert_eq!(status(&[("Content-Length", "-1")]), 400);
        assert_eq!(status(&[("Content-Length", "+5")]), 400);
        assert_eq!(
            status(&[("Content-Length", "3"), ("Content-Length", "4")]),
            400
        );
        assert_eq!(
            status(&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]),
            400
        );
        assert_eq!(status(&[("Transfer-Encoding", "gzip")]), 501);
        assert_eq!(status(&[("Transfer-Encoding", "gzip, chunked")]), 501);
        assert_eq!(status(&[("Transfer-Encoding", "chunked, chunked")]), 400);
        assert_eq!(status(&[("Transfer-Encoding", "chunked, gzip")]), 400);
        assert_eq!(status(&[("Transfer-Encoding", "chunked ,")]), 400);
        assert_eq!(
            status(&[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "identity")
            ]),
            400
        );
        assert_eq!(
            framing_of(&[("transfer-encoding", "Chunked")]),
            Ok(Framing::Chunked)
        );
        let mut old = request(&[("Transfer-Encoding", "chunked")]);
        old.version = Version::Http10;
        assert_eq!(framing(&old, &limits).unwrap_err().0, 400);
        let over = (limits.max_body + 1).to_string();
        assert_eq!(status(&[("Content-Length", &over)]), 413);
    }
}
