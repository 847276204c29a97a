use std::slice;

use crate::Event;

/// The buffer that [`Selector::select`](crate::Selector::select) fills with [`Event`]s.
///
/// Allocated once and reused for every wait; its capacity is the most events one wait reports.
/// More ready registrations than that are not lost: waits are level-triggered, so the rest are
/// reported by the next wait (the `select` and `poll` backends start that scan where the previous
/// one stopped, so no registration starves).
///
/// # Examples
///
/// ```
/// use std::net::UdpSocket;
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use socketserver_selectors::{Events, Interest, PollSelector, Selector, Token};
///
/// # fn main() -> std::io::Result<()> {
/// let mut selector = PollSelector::new()?;
/// let sockets: Vec<UdpSocket> =
///     (0..3).map(|_| UdpSocket::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
/// for (i, socket) in sockets.iter().enumerate() {
///     selector.register(socket.as_fd(), Interest::WRITABLE, Token(i))?;
/// }
///
/// let mut events = Events::with_capacity(2);
/// selector.select(&mut events, Some(Duration::ZERO))?;
/// assert_eq!(events.len(), 2); // three are writable, two fit
/// assert_eq!(events.capacity(), 2);
/// events.clear();
/// assert!(events.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Events {
    inner: Vec<Event>,
    capacity: usize,
}

impl Events {
    /// Creates a buffer that holds up to `capacity` events.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Events;
    ///
    /// let events = Events::with_capacity(1024);
    /// assert_eq!(events.capacity(), 1024);
    /// assert!(events.is_empty());
    /// ```
    ///
    /// # Panics
    ///
    /// Panics if `capacity` is zero: a wait could never report anything.
    pub fn with_capacity(capacity: usize) -> Events {
        assert!(
            capacity > 0,
            "Events::with_capacity(0) could never hold an event"
        );
        Events {
            inner: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Returns an iterator over the events of the last wait.
    pub fn iter(&self) -> slice::Iter<'_, Event> {
        self.inner.iter()
    }

    /// Returns the number of events of the last wait.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Returns `true` if the last wait reported nothing (it timed out).
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Returns the most events one wait reports, as given to [`with_capacity`](Events::with_capacity).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Removes all events; [`Selector::select`](crate::Selector::select) does this first.
    pub fn clear(&mut self) {
        self.inner.clear();
    }

    /// Returns `true` if no more events fit.
    pub(crate) fn is_full(&self) -> bool {
        self.inner.len() >= self.capacity
    }

    /// Adds an event; the backend checks [`is_full`](Events::is_full) first.
    pub(crate) fn push(&mut self, event: Event) {
        debug_assert!(!self.is_full());
        self.inner.push(event);
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = slice::Iter<'a, Event>;

    fn into_iter(self) -> slice::Iter<'a, Event> {
        self.inner.iter()
    }
}
