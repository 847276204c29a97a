use std::os::fd::RawFd;

use crate::{Interest, Token};

/// One registration: the file descriptor, what it waits for, and the caller's [`Token`].
///
/// Python's `selectors.SelectorKey`, without the file object (Rust borrows the fd only for the
/// duration of each call) and with a [`Token`] in place of `data`. Returned by
/// [`Selector::register`](crate::Selector::register), [`modify`](crate::Selector::modify),
/// [`unregister`](crate::Selector::unregister) and [`get_key`](crate::Selector::get_key), and
/// yielded by [`keys`](crate::Selector::keys).
///
/// # Examples
///
/// ```
/// use std::net::TcpListener;
/// use std::os::fd::{AsFd, AsRawFd};
/// use socketserver_selectors::{Interest, Selector, SelectSelector, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut selector = SelectSelector::new()?;
/// let key = selector.register(listener.as_fd(), Interest::READABLE, Token(1))?;
/// assert_eq!(key.fd(), listener.as_raw_fd());
/// assert_eq!(key.interest(), Interest::READABLE);
/// assert_eq!(key.token(), Token(1));
/// assert_eq!(selector.get_key(listener.as_raw_fd()), Some(key));
/// # selector.unregister(listener.as_fd())?;
/// # Ok(())
/// # }
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SelectorKey {
    fd: RawFd,
    interest: Interest,
    token: Token,
}

impl SelectorKey {
    pub(crate) const fn new(fd: RawFd, interest: Interest, token: Token) -> SelectorKey {
        SelectorKey {
            fd,
            interest,
            token,
        }
    }

    /// Returns the registered file descriptor's number.
    pub const fn fd(&self) -> RawFd {
        self.fd
    }

    /// Returns what the registration waits for.
    pub const fn interest(&self) -> Interest {
        self.interest
    }

    /// Returns the token reported with the registration's events.
    pub const fn token(&self) -> Token {
        self.token
    }
}
