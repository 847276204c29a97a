//! `handle_request`: its timeout and `handle_timeout`, and a threading server's
//! `handle_request` returning before the handler finishes.

mod util;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use socketserver::{SequentialTcpServer, ServerHooks, StreamRequest, ThreadingTcpServer};
use util::{connect, join_within, read_all, stream_check, LineEcho, PATIENCE};

#[derive(Default)]
struct TimeoutCounter {
    timeouts: AtomicUsize,
}

impl ServerHooks<StreamRequest> for TimeoutCounter {
    fn handle_timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::SeqCst);
    }
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// `handle_request` with a timeout returns after about that long and calls `handle_timeout`
/// exactly once; signals arriving mid-wait (EINTR) neither shorten nor lengthen it.
#[test]
fn timeout_calls_handle_timeout_once_despite_signals() {
    // SAFETY: a zeroed `sigaction` is valid; the handler only touches an atomic. No
    // SA_RESTART, so the wait really is interrupted.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let timeout = Duration::from_millis(300);
    let mut server = SequentialTcpServer::new("127.0.0.1:0", LineEcho)
        .unwrap()
        .with_hooks(TimeoutCounter::default());
    server.set_timeout(Some(timeout));

    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tid_tx
            .send(unsafe { libc::pthread_self() } as usize)
            .unwrap();
        let started = Instant::now();
        server.handle_request().unwrap();
        let waited = started.elapsed();
        done_tx.send(()).unwrap();
        (server, waited)
    });
    let target = tid_rx.recv().unwrap() as libc::pthread_t;
    // Interrupt the wait repeatedly until it ends.
    while done_rx.recv_timeout(Duration::from_millis(20)).is_err() {
        // SAFETY: the waiter thread is alive until it sends on `done_tx`, which we have not
        // seen yet; it is joined only below.
        assert_eq!(unsafe { libc::pthread_kill(target, libc::SIGUSR2) }, 0);
    }
    let (server, waited) = join_within(waiter, PATIENCE);
    assert!(
        SIGNALS.load(Ordering::SeqCst) > 0,
        "the wait was interrupted"
    );
    assert!(
        waited >= timeout,
        "signals must not shorten the wait: {waited:?}"
    );
    eprintln!("handle_request waited {waited:?} for a {timeout:?} timeout");
    assert_eq!(server.hooks().timeouts.load(Ordering::SeqCst), 1);
}

/// A request that arrives within the timeout is handled and `handle_timeout` is not called.
#[test]
fn request_within_timeout_is_handled() {
    let mut server = SequentialTcpServer::new("127.0.0.1:0", LineEcho)
        .unwrap()
        .with_hooks(TimeoutCounter::default());
    server.set_timeout(Some(PATIENCE));
    let address = server.server_address().unwrap();
    let client = thread::spawn(move || stream_check(address));
    server.handle_request().unwrap();
    join_within(client, PATIENCE);
    assert_eq!(server.hooks().timeouts.load(Ordering::SeqCst), 0);
}

/// A threading server's `handle_request` returns before the handler has finished.
#[test]
fn threading_handle_request_returns_before_the_handler_finishes() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
    let blocker = move |_request: &mut StreamRequest| -> io::Result<()> {
        release_rx
            .lock()
            .unwrap()
            .recv_timeout(PATIENCE)
            .map_err(io::Error::other)
    };
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", blocker).unwrap();
    let address = server.server_address().unwrap();
    let mut client = connect(address);
    // If handle_request waited for the handler it would never return: the handler waits for
    // the release we send only afterwards.
    server.handle_request().unwrap();
    assert_eq!(
        server.dispatch().active_count(),
        1,
        "the handler is still running"
    );
    release_tx.send(()).unwrap();
    assert_eq!(read_all(&mut client), b"");
    server.server_close();
    assert_eq!(server.dispatch().active_count(), 0);
}
