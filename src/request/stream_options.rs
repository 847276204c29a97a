//! [`StreamOptions`]: per-connection settings of a stream request.

use std::time::Duration;

/// The settings every accepted connection gets: Python's `StreamRequestHandler` class
/// attributes, and the timeouts that keep one peer from holding a thread, a slot or a
/// descriptor forever.
///
/// # Timeouts, and why they are finite by default
///
/// A peer on a network you do not control can connect and send nothing, send a few bytes and
/// go silent, or stop reading while you write to it. With no bound, each such peer pins a
/// thread (or a worker, or a descriptor) until the process restarts; Go's `net/http` has zero
/// (unbounded) defaults and needs a linter to catch it. So each wait here has a default:
///
/// | timeout | default | what it bounds | how it is kept |
/// |---|---|---|---|
/// | [`first_byte_timeout`](Self::first_byte_timeout) | 60 s | accept → first byte | blocking: `SO_RCVTIMEO` until the first byte; parked and event: the loop's timer heap |
/// | [`idle_timeout`](Self::idle_timeout) | 300 s | silence between messages | blocking: `SO_RCVTIMEO` (each wait in `rfile`); parked and event: the timer heap |
/// | [`write_timeout`](Self::write_timeout) | 60 s | a peer that stops reading while output is pending | blocking: `SO_SNDTIMEO`; event: the timer heap, restarted by any progress |
/// | [`min_rate`](Self::min_rate) | 500 B/s after 20 s | a message in flight trickled in (slowloris) | blocking: `SO_RCVTIMEO` inside a [`BusySpan`](crate::BusySpan); event: the timer heap while the protocol is busy |
/// | [`read_timeout`](Self::read_timeout) | none | a message in flight, whole | as `min_rate` |
///
/// The idle timeout bounds each silence, but a peer that sends one byte per silence keeps a
/// message — and the thread waiting for it — open forever; the minimum rate ends that. It
/// applies only while a message is in flight (the framework cannot see a protocol's messages
/// otherwise), so a chatty interactive client between messages is never cut off.
///
/// They are long enough for a person typing into `nc` and short enough that a forgotten
/// connection is gone within minutes. An expiry closes the connection with a typed
/// [`CloseReason`](crate::CloseReason) (counted in [`ServerStats`](crate::ServerStats)); it is
/// the server's policy, not a failure, so it is not reported through `handle_error`. Set
/// [`timeout`](Self::timeout) (Python's) to use one plain socket timeout instead, or set a field
/// to `None` to remove that bound.
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
    /// Python's `timeout`: one read and write timeout for every socket operation
    /// (`SO_RCVTIMEO`/`SO_SNDTIMEO`); an expiry is a plain `WouldBlock` error to the handler.
    /// Default `None`, and then the three timeouts below apply instead.
    pub timeout: Option<Duration>,
    /// Sets `TCP_NODELAY` on the connection. Default `false`.
    pub disable_nagle_algorithm: bool,
    /// How long a connection that has sent something may wait for more input before the
    /// server closes it: between messages (parked, on an event loop, or a blocking handler
    /// waiting in `rfile`). Default 300 s. `None`: no limit.
    pub idle_timeout: Option<Duration>,
    /// How long a new connection may take to send its first byte. Default 60 s. `None`: no
    /// limit.
    pub first_byte_timeout: Option<Duration>,
    /// How long a peer may stop reading while the server has output for it (no progress at
    /// all) before the server closes it. Default 60 s. `None`: no limit.
    pub write_timeout: Option<Duration>,
    /// How long one message in flight (a [`BusySpan`](crate::BusySpan), or an event protocol's
    /// `set_busy(true)`) may take to arrive in all, from the span's start: Go's `ReadTimeout`
    /// for a message. Default `None` (the minimum rate bounds slow messages instead, without
    /// cutting off a large one arriving steadily).
    pub read_timeout: Option<Duration>,
    /// The slowest a message in flight may arrive (see [`MinRate`](crate::MinRate)). Default
    /// 500 bytes/s after 20 s. `None`: no limit.
    pub min_rate: Option<crate::request::MinRate>,
    /// At the end of a connection the server half-closes (the client reads end-of-file after
    /// the last byte), then, unless the client has already closed its side, reads and discards
    /// what still arrives (up to 256 KiB) until everything it sent is acknowledged, the
    /// client closes, or this much time passes; only then does it close. No linger after a
    /// write timeout (the peer is not reading). A plain close with unread input makes the
    /// kernel send a reset, which destroys the part of the answer the client has not received
    /// yet. Default 500 ms (Go's `net/http` waits as long). `None`: close at once. On an event
    /// loop only input that has already arrived is drained (the loop never waits).
    pub close_linger: Option<Duration>,
    /// How much of a handler's output is kept for a client that reads slowly, so that the
    /// worker moves on: under a strategy that parks connections
    /// ([`ThreadPool`](crate::ThreadPool), [`ThreadingMixIn`](crate::ThreadingMixIn)) what the
    /// socket cannot take at once is kept and sent by the loop that holds the parked
    /// connection. A write that finds nothing kept is kept whole (the handler holds those
    /// bytes already: one response written at once costs no more than it did); later writes
    /// are kept while the total stays under this bound, and a write past it waits for the
    /// client (up to the write timeout). Files given to
    /// [`StreamRequest::send_file`](crate::StreamRequest::send_file) are kept as files (not
    /// counted here), sent from the page cache as the client reads. While output is kept, no input is read from that client (its answers
    /// are backed up). Default 64 KiB (an event loop's high watermark). `0`: every write waits
    /// for the client, as in Python.
    pub max_pending_output: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            rbufsize: 8192,
            wbufsize: 0,
            timeout: None,
            disable_nagle_algorithm: false,
            idle_timeout: Some(Duration::from_secs(300)),
            first_byte_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            read_timeout: None,
            min_rate: Some(crate::request::MinRate::default()),
            close_linger: Some(Duration::from_millis(500)),
            max_pending_output: 64 * 1024,
        }
    }
}
