//! [`Fiber`]: a stackful coroutine (the `corosensei` crate) that suspends from any depth of its
//! call stack, and the thread-local link that lets code deep inside it suspend.
//!
//! A fiber is `!Send`: it runs and suspends on the thread that made it, always, so
//! thread-locals and `!Send` values held across a suspension stay sound. Its stack is an
//! `mmap` with a guard page below it; an overflow faults on the guard page and is reported by
//! [`report_stack_overflows`] before the process dies, never run over other memory.

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::time::Instant;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// A fiber's stack: reserved address space with a guard page; only the pages touched become
/// resident.
pub(crate) type FiberStack = DefaultStack;

/// Reserves a stack of `size` bytes (rounded up to pages) plus its guard page.
pub(crate) fn new_stack(size: usize) -> io::Result<FiberStack> {
    DefaultStack::new(size)
}

/// What a suspended fiber waits for, as it tells the loop that resumes it.
pub(crate) enum Suspend {
    /// Its own socket to become readable (or `writable`), until `deadline`.
    Io {
        writable: bool,
        deadline: Option<Instant>,
    },
    /// Only the time: resume at this instant.
    Sleep(Instant),
    /// Work to run off the loop; resume once it has run.
    Offload(Box<dyn FnOnce() + Send>),
    /// Nothing: let the loop's other fibers run first.
    Yield,
}

/// Why a loop resumes a fiber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// What it waited for happened (first resume: start).
    Ready,
    /// Its deadline passed first.
    Expired,
    /// The loop stops: give up waiting.
    Stop,
}

type Link = Yielder<Resume, Suspend>;

thread_local! {
    /// The fiber running on this thread now: its `Yielder`, set while its body runs and
    /// cleared while it is suspended (null: no fiber runs).
    static RUNNING: Cell<*const Link> = const { Cell::new(ptr::null()) };
    /// The socket of the fiber running now: the one descriptor its waits may suspend on.
    static OWN_FD: Cell<RawFd> = const { Cell::new(-1) };
    /// The guard page of the fiber running now (start, end), for the overflow report.
    static GUARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Where the fiber that suspended last stood in its stack (an address in `suspend`'s
    /// frame): everything it still needs is above it.
    static SUSPENDED_AT: Cell<usize> = const { Cell::new(0) };
}

/// Sets a thread-local cell for a scope and puts the old value back when the scope ends,
/// unwinding included.
struct Restore<T: Copy + 'static> {
    cell: &'static std::thread::LocalKey<Cell<T>>,
    old: T,
}

impl<T: Copy + 'static> Restore<T> {
    fn set(cell: &'static std::thread::LocalKey<Cell<T>>, value: T) -> Self {
        Restore {
            cell,
            old: cell.with(|c| c.replace(value)),
        }
    }
}

impl<T: Copy + 'static> Drop for Restore<T> {
    fn drop(&mut self) {
        self.cell.with(|c| c.set(self.old));
    }
}

/// A stackful coroutine running a body to its end, suspending whenever the body (at any
/// depth) calls [`suspend`].
pub(crate) struct Fiber {
    coroutine: Coroutine<Resume, Suspend, (), FiberStack>,
    fd: RawFd,
    guard: (usize, usize),
    /// Where it stood in its stack when it last suspended (0: it has not).
    suspended_at: usize,
}

impl Fiber {
    /// A fiber on `stack` that will run `body` (catching its panics) when first resumed;
    /// `fd` is the socket it may suspend on.
    pub(crate) fn new(stack: FiberStack, fd: RawFd, body: impl FnOnce() + 'static) -> Self {
        let guard = guard_page(&stack);
        let coroutine = Coroutine::with_stack(stack, move |link: &Link, _first: Resume| {
            let _running = Restore::set(&RUNNING, link as *const Link);
            // A body never unwinds into the loop; the job it runs catches its handler's panics.
            if panic::catch_unwind(AssertUnwindSafe(body)).is_err() {
                tracing::error!("a coroutine's body panicked");
            }
        });
        Fiber {
            coroutine,
            fd,
            guard,
            suspended_at: 0,
        }
    }

    /// Runs the fiber until it suspends (`Some`: what it waits for) or ends (`None`).
    pub(crate) fn resume(&mut self, why: Resume) -> Option<Suspend> {
        let _fd = Restore::set(&OWN_FD, self.fd);
        let _guard = Restore::set(&GUARD, self.guard);
        match self.coroutine.resume(why) {
            CoroutineResult::Yield(waits_for) => {
                self.suspended_at = SUSPENDED_AT.with(Cell::get);
                Some(waits_for)
            }
            CoroutineResult::Return(()) => None,
        }
    }

    /// Gives the kernel back the pages of a suspended fiber's stack below where it stands
    /// (less [`SWITCH_ROOM`], for the frames of the switch itself): what deeper calls touched
    /// before is dead now, and reads as zeros if it is touched again. Returns how many bytes.
    pub(crate) fn release_unused_stack(&self) -> usize {
        let page = page_size();
        let start = self.guard.1;
        let end = self.suspended_at.saturating_sub(SWITCH_ROOM) & !(page - 1);
        if self.suspended_at == 0 || self.coroutine.done() || end <= start {
            return 0;
        }
        // SAFETY: [start, end) lies within this fiber's own stack mapping: above its guard page
        // and at least SWITCH_ROOM below the address in `suspend`'s frame where the fiber stands
        // suspended. The fiber's live frames (its body's, and the few words of the context
        // switch below `suspend`'s frame) are all above `end`; nothing else points into this
        // range. MADV_DONTNEED on private anonymous memory only drops the pages: the next touch
        // maps a zeroed page, and the stack is written before it is read as it grows down.
        let released =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if released == 0 {
            end - start
        } else {
            0
        }
    }

    /// The stack back, for another fiber, once the body has ended (`None` before: a suspended
    /// body's frames still live on it).
    pub(crate) fn into_stack(self) -> Option<FiberStack> {
        if !self.coroutine.done() {
            return None;
        }
        Some(self.coroutine.into_stack())
    }
}

impl std::fmt::Debug for Fiber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fiber")
            .field("fd", &self.fd)
            .field("done", &self.coroutine.done())
            .finish_non_exhaustive()
    }
}

/// The guard page's address range: the lowest page of the mapping (`limit` is the mapping's
/// start; the usable stack begins one page above it).
fn guard_page(stack: &FiberStack) -> (usize, usize) {
    use corosensei::stack::Stack;
    let limit = stack.limit().get();
    (limit, limit.saturating_add(page_size()))
}

/// How far below the address `suspend` records the fiber's live frames may reach: the rest
/// of `suspend`'s frame, corosensei's `Yielder::suspend` and its context switch (a few
/// registers and return addresses). Generous: a whole page was kept before, and an idle
/// coroutine then kept that page whenever a deeper call had touched it (TLS's do).
const SWITCH_ROOM: usize = 1024;

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Whether this thread runs a fiber now.
pub(crate) fn in_fiber() -> bool {
    !RUNNING.with(Cell::get).is_null()
}

/// The socket of the fiber running now, if one runs.
pub(crate) fn own_fd() -> Option<RawFd> {
    in_fiber().then(|| OWN_FD.with(Cell::get))
}

/// Suspends the fiber running on this thread until its loop resumes it; `None` (at once) when
/// no fiber runs here.
pub(crate) fn suspend(waits_for: Suspend) -> Option<Resume> {
    let link = RUNNING.with(Cell::get);
    if link.is_null() {
        return None;
    }
    // Cleared while suspended (another fiber, or the loop, runs on this thread meanwhile), and
    // set back when resumed — also when resumed only to be unwound.
    let _running = Restore::set(&RUNNING, link);
    RUNNING.with(|c| c.set(ptr::null()));
    let here = 0u8;
    SUSPENDED_AT.with(|c| c.set(std::hint::black_box(&here) as *const u8 as usize));
    // SAFETY: `link` was read from RUNNING, which holds the `Yielder` of the fiber running on
    // this thread: set by that fiber's body (which receives the reference) for as long as the
    // body runs, and cleared while it is suspended. We are inside that body now, so the
    // Yielder, which corosensei keeps on the fiber's stack for the body's whole run, is alive.
    let link = unsafe { &*link };
    Some(link.suspend(waits_for))
}

/// Installs, once per process, a `SIGSEGV`/`SIGBUS` handler that recognises a fault on the
/// guard page of the fiber running on the faulting thread, writes one line saying so to
/// standard error, and lets the process die of the signal; any other fault goes to the
/// handler that was there before (Rust's own, which reports a thread's stack overflow).
pub(crate) fn report_stack_overflows() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            if let Err(error) = install_overflow_handler(signal) {
                tracing::warn!(%error, signal, "cannot watch for coroutine stack overflows");
            }
        }
    });
}

/// The handlers that were installed before ours, by signal.
static PREVIOUS_SEGV: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();
static PREVIOUS_BUS: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();

fn install_overflow_handler(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid "no handler, empty mask" value.
    let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
    ours.sa_sigaction = on_fault as *const () as libc::sighandler_t;
    // On the alternate stack (std gives every thread it starts one): the fiber's own stack is
    // exhausted when this runs.
    ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: a zeroed sigaction is valid; sigaction fills it in.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to valid sigaction values for the duration of the call.
    if unsafe { libc::sigaction(signal, &ours, &mut previous) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let slot = match signal {
        libc::SIGSEGV => &PREVIOUS_SEGV,
        _ => &PREVIOUS_BUS,
    };
    let _ = slot.set(previous);
    Ok(())
}

/// The fault handler. Only async-signal-safe work: thread-local `Cell` reads (const
/// initialised, no destructor), `write(2)`, `sigaction(2)`.
extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let address = unsafe { (*info).si_addr() } as usize;
    // Set only while a fiber runs on this thread (`Fiber::resume`).
    let (start, end) = GUARD.with(Cell::get);
    if start != 0 && start <= address && address < end {
        const MESSAGE: &[u8] =
            b"socketserver: a coroutine overflowed its stack (its guard page was hit); \
the process is stopped. Give handlers more stack with Coroutines::set_stack_size.\n";
        // SAFETY: write(2) on standard error with a valid buffer; async-signal-safe.
        unsafe { libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len()) };
        // SAFETY: restoring the default action, async-signal-safe; returning re-runs the
        // faulting instruction, which now kills the process with this signal.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
        return;
    }
    let previous = match signal {
        libc::SIGSEGV => PREVIOUS_SEGV.get(),
        _ => PREVIOUS_BUS.get(),
    };
    match previous {
        Some(previous)
            if previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN =>
        {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed as an SA_SIGINFO handler with
                // this signature; we pass on the kernel's own arguments.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(previous.sa_sigaction) };
                handler(signal, info, context);
            } else {
                // SAFETY: the previous handler was installed as a plain handler.
                let handler: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(previous.sa_sigaction) };
                handler(signal);
            }
        }
        _ => {
            // SAFETY: as above: the default action, then the fault repeats and kills us.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// Touches about `kib` KiB of stack below its caller, a KiB per frame.
    #[inline(never)]
    fn deep(kib: u8) -> u8 {
        let mut frame = [kib; 1024];
        std::hint::black_box(&mut frame);
        match kib {
            0 => frame[1023],
            _ => deep(kib - 1).wrapping_add(frame[1023]),
        }
    }

    /// How many pages of [start, end) are resident.
    fn resident_pages(start: usize, end: usize) -> usize {
        let mut flags = vec![0u8; (end - start).div_ceil(page_size())];
        // SAFETY: [start, end) is page-aligned and lies within one live mapping (a fiber's
        // stack above its guard page); `flags` has a byte for each of its pages.
        let done =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, flags.as_mut_ptr()) };
        assert_eq!(done, 0, "mincore: {}", io::Error::last_os_error());
        flags.iter().filter(|flag| *flag & 1 == 1).count()
    }

    #[test]
    fn a_suspended_fibers_unused_stack_goes_back_and_its_live_frames_stay() {
        use corosensei::stack::Stack;
        let stack = new_stack(256 * 1024).unwrap();
        let top = stack.base().get();
        let ended_with = Rc::new(Cell::new(0u64));
        let ended = Rc::clone(&ended_with);
        let mut fiber = Fiber::new(stack, -1, move || {
            std::hint::black_box(deep(128));
            let kept = std::hint::black_box(0x5eed_f00d_u64);
            suspend(Suspend::Yield);
            // The released pages serve again, and the frame it suspended in is intact.
            std::hint::black_box(deep(128));
            ended.set(kept);
        });
        assert!(matches!(fiber.resume(Resume::Ready), Some(Suspend::Yield)));
        let bottom = fiber.guard.1;
        let before = resident_pages(bottom, top);
        assert!(
            before >= 128 * 1024 / page_size(),
            "{before} pages resident"
        );

        let released = fiber.release_unused_stack();
        let after = resident_pages(bottom, top);
        assert!(released >= 120 * 1024, "{released} bytes released");
        assert!(
            after * page_size() <= top - fiber.suspended_at + 2 * page_size(),
            "{after} pages still resident ({before} before)"
        );

        assert!(fiber.resume(Resume::Ready).is_none());
        assert_eq!(ended_with.get(), 0x5eed_f00d);
    }
}
