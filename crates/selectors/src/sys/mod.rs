//! Platform code: every `cfg`, every `unsafe` block and every raw `libc` call of the crate.
//!
//! Each selector backend (`select`, `poll`, `epoll`) provides a `Selector` type that the public
//! wrapper of the same name forwards to, with these inherent methods:
//!
//! - `new() -> io::Result<Self>`: allocates any kernel object, always `O_CLOEXEC`, closed on drop;
//! - `register`, `modify`, `unregister` taking a `RawFd` (plus `Interest` and `Token`) and returning
//!   `Result<SelectorKey, Error>`: they check the request against the shared
//!   [`Registry`](crate::registry::Registry) first, change the kernel's state next, and record the
//!   change in the registry last, so a failed system call leaves the registration as it was;
//! - `registry() -> &Registry`, which answers `get_key`, `keys`, `len` and `is_empty`;
//! - `select(&mut Events, Option<Duration>) -> io::Result<()>`: clears the events, waits
//!   level-triggered through [`timeout::wait`] (which retries `EINTR` with the time left until a
//!   deadline taken on entry), then reports at most `events.capacity()` ready registrations,
//!   mapping the kernel's flags into an [`Event`](crate::Event) through
//!   [`Readiness`](crate::event::Readiness).
//!
//! The waker module provides `Waker` with `new`, `wake` and `drain` and implements `AsFd`.

/// Calls `libc::$fn(args…)` and turns its `-1` result into [`std::io::Error::last_os_error`].
///
/// The expansion is not wrapped in `unsafe`: the caller writes the `unsafe` block around the
/// macro, with the `// SAFETY:` comment that justifies that particular call.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        let res = libc::$fn($($arg),*);
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

/// Compiles the items it wraps only where `epoll(7)` exists (Linux and Android).
macro_rules! cfg_epoll {
    ($($item:item)*) => {
        $(
            #[cfg(any(target_os = "linux", target_os = "android"))]
            $item
        )*
    };
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod epoll;
pub(crate) mod poll;
pub(crate) mod select;
pub(crate) mod timeout;
pub(crate) mod waker;

/// The backend behind [`crate::DefaultSelector`].
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(selectors_portable)
))]
pub type DefaultSelector = crate::EpollSelector;

/// The backend behind [`crate::DefaultSelector`].
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(selectors_portable)
)))]
pub type DefaultSelector = crate::PollSelector;
