use std::io;

use crate::sys;

/// A [`Selector`](crate::Selector) on `poll(2)`: portable and without an fd limit, but each wait
/// costs time in proportion to the number of registrations.
///
/// Python's `selectors.PollSelector`. Registrations live in an array of `pollfd`s that is handed
/// to the kernel whole on every wait and scanned afterwards; fds of any number, and any count of
/// them, can be registered. The [`DefaultSelector`](crate::DefaultSelector) on platforms without
/// `epoll`.
///
/// # Examples
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{Events, Interest, PollSelector, Selector, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut selector = PollSelector::new()?;
/// selector.register(listener.as_fd(), Interest::READABLE, Token(0))?;
///
/// let _client = TcpStream::connect(listener.local_addr()?)?;
/// let mut events = Events::with_capacity(8);
/// selector.select(&mut events, None)?;
/// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(0)));
/// let (_conn, _peer) = listener.accept()?;
/// # Ok(())
/// # }
/// ```
///
/// # Platform-specific behavior
///
/// On Linux and Android a read interest also asks for `POLLRDHUP`, so a peer that shuts down its
/// writing side is reported as a hang-up ([`Event::is_hangup`](crate::Event::is_hangup)).
/// A registered fd that was closed is reported on every wait with
/// [`Event::is_error`](crate::Event::is_error) (`POLLNVAL`) until it is unregistered.
#[derive(Debug)]
pub struct PollSelector {
    inner: sys::poll::Selector,
}

impl PollSelector {
    /// Creates a selector with no registrations.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::{PollSelector, Selector};
    ///
    /// let selector = PollSelector::new()?;
    /// assert!(selector.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today (no kernel object is created); the `Result` keeps the constructors of all
    /// backends alike.
    pub fn new() -> io::Result<PollSelector> {
        sys::poll::Selector::new().map(|inner| PollSelector { inner })
    }
}

forward_selector!(PollSelector);
