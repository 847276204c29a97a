//! `select(2)`: three bit sets of `FD_SETSIZE` bits, copied from templates before every call.

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::ptr;
use std::time::Duration;

use crate::event::Readiness;
use crate::registry::Registry;
use crate::sys::timeout;
use crate::{Error, Event, Events, Interest, SelectorKey, Token};

/// One more than the highest fd an `fd_set` can hold.
pub(crate) const FD_SETSIZE: usize = libc::FD_SETSIZE;

pub(crate) struct Selector {
    registry: Registry,
    // What the next call asks for; `select(2)` overwrites its arguments, so it gets copies.
    read: FdSet,
    write: FdSet,
    any: FdSet,
    max_fd: RawFd,
    // Where the next scan of the results starts, so a full `Events` does not starve the rest.
    cursor: usize,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        Ok(Selector {
            registry: Registry::default(),
            read: FdSet::new(),
            write: FdSet::new(),
            any: FdSet::new(),
            max_fd: -1,
            cursor: 0,
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn register(
        &mut self,
        fd: RawFd,
        interest: Interest,
        token: Token,
    ) -> Result<SelectorKey, Error> {
        // Checked here, before any FD_SET: out of range is undefined behavior there.
        if !usize::try_from(fd).is_ok_and(|fd| fd < FD_SETSIZE) {
            return Err(Error::FdTooLarge {
                fd,
                limit: FD_SETSIZE,
            });
        }
        self.registry.check_vacant(fd)?;
        self.set_interest(fd, interest);
        self.max_fd = self.max_fd.max(fd);
        Ok(self.registry.insert(fd, interest, token))
    }

    pub(crate) fn modify(
        &mut self,
        fd: RawFd,
        interest: Interest,
        token: Token,
    ) -> Result<SelectorKey, Error> {
        let index = self.registry.position(fd)?;
        self.set_interest(fd, interest);
        Ok(self.registry.update(index, interest, token))
    }

    pub(crate) fn unregister(&mut self, fd: RawFd) -> Result<SelectorKey, Error> {
        let (_, key) = self.registry.remove(fd)?;
        self.read.remove(fd);
        self.write.remove(fd);
        self.any.remove(fd);
        if fd == self.max_fd {
            self.max_fd = self
                .registry
                .as_slice()
                .iter()
                .map(SelectorKey::fd)
                .max()
                .unwrap_or(-1);
        }
        Ok(key)
    }

    pub(crate) fn select(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        let (mut read, mut write, mut except) = (FdSet::new(), FdSet::new(), FdSet::new());
        let n = timeout::wait(timeout, |left| {
            read = self.read.clone();
            write = self.write.clone();
            except = self.any.clone();
            let mut tv = left.map(timeout::as_timeval);
            let tv_ptr = tv.as_mut().map_or(ptr::null_mut(), ptr::from_mut);
            // SAFETY: the three sets are valid, writable `fd_set`s holding only fds below
            // `max_fd + 1 <= FD_SETSIZE`; `tv_ptr` is null (wait forever) or points to a live
            // `timeval`.
            let n = unsafe {
                syscall!(select(
                    self.max_fd + 1,
                    &mut read.0,
                    &mut write.0,
                    &mut except.0,
                    tv_ptr,
                ))
            }?;
            Ok(n as usize)
        })?;
        if n == 0 || self.registry.len() == 0 {
            return Ok(());
        }

        let keys = self.registry.as_slice();
        let start = self.cursor % keys.len();
        for (i, key) in keys[start..].iter().chain(&keys[..start]).enumerate() {
            if events.is_full() {
                self.cursor = start + i;
                break;
            }
            let fd = key.fd();
            let ready = Readiness {
                input: read.contains(fd),
                output: write.contains(fd),
                error: except.contains(fd),
                ..Readiness::default()
            };
            if let Some(event) = Event::new(key, ready) {
                events.push(event);
            }
        }
        Ok(())
    }

    fn set_interest(&mut self, fd: RawFd, interest: Interest) {
        self.read.set(fd, interest.is_readable());
        self.write.set(fd, interest.is_writable());
        self.any.set(fd, true);
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectSelector")
            .field("registry", &self.registry)
            .field("max_fd", &self.max_fd)
            .finish_non_exhaustive()
    }
}

/// An `fd_set`, only ever touched with fds in `0..FD_SETSIZE` (checked at registration).
#[derive(Clone)]
struct FdSet(libc::fd_set);

impl FdSet {
    fn new() -> FdSet {
        let mut set = MaybeUninit::<libc::fd_set>::uninit();
        // SAFETY: `FD_ZERO` initialises every bit of the set it is given, which
        // `assume_init` then relies on.
        unsafe {
            libc::FD_ZERO(set.as_mut_ptr());
            FdSet(set.assume_init())
        }
    }

    fn set(&mut self, fd: RawFd, on: bool) {
        debug_assert!((0..FD_SETSIZE as RawFd).contains(&fd));
        // SAFETY: `fd` is in `0..FD_SETSIZE` (checked by `register`), so the bit is inside the set.
        unsafe {
            if on {
                libc::FD_SET(fd, &mut self.0);
            } else {
                libc::FD_CLR(fd, &mut self.0);
            }
        }
    }

    fn remove(&mut self, fd: RawFd) {
        self.set(fd, false);
    }

    fn contains(&self, fd: RawFd) -> bool {
        debug_assert!((0..FD_SETSIZE as RawFd).contains(&fd));
        // SAFETY: `fd` is in `0..FD_SETSIZE` (checked by `register`), so the bit is inside the set.
        unsafe { libc::FD_ISSET(fd, &self.0) }
    }
}
