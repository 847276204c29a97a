use std::io;
use std::os::fd::RawFd;

/// Why a selector refused a registration request, or the OS error that stopped it.
///
/// Python raises `KeyError` for the first two cases and `ValueError` for the next two. Convert to
/// [`std::io::Error`] with `?` or `From` when one error type is wanted: the kinds are
/// `AlreadyExists`, `NotFound`, `InvalidInput`, `InvalidInput` and the OS error itself.
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::net::TcpListener;
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{Error, Interest, PollSelector, Selector, Token};
///
/// # fn main() -> io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut selector = PollSelector::new()?;
/// selector.register(listener.as_fd(), Interest::READABLE, Token(0))?;
///
/// let again = selector.register(listener.as_fd(), Interest::READABLE, Token(0));
/// assert!(matches!(again, Err(Error::AlreadyRegistered { .. })));
/// let as_io: io::Error = again.unwrap_err().into();
/// assert_eq!(as_io.kind(), io::ErrorKind::AlreadyExists);
/// # Ok(())
/// # }
/// ```
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// The file descriptor is registered already; change it with
    /// [`Selector::modify`](crate::Selector::modify).
    #[error(
        "fd {fd} is already registered with this selector (use modify to change its interest)"
    )]
    AlreadyRegistered {
        /// The file descriptor's number.
        fd: RawFd,
    },

    /// The file descriptor is not registered with this selector.
    #[error("fd {fd} is not registered with this selector (register it first)")]
    NotRegistered {
        /// The file descriptor's number.
        fd: RawFd,
    },

    /// The interest asked for nothing.
    ///
    /// The built-in selectors never return it, since an [`Interest`](crate::Interest) cannot be
    /// empty; it is here for selectors that accept interests from elsewhere.
    #[error("empty interest: ask for READABLE, WRITABLE or both (unregister to stop watching)")]
    EmptyInterest,

    /// The file descriptor is too large (or negative) for `select(2)`'s fixed-size `fd_set`.
    #[error(
        "fd {fd} does not fit in select(2)'s fd_set (FD_SETSIZE = {limit}); \
         use PollSelector or EpollSelector for high-numbered fds"
    )]
    FdTooLarge {
        /// The file descriptor's number.
        fd: RawFd,
        /// `FD_SETSIZE`: one more than the highest fd that `select(2)` can watch.
        limit: usize,
    },

    /// The operating system refused the request.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match err {
            Error::Io(err) => return err,
            Error::AlreadyRegistered { .. } => io::ErrorKind::AlreadyExists,
            Error::NotRegistered { .. } => io::ErrorKind::NotFound,
            Error::EmptyInterest | Error::FdTooLarge { .. } => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, err)
    }
}
