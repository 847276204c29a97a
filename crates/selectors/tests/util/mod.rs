//! Helpers shared by the integration tests, and [`backend_tests!`], which runs every scenario
//! against every selector backend.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Once;
use std::time::Duration;

use socketserver_selectors::{Events, Selector, SelectorKey};

/// Long enough to mean "forever" in a test that expects an event, short enough that a broken
/// test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Generates, for each scenario `fn name<S: Backend>()` in scope, one `#[test]` per backend,
/// grouped in a module per backend (`select::name`, `poll::name`, `epoll::name`).
///
/// The list of backends is written here once: a new backend is one more line below (and one
/// `impl Backend`).
macro_rules! backend_tests {
    ($($scenario:ident),* $(,)?) => {
        backend_tests!(@backends [$($scenario),*]
            select: socketserver_selectors::SelectSelector,
            poll: socketserver_selectors::PollSelector,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            epoll: socketserver_selectors::EpollSelector,
        );
    };
    (@backends $scenarios:tt $($(#[$attr:meta])* $backend:ident: $ty:ty),* $(,)?) => {
        $(
            $(#[$attr])*
            mod $backend {
                backend_tests!(@scenarios $ty, $scenarios);
            }
        )*
    };
    (@scenarios $ty:ty, [$($scenario:ident),*]) => {
        $(
            #[test]
            fn $scenario() {
                super::$scenario::<$ty>();
            }
        )*
    };
}

/// What the scenarios need to know about a backend beyond the [`Selector`] trait.
pub trait Backend: Selector + Sized + 'static {
    /// `Some(FD_SETSIZE)` if fds at or above it cannot be registered.
    const FD_LIMIT: Option<usize> = None;
    /// Whether a peer's close is reported with [`Event::is_hangup`](socketserver_selectors::Event::is_hangup).
    const REPORTS_HANGUP: bool = true;

    fn create() -> Self;
}

impl Backend for socketserver_selectors::SelectSelector {
    const FD_LIMIT: Option<usize> = Some(1024);
    const REPORTS_HANGUP: bool = false;

    fn create() -> Self {
        Self::new().unwrap()
    }
}

impl Backend for socketserver_selectors::PollSelector {
    fn create() -> Self {
        Self::new().unwrap()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Backend for socketserver_selectors::EpollSelector {
    fn create() -> Self {
        Self::new().unwrap()
    }
}

/// Waits up to [`PATIENCE`] and returns the events.
pub fn wait<S: Selector>(selector: &mut S) -> Events {
    let mut events = Events::with_capacity(64);
    selector.select(&mut events, Some(PATIENCE)).unwrap();
    events
}

/// Polls without waiting and returns the events.
pub fn poll_now<S: Selector>(selector: &mut S) -> Events {
    let mut events = Events::with_capacity(64);
    selector.select(&mut events, Some(Duration::ZERO)).unwrap();
    events
}

/// A connected TCP pair on 127.0.0.1: `(client, server side)`.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// A UDP socket bound to 127.0.0.1 on a free port: idle until something is sent to it.
pub fn udp() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit in force.
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    if limit.rlim_cur < limit.rlim_max {
        // An unlimited hard limit cannot be the soft one: the kernel caps it at `nr_open`.
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_max.min(1 << 20),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `wanted` is a valid `rlimit`.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            limit = wanted;
        }
    }
    limit.rlim_cur
}

/// Duplicates `fd` onto the lowest free number at or above `min` (close-on-exec), raising the fd
/// limit first if needed. The duplicate is closed when dropped.
pub fn dup_at_least(fd: &impl AsFd, min: RawFd) -> OwnedFd {
    raise_fd_limit();
    // SAFETY: `F_DUPFD_CLOEXEC` reads only its integer argument; the fd is open (borrowed).
    let dup = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    assert!(
        dup >= min,
        "fcntl(F_DUPFD_CLOEXEC, {min}): {}",
        io::Error::last_os_error()
    );
    // SAFETY: `dup` was just returned by `fcntl`, is open and owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(dup) }
}

/// Installs a SIGUSR1 handler that does nothing, once per process, so that a `pthread_kill`
/// interrupts a blocking call with `EINTR` instead of ending the process.
pub fn install_sigusr1_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handler does nothing, which is async-signal-safe.
        unsafe { signal_hook::low_level::register(libc::SIGUSR1, || {}) }.unwrap();
    });
}

/// The tokens of `events`, sorted.
pub fn tokens(events: &Events) -> Vec<usize> {
    let mut tokens: Vec<usize> = events.iter().map(|e| e.token().0).collect();
    tokens.sort_unstable();
    tokens
}

/// The keys of `selector`, sorted by fd.
pub fn sorted_keys<S: Selector>(selector: &S) -> Vec<SelectorKey> {
    let mut keys: Vec<SelectorKey> = selector.keys().collect();
    keys.sort_by_key(|key| key.fd());
    keys
}
