use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use super::SocketReader;
use crate::handler::SocketHalf;

fn reader_over(capacity: usize) -> (SocketReader<UnixStream>, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    (
        SocketReader::new(SocketHalf::new(Arc::new(ours)), capacity),
        theirs,
    )
}

#[test]
fn no_buffer_until_the_first_read() {
    let (mut reader, mut peer) = reader_over(8192);
    assert!(
        reader.buf.is_empty(),
        "an idle connection must not hold a read buffer"
    );
    peer.write_all(b"line\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "line\n");
    assert_eq!(reader.buf.len(), 8192);
}

#[test]
fn lines_across_a_tiny_buffer() {
    let (reader, mut peer) = reader_over(3);
    peer.write_all(b"first line\nsecond\n").unwrap();
    drop(peer);
    let lines: Vec<String> = reader.lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["first line", "second"]);
}

#[test]
fn large_reads_bypass_the_buffer_and_mixed_reads_keep_order() {
    let (mut reader, mut peer) = reader_over(4);
    peer.write_all(b"abcdefghij").unwrap();
    drop(peer);
    let mut small = [0; 2];
    reader.read_exact(&mut small).unwrap(); // fills the buffer with "abcd"
    assert_eq!(&small, b"ab");
    assert_eq!(reader.buffer(), b"cd");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"cdefghij");
}

#[test]
fn a_parked_reader_gives_its_empty_buffer_back_and_keeps_a_full_one() {
    let (mut reader, mut peer) = reader_over(8192);
    peer.write_all(b"one\ntwo\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    reader.release_idle_buffer();
    assert_eq!(reader.buf.len(), 8192, "unread bytes keep the buffer");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "two\n");
    reader.release_idle_buffer();
    assert!(
        reader.buf.is_empty(),
        "an empty buffer is freed while parked"
    );
    peer.write_all(b"three\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "three\n", "and allocated again for the next message");
}
