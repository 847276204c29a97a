//! The body reader over a fake connection: pieces, limits, refusals, and what is left for the
//! next request.

use std::fs::File;
use std::io::{self, BufReader};
use std::net::SocketAddr;

use super::*;

/// A connection whose input is `bytes`, read through a buffer of `capacity`.
struct FakeWire {
    input: BufReader<io::Cursor<Vec<u8>>>,
    written: Vec<u8>,
}

impl FakeWire {
    fn new(bytes: &[u8], capacity: usize) -> Self {
        FakeWire {
            input: BufReader::with_capacity(capacity, io::Cursor::new(bytes.to_vec())),
            written: Vec::new(),
        }
    }

    /// What is left for the next request.
    fn rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut self.input, &mut rest).unwrap();
        rest
    }
}

impl BodyInput for BufReader<io::Cursor<Vec<u8>>> {
    fn buffered(&self) -> &[u8] {
        self.buffer()
    }
}

impl Wire for FakeWire {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn client_address(&self) -> SocketAddr {
        ([127, 0, 0, 1], 1).into()
    }

    fn write_file(&mut self, _head: Vec<u8>, _file: File, _len: u64) -> io::Result<()> {
        unreachable!("no files here")
    }

    fn body_input(&mut self) -> Option<&mut dyn BodyInput> {
        Some(&mut self.input)
    }
}

/// Reads `body` to its end, `piece` bytes at a time at most.
fn read_all(body: &mut Body<'_>, wire: &mut FakeWire, piece: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0; piece];
    loop {
        match body.read(wire, &mut buf)? {
            0 => return Ok(out),
            n => {
                assert!(n <= piece);
                out.extend_from_slice(&buf[..n]);
            }
        }
    }
}

fn refusal_of(error: &io::Error) -> BodyRefused {
    *error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<BodyRefused>())
        .unwrap_or_else(|| panic!("not a refusal: {error:?}"))
}

const NEXT: &[u8] = b"GET /next HTTP/1.1\r\n\r\n";

#[test]
fn a_gathered_body_is_a_cursor() {
    let mut wire = FakeWire::new(b"", 8);
    let mut body = Body::Whole(b"hello world");
    assert_eq!(read_all(&mut body, &mut wire, 3).unwrap(), b"hello world");
    assert_eq!(read_all(&mut body, &mut wire, 3).unwrap(), b"");
    assert!(!body.rest_to_come(&mut wire) && body.skip_rest(&mut wire));
}

#[test]
fn a_length_body_is_read_in_pieces_and_no_further() {
    for capacity in [1, 3, 7, 64] {
        let input = [&b"0123456789"[..], NEXT].concat();
        let mut wire = FakeWire::new(&input, capacity);
        let mut body = Body::streamed(Framing::Length(10), 1024, false);
        assert_eq!(read_all(&mut body, &mut wire, 4).unwrap(), b"0123456789");
        assert!(body.skip_rest(&mut wire));
        assert_eq!(wire.rest(), NEXT, "capacity {capacity}");
    }
}

#[test]
fn a_chunked_body_is_decoded_in_pieces_and_no_further() {
    let chunked = b"5\r\nhello\r\n1;ext=1\r\n \r\nB\r\n0123456789a\r\n0\r\nTrailer: x\r\n\r\n";
    for (capacity, piece) in [(1, 1), (4, 3), (7, 16), (256, 2)] {
        let input = [&chunked[..], NEXT].concat();
        let mut wire = FakeWire::new(&input, capacity);
        let mut body = Body::streamed(Framing::Chunked, 1024, false);
        assert_eq!(
            read_all(&mut body, &mut wire, piece).unwrap(),
            b"hello 0123456789a"
        );
        assert!(body.skip_rest(&mut wire));
        assert_eq!(wire.rest(), NEXT, "capacity {capacity}, piece {piece}");
    }
}

#[test]
fn a_chunked_body_over_the_limit_is_refused_413() {
    let mut wire = FakeWire::new(b"4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", 64);
    let mut body = Body::streamed(Framing::Chunked, 6, false);
    let error = read_all(&mut body, &mut wire, 64).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert_eq!(refusal_of(&error).status, 413);
    assert_eq!(body.refused().map(|r| r.status), Some(413));
    // Every later read says the same; the connection cannot carry another request.
    let again = body.read(&mut wire, &mut [0; 8]).unwrap_err();
    assert_eq!(refusal_of(&again).status, 413);
    assert!(body.rest_to_come(&mut wire));
    assert!(!body.skip_rest(&mut wire));
}

#[test]
fn a_huge_declared_size_is_refused_before_any_allocation() {
    // 2^64 - 1 bytes declared: refused by the limit, nothing sized by it.
    let mut wire = FakeWire::new(b"ffffffffffffffff\r\n", 64);
    let mut body = Body::streamed(Framing::Chunked, 1024 * 1024, false);
    let error = read_all(&mut body, &mut wire, 16).unwrap_err();
    assert_eq!(refusal_of(&error).status, 413);
}

#[test]
fn malformed_and_cut_bodies_are_refused_400() {
    let mut wire = FakeWire::new(b"zz\r\n", 64);
    let mut body = Body::streamed(Framing::Chunked, 1024, false);
    assert_eq!(
        refusal_of(&read_all(&mut body, &mut wire, 8).unwrap_err()).status,
        400
    );
    let mut wire = FakeWire::new(b"only part", 64);
    let mut body = Body::streamed(Framing::Length(100), 1024, false);
    let error = read_all(&mut body, &mut wire, 8).unwrap_err();
    assert_eq!(refusal_of(&error), ENDED);
    let mut wire = FakeWire::new(b"5\r\nhel", 64);
    let mut body = Body::streamed(Framing::Chunked, 1024, false);
    assert_eq!(
        refusal_of(&read_all(&mut body, &mut wire, 8).unwrap_err()),
        ENDED
    );
}

#[test]
fn a_partial_read_leaves_the_next_request_when_the_rest_has_arrived() {
    let input = [&b"0123456789"[..], NEXT].concat();
    let mut wire = FakeWire::new(&input, 64);
    let mut body = Body::streamed(Framing::Length(10), 1024, false);
    let mut buf = [0; 3];
    assert_eq!(body.read(&mut wire, &mut buf).unwrap(), 3);
    assert!(!body.rest_to_come(&mut wire));
    assert!(body.skip_rest(&mut wire));
    assert_eq!(wire.rest(), NEXT);

    let input = [&b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"[..], NEXT].concat();
    let mut wire = FakeWire::new(&input, 64);
    let mut body = Body::streamed(Framing::Chunked, 1024, false);
    assert_eq!(body.read(&mut wire, &mut buf).unwrap(), 3);
    assert_eq!(&buf, b"abc");
    assert!(!body.rest_to_come(&mut wire));
    assert!(body.skip_rest(&mut wire));
    assert_eq!(wire.rest(), NEXT);
}

#[test]
fn a_partial_read_with_the_rest_still_coming_closes() {
    // A buffer of 8: the rest of the body is not here yet.
    let mut wire = FakeWire::new(&[b'x'; 100], 8);
    let mut body = Body::streamed(Framing::Length(100), 1024, false);
    assert_eq!(body.read(&mut wire, &mut [0; 4]).unwrap(), 4);
    assert!(body.rest_to_come(&mut wire));
    assert!(!body.skip_rest(&mut wire));

    let mut wire = FakeWire::new(b"40\r\n0123456789", 8);
    let mut body = Body::streamed(Framing::Chunked, 1024, false);
    assert_eq!(body.read(&mut wire, &mut [0; 4]).unwrap(), 4);
    assert!(body.rest_to_come(&mut wire));
    assert!(!body.skip_rest(&mut wire));
}

#[test]
fn continue_is_sent_at_the_first_read_only() {
    let mut wire = FakeWire::new(b"abcdef", 64);
    let mut body = Body::streamed(Framing::Length(6), 1024, true);
    assert!(wire.written.is_empty());
    assert_eq!(body.read(&mut wire, &mut [0; 2]).unwrap(), 2);
    assert_eq!(wire.written, CONTINUE);
    assert_eq!(read_all(&mut body, &mut wire, 2).unwrap(), b"cdef");
    assert_eq!(wire.written, CONTINUE);
}
