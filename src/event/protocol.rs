//! [`Protocol`]: a connection's handler written as callbacks (Python's `asyncio.Protocol`).

use std::io;
use std::net::TcpStream;

use crate::error::RequestError;
use crate::event::{Connection, TimerId};
use crate::request::StreamSocket;

/// A connection's handler written as callbacks: Python's `asyncio.Protocol`, Perl's
/// `Net::Server::Multiplex`. The framework reads, and calls you with what arrived; you write
/// through the [`Connection`], which buffers what the socket cannot take yet.
///
/// Run it on an [`EventLoop`](crate::EventLoop) (many connections on a few threads, none held
/// by a waiting connection) through [`ProtocolHandler`](crate::ProtocolHandler) and the named combinations
/// ([`EventTcpServer`](crate::EventTcpServer)), or under any other strategy, where the same
/// callbacks run on the connection's thread.
///
/// The value you give the server is cloned for every connection (asyncio's
/// `protocol_factory`): plain fields are per-connection state, `Arc` fields are shared.
///
/// The callbacks, in order: [`connection_made`](Self::connection_made) once;
/// [`data_received`](Self::data_received) for each chunk (chunks follow the socket's reads, not
/// your messages: keep partial messages in a field, and say so with
/// [`Connection::set_busy`], as the example does — until a protocol does, bytes it has
/// received and not answered count as a message in flight);
/// [`eof_received`](Self::eof_received) when the peer shuts down its side;
/// [`pause_writing`](Self::pause_writing) / [`resume_writing`](Self::resume_writing) around a
/// backed-up peer; [`connection_lost`](Self::connection_lost) once, at the end, whatever ended
/// it. An `Err` or a panic from a callback closes that connection only, reaches the server's
/// [`handle_error`](crate::ServerHooks::handle_error), and `connection_lost` still runs; the
/// loop and every other connection go on.
///
/// `T` is the stream type: [`TcpStream`] by default, `UnixStream` for the Unix transport;
/// implement `Protocol<T>` for every `T: StreamSocket` to serve both.
///
/// # Examples
///
/// A line protocol: whole lines are answered, a partial line waits for the rest — and the
/// connection says it is in the middle of a message while it holds one, so a graceful drain
/// lets that line finish (and the read timeout and minimum rate time it).
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use socketserver::{ProtocolHandler, Connection, EventTcpServer, Protocol};
///
/// #[derive(Clone, Default)]
/// struct Shout {
///     partial: Vec<u8>, // this connection's unfinished line
/// }
///
/// impl Protocol for Shout {
///     fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> std::io::Result<()> {
///         self.partial.extend_from_slice(data);
///         while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
///             let line: Vec<u8> = self.partial.drain(..=end).collect();
///             conn.write(&line.to_ascii_uppercase());
///         }
///         conn.set_busy(!self.partial.is_empty());
///         Ok(())
///     }
/// }
///
/// let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Shout::default()))?;
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(b"hel")?;
/// client.write_all(b"lo\nwor")?;
/// client.write_all(b"ld\n")?;
/// let mut lines = BufReader::new(client).lines();
/// assert_eq!(lines.next().unwrap()?, "HELLO");
/// assert_eq!(lines.next().unwrap()?, "WORLD");
///
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "asyncio.Protocol")]
#[doc(alias = "Net::Server::Multiplex")]
pub trait Protocol<T: StreamSocket = TcpStream>: Clone + Send + 'static {
    /// The connection is established. Default: nothing.
    ///
    /// # Errors
    ///
    /// An error closes the connection (reported through `handle_error`).
    fn connection_made(&mut self, conn: &mut Connection<'_, T>) -> io::Result<()> {
        let _ = conn;
        Ok(())
    }

    /// Bytes arrived. Required. `data` is valid for this call only.
    ///
    /// # Errors
    ///
    /// An error closes the connection (reported through `handle_error`).
    fn data_received(&mut self, conn: &mut Connection<'_, T>, data: &[u8]) -> io::Result<()>;

    /// The peer shut down its writing side: write a final answer here if the protocol has
    /// one. No more input can arrive to call the protocol again, so the connection closes
    /// cleanly once everything written has been sent, whatever this returns; `true` (asyncio's
    /// "keep the transport open") and `false` (the default) differ only in name here.
    ///
    /// # Errors
    ///
    /// An error closes the connection (reported through `handle_error`).
    fn eof_received(&mut self, conn: &mut Connection<'_, T>) -> io::Result<bool> {
        let _ = conn;
        Ok(false)
    }

    /// The output buffer went over the high watermark: the peer does not read as fast as you
    /// write. The framework has stopped reading from this peer until the buffer drains below
    /// the low watermark; stop producing output for it too if you can. Default: nothing.
    fn pause_writing(&mut self, conn: &mut Connection<'_, T>) {
        let _ = conn;
    }

    /// The output buffer drained below the low watermark: reading has resumed. Default:
    /// nothing.
    fn resume_writing(&mut self, conn: &mut Connection<'_, T>) {
        let _ = conn;
    }

    /// The message in flight (while the connection is [busy](Connection::set_busy)) ran out
    /// of time: the transport's read timeout or minimum rate. The connection closes after this
    /// callback; what it writes is sent if the socket takes it at once (an HTTP server's
    /// `408 Request Timeout`). On an event loop, which times messages by
    /// [`set_busy`](Connection::set_busy); a thread strategy parks between callbacks and times
    /// only the idle wait. Default: nothing.
    fn read_timed_out(&mut self, conn: &mut Connection<'_, T>) {
        let _ = conn;
    }

    /// A timer set with [`Connection::call_later`] or [`Connection::call_at`] came due (on
    /// the connection's loop thread; asyncio's timer callback). Default: nothing.
    ///
    /// # Errors
    ///
    /// An error closes the connection (reported through `handle_error`).
    fn timer_fired(&mut self, conn: &mut Connection<'_, T>, timer: TimerId) -> io::Result<()> {
        let _ = (conn, timer);
        Ok(())
    }

    /// The connection is closed, for `reason` (`None`: a clean close by either side). Called
    /// once, last. Default: nothing.
    fn connection_lost(&mut self, reason: Option<&RequestError>) {
        let _ = reason;
    }
}
