//! Processes: `fork(2)`, `_exit(2)`, `waitpid(2)` for our own children only.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which side of a `fork` we are on.
pub(crate) enum Forked {
    /// The child, with the drain signals still blocked: [`child_drain_signals`] installs the
    /// child's handlers and unblocks them.
    Child(HeldSignals),
    Parent(libc::pid_t),
}

/// The signal mask the forking thread had before [`fork`] blocked the drain signals.
pub(crate) struct HeldSignals(libc::sigset_t);

/// The signals a server's children handle themselves (see [`child_drain_signals`]).
const CHILD_SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGALRM];

/// `fork(2)`, with the drain signals blocked across it, so that a signal meant for the child
/// (the parent's drain reaching a child it has just forked) waits until the child's own
/// handlers are in place instead of killing it or running the parent's handlers.
///
/// The child has only the calling thread; see the forking strategy's documentation for what it
/// may do.
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: both sets are plain values initialised by sigemptyset before use; the signal
    // numbers are valid.
    let previous = unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        for signal in CHILD_SIGNALS {
            libc::sigaddset(&mut block, signal);
        }
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut previous);
        previous
    };
    // SAFETY: fork has no memory-safety preconditions; the child only runs code that the
    // forking strategy documents as safe after fork, then `exit_child`.
    let forked = match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => return Ok(Forked::Child(HeldSignals(previous))),
        pid => Ok(Forked::Parent(pid)),
    };
    restore_mask(&previous);
    forked
}

/// In a forked child: unblocks the signals [`fork`] held, once the child's own handlers are in
/// place.
pub(crate) fn restore_signal_mask(held: HeldSignals) {
    restore_mask(&held.0);
}

fn restore_mask(mask: &libc::sigset_t) {
    // SAFETY: `mask` is a signal set filled in by pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}

/// What a forked child's drain signals act on (its connection's drain state). The handlers call
/// it from a signal handler: its methods may only touch atomics and make async-signal-safe
/// calls.
pub(crate) trait ChildDrain: Send + Sync {
    /// SIGTERM or SIGINT: a drain begins (or goes on); `true` when it has only now begun (the
    /// first-byte grace starts).
    fn drain_signalled(&self) -> bool;
    /// The first-byte grace has passed.
    fn grace_over(&self);
}

/// The connection a forked child serves, for its signal handlers (a thin pointer to the boxed
/// trait object, which is never released).
static CHILD_DRAIN: AtomicPtr<Arc<dyn ChildDrain>> = AtomicPtr::new(std::ptr::null_mut());
/// The first-byte grace of a drain, in whole seconds (`alarm(2)`'s unit, rounded up).
static CHILD_GRACE_SECS: AtomicU32 = AtomicU32::new(1);

/// In a forked child: SIGTERM and SIGINT start a drain of the child's connection (it finishes
/// its current message; an idle one ends at once; a silent one after the first-byte grace, by
/// `alarm(2)`), SIGHUP is ignored (the parent decides what a hangup means), and nothing the
/// parent installed (e.g. a signal-hook handler writing to the parent's pipe) runs in the
/// child. Then unblocks the signals [`fork`] held.
pub(crate) fn child_drain_signals(held: HeldSignals, drain: Arc<dyn ChildDrain>, grace: Duration) {
    CHILD_DRAIN.store(Box::into_raw(Box::new(drain)), Ordering::SeqCst);
    let seconds = grace
        .as_nanos()
        .div_ceil(1_000_000_000)
        .clamp(1, u32::MAX as u128) as u32;
    CHILD_GRACE_SECS.store(seconds, Ordering::SeqCst);
    let handlers: [(libc::c_int, libc::sighandler_t); 4] = [
        (
            libc::SIGTERM,
            on_drain_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        ),
        (
            libc::SIGINT,
            on_drain_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
        ),
        (
            libc::SIGALRM,
            on_grace_over as extern "C" fn(libc::c_int) as libc::sighandler_t,
        ),
        (libc::SIGHUP, libc::SIG_IGN),
    ];
    for (signal, handler) in handlers {
        // SAFETY: `action` is zero-initialised then filled in; the handlers are
        // `extern "C" fn(c_int)` that only touch atomics and make async-signal-safe calls.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    restore_mask(&held.0);
}

extern "C" fn on_drain_signal(_: libc::c_int) {
    let drain = CHILD_DRAIN.load(Ordering::SeqCst);
    // SAFETY: set once before the handler was installed, from a box that is never released.
    if let Some(drain) = unsafe { drain.as_ref() } {
        if drain.drain_signalled() {
            // SAFETY: alarm is async-signal-safe.
            unsafe {
                libc::alarm(CHILD_GRACE_SECS.load(Ordering::SeqCst));
            }
        }
    }
}

extern "C" fn on_grace_over(_: libc::c_int) {
    let drain = CHILD_DRAIN.load(Ordering::SeqCst);
    // SAFETY: as in `on_drain_signal`.
    if let Some(drain) = unsafe { drain.as_ref() } {
        drain.grace_over();
    }
}

/// Sends `signal` to our child `pid` (`kill(2)`); a child that has already ended is no error.
pub(crate) fn signal_child(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; `pid` is a child we have not reaped,
    // so the number cannot belong to another process yet.
    unsafe {
        libc::kill(pid, signal);
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

/// Whether a process with this pid exists (`kill(pid, 0)`: EPERM means it exists but is
/// another user's).
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks; kill has no memory-safety preconditions.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A user's uid and primary gid by name (`getpwnam_r`); `None` when there is no such user.
pub(crate) fn lookup_user(name: &str) -> io::Result<Option<(libc::uid_t, libc::gid_t)>> {
    lookup_by_name(name, libc::getpwnam_r, |entry: &libc::passwd| {
        (entry.pw_uid, entry.pw_gid)
    })
}

/// A group's gid by name (`getgrnam_r`); `None` when there is no such group.
pub(crate) fn lookup_group(name: &str) -> io::Result<Option<libc::gid_t>> {
    lookup_by_name(name, libc::getgrnam_r, |entry: &libc::group| entry.gr_gid)
}

/// What `getpwnam_r(3)` and `getgrnam_r(3)` have in common: a name, the record `T` to fill,
/// a buffer for its strings and the buffer's length, and where to say whether one was found.
type LookupByName<T> = unsafe extern "C" fn(
    *const libc::c_char,
    *mut T,
    *mut libc::c_char,
    libc::size_t,
    *mut *mut T,
) -> libc::c_int;

/// Looks `name` up with `lookup` (one of the functions above) and reads the record it found.
fn lookup_by_name<T, R>(
    name: &str,
    lookup: LookupByName<T>,
    read: impl FnOnce(&T) -> R,
) -> io::Result<Option<R>> {
    let name = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut entry = std::mem::MaybeUninit::<T>::uninit();
    let mut found: *mut T = std::ptr::null_mut();
    // SAFETY: `lookup` is getpwnam_r or getgrnam_r with its own record type `T`; all pointers
    // are valid for the call; the buffer's length is passed with it.
    let code = unsafe {
        lookup(
            name.as_ptr(),
            entry.as_mut_ptr(),
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if code != 0 {
        return Err(io::Error::from_raw_os_error(code));
    }
    if found.is_null() {
        return Ok(None);
    }
    // SAFETY: a record was found, so `lookup` has filled in `entry` (`found` points at it);
    // the strings it points to live in `buffer`, which outlives the borrow.
    Ok(Some(read(unsafe { entry.assume_init_ref() })))
}

/// Becomes `uid`/`gid` for good: supplementary groups to just `gid`, then real, effective and
/// saved group and user ids; then checks that root cannot be regained.
pub(crate) fn become_user(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    let check = |result: libc::c_int| match result {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    };
    // SAFETY: plain syscalls; the group list is one valid gid.
    unsafe {
        check(libc::setgroups(1, &gid))?;
        check(libc::setresgid(gid, gid, gid))?;
        check(libc::setresuid(uid, uid, uid))?;
    }
    // SAFETY: as above; this call must fail now unless uid is root.
    if uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(io::Error::other("root could be regained after the drop"));
    }
    Ok(())
}

/// Starts `program` with `argv` and `env` as a new process that inherits `fds` as descriptors
/// 3, 4, … (socket activation's numbering), with `LISTEN_PID` set to its own pid: `env` must
/// hold `LISTEN_PID=0000000000` (ten digits), which the child fills in before `exec`. Between
/// `fork` and `exec` the child only makes async-signal-safe calls and writes into memory
/// prepared before the fork.
pub(crate) fn spawn_inheriting(
    program: &std::ffi::CStr,
    argv: &[std::ffi::CString],
    env: &mut [Vec<u8>],
    fds: &[RawFd],
) -> io::Result<libc::pid_t> {
    const PLACEHOLDER: &[u8] = b"LISTEN_PID=0000000000\0";
    let pid_slot = env
        .iter_mut()
        .find(|entry| entry.as_slice() == PLACEHOLDER)
        .map(|entry| entry.as_mut_ptr())
        .ok_or_else(|| io::Error::other("no LISTEN_PID placeholder"))?;
    let mut argv_pointers: Vec<*const libc::c_char> = argv.iter().map(|arg| arg.as_ptr()).collect();
    argv_pointers.push(std::ptr::null());
    let mut env_pointers: Vec<*const libc::c_char> =
        env.iter().map(|entry| entry.as_ptr().cast()).collect();
    env_pointers.push(std::ptr::null());
    let count = fds.len() as libc::c_int;
    match fork()? {
        Forked::Parent(pid) => Ok(pid),
        Forked::Child(held) => {
            // SAFETY: only async-signal-safe calls on memory prepared before the fork; on any
            // failure the child ends with _exit and never returns into the parent's code.
            unsafe {
                // Move the descriptors out of the way, then onto 3.. (dup2 clears CLOEXEC).
                let mut moved = [0 as libc::c_int; 64];
                if fds.len() > moved.len() {
                    libc::_exit(127);
                }
                for (i, &fd) in fds.iter().enumerate() {
                    moved[i] = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3 + count);
                    if moved[i] < 0 {
                        libc::_exit(127);
                    }
                }
                for (i, &fd) in moved.iter().enumerate().take(fds.len()) {
                    if libc::dup2(fd, 3 + i as libc::c_int) < 0 {
                        libc::_exit(127);
                    }
                }
                // LISTEN_PID: ten zero-padded digits after "LISTEN_PID=".
                let mut pid = libc::getpid() as u32;
                let digits = pid_slot.add("LISTEN_PID=".len());
                for place in (0..10).rev() {
                    *digits.add(place) = b'0' + (pid % 10) as u8;
                    pid /= 10;
                }
                restore_mask(&held.0);
                libc::execve(
                    program.as_ptr(),
                    argv_pointers.as_ptr(),
                    env_pointers.as_ptr(),
                );
                libc::_exit(127)
            }
        }
    }
}
