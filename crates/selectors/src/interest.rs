use std::fmt;
use std::num::NonZeroU8;
use std::ops::BitOr;

const READABLE: u8 = 0b01;
const WRITABLE: u8 = 0b10;

/// What a registration waits for: [`READABLE`](Interest::READABLE),
/// [`WRITABLE`](Interest::WRITABLE), or both.
///
/// Python's `selectors.EVENT_READ` and `EVENT_WRITE`. Combine them with `|` or
/// [`add`](Interest::add). An `Interest` is never empty: there is no constant for "nothing", and
/// [`remove`](Interest::remove) returns `None` rather than an empty value, so a registration always
/// waits for something (unregister a file descriptor to stop watching it).
///
/// # Examples
///
/// ```
/// use socketserver_selectors::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// assert_eq!(format!("{both:?}"), "READABLE | WRITABLE");
/// ```
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Interest(NonZeroU8);

impl Interest {
    /// Ready when a read would not block: data, a new connection, end of file, or an error.
    #[doc(alias = "EVENT_READ")]
    pub const READABLE: Interest = Interest(NonZeroU8::MIN);

    /// Ready when a write would not block: room in the send buffer, or an error.
    #[doc(alias = "EVENT_WRITE")]
    pub const WRITABLE: Interest = match NonZeroU8::new(WRITABLE) {
        Some(bits) => Interest(bits),
        None => unreachable!(),
    };

    /// Returns `true` if this interest includes [`READABLE`](Interest::READABLE).
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Interest;
    ///
    /// assert!(Interest::READABLE.is_readable());
    /// assert!(!Interest::WRITABLE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.0.get() & READABLE != 0
    }

    /// Returns `true` if this interest includes [`WRITABLE`](Interest::WRITABLE).
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Interest;
    ///
    /// assert!(Interest::WRITABLE.is_writable());
    /// assert!(!Interest::READABLE.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.0.get() & WRITABLE != 0
    }

    /// Returns the union of two interests; usable in `const` items, unlike `|`.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Interest;
    ///
    /// const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);
    /// assert_eq!(BOTH, Interest::READABLE | Interest::WRITABLE);
    /// ```
    pub const fn add(self, other: Interest) -> Interest {
        match NonZeroU8::new(self.0.get() | other.0.get()) {
            Some(bits) => Interest(bits),
            None => unreachable!(),
        }
    }

    /// Returns this interest without `other`, or `None` if nothing would be left.
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_selectors::Interest;
    ///
    /// let both = Interest::READABLE | Interest::WRITABLE;
    /// assert_eq!(both.remove(Interest::READABLE), Some(Interest::WRITABLE));
    /// assert_eq!(Interest::WRITABLE.remove(both), None);
    /// ```
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match NonZeroU8::new(self.0.get() & !other.0.get()) {
            Some(bits) => Some(Interest(bits)),
            None => None,
        }
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            _ => f.write_str("WRITABLE"),
        }
    }
}
