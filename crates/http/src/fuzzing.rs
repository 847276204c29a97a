//! The invariants the fuzz targets in `fuzz/` check, one function per parser: each takes the
//! fuzzer's bytes and panics if the parser breaks a promise. The same functions replay the
//! kept corpus and every crash found so far in this crate's tests, so a stable `cargo test`
//! checks them without a fuzzer. Not part of the API.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use socketserver::{Framed, MessageFraming};

use crate::byte_ranges::{parse_ranges, ByteRanges, MAX_RANGES};
use crate::chunked::{ChunkedDecoder, ChunkedError, MAX_SIZE_LINE, MAX_TRAILERS};
use crate::head::{head_end, read_head, HeadError};
use crate::limits::HttpLimits;
use crate::request_framing::HeadFraming;
use crate::static_files::{percent_decode, percent_encode, SimpleHttpRequestHandler};

/// Limits small enough for a fuzzer to reach, chosen by `seed`.
fn small_limits(seed: u8) -> HttpLimits {
    HttpLimits {
        max_request_line: 16 + usize::from(seed % 64),
        max_head: 64 + 8 * usize::from(seed / 4),
        max_headers: 1 + usize::from(seed % 12),
        ..HttpLimits::default()
    }
}

/// A request head, read from a buffered reader of a capacity the input chooses: the same
/// answer whatever the reads' sizes; never past the head's end (the body stays unread); a
/// head taken is within every limit; the parked connection's framing agrees that a head (or
/// a refusal) is there.
pub fn head(data: &[u8]) {
    let [seed, capacity, input @ ..] = data else {
        return;
    };
    let limits = small_limits(*seed);
    let read = |capacity: usize| {
        let mut reader = BufReader::with_capacity(capacity.max(1), input);
        let result = match read_head(&mut reader, &limits) {
            Ok(request) => Ok(request),
            Err(HeadError::Status((code, _))) => Err(code),
            Err(HeadError::Io(error)) => panic!("reading from memory failed: {error}"),
        };
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        (result, input.len() - rest.len())
    };
    let (first, consumed) = read(usize::from(*capacity));
    let (second, consumed_whole) = read(input.len() + 1);
    assert_eq!(
        first, second,
        "the head's reading depends on how it arrives"
    );
    if let Ok(Some(request)) = &first {
        let end = head_end(input, 0).expect("a head was taken, so it ended");
        assert_eq!(consumed, end, "exactly the head is consumed");
        assert_eq!(consumed_whole, end);
        assert!(end <= limits.max_head, "a head over max_head was taken");
        assert!(request.headers.len() <= limits.max_headers);
        let line = input.split(|&b| b == b'\n').next().unwrap_or_default();
        assert!(
            line.len() <= limits.max_request_line + 1,
            "a request line over its limit"
        );
        assert!(!request.method.is_empty() && !request.target.is_empty());
    }
    if first.is_ok() || matches!(first, Err(414 | 431)) {
        // What the parker would have waited for: a head, or a head that broke a bound.
        let mut framing = HeadFraming::new(limits);
        if !input.is_empty() && first != Ok(None) {
            assert_eq!(framing.frame(input), Framed::Complete);
        }
    }
}

/// A chunked body, decoded whole and in pieces of a size the input chooses, and only counted:
/// the same outcome each way; never more taken than given; never more data than the limit,
/// nor than the chunk sizes declared; the line and trailer bounds hold.
pub fn chunked(data: &[u8]) {
    let [limit, piece, input @ ..] = data else {
        return;
    };
    let limit = u64::from(*limit) * 37;
    let piece = usize::from(*piece).max(1);
    let whole = decode(input, limit, input.len().max(1), true);
    let pieces = decode(input, limit, piece, true);
    let counted = decode(input, limit, piece, false);
    assert_eq!(
        whole.0, pieces.0,
        "decoding depends on how the body arrives"
    );
    assert_eq!(whole.1, pieces.1);
    assert_eq!(whole.0, counted.0, "counting and decoding disagree");
    if let Ok((taken, done)) = whole.0 {
        assert!(taken <= input.len());
        assert!(whole.1.len() as u64 <= limit, "more data than the limit");
        if done {
            assert_eq!(counted.1.len(), 0, "counting keeps nothing");
        }
    }
}

/// Decodes `input` in pieces of `piece` bytes; the outcome (taken, done, or the error's
/// kind) and the data.
#[allow(clippy::type_complexity)]
fn decode(
    input: &[u8],
    limit: u64,
    piece: usize,
    keep: bool,
) -> (Result<(usize, bool), &'static str>, Vec<u8>) {
    let mut decoder = match keep {
        true => ChunkedDecoder::new(limit),
        false => ChunkedDecoder::counting(limit),
    };
    let mut taken = 0;
    for chunk in input.chunks(piece) {
        match decoder.feed(chunk) {
            Ok(n) => {
                assert!(n <= chunk.len(), "took more than it was given");
                taken += n;
                if n < chunk.len() {
                    assert!(decoder.is_done(), "stopped early without being done");
                    break;
                }
            }
            Err(ChunkedError::TooLarge) => return (Err("too large"), Vec::new()),
            Err(ChunkedError::Malformed(_)) => return (Err("malformed"), Vec::new()),
            Err(ChunkedError::Io(error)) => panic!("decoding reads nothing: {error}"),
        }
        assert!(decoder.line_len() <= MAX_SIZE_LINE.max(MAX_TRAILERS));
        if decoder.is_done() {
            break;
        }
    }
    let done = decoder.is_done();
    let declared = decoder.declared();
    let body = decoder.into_body();
    assert!(declared <= limit, "declared more than the limit");
    if keep {
        assert!(
            body.len() as u64 <= declared,
            "more data than the chunk sizes declared"
        );
        if done {
            assert_eq!(
                body.len() as u64,
                declared,
                "a finished body is what was declared"
            );
        }
    }
    (Ok((taken, done)), body)
}

/// A `Range` header against a file whose length the input chooses: every part inside the
/// file, none empty, at most `MAX_RANGES` (16), none overlapping another.
pub fn ranges(data: &[u8]) {
    let Some((length, header)) = data.split_first_chunk::<8>() else {
        return;
    };
    let length = u64::from_le_bytes(*length) >> (length[7] % 64);
    let header = String::from_utf8_lossy(header);
    match parse_ranges(&header, length) {
        ByteRanges::Whole | ByteRanges::Unsatisfiable => {}
        ByteRanges::Parts(parts) => {
            assert!(!parts.is_empty() && parts.len() <= MAX_RANGES);
            for &(start, end) in &parts {
                assert!(start < end && end <= length, "{start}..{end} of {length}");
            }
            let mut sorted = parts.clone();
            sorted.sort_unstable();
            assert!(
                sorted.windows(2).all(|pair| pair[0].1 <= pair[1].0),
                "overlap"
            );
        }
    }
}

/// A request target resolved in a served tree that holds a link out of it, a link within it, a
/// name that is not UTF-8 and a directory: a path resolved is always inside the tree; and
/// percent-encoding any name and decoding it gives the name back.
pub fn paths(data: &[u8]) {
    let encoded = percent_encode(data);
    assert_eq!(percent_decode(&encoded).as_deref(), Some(data));
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let (handler, root) = tree();
    if let Some((path, _shown)) = handler.resolve(target) {
        let real = std::fs::canonicalize(&path).expect("a resolved path exists");
        assert!(
            real.starts_with(root),
            "{target:?} resolved outside the tree: {path:?}"
        );
    }
}

/// Where [`tree`] is made for this process.
fn tree_base() -> PathBuf {
    std::env::temp_dir().join(format!("socketserver-fuzz-{}", std::process::id()))
}

/// The served tree (made once per process): `root/{a.txt, sub/b.txt, caf\xe9, in -> a.txt,
/// out -> ../secret}` beside `secret`.
fn tree() -> (&'static SimpleHttpRequestHandler, &'static Path) {
    static TREE: OnceLock<(SimpleHttpRequestHandler, PathBuf)> = OnceLock::new();
    let (handler, root) = TREE.get_or_init(|| {
        use std::os::unix::ffi::OsStrExt;
        let base = tree_base();
        let root = base.join("root");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(base.join("secret"), "outside").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("sub/b.txt"), "b").unwrap();
        std::fs::write(root.join(std::ffi::OsStr::from_bytes(b"caf\xe9")), "c").unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("in")).unwrap();
        std::os::unix::fs::symlink(base.join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
        let handler = SimpleHttpRequestHandler::new(&root).unwrap();
        (handler, std::fs::canonicalize(&root).unwrap())
    });
    (handler, root)
}

#[cfg(test)]
mod tests;
