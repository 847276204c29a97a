//! A waker on a nonblocking pipe: `wake` writes a byte, `drain` reads until the pipe is empty.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, RawFd};

#[derive(Debug)]
pub(crate) struct Waker {
    reader: File,
    writer: File,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        let [reader, writer] = pipe()?;
        Ok(Waker {
            // SAFETY: both fds were just returned by `pipe`, are open and owned by nobody else.
            reader: unsafe { File::from_raw_fd(reader) },
            // SAFETY: as above.
            writer: unsafe { File::from_raw_fd(writer) },
        })
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        loop {
            match (&self.writer).write(&[1]) {
                Ok(_) => return Ok(()),
                // The pipe is full, so it is readable: already awake.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn drain(&self) -> io::Result<()> {
        let mut buf = [0; 64];
        loop {
            match (&self.reader).read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reader.as_fd()
    }
}

/// Returns a nonblocking, close-on-exec pipe as `[read end, write end]`.
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
)))]
fn pipe() -> io::Result<[RawFd; 2]> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two fds `pipe2` writes.
    unsafe { syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK)) }?;
    Ok(fds)
}

/// Returns a nonblocking, close-on-exec pipe as `[read end, write end]`.
///
/// Apple has no `pipe2`: the flags are set right after creation (a `fork` in another thread in
/// between would leak the fds into the child).
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
))]
fn pipe() -> io::Result<[RawFd; 2]> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two fds `pipe` writes.
    unsafe { syscall!(pipe(fds.as_mut_ptr())) }?;
    for fd in fds {
        let result = (|| {
            // SAFETY: `fd` is open; `F_SETFD` and `F_SETFL` take an integer argument.
            unsafe { syscall!(fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC)) }?;
            // SAFETY: as above.
            unsafe { syscall!(fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK)) }?;
            Ok(())
        })();
        if let Err(e) = result {
            for fd in fds {
                // SAFETY: both fds are open and owned by this function alone.
                unsafe { libc::close(fd) };
            }
            return Err(e);
        }
    }
    Ok(fds)
}
