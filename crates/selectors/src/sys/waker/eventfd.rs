//! A waker on one `eventfd(2)`: `wake` adds 1 to its counter, `drain` reads it back to zero.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd};

#[derive(Debug)]
pub(crate) struct Waker {
    fd: File,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        // SAFETY: `eventfd` takes no pointers; the flags are valid.
        let fd = unsafe { syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)) }?;
        Ok(Waker {
            // SAFETY: `fd` was just returned by `eventfd`, is open and owned by nobody else.
            fd: unsafe { File::from_raw_fd(fd) },
        })
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        loop {
            match (&self.fd).write(&1u64.to_ne_bytes()) {
                Ok(_) => return Ok(()),
                // The counter is at its maximum: it is as awake as it gets.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn drain(&self) -> io::Result<()> {
        let mut counter = [0; 8];
        loop {
            match (&self.fd).read(&mut counter) {
                // One read resets the counter, however many wakes it summed.
                Ok(_) => return Ok(()),
                // Already zero: not readable.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
