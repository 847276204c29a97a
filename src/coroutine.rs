//! What blocking code can call when it runs on a coroutine ([`Coroutines`](crate::Coroutines)):
//! Go's goroutines, gevent's greenlets, Java's virtual threads.
//!
//! Under the [`Coroutines`](crate::Coroutines) strategy each connection's handler runs on a
//! stackful coroutine of its own, on one of a few loop threads. A read or write of the
//! request's own socket — through `rfile`, `wfile`, [`send_file`](crate::StreamRequest::send_file),
//! a parked wait, the close's linger — that would block suspends the coroutine instead, and
//! the loop runs another one until the socket is ready or the deadline passes. The handler's
//! code is the blocking code it always was.
//!
//! # What blocks the loop
//!
//! Only the request's own socket suspends. Like gevent without monkey-patching, anything
//! else that blocks — a file read, a database call, `std::thread::sleep`, a lock another
//! connection holds, a socket the handler opened itself — blocks the whole loop thread and
//! every connection on it. The way out:
//!
//! | instead of | call | what it does on a coroutine |
//! |---|---|---|
//! | blocking work (files, a database, DNS, CPU-heavy work) | [`offload`] | runs it on a helper thread; the coroutine waits, the loop goes on |
//! | `std::thread::sleep` | [`sleep`] | suspends until the time has passed |
//! | a long computation | [`yield_now`] now and then | lets the loop's other connections run |
//!
//! Off a coroutine (any other strategy) the three do the plain thing on the calling thread,
//! so a handler written with them runs under every strategy.
//!
//! A coroutine that runs for more than [`Coroutines::set_stall_warning`](crate::Coroutines::set_stall_warning)
//! (10 ms by default) without suspending is named in a `tracing` warning: while it still runs
//! (a watch thread looks at every loop; so a handler that never suspends is found too), and
//! with how long it ran once it suspends. Its loop's other connections waited that long.
//!
//! What the strategy cannot make safe: a `std` or `parking_lot` lock held across a read or
//! write that suspends can be wanted by another coroutine of the same loop, which then blocks
//! the loop thread, and with it the holder: a deadlock. Do not hold a lock across socket I/O.
//! A coroutine never moves to another thread, so thread-locals and `!Send` values held across
//! a suspension stay correct.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::sys::{self, Resume, Suspend};

/// Whether the calling code runs on a coroutine of the [`Coroutines`](crate::Coroutines)
/// strategy.
///
/// # Examples
///
/// ```
/// assert!(!socketserver::coroutine::in_coroutine()); // a plain thread
/// ```
#[doc(alias = "gevent.getcurrent")]
pub fn in_coroutine() -> bool {
    sys::in_fiber()
}

/// Waits `duration`: on a coroutine by suspending it (the loop serves others meanwhile),
/// elsewhere with `std::thread::sleep`.
///
/// # Examples
///
/// ```
/// let start = std::time::Instant::now();
/// socketserver::coroutine::sleep(std::time::Duration::from_millis(5));
/// assert!(start.elapsed() >= std::time::Duration::from_millis(5));
/// ```
#[doc(alias = "gevent.sleep")]
pub fn sleep(duration: Duration) {
    let Some(until) = Instant::now().checked_add(duration) else {
        // Longer than the clock can say: as long as a thread would sleep.
        std::thread::sleep(duration);
        return;
    };
    if !sys::in_fiber() {
        std::thread::sleep(duration);
        return;
    }
    // A resume for any other reason (the loop stops) ends the sleep early.
    let _ = suspend(Suspend::Sleep(until));
}

/// Lets the loop's other coroutines run before this one goes on; on a plain thread,
/// `std::thread::yield_now`. For long computations on a coroutine.
#[doc(alias = "gosched")]
pub fn yield_now() {
    if suspend(Suspend::Yield).is_none() {
        std::thread::yield_now();
    }
}

/// Runs `work` where it may block without blocking the loop: on a coroutine, on one of the
/// strategy's helper threads while this coroutine waits (its loop serves the others); on a
/// plain thread, right here. A panic in `work` is resumed here.
///
/// # Errors
///
/// `ConnectionAborted` when the server closed while the work was still running (its result is
/// dropped when it ends).
///
/// # Examples
///
/// ```
/// let len = socketserver::coroutine::offload(|| std::fs::read("Cargo.toml").map(|b| b.len()))??;
/// assert!(len > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "spawn_blocking")]
#[doc(alias = "block_in_place")]
#[doc(alias = "threadpool.apply")]
pub fn offload<T, F>(work: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !sys::in_fiber() {
        return Ok(work());
    }
    let slot: Arc<Mutex<Option<std::thread::Result<T>>>> = Arc::new(Mutex::new(None));
    let theirs = Arc::clone(&slot);
    let boxed: Box<dyn FnOnce() + Send> = Box::new(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(work));
        *theirs.lock() = Some(result);
    });
    let resumed = suspend(Suspend::Offload(boxed));
    let result = slot.lock().take();
    match (result, resumed) {
        (Some(Ok(value)), _) => Ok(value),
        (Some(Err(payload)), _) => panic::resume_unwind(payload),
        (None, _) => Err(closing()),
    }
}

/// Suspends the running coroutine (`None` at once off a coroutine). The `tracing` spans it has
/// entered are left while it is suspended and entered again when it resumes, so the loop's
/// other coroutines do not run, and log, inside them.
fn suspend(waits_for: Suspend) -> Option<Resume> {
    if !sys::in_fiber() {
        return None;
    }
    let entered = leave_spans();
    let resumed = sys::suspend(waits_for);
    enter_spans(entered);
    resumed
}

/// The most spans a coroutine may have entered that are carried across a suspension.
const MOST_SPANS: usize = 32;

/// Exits every span entered on this thread (all the running coroutine's: a loop enters none),
/// innermost first; returns them.
fn leave_spans() -> Vec<tracing::Span> {
    let mut entered = Vec::new();
    loop {
        let span = tracing::Span::current();
        let Some(id) = span.id() else {
            break;
        };
        if entered.len() == MOST_SPANS
            || entered
                .iter()
                .any(|s: &tracing::Span| s.id() == Some(id.clone()))
        {
            break;
        }
        tracing::dispatcher::get_default(|dispatch| dispatch.exit(&id));
        entered.push(span);
    }
    entered
}

/// Enters again the spans [`leave_spans`] exited, outermost first.
fn enter_spans(entered: Vec<tracing::Span>) {
    for span in entered.iter().rev() {
        if let Some(id) = span.id() {
            tracing::dispatcher::get_default(|dispatch| dispatch.enter(&id));
        }
    }
}

/// The error a wait gives when its loop stops under it.
fn closing() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the server closed while this coroutine waited",
    )
}

/// Waits until `fd` is readable (or, `writable`, writable), at most `timeout`: `Ok(false)` when
/// it passes first. On a coroutine whose own socket `fd` is, suspends; otherwise `poll(2)`.
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    writable: bool,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    if timeout != Some(Duration::ZERO) && sys::own_fd() == Some(fd.as_raw_fd()) {
        let deadline = timeout.and_then(|after| Instant::now().checked_add(after));
        return match suspend(Suspend::Io { writable, deadline }) {
            Some(Resume::Ready) => Ok(true),
            Some(Resume::Expired) => Ok(false),
            Some(Resume::Stop) | None => Err(closing()),
        };
    }
    match writable {
        true => sys::wait_writable_for(fd, timeout),
        false => sys::wait_readable(fd, timeout),
    }
}
