//! 1000 registered sockets, exactly one made ready, reported with the right token.
//!
//! In its own test binary (its own process) so that its thousands of fds do not push the fds of
//! other tests above select's limit of 1024.

#[macro_use]
mod util;

use std::os::fd::{AsFd, AsRawFd};

use socketserver_selectors::{Error, Events, Interest, Token};
use util::{raise_fd_limit, udp, Backend, PATIENCE};

backend_tests!(one_ready_among_a_thousand);

const SOCKETS: usize = 1000;

/// One backend at a time: the three run in parallel otherwise, and two backends' 2 000 sockets
/// could leave select none below its limit of 1024 (it then has nothing to register).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_ready_among_a_thousand<S: Backend>() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let limit = raise_fd_limit();
    // Three backends run at once here, each with 1000 sockets and a sender.
    if limit < 4 * SOCKETS as libc::rlim_t {
        eprintln!("skipped: RLIMIT_NOFILE is {limit}, too low for {SOCKETS} sockets per backend");
        return;
    }
    let sockets: Vec<_> = (0..SOCKETS).map(|_| udp()).collect();
    let mut selector = S::create();
    let mut registered = Vec::new();
    for (i, socket) in sockets.iter().enumerate() {
        match selector.register(socket.as_fd(), Interest::READABLE, Token(i)) {
            Ok(_) => registered.push(i),
            // select(2) cannot watch fds of FD_SETSIZE and above: it registers only the sockets
            // that landed below 1024 and must refuse the rest with this error.
            Err(Error::FdTooLarge { fd, limit }) => {
                assert_eq!(S::FD_LIMIT, Some(limit));
                assert!(fd as usize >= limit);
            }
            Err(err) => panic!("register socket {i}: {err}"),
        }
    }
    if S::FD_LIMIT.is_none() {
        assert_eq!(registered.len(), SOCKETS);
    } else {
        eprintln!(
            "select: {} of {SOCKETS} sockets fit below fd 1024",
            registered.len()
        );
        assert!(!registered.is_empty());
    }
    assert_eq!(selector.len(), registered.len());

    let mut events = Events::with_capacity(SOCKETS);
    selector
        .select(&mut events, Some(std::time::Duration::ZERO))
        .unwrap();
    assert!(events.is_empty(), "all idle");

    // Make the one in the middle of the registered ones ready.
    let chosen = registered[registered.len() / 2];
    let target = sockets[chosen].local_addr().unwrap();
    udp().send_to(b"you", target).unwrap();
    selector.select(&mut events, Some(PATIENCE)).unwrap();
    assert_eq!(events.len(), 1);
    let event = events.iter().next().unwrap();
    assert_eq!(event.token(), Token(chosen));
    assert_eq!(event.fd(), sockets[chosen].as_raw_fd());
    assert!(event.is_readable());
}
