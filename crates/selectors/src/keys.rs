use std::iter::FusedIterator;
use std::slice;

use crate::SelectorKey;

/// An iterator over a selector's registrations, returned by [`Selector::keys`](crate::Selector::keys).
///
/// Python's `selector.get_map().values()`. The order is unspecified (it changes when a
/// registration is removed).
///
/// # Examples
///
/// ```
/// use std::net::UdpSocket;
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{Interest, PollSelector, Selector, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// let mut selector = PollSelector::new()?;
/// selector.register(a.as_fd(), Interest::READABLE, Token(1))?;
/// selector.register(b.as_fd(), Interest::WRITABLE, Token(2))?;
///
/// let mut tokens: Vec<Token> = selector.keys().map(|key| key.token()).collect();
/// tokens.sort();
/// assert_eq!(tokens, [Token(1), Token(2)]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Keys<'a> {
    inner: slice::Iter<'a, SelectorKey>,
}

impl<'a> From<&'a [SelectorKey]> for Keys<'a> {
    /// Iterates over a slice of keys; for [`Selector`](crate::Selector) implementations outside
    /// this crate.
    fn from(keys: &'a [SelectorKey]) -> Keys<'a> {
        Keys { inner: keys.iter() }
    }
}

impl Iterator for Keys<'_> {
    type Item = SelectorKey;

    fn next(&mut self) -> Option<SelectorKey> {
        self.inner.next().copied()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Keys<'_> {}

impl FusedIterator for Keys<'_> {}
