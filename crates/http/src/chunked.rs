//! Decoding a `Transfer-Encoding: chunked` request body, a piece at a time (an event loop
//! feeds what arrived, a parked connection checks what it has gathered) or from a blocking
//! reader — strictly, as request-smuggling research asks: a chunk size is `1*HEXDIG` and
//! nothing else (no sign, no leading space, no empty size), every line ends in CRLF (a bare CR
//! or LF anywhere is refused), extensions and trailer fields hold no control characters, and
//! every number is checked before it is added.

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

/// The longest chunk-size line, extensions included (llhttp allows 16 KiB of extensions; a
/// client has no reason to send more than a few bytes).
pub(crate) const MAX_SIZE_LINE: usize = 4096;

/// The most bytes of trailer fields (the part after the last chunk), in all.
pub(crate) const MAX_TRAILERS: usize = 16 * 1024;

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
/// split. Chunk extensions are checked and skipped; trailer fields are checked and skipped.
/// The decoded data is kept, or only counted ([`counting`](Self::counting)).
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    part: Part,
    /// The line being read (a size line or a trailer field), at most its bound.
    line: Vec<u8>,
    /// The decoded data, unless only counting.
    body: Option<Vec<u8>>,
    /// Data bytes decoded so far; never more than `limit`.
    decoded: u64,
    limit: u64,
    /// Trailer bytes so far.
    trailers: usize,
}

impl ChunkedDecoder {
    /// A decoder that keeps the data and refuses more than `limit` bytes of it.
    pub(crate) fn new(limit: u64) -> Self {
        ChunkedDecoder {
            part: Part::Size,
            line: Vec::new(),
            body: Some(Vec::new()),
            decoded: 0,
            limit,
            trailers: 0,
        }
    }

    /// A decoder that only checks and counts (to know where a body ends, or to skip one).
    pub(crate) fn counting(limit: u64) -> Self {
        ChunkedDecoder {
            body: None,
            ..ChunkedDecoder::new(limit)
        }
    }

    /// Decodes from `input`; returns how many bytes it took (it stops at the body's end, so
    /// the rest is the next request's). Never takes more than `input`, never decodes more
    /// than the limit.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkedError> {
        let mut at = 0;
        while at < input.len() && self.part != Part::Done {
            if let Part::Data(left) = self.part {
                let available = (input.len() - at) as u64;
                let take = left.min(available);
                // `take` ≤ what is left of `input`, so it fits a usize.
                let take_bytes = take as usize;
                if let Some(body) = &mut self.body {
                    body.extend_from_slice(&input[at..at + take_bytes]);
                }
                at += take_bytes;
                self.part = match left - take {
                    0 => Part::DataEnd,
                    left => Part::Data(left),
                };
                continue;
            }
            let rest = &input[at..];
            let bound = match self.part {
                Part::Trailers => MAX_TRAILERS.saturating_sub(self.trailers),
                _ => MAX_SIZE_LINE,
            };
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    if self.line.len() + end + 1 > bound {
                        return Err(self.too_long());
                    }
                    self.line.extend_from_slice(&rest[..=end]);
                    at += end + 1;
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line)?;
                    self.line = line;
                    self.line.clear();
                }
                None => {
                    if self.line.len() + rest.len() > bound {
                        return Err(self.too_long());
                    }
                    self.line.extend_from_slice(rest);
                    at = input.len();
                }
            }
        }
        if self.part == Part::Done {
            self.line = Vec::new();
        }
        Ok(at)
    }

    fn too_long(&self) -> ChunkedError {
        ChunkedError::Malformed(match self.part {
            Part::Trailers => "the trailer fields are too long",
            _ => "a chunk-size line is too long",
        })
    }

    /// One whole line (with its line end).
    fn line_done(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let Some(content) = line.strip_suffix(b"\r\n") else {
            return Err(ChunkedError::Malformed(
                "a line of the chunked body without CRLF",
            ));
        };
        self.part = match self.part {
            Part::Size => {
                let size = chunk_size(line)?;
                // `decoded` never exceeds `limit`, so the subtraction cannot wrap.
                if size > self.limit - self.decoded {
                    return Err(ChunkedError::TooLarge);
                }
                self.decoded += size;
                match size {
                    0 => Part::Trailers,
                    size => Part::Data(size),
                }
            }
            Part::DataEnd if content.is_empty() => Part::Size,
            Part::DataEnd => return Err(ChunkedError::Malformed("no CRLF after a chunk's data")),
            Part::Trailers => {
                self.trailers += line.len();
                match content.is_empty() {
                    true => Part::Done,
                    false => {
                        check_trailer(content)?;
                        Part::Trailers
                    }
                }
            }
            Part::Data(_) | Part::Done => unreachable!("lines are read only between chunks"),
        };
        Ok(())
    }

    /// The bytes of the line being read (a size line or a trailer field).
    pub(crate) fn line_len(&self) -> usize {
        self.line.len()
    }

    /// The data the chunk sizes so far declared (never more than the limit).
    pub(crate) fn declared(&self) -> u64 {
        self.decoded
    }

    /// Whether the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        self.part == Part::Done
    }

    /// Moves the data decoded so far into `out`, which must have room for it (feeding no more
    /// input than `out` holds makes sure); returns how many bytes.
    pub(crate) fn take_data(&mut self, out: &mut [u8]) -> usize {
        let Some(body) = &mut self.body else {
            return 0;
        };
        let n = body.len();
        out[..n].copy_from_slice(body);
        body.clear();
        n
    }

    /// A copy that only counts, from where this one is: to see whether the rest of a body
    /// has arrived without taking it.
    pub(crate) fn counting_copy(&self) -> Self {
        ChunkedDecoder {
            part: self.part,
            line: self.line.clone(),
            body: None,
            decoded: self.decoded,
            limit: self.limit,
            trailers: self.trailers,
        }
    }

    /// The decoded body (empty when only counting).
    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body.unwrap_or_default()
    }
}

/// The size on a chunk-size line (`line` ends in CRLF): `1*HEXDIG`, then optionally
/// `BWS ";" extensions`, parsed by `httparse` (fuzzed upstream) and held to the grammar where
/// it is lenient — an empty size, white space not followed by an extension, control
/// characters in an extension.
fn chunk_size(line: &[u8]) -> Result<u64, ChunkedError> {
    const BAD: ChunkedError = ChunkedError::Malformed("a malformed chunk size");
    if !line.first().is_some_and(u8::is_ascii_hexdigit) {
        return Err(BAD);
    }
    let size = match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((_, size))) => size,
        Ok(httparse::Status::Partial) | Err(_) => return Err(BAD),
    };
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let after = &line[digits..line.len() - 2];
    let extensions = after.trim_ascii_start();
    if !extensions.is_empty() && !extensions.starts_with(b";") {
        return Err(BAD);
    }
    if after.len() != extensions.len() && extensions.is_empty() {
        return Err(BAD); // white space after the size, with no extension after it
    }
    if extensions.iter().any(|&b| is_control(b)) {
        return Err(ChunkedError::Malformed(
            "a control character in a chunk extension",
        ));
    }
    Ok(size)
}

/// A trailer field: `name: value`, the name a token, the value free of control characters.
fn check_trailer(field: &[u8]) -> Result<(), ChunkedError> {
    const BAD: ChunkedError = ChunkedError::Malformed("a malformed trailer field");
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return Err(BAD);
    };
    let (name, value) = (&field[..colon], &field[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err(BAD);
    }
    if value.iter().any(|&b| is_control(b)) {
        return Err(BAD);
    }
    Ok(())
}

/// A control character other than horizontal tab (bare CR and LF included).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// A `tchar` of RFC 9110's `token`.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
mod tests;
