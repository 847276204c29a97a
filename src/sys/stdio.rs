//! Standard input as a connection: what inetd, `systemd-socket-activate --inetd` and socat's
//! `EXEC:` hand a program.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Takes the socket on standard input: a new descriptor for it (close-on-exec), then
/// `/dev/null` in place of descriptors 0 and 1, and of 2 when it is the same socket (inetd
/// passes the connection as all three). So closing the connection is seen by the peer at
/// once (no stray descriptor keeps it open), and nothing the program prints or logs reaches
/// the peer. A standard output or error that is something else (a terminal, the journal) is
/// left alone.
pub(crate) fn take_stdin_connection() -> io::Result<OwnedFd> {
    // SAFETY: fcntl takes no pointers; F_DUPFD_CLOEXEC returns a new descriptor or -1.
    let taken = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if taken < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `taken` was just created by fcntl and nothing else owns it.
    let connection = unsafe { OwnedFd::from_raw_fd(taken) };
    let identity = file_identity(connection.as_raw_fd())?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in [0, 1, 2] {
        let same = fd == 0 || file_identity(fd).ok() == Some(identity);
        // SAFETY: dup2 takes no pointers; both descriptors are open (`null` is ours, `fd` is a
        // standard descriptor), and replacing 0, 1 or 2 closes only our copy of the socket.
        if same && unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(connection)
}

/// The device and inode of what `fd` refers to.
fn file_identity(fd: RawFd) -> io::Result<(u64, u64)> {
    // SAFETY: `stat` is a plain value filled by fstat before it is read.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into the valid `stat` above; a closed `fd` is an error, not UB.
    if unsafe { libc::fstat(fd, &mut stat) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((stat.st_dev, stat.st_ino))
}
