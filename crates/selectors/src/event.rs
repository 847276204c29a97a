use std::fmt;
use std::os::fd::RawFd;

use crate::{SelectorKey, Token};

const READABLE: u8 = 0b0001;
const WRITABLE: u8 = 0b0010;
const ERROR: u8 = 0b0100;
const HANGUP: u8 = 0b1000;

/// One ready registration, reported by [`Selector::select`](crate::Selector::select).
///
/// Python's `(key, events)` pair. Readiness follows Python's rule: an error or a hang-up makes a
/// registration readable (if it asked for [`READABLE`](crate::Interest::READABLE)) and, for an
/// error or a full hang-up, writable (if it asked for [`WRITABLE`](crate::Interest::WRITABLE)),
/// because the next read or write would not block: it returns end of file or the error. A server
/// that only looks at [`is_readable`](Event::is_readable) therefore still notices a client that
/// went away. [`is_error`](Event::is_error) and [`is_hangup`](Event::is_hangup) tell the cases
/// apart where the backend can.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use socketserver_selectors::{DefaultSelector, Events, Interest, Selector, Token};
///
/// # fn main() -> std::io::Result<()> {
/// let (mut ours, theirs) = UnixStream::pair()?;
/// let mut selector = DefaultSelector::new()?;
/// selector.register(ours.as_fd(), Interest::READABLE, Token(3))?;
///
/// drop(theirs); // the peer goes away
/// let mut events = Events::with_capacity(4);
/// selector.select(&mut events, None)?;
/// let event = events.iter().next().unwrap();
/// assert_eq!(event.token(), Token(3));
/// assert!(event.is_readable()); // and the read returns end of file:
/// assert_eq!(ours.read(&mut [0; 16])?, 0);
/// # Ok(())
/// # }
/// ```
///
/// # Platform-specific behavior
///
/// - `poll` and `epoll`: [`is_error`](Event::is_error) is `POLLERR`/`EPOLLERR` (a pending socket
///   error) or `POLLNVAL` (the fd was closed while registered);
///   [`is_hangup`](Event::is_hangup) is `POLLHUP`/`EPOLLHUP` or, on Linux and Android,
///   `POLLRDHUP`/`EPOLLRDHUP` (the peer shut down its writing side), which is asked for with
///   every read interest.
/// - `select`: [`is_error`](Event::is_error) reports the fd in `exceptfds`, which on Linux means
///   an *exceptional condition* such as TCP out-of-band data; a pending socket error shows as
///   readable and writable instead. `select(2)` cannot report a hang-up separately, so
///   [`is_hangup`](Event::is_hangup) is always `false` and a closed peer shows as readable.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Event {
    fd: RawFd,
    token: Token,
    flags: u8,
}

/// What a backend learnt from the kernel about one registration, before Python's rule is applied.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Readiness {
    /// Data to read (`POLLIN`, `EPOLLIN`, `readfds`).
    pub(crate) input: bool,
    /// Room to write (`POLLOUT`, `EPOLLOUT`, `writefds`).
    pub(crate) output: bool,
    /// `POLLERR`, `POLLNVAL`, `EPOLLERR`, `exceptfds`.
    pub(crate) error: bool,
    /// `POLLHUP`, `EPOLLHUP`: both directions are shut.
    pub(crate) hangup: bool,
    /// `POLLRDHUP`, `EPOLLRDHUP`: the peer shut down its writing side.
    pub(crate) read_hangup: bool,
}

impl Event {
    /// Builds the event for `key`, or `None` if nothing it asked for (nor an error or hang-up)
    /// happened.
    pub(crate) fn new(key: &SelectorKey, ready: Readiness) -> Option<Event> {
        let interest = key.interest();
        let mut flags = 0;
        if interest.is_readable()
            && (ready.input || ready.error || ready.hangup || ready.read_hangup)
        {
            flags |= READABLE;
        }
        if interest.is_writable() && (ready.output || ready.error || ready.hangup) {
            flags |= WRITABLE;
        }
        if ready.error {
            flags |= ERROR;
        }
        if ready.hangup || ready.read_hangup {
            flags |= HANGUP;
        }
        (flags != 0).then_some(Event {
            fd: key.fd(),
            token: key.token(),
            flags,
        })
    }

    /// Returns the ready file descriptor's number.
    pub const fn fd(&self) -> RawFd {
        self.fd
    }

    /// Returns the [`Token`] the file descriptor was registered with.
    pub const fn token(&self) -> Token {
        self.token
    }

    /// Returns `true` if a read would not block (data, a connection to accept, end of file, or an
    /// error). Only reported for registrations with read interest.
    pub const fn is_readable(&self) -> bool {
        self.flags & READABLE != 0
    }

    /// Returns `true` if a write would not block (room to write, or an error). Only reported for
    /// registrations with write interest.
    pub const fn is_writable(&self) -> bool {
        self.flags & WRITABLE != 0
    }

    /// Returns `true` if the file descriptor has an error pending; the next read or write returns
    /// it. Reported whatever the interest.
    ///
    /// # Platform-specific behavior
    ///
    /// See [`Event`]: `select(2)` reports exceptional conditions here instead.
    pub const fn is_error(&self) -> bool {
        self.flags & ERROR != 0
    }

    /// Returns `true` if the peer hung up: it closed the connection or shut down its writing
    /// side, so reads will return end of file once the buffered bytes are read. Reported whatever
    /// the interest.
    ///
    /// # Platform-specific behavior
    ///
    /// Always `false` with `select(2)`, which cannot tell; a closed peer shows as readable there.
    pub const fn is_hangup(&self) -> bool {
        self.flags & HANGUP != 0
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("fd", &self.fd)
            .field("token", &self.token)
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("error", &self.is_error())
            .field("hangup", &self.is_hangup())
            .finish()
    }
}
