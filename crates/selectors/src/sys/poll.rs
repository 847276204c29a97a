//! `poll(2)`: an array of `pollfd`s kept in the registry's order.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use libc::c_short;

use crate::event::Readiness;
use crate::registry::Registry;
use crate::sys::timeout;
use crate::{Error, Event, Events, Interest, SelectorKey, Token};

// Linux reports a peer's shutdown of its writing side only if asked.
#[cfg(any(target_os = "linux", target_os = "android"))]
const RDHUP: c_short = libc::POLLRDHUP;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const RDHUP: c_short = 0;

pub(crate) struct Selector {
    registry: Registry,
    // `fds[i]` belongs to `registry.as_slice()[i]`.
    fds: Vec<libc::pollfd>,
    // Where the next scan of the results starts, so a full `Events` does not starve the rest.
    cursor: usize,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        Ok(Selector {
            registry: Registry::default(),
            fds: Vec::new(),
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
        self.registry.check_vacant(fd)?;
        self.fds.push(libc::pollfd {
            fd,
            events: poll_events(interest),
            revents: 0,
        });
        Ok(self.registry.insert(fd, interest, token))
    }

    pub(crate) fn modify(
        &mut self,
        fd: RawFd,
        interest: Interest,
        token: Token,
    ) -> Result<SelectorKey, Error> {
        let index = self.registry.position(fd)?;
        self.fds[index].events = poll_events(interest);
        Ok(self.registry.update(index, interest, token))
    }

    pub(crate) fn unregister(&mut self, fd: RawFd) -> Result<SelectorKey, Error> {
        let (index, key) = self.registry.remove(fd)?;
        self.fds.swap_remove(index);
        Ok(key)
    }

    pub(crate) fn select(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        let nfds = libc::nfds_t::try_from(self.fds.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many fds for poll(2)"))?;
        let fds = &mut self.fds;
        let n = timeout::wait(timeout, |left| {
            // SAFETY: `fds` points to `nfds` initialised `pollfd`s that the kernel may write.
            let n = unsafe { syscall!(poll(fds.as_mut_ptr(), nfds, timeout::as_millis(left))) }?;
            Ok(n as usize)
        })?;
        if n == 0 || self.registry.len() == 0 {
            return Ok(());
        }

        let keys = self.registry.as_slice();
        let start = self.cursor % keys.len();
        let order = (start..keys.len()).chain(0..start);
        for (i, index) in order.enumerate() {
            let revents = self.fds[index].revents;
            if revents == 0 {
                continue;
            }
            if events.is_full() {
                self.cursor = start + i;
                break;
            }
            let ready = Readiness {
                input: revents & libc::POLLIN != 0,
                output: revents & libc::POLLOUT != 0,
                error: revents & (libc::POLLERR | libc::POLLNVAL) != 0,
                hangup: revents & libc::POLLHUP != 0,
                read_hangup: revents & RDHUP != 0,
            };
            if let Some(event) = Event::new(&keys[index], ready) {
                events.push(event);
            }
        }
        Ok(())
    }
}

fn poll_events(interest: Interest) -> c_short {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::POLLIN | RDHUP;
    }
    if interest.is_writable() {
        events |= libc::POLLOUT;
    }
    events
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollSelector")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}
