//! Platform-specific pieces of the framework. All `cfg` switches live here.
//!
//! Every platform must provide: the default listen backlog, `SO_REUSEPORT` (or an
//! `Unsupported` error), making an accepted socket blocking, classifying `accept(2)` errors,
//! peer credentials, abstract Unix addresses (or `Unsupported`), and `fork`/`waitpid`/`_exit`.

mod fiber;
mod process;
mod stdio;
mod tcp_info;

pub(crate) use fiber::{
    in_fiber, new_stack, own_fd, report_stack_overflows, suspend, Fiber, FiberStack, Resume,
    Suspend,
};

pub(crate) use process::{
    become_user, child_drain_signals, close_in_child, exit_child, fork, lookup_group, lookup_user,
    process_exists, reap, restore_signal_mask, signal_child, spawn_inheriting, try_reap,
    ChildDrain, ChildStatus, Forked,
};
pub(crate) use stdio::take_stdin_connection;
pub(crate) use tcp_info::tcp_traffic;

use std::io;

use socket2::Socket;

/// The default `listen(2)` backlog: the platform's `SOMAXCONN`.
pub(crate) const DEFAULT_BACKLOG: i32 = libc::SOMAXCONN;

/// Sets `SO_REUSEPORT`.
#[cfg(all(unix, not(target_os = "solaris"), not(target_os = "illumos")))]
pub(crate) fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// Sets `SO_REUSEPORT`: not available here.
#[cfg(not(all(unix, not(target_os = "solaris"), not(target_os = "illumos"))))]
pub(crate) fn set_reuse_port(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not supported on this platform",
    ))
}

/// Linux's `accept4` gives a blocking socket whatever the listener is; BSDs copy `O_NONBLOCK`
/// from the listener, so clear it there.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn make_accepted_blocking(_socket: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    Ok(())
}

/// Linux's `accept4` gives a blocking socket whatever the listener is; BSDs copy `O_NONBLOCK`
/// from the listener, so clear it there.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn make_accepted_blocking(socket: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    socket2::SockRef::from(&socket).set_nonblocking(false)
}

/// The longest Unix socket path, in bytes (`sun_path` less its terminating NUL).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const MAX_UNIX_PATH: usize = 107;

/// The longest Unix socket path, in bytes (`sun_path` less its terminating NUL).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const MAX_UNIX_PATH: usize = 103;

/// Waits until `fd` can be written to (`poll(2)` with `POLLOUT`), for sends on a non-blocking
/// socket that would block.
pub(crate) fn wait_writable(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    wait_for(fd, libc::POLLOUT, None).map(drop)
}

/// Waits until `fd` can be written to, for at most `timeout`: `Ok(false)` when it passes
/// first (the peer is not reading).
pub(crate) fn wait_writable_for(
    fd: std::os::fd::BorrowedFd<'_>,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    wait_for(fd, libc::POLLOUT, timeout)
}

/// Waits until `fd` has input (or an error or hang-up) with `poll(2)`: `Ok(false)` when
/// `timeout` passes first. For a parked connection on a strategy that keeps its thread.
pub(crate) fn wait_readable(
    fd: std::os::fd::BorrowedFd<'_>,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    wait_for(fd, libc::POLLIN, timeout)
}

/// `poll(2)` on one descriptor for `events` (an error or hang-up counts as ready), retrying
/// `EINTR` without shortening or lengthening the wait.
fn wait_for(
    fd: std::os::fd::BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    let mut entry = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    loop {
        let millis = match deadline {
            None => -1,
            Some(at) => {
                let left = at.saturating_duration_since(std::time::Instant::now());
                // Round up, so a wait never ends before the deadline.
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: `entry` is one valid `pollfd` and we pass a count of 1.
        let result = unsafe { libc::poll(&mut entry, 1, millis) };
        if result > 0 {
            return Ok(true);
        }
        if result == 0 {
            if deadline.is_some_and(|at| std::time::Instant::now() >= at) {
                return Ok(false);
            }
            continue;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Whether `fd` has input (or an error or hang-up) already, without waiting: a zero-timeout
/// [`wait_readable`]; an error counts as "no".
pub(crate) fn readable_now(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    wait_readable(fd, Some(std::time::Duration::ZERO)).unwrap_or(false)
}

/// Raises the socket's send buffer (`SO_SNDBUF`) to at least `bytes`; a larger one is kept.
pub(crate) fn grow_send_buffer(fd: std::os::fd::BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let socket = socket2::SockRef::from(&fd);
    if socket.send_buffer_size()? < bytes {
        socket.set_send_buffer_size(bytes)?;
    }
    Ok(())
}

/// Bytes this socket has sent and the peer has not acknowledged yet, plus bytes not sent
/// (`ioctl(SIOCOUTQ)`): 0 means everything written has arrived.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn unacknowledged_output(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut pending: libc::c_int = 0;
    // SAFETY: `fd` is open for the call; SIOCOUTQ writes one `c_int` to the pointer, which
    // points at `pending`.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut pending) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(pending).unwrap_or(0))
}

/// Unknown here: report "nothing pending" so the linger ends at the peer's end-of-file or its
/// deadline.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn unacknowledged_output(_fd: std::os::fd::BorrowedFd<'_>) -> io::Result<usize> {
    Ok(0)
}

/// In a forked worker: makes descriptor `old` a fresh copy of `fresh`'s kind (an eventfd), so the
/// worker no longer shares the kernel object behind `old` with its parent and siblings.
pub(crate) fn replace_descriptor(
    old: std::os::fd::BorrowedFd<'_>,
    fresh: std::os::fd::BorrowedFd<'_>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: both descriptors are open for the call; dup2 atomically closes `old`'s number
    // and makes it refer to `fresh`'s object; the owners of both numbers are unchanged.
    let result = unsafe { libc::dup2(fresh.as_raw_fd(), old.as_raw_fd()) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Owns a descriptor a service manager passed to this process (socket activation).
pub(crate) fn take_inherited_fd(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the socket-activation protocol hands descriptors 3.. to this process and nothing
    // else owns them; `InheritedSocket::take_all` takes them once per process.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// `shutdown(2)` on a descriptor the caller knows to be open (a drain ending a wait, or forcing
/// a connection closed). Errors (the peer is gone) mean there is nothing left to end.
pub(crate) fn shutdown_raw(fd: std::os::fd::RawFd, how: std::net::Shutdown) {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown takes no pointers; callers hold the descriptor open for the call.
    unsafe {
        libc::shutdown(fd, how);
    }
}

/// Looks at what has already arrived without consuming it (`recv(2)` with `MSG_PEEK |
/// MSG_DONTWAIT`): `WouldBlock` when nothing has.
pub(crate) fn peek_now(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for `buf.len()` writable bytes; `fd` is open for the call.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Reads what has already arrived, without waiting (`recv(2)` with `MSG_DONTWAIT`):
/// `WouldBlock` when nothing has.
pub(crate) fn recv_now(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for `buf.len()` writable bytes; `fd` is open for the call.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Every send that must not wait: `MSG_DONTWAIT`, and no `SIGPIPE` where the flag exists.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT;

/// Sends what the socket takes now, without waiting (`send(2)` with `MSG_DONTWAIT` and
/// `MSG_NOSIGNAL`): `WouldBlock` when it takes nothing.
pub(crate) fn send_now(fd: std::os::fd::BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    send_flagged(fd, buf, 0)
}

/// [`send_now`] with `more` (`MSG_MORE`, Linux): the kernel holds the bytes for what follows
/// at once (a file's start after its head), so both leave in one packet.
pub(crate) fn send_now_more(fd: std::os::fd::BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return send_flagged(fd, buf, libc::MSG_MORE);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return send_flagged(fd, buf, 0);
}

/// Sends what the socket takes of `bufs`, in order, in one `sendmsg(2)` without waiting and
/// without `SIGPIPE`: `WouldBlock` when it takes nothing.
pub(crate) fn send_vectored_now(
    fd: std::os::fd::BorrowedFd<'_>,
    bufs: &[io::IoSlice<'_>],
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // At most IOV_MAX (1024 on Linux) pieces in one call; the caller sends the rest next.
    let bufs = &bufs[..bufs.len().min(1024)];
    // SAFETY: an all-zero msghdr is valid (no name, no control data); `msg_iov` then points
    // at `bufs`, whose `IoSlice`s have the layout of `iovec` (std guarantees it on Unix) and
    // stay borrowed for the call; `fd` is open for the call.
    let n = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = bufs.as_ptr().cast_mut().cast();
        message.msg_iovlen = bufs.len() as _;
        libc::sendmsg(fd.as_raw_fd(), &message, SEND_FLAGS)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `send(2)` without waiting and without `SIGPIPE`, with `extra` flags.
fn send_flagged(
    fd: std::os::fd::BorrowedFd<'_>,
    buf: &[u8],
    extra: libc::c_int,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for `buf.len()` readable bytes; `fd` is open for the call.
    let n = unsafe {
        libc::send(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            SEND_FLAGS | extra,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Sends up to `count` bytes of `file`, from its position (which advances), to the socket
/// `out` with `sendfile(2)`: the kernel moves them from the page cache, never through this
/// process. On a non-blocking socket `WouldBlock` when it takes nothing; `Ok(0)` when the file
/// has nothing left at its position.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_file(
    out: std::os::fd::BorrowedFd<'_>,
    file: std::os::fd::BorrowedFd<'_>,
    count: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: both descriptors are open for the call. The offset pointer is null: the
        // file's own position is read and advanced; nothing is read or written through a
        // pointer of ours.
        let n = unsafe {
            libc::sendfile(
                out.as_raw_fd(),
                file.as_raw_fd(),
                std::ptr::null_mut(),
                count,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => {}
            // This socket or this file cannot be sent this way (not a regular file, say).
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => {
                return Err(io::ErrorKind::Unsupported.into())
            }
            _ => return Err(error),
        }
    }
}

/// No `sendfile(2)` of Linux's kind here: the caller reads and writes the file instead.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_file(
    _out: std::os::fd::BorrowedFd<'_>,
    _file: std::os::fd::BorrowedFd<'_>,
    _count: usize,
) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Sets or clears non-blocking mode on a connected socket (the event loop's sockets never
/// block), with one `ioctl(FIONBIO)` where socket2 would make two `fcntl` calls: this runs
/// once per connection on the event loop's hot path.
pub(crate) fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut value = libc::c_int::from(on);
    // SAFETY: `fd` is an open descriptor for the call; FIONBIO reads one `c_int` from the
    // pointer, which points at `value`.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &mut value) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises this process's soft limit on open descriptors (`RLIMIT_NOFILE`) to its hard limit,
/// and returns the new soft limit. A server holding many connections needs a descriptor each;
/// the soft limit is often 1024 while the hard one is far higher. Call it once at start.
///
/// # Examples
///
/// ```
/// let limit = socketserver::raise_fd_limit()?;
/// assert!(limit > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// The OS error of `getrlimit(2)` or `setrlimit(2)`.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let before = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid `rlimit` whose soft value equals its hard one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == -1 {
            return Err(io::Error::last_os_error());
        }
        tracing::info!(
            from = before,
            to = limit.rlim_cur,
            "raised the descriptor limit"
        );
    }
    #[allow(
        clippy::unnecessary_cast,
        reason = "rlim_t is u64 on Linux but not on every platform"
    )]
    Ok(limit.rlim_cur as u64)
}

/// The soft limit on open descriptors, if there is one.
pub(crate) fn descriptor_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    usize::try_from(limit.rlim_cur).ok()
}

/// How many descriptors this process has open (the entries of `/proc/self/fd`, or of
/// `/dev/fd` elsewhere); 0 if neither can be read.
pub(crate) fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .or_else(|_| std::fs::read_dir("/dev/fd"))
        .map_or(0, |entries| entries.count().saturating_sub(1)) // the directory's own
}

/// What the loop should do about an `accept(2)` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptErrorClass {
    /// Nothing to accept after all (another process took it): wait for readiness again.
    WouldBlock,
    /// The connection died before we took it, or a signal arrived: try again at once.
    Transient,
    /// Out of descriptors or memory: stop accepting for a while, then retry.
    Exhausted,
    /// The listening socket is unusable: stop serving.
    Fatal,
}

/// Classifies an `accept(2)` or `recvfrom(2)` error (see accept(2), "Error handling": Linux passes pending
/// network errors of the new connection through `accept`, which must be treated like EAGAIN).
pub(crate) fn classify_accept_error(error: &io::Error) -> AcceptErrorClass {
    if error.kind() == io::ErrorKind::WouldBlock {
        return AcceptErrorClass::WouldBlock;
    }
    match error.raw_os_error() {
        Some(
            libc::EINTR
            | libc::ECONNABORTED
            | libc::ECONNRESET
            | libc::EPROTO
            | libc::EPERM
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::ETIMEDOUT
            | libc::ECONNREFUSED,
        ) => AcceptErrorClass::Transient,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(libc::ENONET) => AcceptErrorClass::Transient,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
            AcceptErrorClass::Exhausted
        }
        _ if error.kind() == io::ErrorKind::Interrupted => AcceptErrorClass::Transient,
        _ => AcceptErrorClass::Fatal,
    }
}

#[cfg(not(unix))]
compile_error!("socketserver supports Unix-like systems only (it is built on file descriptors)");

/// A Unix stream peer's ids, as the kernel vouches for them (what `PeerCredentials` shows).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerIds {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Where the platform tells (Linux and Android).
    pub(crate) pid: Option<i32>,
}

/// The peer's credentials (`SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_credentials(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<PeerIds> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero `ucred` is a valid value.
    let mut credentials: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `credentials` and `len` are valid for writes and `len` is the buffer's size.
    let result = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut credentials as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerIds {
        uid: credentials.uid,
        gid: credentials.gid,
        pid: Some(credentials.pid),
    })
}

/// The peer's credentials (`getpeereid(3)`).
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub(crate) fn peer_credentials(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<PeerIds> {
    use std::os::fd::AsRawFd;
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: `uid` and `gid` are valid for writes.
    if unsafe { libc::getpeereid(fd.as_raw_fd(), &mut uid, &mut gid) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerIds {
        uid,
        gid,
        pid: None,
    })
}

/// A Unix socket address in Linux's abstract namespace.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn abstract_socket_addr(name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

/// The name of a Unix socket address in Linux's abstract namespace, if it is one.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn abstract_name(address: &std::os::unix::net::SocketAddr) -> Option<&[u8]> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    address.as_abstract_name()
}

/// The name of a Unix socket address in Linux's abstract namespace: there is none here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn abstract_name(_address: &std::os::unix::net::SocketAddr) -> Option<&[u8]> {
    None
}

/// A Unix socket address in Linux's abstract namespace: not available here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn abstract_socket_addr(_name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract Unix socket addresses are Linux-only",
    ))
}
