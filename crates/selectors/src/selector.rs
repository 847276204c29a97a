use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use crate::{Error, Events, Interest, Keys, SelectorKey, Token};

/// Waits until registered file descriptors are ready: Python's `selectors.BaseSelector`.
///
/// Register each file descriptor once with an [`Interest`] and a [`Token`], then call
/// [`select`](Selector::select) in a loop and act on the [`Events`] it fills. Registrations are
/// keyed by fd number and borrow the fd only for the call: **unregister a file descriptor before
/// closing it** (a closed fd left registered makes `select` and `poll` report it, or fail, on
/// every wait, and its number may be reused by the next socket you open).
///
/// The trait is object safe, so a server can hold a `Box<dyn Selector>` chosen at run time.
/// Implemented by [`SelectSelector`](crate::SelectSelector), [`PollSelector`](crate::PollSelector)
/// and [`EpollSelector`](crate::EpollSelector).
///
/// # Examples
///
/// An accept loop that serves whichever listener has a connection waiting:
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{DefaultSelector, Events, Interest, Selector, Token};
///
/// # fn main() -> std::io::Result<()> {
/// let listeners = [TcpListener::bind("127.0.0.1:0")?, TcpListener::bind("127.0.0.1:0")?];
/// let mut selector: Box<dyn Selector> = Box::new(DefaultSelector::new()?);
/// for (i, listener) in listeners.iter().enumerate() {
///     listener.set_nonblocking(true)?;
///     selector.register(listener.as_fd(), Interest::READABLE, Token(i))?;
/// }
/// let _client = TcpStream::connect(listeners[1].local_addr()?)?;
///
/// let mut events = Events::with_capacity(64);
/// selector.select(&mut events, None)?;
/// for event in &events {
///     let (conn, peer) = listeners[event.token().0].accept()?;
///     assert_eq!(event.token(), Token(1));
/// #   let _ = (conn, peer);
/// }
/// # Ok(())
/// # }
/// ```
pub trait Selector: Send + fmt::Debug {
    /// Starts watching `fd` for `interest`; its events will carry `token`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use std::os::fd::AsFd;
    /// use socketserver_selectors::{Interest, PollSelector, Selector, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut selector = PollSelector::new()?;
    /// let key = selector.register(listener.as_fd(), Interest::READABLE, Token(0))?;
    /// assert_eq!(key.token(), Token(0));
    /// assert_eq!(selector.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRegistered`] if `fd` is registered already; [`Error::FdTooLarge`] from
    /// [`SelectSelector`](crate::SelectSelector) for an fd of `FD_SETSIZE` (1024) or more;
    /// [`Error::Io`] if the kernel refuses (`epoll` refuses regular files with `EPERM`). The
    /// registrations are unchanged on error.
    fn register(
        &mut self,
        fd: BorrowedFd<'_>,
        interest: Interest,
        token: Token,
    ) -> Result<SelectorKey, Error>;

    /// Changes what a registered `fd` waits for, and its token.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::os::fd::AsFd;
    /// use socketserver_selectors::{Interest, PollSelector, Selector, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// let mut selector = PollSelector::new()?;
    /// selector.register(socket.as_fd(), Interest::READABLE, Token(0))?;
    /// let key = selector.modify(socket.as_fd(), Interest::WRITABLE, Token(1))?;
    /// assert_eq!((key.interest(), key.token()), (Interest::WRITABLE, Token(1)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`] if `fd` is not registered; [`Error::Io`] if the kernel refuses.
    /// The registration is unchanged on error.
    fn modify(
        &mut self,
        fd: BorrowedFd<'_>,
        interest: Interest,
        token: Token,
    ) -> Result<SelectorKey, Error>;

    /// Stops watching `fd` and returns its last registration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::os::fd::AsFd;
    /// use socketserver_selectors::{Interest, PollSelector, Selector, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// let mut selector = PollSelector::new()?;
    /// selector.register(socket.as_fd(), Interest::READABLE, Token(5))?;
    /// assert_eq!(selector.unregister(socket.as_fd())?.token(), Token(5));
    /// assert!(selector.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`] if `fd` is not registered; [`Error::Io`] if the kernel refuses
    /// for any other reason than "not there" (which `epoll` says when the registered file was
    /// already closed, as Python also tolerates).
    fn unregister(&mut self, fd: BorrowedFd<'_>) -> Result<SelectorKey, Error>;

    /// Returns the registration of the file descriptor numbered `fd`, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::os::fd::{AsFd, AsRawFd};
    /// use socketserver_selectors::{Interest, PollSelector, Selector, Token};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// let mut selector = PollSelector::new()?;
    /// assert_eq!(selector.get_key(socket.as_raw_fd()), None);
    /// selector.register(socket.as_fd(), Interest::READABLE, Token(2))?;
    /// assert_eq!(selector.get_key(socket.as_raw_fd()).map(|k| k.token()), Some(Token(2)));
    /// # Ok(())
    /// # }
    /// ```
    fn get_key(&self, fd: RawFd) -> Option<SelectorKey>;

    /// Iterates over all registrations, in no particular order: Python's `get_map()`.
    fn keys(&self) -> Keys<'_>;

    /// Returns the number of registrations.
    fn len(&self) -> usize;

    /// Returns `true` if nothing is registered.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until a registration is ready or `timeout` passes, and fills `events`.
    ///
    /// `events` is cleared first and receives at most [`Events::capacity`] events. `None`
    /// blocks until something is ready; `Some(Duration::ZERO)` only polls. The wait is
    /// level-triggered: a file descriptor stays reported as long as it is ready. An empty
    /// `events` on return means the timeout passed.
    ///
    /// A signal caught during the wait does not end it early: the wait resumes with the time
    /// left until the deadline taken on entry, so it neither shortens nor lengthens the timeout.
    /// Use a [`Waker`](crate::Waker) to end a wait from another thread or a signal handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::os::fd::AsFd;
    /// use std::time::Duration;
    /// use socketserver_selectors::{Events, Interest, PollSelector, Selector, Token};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// let mut selector = PollSelector::new()?;
    /// selector.register(socket.as_fd(), Interest::READABLE, Token(0))?;
    ///
    /// let mut events = Events::with_capacity(8);
    /// selector.select(&mut events, Some(Duration::from_millis(10)))?;
    /// assert!(events.is_empty()); // nothing arrived: timed out
    ///
    /// socket.send_to(b"hi", socket.local_addr()?)?;
    /// selector.select(&mut events, None)?;
    /// assert_eq!(events.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Any error of the underlying system call other than `EINTR`, e.g. `EBADF` from `select(2)`
    /// when a registered file descriptor was closed.
    ///
    /// # Platform-specific behavior
    ///
    /// Timeouts are rounded up to the system call's unit (a millisecond for `poll` and `epoll`,
    /// a microsecond for `select`), and very long ones are waited for in several calls.
    fn select(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()>;
}

/// Implements [`Selector`] for a public backend type by forwarding to its `inner` sys type.
macro_rules! forward_selector {
    ($ty:ty) => {
        impl $crate::Selector for $ty {
            fn register(
                &mut self,
                fd: std::os::fd::BorrowedFd<'_>,
                interest: $crate::Interest,
                token: $crate::Token,
            ) -> Result<$crate::SelectorKey, $crate::Error> {
                use std::os::fd::AsRawFd;
                self.inner.register(fd.as_raw_fd(), interest, token)
            }

            fn modify(
                &mut self,
                fd: std::os::fd::BorrowedFd<'_>,
                interest: $crate::Interest,
                token: $crate::Token,
            ) -> Result<$crate::SelectorKey, $crate::Error> {
                use std::os::fd::AsRawFd;
                self.inner.modify(fd.as_raw_fd(), interest, token)
            }

            fn unregister(
                &mut self,
                fd: std::os::fd::BorrowedFd<'_>,
            ) -> Result<$crate::SelectorKey, $crate::Error> {
                use std::os::fd::AsRawFd;
                self.inner.unregister(fd.as_raw_fd())
            }

            fn get_key(&self, fd: std::os::fd::RawFd) -> Option<$crate::SelectorKey> {
                self.inner.registry().get(fd)
            }

            fn keys(&self) -> $crate::Keys<'_> {
                self.inner.registry().keys()
            }

            fn len(&self) -> usize {
                self.inner.registry().len()
            }

            fn select(
                &mut self,
                events: &mut $crate::Events,
                timeout: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.inner.select(events, timeout)
            }
        }
    };
}
