//! The Waker: unblocks an infinite wait from another thread; wakes are idempotent until drained.

#[macro_use]
mod util;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Barrier};
use std::thread;

use socketserver_selectors::{Events, Interest, Selector, Token, Waker};
use util::{poll_now, tokens, Backend};

backend_tests!(
    waker_unblocks_an_infinite_wait,
    woken_twice_then_drained_is_not_readable,
    waker_wakes_from_many_threads,
);

const WAKER: Token = Token(99);

fn waker_unblocks_an_infinite_wait<S: Backend>() {
    let waker = Arc::new(Waker::new().unwrap());
    let mut selector = S::create();
    selector
        .register(waker.as_fd(), Interest::READABLE, WAKER)
        .unwrap();
    let ready = Arc::new(Barrier::new(2));

    let waking = {
        let (waker, ready) = (Arc::clone(&waker), Arc::clone(&ready));
        thread::spawn(move || {
            ready.wait();
            waker.wake().unwrap();
        })
    };
    ready.wait();
    let mut events = Events::with_capacity(8);
    selector.select(&mut events, None).unwrap();
    assert_eq!(tokens(&events), [WAKER.0]);
    assert!(events.iter().next().unwrap().is_readable());
    waking.join().unwrap();
    waker.drain().unwrap();
    assert!(poll_now(&mut selector).is_empty());
}

fn woken_twice_then_drained_is_not_readable<S: Backend>() {
    let waker = Waker::new().unwrap();
    let mut selector = S::create();
    selector
        .register(waker.as_fd(), Interest::READABLE, WAKER)
        .unwrap();
    assert!(
        poll_now(&mut selector).is_empty(),
        "a new waker is not readable"
    );

    waker.wake().unwrap();
    waker.wake().unwrap();
    assert_eq!(tokens(&poll_now(&mut selector)), [WAKER.0]);
    waker.drain().unwrap();
    assert!(
        poll_now(&mut selector).is_empty(),
        "one drain undoes any number of wakes"
    );
    waker.drain().unwrap(); // draining a drained waker does not block
    selector.unregister(waker.as_fd()).unwrap();
}

fn waker_wakes_from_many_threads<S: Backend>() {
    let waker = Arc::new(Waker::new().unwrap());
    let mut selector = S::create();
    selector
        .register(waker.as_fd(), Interest::READABLE, WAKER)
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let waker = Arc::clone(&waker);
            thread::spawn(move || {
                // 80 000 wakes in all: more than a 64 KiB pipe holds, so a full pipe is hit.
                for _ in 0..20_000 {
                    waker.wake().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(tokens(&poll_now(&mut selector)), [WAKER.0]);
    waker.drain().unwrap();
    assert!(poll_now(&mut selector).is_empty());
}

#[test]
fn waker_and_selectors_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Waker>();
    send::<socketserver_selectors::SelectSelector>();
    send::<socketserver_selectors::PollSelector>();
    send::<socketserver_selectors::DefaultSelector>();
    send::<Box<dyn Selector>>();
}

#[test]
fn waker_fds_are_close_on_exec() {
    let waker = Waker::new().unwrap();
    // SAFETY: `F_GETFD` takes no argument and only reads the flags of an open fd.
    let flags = unsafe { libc::fcntl(waker.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0);
    assert_ne!(flags & libc::FD_CLOEXEC, 0);
    // SAFETY: as above, with `F_GETFL`.
    let status = unsafe { libc::fcntl(waker.as_raw_fd(), libc::F_GETFL) };
    assert_ne!(status & libc::O_NONBLOCK, 0);
}
