use std::io;

use crate::sys;

/// A [`Selector`](crate::Selector) on `epoll(7)`: Linux and Android only, and fast with many fds.
///
/// Python's `selectors.EpollSelector`. The kernel keeps the interest list, so registering costs
/// one `epoll_ctl(2)` call and a wait costs time in proportion to the number of *ready* fds, not
/// registered ones. The [`DefaultSelector`](crate::DefaultSelector) on Linux and Android. Used
/// level-triggered, like Python's.
///
/// # Examples
///
/// ```
/// use std::net::UdpSocket;
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{EpollSelector, Events, Interest, Selector, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let socket = UdpSocket::bind("127.0.0.1:0")?;
/// let mut selector = EpollSelector::new()?;
/// selector.register(socket.as_fd(), Interest::READABLE, Token(9))?;
///
/// socket.send_to(b"ping", socket.local_addr()?)?;
/// let mut events = Events::with_capacity(8);
/// selector.select(&mut events, None)?;
/// assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(9)));
/// # Ok(())
/// # }
/// ```
///
/// # Platform-specific behavior
///
/// Available on Linux and Android only. The epoll instance is one fd, created close-on-exec and
/// closed when the selector is dropped. A read interest also asks for `EPOLLRDHUP`, so a peer
/// that shuts down its writing side is reported as a hang-up
/// ([`Event::is_hangup`](crate::Event::is_hangup)). `epoll` refuses regular files (`EPERM`).
/// A registration belongs to the open file, not the fd number: unregister before closing, or a
/// `dup` of the fd still alive elsewhere keeps producing events for it.
#[derive(Debug)]
pub struct EpollSelector {
    inner: sys::epoll::Selector,
}

impl EpollSelector {
    /// Creates a selector with no registrations, on a new close-on-exec epoll instance.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::{EpollSelector, Selector};
    ///
    /// let selector = EpollSelector::new()?;
    /// assert!(selector.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error of `epoll_create1(2)`, e.g. `EMFILE` when the process is out of file descriptors.
    pub fn new() -> io::Result<EpollSelector> {
        sys::epoll::Selector::new().map(|inner| EpollSelector { inner })
    }
}

forward_selector!(EpollSelector);
