//! Decoding a `Transfer-Encoding: chunked` request body, a piece at a time (an event loop
//! feeds what arrived) or from a blocking reader.

use std::io::{self, BufRead};

/// Why a chunked body could not be read.
#[derive(Debug)]
pub(crate) enum ChunkedError {
    /// Longer than the limit.
    TooLarge,
    /// Not valid chunked encoding.
    Malformed(&'static str),
    /// The connection failed (or ended inside the body).
    Io(io::Error),
}

/// The longest chunk-size or trailer line.
const MAX_LINE: usize = 4096;

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The chunk-size line (with extensions).
    Size,
    /// This many data bytes of the current chunk are still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer fields, up to the empty line.
    Trailers,
    /// The body is complete.
    Done,
}

/// Decodes a chunked body incrementally: each byte is looked at once, however the body is
/// split (chunk extensions and trailer fields are skipped).
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    part: Part,
    line: Vec<u8>,
    body: Vec<u8>,
    limit: u64,
}

impl ChunkedDecoder {
    /// A decoder that refuses more than `limit` bytes of data.
    pub(crate) fn new(limit: u64) -> Self {
        ChunkedDecoder {
            part: Part::Size,
            line: Vec::new(),
            body: Vec::new(),
            limit,
        }
    }

    /// Decodes from `input`; returns how many bytes it took (it stops at the body's end, so
    /// the rest is the next request's).
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkedError> {
        let mut at = 0;
        while at < input.len() && self.part != Part::Done {
            if let Part::Data(left) = self.part {
                let take = (input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                self.body.extend_from_slice(&input[at..at + take]);
                at += take;
                let left = left - take as u64;
                self.part = if left == 0 {
                    Part::DataEnd
                } else {
                    Part::Data(left)
                };
                continue;
            }
            let rest = &input[at..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.line.extend_from_slice(&rest[..=end]);
                    at += end + 1;
                    if self.line.len() > MAX_LINE {
                        return Err(ChunkedError::Malformed("a chunk line is too long"));
                    }
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line)?;
                }
                None => {
                    self.line.extend_from_slice(rest);
                    at = input.len();
                    if self.line.len() > MAX_LINE {
                        return Err(ChunkedError::Malformed("a chunk line is too long"));
                    }
                }
            }
        }
        Ok(at)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let Some(line) = line.strip_suffix(b"\r\n") else {
            return Err(ChunkedError::Malformed("a chunk line without CRLF"));
        };
        self.part = match self.part {
            Part::Size => {
                let text = std::str::from_utf8(line)
                    .map_err(|_| ChunkedError::Malformed("a chunk line is not text"))?;
                let size_text = text.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size_text, 16)
                    .map_err(|_| ChunkedError::Malformed("bad chunk size"))?;
                if size == 0 {
                    Part::Trailers
                } else if self.body.len() as u64 + size > self.limit {
                    return Err(ChunkedError::TooLarge);
                } else {
                    Part::Data(size)
                }
            }
            Part::DataEnd if line.is_empty() => Part::Size,
            Part::DataEnd => return Err(ChunkedError::Malformed("no CRLF after a chunk")),
            Part::Trailers if line.is_empty() => Part::Done,
            other => other,
        };
        Ok(())
    }

    /// Whether the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        self.part == Part::Done
    }

    /// The decoded body.
    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// Reads a whole chunked body from a blocking reader, at most `limit` bytes of data.
pub(crate) fn read_chunked(
    reader: &mut (impl BufRead + ?Sized),
    limit: u64,
) -> Result<Vec<u8>, ChunkedError> {
    let mut decoder = ChunkedDecoder::new(limit);
    while !decoder.is_done() {
        let input = reader.fill_buf().map_err(ChunkedError::Io)?;
        if input.is_empty() {
            return Err(ChunkedError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let taken = decoder.feed(input)?;
        reader.consume(taken);
    }
    Ok(decoder.into_body())
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
    fn any_split_decodes_the_same() {
        let encoded = b"4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\nGET";
        let body_end = encoded.len() - 3; // "GET" starts the next request
        for split in 0..=body_end {
            let mut decoder = ChunkedDecoder::new(100);
            let first = decoder.feed(&encoded[..split]).unwrap();
            assert_eq!(first, split, "the first part is all body");
            let second = decoder.feed(&encoded[split..]).unwrap();
            assert!(decoder.is_done());
            assert_eq!(first + second, body_end, "stops before the next request");
            assert_eq!(decoder.into_body(), b"Wikipedia");
        }
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
        let long = format!("1{}\r\n", " ".repeat(MAX_LINE));
        assert!(matches!(
            ChunkedDecoder::new(8).feed(long.as_bytes()),
            Err(ChunkedError::Malformed(_))
        ));
        assert!(matches!(
            read_chunked(&mut &b"2\r\nab"[..], 8),
            Err(ChunkedError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof
        ));
    }
}
