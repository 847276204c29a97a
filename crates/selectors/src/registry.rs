//! The registrations of one selector, shared by every backend so the bookkeeping is written once.

use std::collections::HashMap;
use std::os::fd::RawFd;

use crate::{Error, Interest, Keys, SelectorKey, Token};

/// Registrations keyed by fd number.
///
/// Keys are stored densely so that a backend can keep its own array in the same order (poll's
/// `pollfd`s): [`insert`](Registry::insert) appends and [`remove`](Registry::remove)
/// swap-removes, exactly as `Vec::push` and `Vec::swap_remove` do, and both report the index.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    keys: Vec<SelectorKey>,
    index: HashMap<RawFd, usize>,
}

impl Registry {
    /// Fails with [`Error::AlreadyRegistered`] if `fd` is taken; call before touching the kernel.
    pub(crate) fn check_vacant(&self, fd: RawFd) -> Result<(), Error> {
        if self.index.contains_key(&fd) {
            Err(Error::AlreadyRegistered { fd })
        } else {
            Ok(())
        }
    }

    /// Returns where `fd`'s key is stored, or [`Error::NotRegistered`].
    pub(crate) fn position(&self, fd: RawFd) -> Result<usize, Error> {
        self.index
            .get(&fd)
            .copied()
            .ok_or(Error::NotRegistered { fd })
    }

    /// Records a new registration (checked with [`check_vacant`](Registry::check_vacant)) at the
    /// end and returns it.
    pub(crate) fn insert(&mut self, fd: RawFd, interest: Interest, token: Token) -> SelectorKey {
        debug_assert!(!self.index.contains_key(&fd));
        let key = SelectorKey::new(fd, interest, token);
        self.index.insert(fd, self.keys.len());
        self.keys.push(key);
        key
    }

    /// Replaces the registration at `index` (from [`position`](Registry::position)) and returns
    /// the new key.
    pub(crate) fn update(&mut self, index: usize, interest: Interest, token: Token) -> SelectorKey {
        let key = SelectorKey::new(self.keys[index].fd(), interest, token);
        self.keys[index] = key;
        key
    }

    /// Removes `fd`'s registration by swapping the last one into its place; returns the index it
    /// had and its key.
    pub(crate) fn remove(&mut self, fd: RawFd) -> Result<(usize, SelectorKey), Error> {
        let index = self.index.remove(&fd).ok_or(Error::NotRegistered { fd })?;
        let key = self.keys.swap_remove(index);
        if let Some(moved) = self.keys.get(index) {
            self.index.insert(moved.fd(), index);
        }
        Ok((index, key))
    }

    /// Returns `fd`'s registration, if any.
    pub(crate) fn get(&self, fd: RawFd) -> Option<SelectorKey> {
        self.index.get(&fd).map(|&index| self.keys[index])
    }

    /// Returns all registrations, in storage order.
    pub(crate) fn as_slice(&self) -> &[SelectorKey] {
        &self.keys
    }

    /// Iterates over all registrations.
    pub(crate) fn keys(&self) -> Keys<'_> {
        Keys::from(self.as_slice())
    }

    /// Returns the number of registrations.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests;
