//! Timeouts: zero polls, a timeout is waited in full, and signals neither shorten nor lengthen it.

#[macro_use]
mod util;

use std::os::fd::AsFd;
use std::os::unix::thread::JoinHandleExt;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use socketserver_selectors::{Events, Interest, Token};
use util::{install_sigusr1_handler, udp, Backend, PATIENCE};

backend_tests!(
    zero_timeout_returns_at_once_with_nothing,
    timeout_is_waited_in_full,
    sub_millisecond_timeout_is_waited_in_full,
    signals_during_a_wait_do_not_shorten_it,
);

fn zero_timeout_returns_at_once_with_nothing<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    selector
        .register(socket.as_fd(), Interest::READABLE, Token(0))
        .unwrap();
    let mut events = Events::with_capacity(8);
    let start = Instant::now();
    selector.select(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty());
    assert!(start.elapsed() < PATIENCE);
}

fn timeout_is_waited_in_full<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    selector
        .register(socket.as_fd(), Interest::READABLE, Token(0))
        .unwrap();
    let mut events = Events::with_capacity(8);
    let timeout = Duration::from_millis(100);
    let start = Instant::now();
    selector.select(&mut events, Some(timeout)).unwrap();
    let elapsed = start.elapsed();
    assert!(events.is_empty());
    assert!(elapsed >= timeout, "returned after {elapsed:?}");
    assert!(elapsed < PATIENCE, "returned after {elapsed:?}");
}

fn sub_millisecond_timeout_is_waited_in_full<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    selector
        .register(socket.as_fd(), Interest::READABLE, Token(0))
        .unwrap();
    let mut events = Events::with_capacity(8);
    let timeout = Duration::from_micros(500);
    let start = Instant::now();
    selector.select(&mut events, Some(timeout)).unwrap();
    let elapsed = start.elapsed();
    assert!(events.is_empty());
    assert!(elapsed >= timeout, "returned after {elapsed:?}");
}

fn signals_during_a_wait_do_not_shorten_it<S: Backend>() {
    // Installed before the waiting thread exists, so no signal finds a thread without it.
    install_sigusr1_handler();
    let socket = udp();
    let mut selector = S::create();
    selector
        .register(socket.as_fd(), Interest::READABLE, Token(0))
        .unwrap();
    let timeout = Duration::from_millis(300);
    let started = Arc::new(Barrier::new(2));

    let waiter = {
        let started = Arc::clone(&started);
        thread::spawn(move || {
            let mut events = Events::with_capacity(8);
            started.wait();
            let start = Instant::now();
            selector.select(&mut events, Some(timeout)).unwrap();
            drop(socket);
            (start.elapsed(), events.len())
        })
    };
    started.wait();
    let pthread = waiter.as_pthread_t();
    for _ in 0..5 {
        // The sleep is what is being measured around: signals land during the wait.
        thread::sleep(Duration::from_millis(40));
        // SAFETY: `waiter` is not joined yet, so its pthread_t is valid; SIGUSR1 has a handler.
        let rc = unsafe { libc::pthread_kill(pthread, libc::SIGUSR1) };
        assert_eq!(rc, 0);
    }
    let (elapsed, events) = waiter.join().unwrap();
    assert_eq!(events, 0);
    assert!(
        elapsed >= timeout,
        "a signal cut the wait short: {elapsed:?}"
    );
    assert!(elapsed < PATIENCE, "returned after {elapsed:?}");
}
