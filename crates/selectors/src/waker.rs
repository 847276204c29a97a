use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::sys;

/// Ends a wait from another thread or a signal handler: a file descriptor that becomes readable
/// on demand.
///
/// Register the waker's fd with [`Interest::READABLE`](crate::Interest::READABLE) and a token of
/// its own; [`wake`](Waker::wake) makes it readable, so a blocked
/// [`Selector::select`](crate::Selector::select) returns at once with the waker's token. The
/// waiting side then calls [`drain`](Waker::drain) to make it not readable again, and checks
/// whatever state the waking side changed (a shutdown flag, a queue). Waking is idempotent until
/// drained: many wakes, one drain.
///
/// A `Waker` is `Send` and `Sync`: share it with an `Arc`. [`wake`](Waker::wake) is a single
/// `write(2)` that allocates nothing, so it is also safe to call from a signal handler.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use std::sync::Arc;
/// use std::thread;
/// use socketserver_selectors::{DefaultSelector, Events, Interest, Selector, Token, Waker};
///
/// # fn main() -> std::io::Result<()> {
/// const WAKER: Token = Token(0);
///
/// let waker = Arc::new(Waker::new()?);
/// let mut selector = DefaultSelector::new()?;
/// selector.register(waker.as_fd(), Interest::READABLE, WAKER)?;
///
/// let remote = Arc::clone(&waker);
/// let handle = thread::spawn(move || remote.wake());
///
/// let mut events = Events::with_capacity(8);
/// selector.select(&mut events, None)?; // returns once the other thread woke us
/// assert_eq!(events.iter().next().map(|e| e.token()), Some(WAKER));
/// waker.drain()?;
/// handle.join().unwrap()?;
/// # Ok(())
/// # }
/// ```
///
/// # Platform-specific behavior
///
/// An `eventfd(2)` (`EFD_NONBLOCK | EFD_CLOEXEC`) on Linux and Android: one fd, and a wake adds
/// one to its counter. Elsewhere (and with `--cfg selectors_portable`) a nonblocking,
/// close-on-exec pipe: two fds, a wake writes one byte, and a full pipe counts as awake.
#[derive(Debug)]
pub struct Waker {
    inner: sys::waker::Waker,
}

impl Waker {
    /// Creates a waker that is not readable.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Waker;
    ///
    /// let waker = Waker::new()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error of `eventfd(2)` or `pipe(2)`, e.g. `EMFILE` when the process is out of file
    /// descriptors.
    pub fn new() -> io::Result<Waker> {
        sys::waker::Waker::new().map(|inner| Waker { inner })
    }

    /// Makes the waker readable, waking a selector waiting on it; does nothing more if it is
    /// already awake.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Waker;
    ///
    /// let waker = Waker::new()?;
    /// waker.wake()?;
    /// waker.wake()?; // already awake: still fine
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error of `write(2)`, other than "would block" (which means already awake).
    pub fn wake(&self) -> io::Result<()> {
        self.inner.wake()
    }

    /// Makes the waker not readable again, however many times it was woken; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Waker;
    ///
    /// let waker = Waker::new()?;
    /// waker.drain()?; // not awake: returns at once
    /// waker.wake()?;
    /// waker.drain()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error of `read(2)`, other than "would block" (which means already drained).
    pub fn drain(&self) -> io::Result<()> {
        self.inner.drain()
    }
}

impl AsFd for Waker {
    /// Returns the fd to register for reading (the eventfd, or the pipe's read end).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for Waker {
    /// Returns the number of the fd to register for reading.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_fd().as_raw_fd()
    }
}
