//! Reading a `Transfer-Encoding: chunked` request body.

use std::io::{self, BufRead, Read};

/// Why a chunked body could not be read.
#[derive(Debug)]
pub(crate) enum ChunkedError {
    /// Longer than the limit.
    TooLarge,
    /// Not valid chunked encoding.
    Malformed(&'static str),
    /// The connection failed.
    Io(io::Error),
}

/// Reads a whole chunked body (chunk extensions and trailer fields are skipped), at most
/// `limit` bytes of data.
pub(crate) fn read_chunked(reader: &mut impl BufRead, limit: u64) -> Result<Vec<u8>, ChunkedError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| ChunkedError::Malformed("bad chunk size"))?;
        if size == 0 {
            // Trailer fields, then the empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() as u64 + size > limit {
            return Err(ChunkedError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(ChunkedError::Io)?;
        if !read_line(reader)?.is_empty() {
            return Err(ChunkedError::Malformed("no CRLF after a chunk"));
        }
    }
}

/// One CRLF-terminated line (at most 4 KiB), without its CRLF.
fn read_line(reader: &mut impl BufRead) -> Result<String, ChunkedError> {
    let mut line = Vec::new();
    let mut limited = reader.take(4096);
    limited
        .read_until(b'\n', &mut line)
        .map_err(ChunkedError::Io)?;
    if !line.ends_with(b"\r\n") {
        return Err(ChunkedError::Malformed("a chunk line without CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| ChunkedError::Malformed("a chunk line is not text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_extensions_and_trailers() {
        let mut input = &b"4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\nnext"[..];
        assert_eq!(read_chunked(&mut input, 100).unwrap(), b"Wikipedia");
        assert_eq!(input, b"next");
    }

    #[test]
    fn limits_and_malformed_bodies() {
        assert!(matches!(
            read_chunked(&mut &b"10\r\n0123456789abcdef\r\n0\r\n\r\n"[..], 8),
            Err(ChunkedError::TooLarge)
        ));
        assert!(matches!(
            read_chunked(&mut &b"zz\r\n"[..], 8),
            Err(ChunkedError::Malformed(_))
        ));
        assert!(matches!(
            read_chunked(&mut &b"2\r\nabX\r\n0\r\n\r\n"[..], 8),
            Err(ChunkedError::Malformed(_))
        ));
    }
}
