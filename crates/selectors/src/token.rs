/// The caller's name for a registration, handed back in every [`Event`](crate::Event) for it.
///
/// Python attaches arbitrary `data` to a `SelectorKey`; in Rust a registration carries a plain
/// `usize` instead, typically an index into the caller's own table of connections (a `Vec`, a
/// slab, a `HashMap`). The selector never interprets it, and two registrations may share one.
///
/// # Examples
///
/// ```
/// use std::net::UdpSocket;
/// use std::os::fd::AsFd;
/// use socketserver_selectors::{Events, Interest, PollSelector, Selector, Token};
///
/// # fn main() -> std::io::Result<()> {
/// const SERVER: Token = Token(0);
///
/// let socket = UdpSocket::bind("127.0.0.1:0")?;
/// let mut selector = PollSelector::new()?;
/// selector.register(socket.as_fd(), Interest::WRITABLE, SERVER)?;
///
/// let mut events = Events::with_capacity(8);
/// selector.select(&mut events, None)?;
/// for event in &events {
///     match event.token() {
///         SERVER => assert!(event.is_writable()),
///         Token(other) => unreachable!("unknown token {other}"),
///     }
/// }
/// # selector.unregister(socket.as_fd())?;
/// # Ok(())
/// # }
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub usize);

impl From<Token> for usize {
    fn from(token: Token) -> usize {
        token.0
    }
}
