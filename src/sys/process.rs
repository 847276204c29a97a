//! Processes: `fork(2)`, `_exit(2)`, `waitpid(2)` for our own children only.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// Which side of a `fork` we are on.
pub(crate) enum Forked {
    Child,
    Parent(libc::pid_t),
}

/// `fork(2)`.
///
/// The child has only the calling thread; see the forking strategy's documentation for what it
/// may do.
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions; the child only runs code that the
    // forking strategy documents as safe after fork, then `exit_child`.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Ends a forked child at once with `status`: no destructors, no atexit handlers, no flushing
/// of buffers the parent also holds (`_exit(2)`).
pub(crate) fn exit_child(status: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(status) }
}

/// Closes a descriptor in a forked child, where the Rust value owning it will never drop.
pub(crate) fn close_in_child(fd: RawFd) {
    // SAFETY: called only in a forked child that exits without running destructors, so no
    // owner of `fd` will close it again.
    unsafe {
        libc::close(fd);
    }
}

/// How a child ended (`waitpid`'s status word).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChildStatus(libc::c_int);

impl ChildStatus {
    /// Exited with status 0.
    pub(crate) fn success(self) -> bool {
        libc::WIFEXITED(self.0) && libc::WEXITSTATUS(self.0) == 0
    }
}

impl fmt::Display for ChildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if libc::WIFEXITED(self.0) {
            write!(f, "exit status {}", libc::WEXITSTATUS(self.0))
        } else if libc::WIFSIGNALED(self.0) {
            write!(f, "killed by signal {}", libc::WTERMSIG(self.0))
        } else {
            write!(f, "wait status {:#x}", self.0)
        }
    }
}

/// Reaps `pid` if it has ended (`waitpid(pid, WNOHANG)`); `None` while it runs. Never waits for
/// any other process.
pub(crate) fn try_reap(pid: libc::pid_t) -> io::Result<Option<ChildStatus>> {
    wait_for(pid, libc::WNOHANG)
}

/// Waits until `pid` ends and reaps it.
pub(crate) fn reap(pid: libc::pid_t) -> io::Result<ChildStatus> {
    wait_for(pid, 0).map(|status| status.expect("waitpid without WNOHANG returned no status"))
}

fn wait_for(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<ChildStatus>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is valid for writes.
        let result = unsafe { libc::waitpid(pid, &mut status, flags) };
        match result {
            0 => return Ok(None),
            -1 => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            _ => return Ok(Some(ChildStatus(status))),
        }
    }
}
