//! Registration bookkeeping: `get_key`, `keys`, `len`, and the typed errors.

#[macro_use]
mod util;

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use socketserver_selectors::{Error, Interest, Token};
use util::{dup_at_least, sorted_keys, udp, wait, Backend};

backend_tests!(
    get_key_keys_and_len_follow_registrations,
    registering_twice_is_already_registered,
    unknown_fd_is_not_registered,
    fd_above_fd_setsize,
);

fn get_key_keys_and_len_follow_registrations<S: Backend>() {
    let (a, b, c) = (udp(), udp(), udp());
    let mut selector = S::create();
    assert!(selector.is_empty());
    assert_eq!(selector.keys().count(), 0);

    let key_a = selector
        .register(a.as_fd(), Interest::READABLE, Token(10))
        .unwrap();
    let key_b = selector
        .register(
            b.as_fd(),
            Interest::READABLE | Interest::WRITABLE,
            Token(11),
        )
        .unwrap();
    let key_c = selector
        .register(c.as_fd(), Interest::WRITABLE, Token(12))
        .unwrap();
    assert_eq!(selector.len(), 3);
    assert_eq!(selector.get_key(a.as_raw_fd()), Some(key_a));
    assert_eq!(key_b.interest(), Interest::READABLE | Interest::WRITABLE);
    assert_eq!(selector.keys().len(), 3);
    let mut expected = vec![key_a, key_b, key_c];
    expected.sort_by_key(|key| key.fd());
    assert_eq!(sorted_keys(&selector), expected);

    // Removing one from the middle keeps the others intact (and findable).
    selector.unregister(a.as_fd()).unwrap();
    assert_eq!(selector.get_key(a.as_raw_fd()), None);
    assert_eq!(selector.get_key(c.as_raw_fd()), Some(key_c));
    let key_b2 = selector
        .modify(b.as_fd(), Interest::READABLE, Token(13))
        .unwrap();
    assert_eq!(selector.get_key(b.as_raw_fd()), Some(key_b2));
    assert_eq!(selector.len(), 2);
    assert!(!selector.is_empty());
}

fn registering_twice_is_already_registered<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    let key = selector
        .register(socket.as_fd(), Interest::WRITABLE, Token(1))
        .unwrap();

    let err = selector
        .register(socket.as_fd(), Interest::READABLE, Token(2))
        .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyRegistered { fd } if fd == socket.as_raw_fd()),
        "{err:?}"
    );
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::AlreadyExists);
    // The first registration is untouched.
    assert_eq!(selector.get_key(socket.as_raw_fd()), Some(key));
    assert_eq!(selector.len(), 1);
}

fn unknown_fd_is_not_registered<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    let err = selector
        .modify(socket.as_fd(), Interest::READABLE, Token(0))
        .unwrap_err();
    assert!(
        matches!(err, Error::NotRegistered { fd } if fd == socket.as_raw_fd()),
        "{err:?}"
    );
    let err = selector.unregister(socket.as_fd()).unwrap_err();
    assert!(matches!(err, Error::NotRegistered { .. }), "{err:?}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
    assert!(selector.is_empty());
}

fn fd_above_fd_setsize<S: Backend>() {
    let socket = udp();
    let high = dup_at_least(&socket, 1024);
    let fd = high.as_raw_fd();
    let mut selector = S::create();
    let result = selector.register(high.as_fd(), Interest::WRITABLE, Token(1024));
    match S::FD_LIMIT {
        Some(limit) => {
            let err = result.unwrap_err();
            assert!(
                matches!(err, Error::FdTooLarge { fd: f, limit: 1024 } if f == fd),
                "{err:?}"
            );
            assert!(
                err.to_string().contains("PollSelector"),
                "says what to do: {err}"
            );
            assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);
            assert_eq!(limit, 1024);
            assert!(selector.is_empty());
        }
        None => {
            // poll and epoll have no such limit: the high fd works like any other.
            result.unwrap();
            let events = wait(&mut selector);
            assert_eq!(
                events.iter().next().map(|e| (e.fd(), e.token())),
                Some((fd, Token(1024)))
            );
            selector.unregister(high.as_fd()).unwrap();
        }
    }
}

#[test]
fn errors_convert_to_io_errors_of_the_right_kind() {
    let cases = [
        (
            Error::AlreadyRegistered { fd: 3 },
            io::ErrorKind::AlreadyExists,
        ),
        (Error::NotRegistered { fd: 3 }, io::ErrorKind::NotFound),
        (Error::EmptyInterest, io::ErrorKind::InvalidInput),
        (
            Error::FdTooLarge {
                fd: 2000,
                limit: 1024,
            },
            io::ErrorKind::InvalidInput,
        ),
    ];
    for (err, kind) in cases {
        let message = err.to_string();
        let io_err = io::Error::from(err);
        assert_eq!(io_err.kind(), kind);
        assert_eq!(io_err.to_string(), message);
    }
    let os = io::Error::from_raw_os_error(libc::EBADF);
    let back = io::Error::from(Error::from(os));
    assert_eq!(back.raw_os_error(), Some(libc::EBADF));
}

#[test]
fn interest_cannot_be_empty() {
    let both = Interest::READABLE | Interest::WRITABLE;
    assert_eq!(both.remove(Interest::READABLE), Some(Interest::WRITABLE));
    assert_eq!(both.remove(both), None);
    assert_eq!(
        Interest::READABLE.add(Interest::READABLE),
        Interest::READABLE
    );
}
