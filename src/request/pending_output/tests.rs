use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::*;

/// A connected pair whose sending side takes little at a time.
fn pair() -> (UnixStream, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    socket2::SockRef::from(&ours)
        .set_send_buffer_size(4096)
        .unwrap();
    ours.set_nonblocking(true).unwrap();
    (ours, theirs)
}

#[test]
fn what_the_socket_does_not_take_waits_and_goes_in_order() {
    let (ours, mut theirs) = pair();
    let mut pending = PendingOutput::new(1 << 20, None);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    pending.push_bytes(&data[..100_000]);
    pending.push_bytes(&data[100_000..]);
    pending.send_now(&ours).unwrap();
    assert!(
        !pending.is_empty(),
        "a small socket buffer cannot take 200 kB at once"
    );
    assert!(pending.len() < data.len());
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; 200_000];
        theirs.read_exact(&mut got).unwrap();
        got
    });
    pending.send_all(&ours).unwrap();
    assert!(pending.is_empty());
    assert_eq!(pending.len(), 0);
    assert!(reader.join().unwrap() == data);
}

#[test]
fn files_go_a_piece_at_a_time_after_the_bytes_before_them() {
    let (ours, mut theirs) = pair();
    let path = std::env::temp_dir().join(format!("pending-output-{}", std::process::id()));
    let contents: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    file.seek(SeekFrom::Start(10)).unwrap();
    let mut pending = PendingOutput::new(1024, None);
    pending.push_bytes(b"head:");
    pending.push_file(file, 250_000);
    pending.push_bytes(b":tail");
    assert!(
        pending.fits(1024 - 10),
        "a file does not count against the byte bound"
    );
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; 5 + 250_000 + 5];
        theirs.read_exact(&mut got).unwrap();
        got
    });
    pending.send_all(&ours).unwrap();
    let got = reader.join().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(&got[..5], b"head:");
    assert!(got[5..250_005] == contents[10..250_010]);
    assert_eq!(&got[250_005..], b":tail");
}

#[test]
fn a_file_shorter_than_announced_is_an_error() {
    let (ours, _theirs) = pair();
    let path = std::env::temp_dir().join(format!("pending-short-{}", std::process::id()));
    std::fs::write(&path, b"short").unwrap();
    let mut pending = PendingOutput::new(1024, None);
    pending.push_file(std::fs::File::open(&path).unwrap(), 100);
    let error = pending.send_now(&ours).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_peer_that_reads_nothing_meets_the_write_timeout() {
    let (ours, mut theirs) = pair();
    let mut pending = PendingOutput::new(1 << 20, Some(Duration::from_millis(50)));
    pending.push_bytes(&vec![7; 500_000]);
    let error = pending.send_all(&ours).unwrap_err();
    let timed_out = TimedOut::of(&error).expect("the write timeout");
    assert_eq!(timed_out.reason(), CloseReason::WriteTimeout);
    assert!(pending.timed_out());
    assert!(pending.deadline().is_some_and(|at| at <= Instant::now()));
    // The peer is still connected: nothing else went wrong.
    theirs.write_all(b"x").unwrap();
}

#[test]
fn the_bound_is_on_bytes_kept() {
    let mut pending = PendingOutput::new(10, None);
    assert!(pending.fits(10) && !pending.fits(11));
    pending.push_bytes(b"12345");
    assert!(pending.fits(5) && !pending.fits(6));
    assert!(pending.fits(0));
    assert!(!pending.fits(usize::MAX), "no overflow in the sum");
    pending.discard();
    assert!(pending.is_empty() && pending.fits(10));
}

/// Whether `socket` is in non-blocking mode.
fn is_nonblocking(socket: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETFL reads the open descriptor's flags; no pointer is passed.
    let flags = unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

/// The parker sends a file from the page cache (`sendfile(2)`) on a blocking socket without
/// waiting for the peer: it stops when the socket is full, with nothing read into a buffer,
/// and leaves the socket blocking as the handler expects it.
#[test]
fn parked_files_go_by_sendfile_and_never_wait() {
    let (ours, mut theirs) = pair();
    ours.set_nonblocking(false).unwrap();
    let path = std::env::temp_dir().join(format!("pending-parked-{}", std::process::id()));
    let contents: Vec<u8> = (0..3_000_000u32).map(|i| (i % 247) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let mut pending = PendingOutput::new(1024, None);
    pending.push_bytes(b"head:");
    pending.push_file(std::fs::File::open(&path).unwrap(), contents.len() as u64);
    // Nobody reads yet: a blocking sendfile(2) would wait here for ever.
    pending.send_now_from_page_cache(&ours).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!pending.is_empty(), "3 MB do not fit a 4 KiB socket");
    assert_eq!(
        pending.len(),
        0,
        "nothing of the file was read into a buffer"
    );
    assert!(!is_nonblocking(&ours), "the socket is blocking again");
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; 5 + 3_000_000];
        theirs.read_exact(&mut got).unwrap();
        got
    });
    while !pending.is_empty() {
        assert!(coroutine::wait(ours.as_fd(), true, Some(Duration::from_secs(10))).unwrap());
        pending.send_now_from_page_cache(&ours).unwrap();
        assert_eq!(pending.len(), 0);
    }
    assert!(!is_nonblocking(&ours));
    let got = reader.join().unwrap();
    assert_eq!(&got[..5], b"head:");
    assert!(got[5..] == contents[..]);
}
