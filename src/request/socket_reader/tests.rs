use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use super::SocketReader;
use crate::request::SocketHalf;

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

#[test]
fn read_line_keeps_text_and_refuses_what_is_not() {
    let (mut reader, mut peer) = reader_over(16);
    peer.write_all(b"first\nsec\xffond\nthird\n").unwrap();
    let mut line = String::from("kept: ");
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "kept: first\n");
    let error = reader.read_line(&mut line).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        line, "kept: first\n",
        "bytes that are not text are not added"
    );
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "third\n");
}

#[test]
fn gathering_waits_for_a_whole_message_and_keeps_its_bound() {
    use crate::request::message_framing::Delimited;
    use crate::request::socket_reader::Gathered;
    let (mut reader, mut peer) = reader_over(4);
    peer.set_nonblocking(false).unwrap();
    reader.half.socket().set_nonblocking(true).unwrap();
    let mut framing = Delimited::new(b'\n', 64);
    assert_eq!(
        reader.gather(&mut framing),
        Gathered::Incomplete,
        "nothing yet"
    );
    peer.write_all(b"a line that is longer than the").unwrap();
    assert_eq!(
        reader.gather(&mut framing),
        Gathered::Incomplete,
        "half a line"
    );
    assert!(
        reader.buf.len() >= 30,
        "the buffer grew past its 4 bytes to hold it"
    );
    peer.write_all(b" buffer\nnext").unwrap();
    assert_eq!(reader.gather(&mut framing), Gathered::Complete);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "a line that is longer than the buffer\n");
    // Past the bound without its end: the handler's next read that would wait says so.
    let mut short = Delimited::new(b'\n', 8);
    peer.write_all(b" and more than eight").unwrap();
    assert_eq!(reader.gather(&mut short), Gathered::Complete);
    reader.half.socket().set_nonblocking(false).unwrap();
    let mut rest = Vec::new();
    let error = reader.read_until(b'\n', &mut rest).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(rest, b"next and more than eight");
}

#[test]
fn gathering_keeps_the_end_of_input_for_the_handler() {
    use crate::request::message_framing::Delimited;
    use crate::request::socket_reader::Gathered;
    let (mut reader, mut peer) = reader_over(64);
    reader.half.socket().set_nonblocking(true).unwrap();
    peer.write_all(b"no end").unwrap();
    drop(peer);
    assert_eq!(
        reader.gather(&mut Delimited::line()),
        Gathered::Complete,
        "the end of input: the handler runs"
    );
    reader.half.socket().set_nonblocking(false).unwrap();
    let mut line = String::new();
    assert_eq!(reader.read_line(&mut line).unwrap(), 6);
    assert_eq!(line, "no end");
    assert_eq!(reader.read_line(&mut line).unwrap(), 0);
    assert!(reader.has_seen_eof());
}
