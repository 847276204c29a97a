//! [`MessageFraming`]: how the loop that holds a parked connection knows its next message has
//! arrived whole, so that a worker runs the handler only then.

use std::fmt;

/// What [`MessageFraming::frame`] found in the bytes that have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// The handler can act on what has arrived without waiting for the peer: a whole message,
    /// or the start of one it will refuse (a head over its limit).
    Complete,
    /// More must arrive first.
    Incomplete,
}

/// The shape of a protocol's next message, for a connection parked with
/// [`StreamRequest::park_until`](crate::StreamRequest::park_until): the loop that holds the
/// parked connection reads what arrives into `rfile`'s buffer and asks this whether the
/// message is whole, and a worker runs the handler only then. So a peer that sends a message
/// slowly — a byte at a time, or half a line and then nothing — costs a buffer and a timer,
/// not a worker (slowloris).
///
/// A plain [`park`](crate::StreamRequest::park) wakes the handler at the first byte instead,
/// and a handler that then reads the rest waits for it on its worker.
///
/// While a message is gathered it is in flight: a graceful drain lets it finish, and the
/// transport's [`read_timeout`](crate::StreamOptions::read_timeout) and
/// [`min_rate`](crate::StreamOptions::min_rate) time it from its first byte. When one of them
/// (or the idle timeout) passes, the handler runs, and its next read that would wait returns
/// the timeout's error (an HTTP server answers 408). At [`max_len`](Self::max_len) bytes
/// without a whole message the handler runs too, and a read that would wait for more returns
/// an `InvalidData` error.
///
/// # Examples
///
/// A line protocol on a pool: a worker runs only for whole lines.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use socketserver::{Delimited, PoolTcpServer, RequestHandler, StreamRequest};
///
/// #[derive(Clone)]
/// struct Upper;
///
/// impl RequestHandler<StreamRequest> for Upper {
///     fn setup(&mut self, req: &mut StreamRequest) -> std::io::Result<()> {
///         req.park_until(Delimited::line());
///         Ok(())
///     }
///     fn handle(&mut self, req: &mut StreamRequest) -> std::io::Result<()> {
///         let mut line = String::new();
///         if req.rfile.read_line(&mut line)? == 0 {
///             return Ok(()); // the client closed
///         }
///         req.wfile.write_all(line.to_uppercase().as_bytes())?;
///         req.park_until(Delimited::line());
///         Ok(())
///     }
/// }
///
/// let mut server = PoolTcpServer::new("127.0.0.1:0", Upper)?;
/// server.dispatch_mut().set_workers(1);
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// // Half a line holds no worker: the one worker serves another client meanwhile.
/// let mut slow = std::net::TcpStream::connect(address)?;
/// slow.write_all(b"hel")?;
/// let mut other = std::net::TcpStream::connect(address)?;
/// other.write_all(b"quick\n")?;
/// let mut reply = String::new();
/// BufReader::new(&other).read_line(&mut reply)?;
/// assert_eq!(reply, "QUICK\n");
/// slow.write_all(b"lo\n")?;
/// reply.clear();
/// BufReader::new(&slow).read_line(&mut reply)?;
/// assert_eq!(reply, "HELLO\n");
///
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait MessageFraming: Send + 'static {
    /// Whether the handler can act on `buffered` — the bytes that have arrived and that the
    /// handler has not consumed, starting where its last message ended — without waiting for
    /// more. While one message is gathered, each call sees the bytes of the last one and
    /// more, so a framing may remember how far it has looked.
    fn frame(&mut self, buffered: &[u8]) -> Framed;

    /// The most bytes gathered for one message before the handler runs anyway. Default 64 KiB.
    fn max_len(&self) -> usize {
        64 * 1024
    }
}

/// Messages that end with a delimiter byte: lines (`\n`), NUL-terminated strings.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Delimited {
    /// The byte that ends a message.
    pub delimiter: u8,
    /// The longest message, delimiter included.
    pub max_len: usize,
    /// Bytes already looked at.
    scanned: usize,
}

impl Delimited {
    /// Messages ending in `delimiter`, at most `max_len` bytes each.
    pub fn new(delimiter: u8, max_len: usize) -> Self {
        Delimited {
            delimiter,
            max_len,
            scanned: 0,
        }
    }

    /// Lines ending in `\n` (so `\r\n` too), at most 64 KiB each: what `read_line` reads.
    pub fn line() -> Self {
        Delimited::new(b'\n', 64 * 1024)
    }
}

impl MessageFraming for Delimited {
    fn frame(&mut self, buffered: &[u8]) -> Framed {
        let from = self.scanned.min(buffered.len());
        self.scanned = buffered.len();
        match buffered[from..].contains(&self.delimiter) {
            true => Framed::Complete,
            false => Framed::Incomplete,
        }
    }

    fn max_len(&self) -> usize {
        self.max_len
    }
}

impl fmt::Debug for Delimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delimited")
            .field("delimiter", &self.delimiter)
            .field("max_len", &self.max_len)
            .finish()
    }
}
