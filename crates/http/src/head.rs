//! Reading a request head from `rfile` under the limits.

use std::io::{self, BufRead};

use crate::limits::{HttpLimits, DEFAULT_MAX_HEADERS};
use crate::request::{HttpRequest, Version};
use crate::status::Refusal;

/// Why a head could not be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// Answer with this status, then close.
    Status(Refusal),
    /// The connection failed (or timed out) while the head arrived.
    Io(io::Error),
}

/// Reads one request head; `Ok(None)` when the connection ended before a byte of it. Only the
/// head is consumed: a body stays in `rfile`.
pub(crate) fn read_head(
    rfile: &mut impl BufRead,
    limits: &HttpLimits,
) -> Result<Option<HttpRequest>, HeadError> {
    let mut head: Vec<u8> = Vec::new();
    loop {
        let chunk = rfile.fill_buf().map_err(HeadError::Io)?;
        if chunk.is_empty() {
            return match head.is_empty() {
                true => Ok(None),
                false => Err(HeadError::Status((
                    400,
                    "the connection ended inside the request head",
                ))),
            };
        }
        if head.is_empty() {
            // Usually the whole head is in the buffer: parse it there, without a copy.
            if let Some(end) = head_end(chunk, 0) {
                let request = check_bounds(&chunk[..end], limits)
                    .and_then(|()| parse(&chunk[..end], limits))
                    .map_err(HeadError::Status);
                rfile.consume(end);
                return request.map(Some);
            }
        }
        let old = head.len();
        head.extend_from_slice(chunk);
        let end = head_end(&head, old);
        let taken = match end {
            Some(end) => end - old,
            None => head.len() - old,
        };
        rfile.consume(taken);
        if let Some(end) = end {
            head.truncate(end);
        }
        check_bounds(&head, limits).map_err(HeadError::Status)?;
        if end.is_some() {
            return parse(&head, limits).map(Some).map_err(HeadError::Status);
        }
    }
}

/// Where the head that starts `buffer` ends (after its empty line), if it has arrived;
/// `scanned` bytes were looked at before and had no end in them.
pub(crate) fn head_end(buffer: &[u8], scanned: usize) -> Option<usize> {
    let from = scanned.saturating_sub(3);
    buffer[from..]
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| from + at + 4)
}

/// The bounds on a head so far (`head`: what has arrived of it, at most up to its end).
pub(crate) fn check_bounds(head: &[u8], limits: &HttpLimits) -> Result<(), Refusal> {
    // The request line's bound applies while it is still being read; a line end past the
    // bound need not be looked for.
    let line_window = &head[..head.len().min(limits.max_request_line.saturating_add(2))];
    let line_end = line_window.windows(2).position(|pair| pair == b"\r\n");
    // Until its end arrives, the line is what has arrived — but a CR at the end may be the
    // start of that end (the fuzzer found a line of exactly the limit refused when its CR and
    // LF came in different reads).
    let arrived = head.len() - usize::from(head.ends_with(b"\r"));
    if line_end.unwrap_or(arrived) > limits.max_request_line {
        return Err((414, "the request line is too long"));
    }
    if head.len() > limits.max_head {
        return Err((431, "the request head is too large"));
    }
    Ok(())
}

/// Parses a complete head (up to and with its empty line).
pub(crate) fn parse(head: &[u8], limits: &HttpLimits) -> Result<HttpRequest, Refusal> {
    // Every line ends in CRLF: a bare LF or CR is how a head can end in one place for us and in
    // another for a proxy in front (httparse accepts a bare LF as a line end).
    if has_bare_line_end(head) {
        return Err((400, "a line of the request head does not end in CRLF"));
    }
    // The default bound fits on the stack: no allocation per request.
    let mut on_stack = [httparse::EMPTY_HEADER; DEFAULT_MAX_HEADERS];
    let mut on_heap = Vec::new();
    let fields = match limits.max_headers <= DEFAULT_MAX_HEADERS {
        true => &mut on_stack[..limits.max_headers],
        false => {
            on_heap.resize(limits.max_headers, httparse::EMPTY_HEADER);
            &mut on_heap[..]
        }
    };
    let mut request = httparse::Request::new(fields);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err((400, "the request head is incomplete")),
        Err(httparse::Error::TooManyHeaders) => return Err((431, "too many header fields")),
        Err(httparse::Error::Version) => {
            // A version we do not serve is 505; a request line without one is malformed.
            let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
            let line = String::from_utf8_lossy(line);
            let parts: Vec<&str> = line.trim_end().split(' ').collect();
            let names_a_version = parts.len() == 3 && parts[2].starts_with("HTTP/");
            return Err(match names_a_version {
                true => (505, "only HTTP/1.0 and HTTP/1.1 are served"),
                false => (400, "the request line has no HTTP version"),
            });
        }
        Err(_) => return Err((400, "the request head is malformed")),
    }
    let version = match request.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err((505, "only HTTP/1.0 and HTTP/1.1 are served")),
    };
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err((400, "the request line is malformed"));
    };
    Ok(HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        version,
        headers: request
            .headers
            .iter()
            .map(|field| (field.name.to_owned(), field.value.to_vec()))
            .collect(),
    })
}

/// Whether `head` has an LF not preceded by CR, or a CR not followed by LF. As many CRs as LFs
/// means none is bare but for a bare CR paired with a bare LF elsewhere, and httparse refuses
/// every CR that no LF follows; counting is cheaper than looking at each pair.
fn has_bare_line_end(head: &[u8]) -> bool {
    // CRs less LFs in one pass, with no branch and no checked arithmetic (a head is at most
    // `max_head` bytes: the difference is 0 only when the counts are equal).
    let difference = head.iter().fold(0u32, |difference, &b| {
        difference
            .wrapping_add(u32::from(b == b'\r'))
            .wrapping_sub(u32::from(b == b'\n'))
    });
    difference != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Option<HttpRequest>, HeadError> {
        let mut reader = io::BufReader::with_capacity(7, bytes); // heads span many reads
        read_head(&mut reader, &HttpLimits::default())
    }

    fn status(result: Result<Option<HttpRequest>, HeadError>) -> u16 {
        match result {
            Err(HeadError::Status((code, _))) => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_head_is_read_and_the_body_left() {
        let mut reader = io::BufReader::with_capacity(
            5,
            &b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"[..],
        );
        let request = read_head(&mut reader, &HttpLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            (request.method.as_str(), request.target.as_str()),
            ("POST", "/x")
        );
        assert_eq!(request.header("content-length"), Some("4"));
        let mut body = String::new();
        io::Read::read_to_string(&mut reader, &mut body).unwrap();
        assert_eq!(body, "body");
    }

    #[test]
    fn limits_and_malformed_heads_have_their_status() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
        assert_eq!(status(read(long.as_bytes())), 414);
        let many: String = (0..101).map(|n| format!("X-{n}: v\r\n")).collect();
        assert_eq!(
            status(read(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes())),
            431
        );
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(70_000));
        assert_eq!(status(read(big.as_bytes())), 431);
        assert_eq!(status(read(b"GET / HTTP/2.0\r\n\r\n")), 505);
        // A line of exactly the limit is not too long, however its CRLF arrives.
        let limits = HttpLimits {
            max_request_line: 16,
            ..HttpLimits::default()
        };
        for capacity in 1..24 {
            let mut reader =
                io::BufReader::with_capacity(capacity, &b"GET /0123456 A/1\r\n\r\n"[..]);
            assert!(
                matches!(
                    read_head(&mut reader, &limits),
                    Err(HeadError::Status((400, _)))
                ),
                "{capacity}"
            );
        }
        assert_eq!(status(read(b"GET /\r\n\r\n")), 400);
        assert_eq!(status(read(b"GE T / HTTP/1.1\r\n\r\n")), 400);
        assert_eq!(status(read(b"GET / HTTP/1.1\r\nHost")), 400);
        // Lines end in CRLF only; no folded (obsolete multi-line) fields.
        assert_eq!(status(read(b"GET / HTTP/1.1\nHost: x\r\n\r\n")), 400);
        assert_eq!(
            status(read(b"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n")),
            400
        );
        // A bare CR and a bare LF (as many of each): httparse refuses the CR.
        assert_eq!(
            status(read(b"GET / HTTP/1.1\r\nX: a\rb\nY: c\r\n\r\n")),
            400
        );
        assert_eq!(status(read(b"GET / HTTP/1.1\nX: a\rb\r\n\r\n")), 400);
        assert_eq!(status(read(b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n")), 400);
        assert_eq!(status(read(b"GET / HTTP/1.1\r\nX : a\r\n\r\n")), 400);
        assert!(matches!(read(b""), Ok(None)));
    }
}
