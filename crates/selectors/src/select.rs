use std::io;

use crate::sys;

/// A [`Selector`](crate::Selector) on `select(2)`: portable, but limited to fds below 1024 and
/// slow with many of them.
///
/// Python's `selectors.SelectSelector`. Every wait hands the kernel three bit sets covering every
/// fd number up to the highest registered one, and the kernel and this type both scan them, so
/// a wait costs time in proportion to the highest fd number, ready or not. The sets have a fixed
/// size, `FD_SETSIZE` (1024 bits): an fd numbered 1024 or higher cannot be watched at all, and
/// [`register`](crate::Selector::register) refuses it with
/// [`Error::FdTooLarge`](crate::Error::FdTooLarge). Use it for a handful of low-numbered fds, or
/// where nothing else exists; prefer [`DefaultSelector`](crate::DefaultSelector).
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::net::{TcpListener, TcpStream};
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{Events, Interest, Selector, SelectSelector, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut client = TcpStream::connect(listener.local_addr()?)?;
/// let (conn, _) = listener.accept()?;
///
/// let mut selector = SelectSelector::new()?;
/// selector.register(conn.as_fd(), Interest::READABLE | Interest::WRITABLE, Token(0))?;
/// client.write_all(b"x")?;
///
/// let mut events = Events::with_capacity(8);
/// selector.select(&mut events, None)?;
/// let event = events.iter().next().unwrap();
/// assert!(event.is_readable() && event.is_writable());
/// # Ok(())
/// # }
/// ```
///
/// # Platform-specific behavior
///
/// Exceptional conditions (`exceptfds`; on Linux, TCP out-of-band data) are reported as
/// [`Event::is_error`](crate::Event::is_error); a pending socket error shows as readable and
/// writable. A hang-up cannot be told apart: a closed peer shows as readable, and
/// [`Event::is_hangup`](crate::Event::is_hangup) is always `false`. A registered fd that was
/// closed makes every wait fail with `EBADF` until it is unregistered.
#[derive(Debug)]
pub struct SelectSelector {
    inner: sys::select::Selector,
}

impl SelectSelector {
    /// Creates a selector with no registrations.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::{Selector, SelectSelector};
    ///
    /// let selector = SelectSelector::new()?;
    /// assert!(selector.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today (no kernel object is created); the `Result` keeps the constructors of all
    /// backends alike.
    pub fn new() -> io::Result<SelectSelector> {
        sys::select::Selector::new().map(|inner| SelectSelector { inner })
    }
}

forward_selector!(SelectSelector);
