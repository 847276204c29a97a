//! Python's [`selectors`] module in Rust: wait until one of many file descriptors is ready.
//!
//! A server that talks to many clients on one thread must not block on any single socket.
//! Instead it hands the kernel the whole set of file descriptors and asks "which of these can I
//! read from or write to without blocking?". This crate puts the three Unix answers to that
//! question behind one [`Selector`] trait, as Python's `selectors` module does:
//!
//! | Backend | System call | Platforms | Cost of one wait | Limit |
//! |---|---|---|---|---|
//! | [`SelectSelector`] | `select(2)` | every Unix | O(highest fd) | fds below `FD_SETSIZE` (1024) |
//! | [`PollSelector`] | `poll(2)` | every Unix | O(registered fds) | none |
//! | [`EpollSelector`] | `epoll(7)` | Linux and Android only | O(ready fds) | none |
//!
//! `select` and `poll` exist everywhere, `epoll` only on Linux; `select` is slow and `epoll` is
//! fast (see `docs/benchmarks.md` for the figures). [`DefaultSelector`] is the best backend the
//! platform has: [`EpollSelector`] on Linux and Android, [`PollSelector`] elsewhere.
//!
//! A *file descriptor* (fd) is the small integer the kernel hands back for every open file or
//! socket, numbered from 0 up to the process's limit (`ulimit -n`; often a soft limit of 1024,
//! which can be raised to the hard limit). `select(2)` keeps fds in a fixed-size bit set and so
//! cannot watch an fd numbered 1024 or higher, whatever the limit: [`SelectSelector`] refuses
//! such fds with [`Error::FdTooLarge`] instead of writing past the set.
//!
//! Every backend is level-triggered, like Python's: a socket with unread bytes is reported by
//! every wait until the bytes are read. A [`Waker`] lets another thread (or a signal handler)
//! end a wait at once.
//!
//! # Python → Rust
//!
//! | Python `selectors` | This crate |
//! |---|---|
//! | `SelectSelector`, `PollSelector`, `EpollSelector`, `DefaultSelector` | [`SelectSelector`], [`PollSelector`], [`EpollSelector`], [`DefaultSelector`] |
//! | `BaseSelector` | the [`Selector`] trait |
//! | `EVENT_READ`, `EVENT_WRITE` | [`Interest::READABLE`], [`Interest::WRITABLE`] |
//! | `SelectorKey(fileobj, fd, events, data)` | [`SelectorKey`]: [`fd`](SelectorKey::fd), [`interest`](SelectorKey::interest), [`token`](SelectorKey::token) |
//! | the `data` attached to a registration | a [`Token`] |
//! | `register`, `modify`, `unregister`, `get_key` | [`Selector::register`], [`Selector::modify`], [`Selector::unregister`], [`Selector::get_key`] |
//! | `get_map()` | [`Selector::keys`], [`Selector::len`] |
//! | `select(timeout)` returning `[(key, events)]` | [`Selector::select`] filling [`Events`] with [`Event`]s |
//! | `KeyError` / `ValueError` | [`Error`] |
//! | `close()` | dropping the selector |
//!
//! # Examples
//!
//! Wait until a client's bytes arrive, then read them:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::os::fd::AsFd;
//! use socketserver_selectors::{DefaultSelector, Events, Interest, Selector, Token};
//!
//! # fn main() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let mut client = TcpStream::connect(listener.local_addr()?)?;
//! let (mut conn, _) = listener.accept()?;
//!
//! let mut selector = DefaultSelector::new()?;
//! selector.register(conn.as_fd(), Interest::READABLE, Token(7))?;
//!
//! client.write_all(b"ping")?;
//! let mut events = Events::with_capacity(16);
//! selector.select(&mut events, None)?; // blocks until `conn` is readable
//!
//! let event = events.iter().next().expect("one event");
//! assert_eq!(event.token(), Token(7));
//! assert!(event.is_readable());
//! let mut buf = [0; 4];
//! conn.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"ping");
//!
//! selector.unregister(conn.as_fd())?; // unregister before closing the socket
//! # Ok(())
//! # }
//! ```
//!
//! # Platform-specific behavior
//!
//! [`EpollSelector`] exists on Linux and Android only. Building with
//! `RUSTFLAGS="--cfg selectors_portable"` makes Linux use the portable pieces (a pipe-based
//! [`Waker`] and [`PollSelector`] as [`DefaultSelector`]) so they can be tested there.
//!
//! [`selectors`]: https://docs.python.org/3/library/selectors.html

#[macro_use]
mod sys;
#[macro_use]
mod selector;

mod error;
mod event;
mod events;
mod interest;
mod key;
mod keys;
mod poll;
mod registry;
mod select;
mod token;
mod waker;

cfg_epoll! {
    mod epoll;
    pub use epoll::EpollSelector;
}

pub use error::Error;
pub use event::Event;
pub use events::Events;
pub use interest::Interest;
pub use key::SelectorKey;
pub use keys::Keys;
pub use poll::PollSelector;
pub use select::SelectSelector;
pub use selector::Selector;
pub use token::Token;
pub use waker::Waker;

/// The most efficient [`Selector`] on this platform, as Python's `selectors.DefaultSelector`.
///
/// # Examples
///
/// ```
/// use socketserver_selectors::{DefaultSelector, Selector};
///
/// # fn main() -> std::io::Result<()> {
/// let selector = DefaultSelector::new()?;
/// assert!(selector.is_empty());
/// # Ok(())
/// # }
/// ```
///
/// # Platform-specific behavior
///
/// [`EpollSelector`] on Linux and Android, [`PollSelector`] elsewhere (and on Linux when built
/// with `--cfg selectors_portable`).
pub type DefaultSelector = sys::DefaultSelector;
