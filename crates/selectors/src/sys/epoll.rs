//! `epoll(7)`: the kernel keeps the interest list; a wait costs O(ready fds).

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use libc::c_int;

use crate::event::Readiness;
use crate::registry::Registry;
use crate::sys::timeout;
use crate::{Error, Event, Events, Interest, SelectorKey, Token};

pub(crate) struct Selector {
    epoll: OwnedFd,
    registry: Registry,
    // Reused by every wait; resized to the caller's `Events::capacity()`.
    buffer: Vec<libc::epoll_event>,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: `epoll_create1` takes no pointers; `EPOLL_CLOEXEC` is a valid flag.
        let fd = unsafe { syscall!(epoll_create1(libc::EPOLL_CLOEXEC)) }?;
        Ok(Selector {
            // SAFETY: `fd` was just returned by `epoll_create1`, is open and owned by nobody else.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            registry: Registry::default(),
            buffer: Vec::new(),
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
        self.registry.check_vacant(fd)?;
        self.ctl(libc::EPOLL_CTL_ADD, fd, interest)?;
        Ok(self.registry.insert(fd, interest, token))
    }

    pub(crate) fn modify(
        &mut self,
        fd: RawFd,
        interest: Interest,
        token: Token,
    ) -> Result<SelectorKey, Error> {
        let index = self.registry.position(fd)?;
        self.ctl(libc::EPOLL_CTL_MOD, fd, interest)?;
        Ok(self.registry.update(index, interest, token))
    }

    pub(crate) fn unregister(&mut self, fd: RawFd) -> Result<SelectorKey, Error> {
        self.registry.position(fd)?;
        match self.ctl(libc::EPOLL_CTL_DEL, fd, Interest::READABLE) {
            // The registered file was closed (and the number perhaps reused) behind our back:
            // the kernel already forgot it, so forget it too, as Python does.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EBADF)) => {}
            result => result?,
        }
        Ok(self.registry.remove(fd)?.1)
    }

    pub(crate) fn select(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        let capacity = events.capacity().min(c_int::MAX as usize);
        self.buffer
            .resize(capacity, libc::epoll_event { events: 0, u64: 0 });
        let (epoll, buffer) = (self.epoll.as_raw_fd(), &mut self.buffer);
        let n = timeout::wait(timeout, |left| {
            // SAFETY: `buffer` holds `capacity` (at most `c_int::MAX`) writable `epoll_event`s.
            let n = unsafe {
                syscall!(epoll_wait(
                    epoll,
                    buffer.as_mut_ptr(),
                    capacity as c_int,
                    timeout::as_millis(left),
                ))
            }?;
            Ok(n as usize)
        })?;

        for raw in &self.buffer[..n] {
            // Copy the fields out: `epoll_event` is packed on some targets.
            let (bits, fd) = (raw.events as c_int, raw.u64 as RawFd);
            let Some(key) = self.registry.get(fd) else {
                continue;
            };
            let ready = Readiness {
                input: bits & libc::EPOLLIN != 0,
                output: bits & libc::EPOLLOUT != 0,
                error: bits & libc::EPOLLERR != 0,
                hangup: bits & libc::EPOLLHUP != 0,
                read_hangup: bits & libc::EPOLLRDHUP != 0,
            };
            if let Some(event) = Event::new(&key, ready) {
                events.push(event);
            }
        }
        Ok(())
    }

    fn ctl(&self, op: c_int, fd: RawFd, interest: Interest) -> io::Result<()> {
        let mut bits = 0;
        if interest.is_readable() {
            bits |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if interest.is_writable() {
            bits |= libc::EPOLLOUT;
        }
        // The fd number is the key: the token is looked up in the registry when an event comes.
        let mut event = libc::epoll_event {
            events: bits as u32,
            u64: fd as u64,
        };
        // SAFETY: `event` is a valid `epoll_event` (kernels before 2.6.9 want one even for
        // `EPOLL_CTL_DEL`); the epoll fd is open for the life of `self`.
        unsafe { syscall!(epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event)) }?;
        Ok(())
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpollSelector")
            .field("epoll", &self.epoll)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}
