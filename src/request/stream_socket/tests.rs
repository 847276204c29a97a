use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use super::*;

/// A handler's `send_file` under a strategy that parks sends a large file from the page cache
/// (`sendfile(2)`) until the socket is full, and keeps the rest as a file: nothing of it read
/// into a buffer, the socket blocking again after it.
#[test]
fn a_kept_file_goes_from_the_page_cache_until_the_socket_is_full() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    socket2::SockRef::from(&ours)
        .set_send_buffer_size(64 * 1024)
        .unwrap();
    let ours = Arc::new(ours);
    let mut half = SocketHalf::new(Arc::clone(&ours));
    let pending = SharedOutput::new(64 * 1024, None);
    half.defer_to(Arc::clone(&pending));
    let path = std::env::temp_dir().join(format!("stream-socket-file-{}", std::process::id()));
    let contents: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    half.write_file(b"head:", file, contents.len() as u64)
        .unwrap();
    {
        let kept = pending.lock();
        assert!(!kept.is_empty(), "2 MB do not fit the socket at once");
        assert_eq!(kept.len(), 0, "nothing of the file was read into a buffer");
    }
    // SAFETY: F_GETFL reads the open descriptor's flags; no pointer is passed.
    let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&*ours), libc::F_GETFL) };
    assert_eq!(flags & libc::O_NONBLOCK, 0, "the socket is blocking again");
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; 5 + 2_000_000];
        theirs.read_exact(&mut got).unwrap();
        got
    });
    loop {
        let mut kept = pending.lock();
        if kept.is_empty() {
            break;
        }
        drop(kept);
        assert!(coroutine::wait(ours.as_fd(), true, Some(Duration::from_secs(10))).unwrap());
        kept = pending.lock();
        kept.send_now_from_page_cache(&*ours).unwrap();
    }
    let got = reader.join().unwrap();
    assert_eq!(&got[..5], b"head:");
    assert!(got[5..] == contents[..]);
}
