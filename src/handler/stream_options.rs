//! [`StreamOptions`]: per-connection settings of a stream request.

use std::time::Duration;

/// The settings every accepted connection gets: Python's `StreamRequestHandler` class
/// attributes.
///
/// Set them on the transport with
/// [`TcpSocket::set_stream_options`](crate::TcpSocket::set_stream_options).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use socketserver::{StreamOptions, StreamRequest, ThreadingTcpServer};
///
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// server.socket_mut().set_stream_options(StreamOptions {
///     wbufsize: 64 * 1024,                      // buffer writes, flushed after `finish`
///     timeout: Some(Duration::from_secs(30)),   // idle clients get a TimedOut/WouldBlock error
///     disable_nagle_algorithm: true,            // TCP_NODELAY
///     ..StreamOptions::default()
/// });
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Capacity of the `rfile` read buffer. Default 8192 (Python's `io.DEFAULT_BUFFER_SIZE`).
    /// `0` is treated as 1: a buffered reader needs a buffer to find line ends, and one byte
    /// behaves as Python's unbuffered `rfile` does.
    pub rbufsize: usize,
    /// Capacity of the `wfile` write buffer. Default 0: every write goes straight to the
    /// socket, whole. With a capacity, writes are buffered and flushed after the handler's
    /// `finish`.
    pub wbufsize: usize,
    /// Read and write timeout of the connection (`SO_RCVTIMEO`/`SO_SNDTIMEO`). Default `None`:
    /// block forever.
    pub timeout: Option<Duration>,
    /// Sets `TCP_NODELAY` on the connection. Default `false`.
    pub disable_nagle_algorithm: bool,
    /// How long a connection that waits for input without a thread — parked (see
    /// [`StreamRequest::park`](crate::StreamRequest::park)) or on an
    /// [`EventLoop`](crate::EventLoop) — may stay silent before the server closes it. Default
    /// `None`: no limit. The loop that holds the connection keeps the deadline in a timer heap,
    /// so it costs nothing per connection while it waits.
    pub idle_timeout: Option<Duration>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            rbufsize: 8192,
            wbufsize: 0,
            timeout: None,
            disable_nagle_algorithm: false,
            idle_timeout: None,
        }
    }
}
