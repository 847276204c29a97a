//! [`BodyReader`]: a request body read in pieces, as an [`io::Read`] bounded by
//! [`HttpLimits::max_body`](crate::HttpLimits::max_body).

use std::fmt;
use std::io::{self, Read};

use crate::chunked::{ChunkedDecoder, ChunkedError};
use crate::framing::Framing;
use crate::wire::{BodyInput, Wire};

/// What tells a client that sent `Expect: 100-continue` to send its body.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The request body, read in pieces: an [`io::Read`] over the body's data (a chunked body
/// decoded), from [`Exchange::body_reader`](crate::Exchange::body_reader). It never returns
/// more than [`max_body`](crate::HttpLimits::max_body) bytes in all, and holds no more than
/// the caller's buffer at a time.
///
/// Where the bytes come from depends on the form and the body's size:
///
/// - [`HttpProtocol`](crate::HttpProtocol) (event loops), and [`HttpService`](crate::HttpService)
///   for a body of at most [`max_gathered_body`](crate::HttpLimits::max_gathered_body): the
///   body was gathered whole before the handler ran (a body over the limit, malformed, or
///   too slow was answered 413, 400 or 408 without the handler), so this is a cursor over it
///   and never fails.
/// - [`HttpService`](crate::HttpService) for a longer body: it is read from the connection as
///   the handler asks, on the handler's thread (bounded by the server's
///   [`read_timeout`](socketserver::StreamOptions::read_timeout)); a client that sent
///   `Expect: 100-continue` is told to go on at the first read. A body that breaks the limit
///   (a chunked one that grows past `max_body`), is malformed, or stops coming gives an
///   [`io::Error`] whose [`get_ref`](io::Error::get_ref) is a [`BodyRefused`] with the status
///   that answers it; a handler that returns that error (`?`) before it has answered has the
///   server answer that status, in the server's [`ErrorFormat`](crate::ErrorFormat).
///
/// What the handler leaves unread is taken off the connection before the next request, so
/// a partial read never leaves body bytes to be mistaken for the next request: a gathered
/// body is dropped; a streamed one is skipped when the rest has arrived, else the connection
/// closes after the response (which then says `Connection: close`, when it is sent after
/// the body was left). Read the whole body before answering to keep the connection.
///
/// # Examples
///
/// ```
/// use std::io::{self, Read, Write};
/// use socketserver_http::{Exchange, HttpHandler, HttpService, PoolHttpServer};
///
/// /// Counts the bytes of an upload without holding it.
/// #[derive(Clone)]
/// struct Count;
///
/// impl HttpHandler for Count {
///     fn do_put(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
///         let bytes = io::copy(&mut ex.body_reader(), &mut io::sink())?;
///         ex.send_text(200, &format!("{bytes} bytes\n"))
///     }
/// }
///
/// let mut server = PoolHttpServer::new("127.0.0.1:0", HttpService::new(Count))?;
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(
///     b"PUT /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
///       5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
/// )?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("\r\n\r\n11 bytes\n"));
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BodyReader<'e> {
    pub(crate) source: &'e mut dyn BodySource,
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.read_body(buf)
    }
}

impl fmt::Debug for BodyReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader").finish_non_exhaustive()
    }
}

/// What a [`BodyReader`] reads from: an exchange.
pub(crate) trait BodySource {
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

/// Why a request body could not be read: the status that answers it (413, 400 or 408) and
/// why. Carried inside the [`io::Error`] a [`BodyReader`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRefused {
    /// The status that answers the request.
    pub status: u16,
    /// What went wrong, for the error response.
    pub reason: &'static str,
}

impl fmt::Display for BodyRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.status)
    }
}

impl std::error::Error for BodyRefused {}

impl BodyRefused {
    fn into_io(self) -> io::Error {
        let kind = match self.status {
            408 => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// An exchange's request body.
#[derive(Debug)]
pub(crate) enum Body<'a> {
    /// Gathered whole before the handler ran; what is left to read.
    Whole(&'a [u8]),
    /// Read from the connection as the handler asks.
    Streamed(Streamed),
}

/// A body read from the connection.
#[derive(Debug)]
pub(crate) struct Streamed {
    left: Left,
    /// The client waits for `100 Continue`, not sent yet.
    continue_due: bool,
    /// The body could not be read: every later read fails the same way.
    refused: Option<BodyRefused>,
}

#[derive(Debug)]
enum Left {
    /// This many bytes of a `Content-Length` body.
    Length(u64),
    Chunked(ChunkedDecoder),
}

impl Body<'_> {
    /// A body read from the connection: `framing` (not empty), at most `max_body` bytes.
    pub(crate) fn streamed(framing: Framing, max_body: u64, expects_continue: bool) -> Self {
        Body::Streamed(Streamed {
            left: match framing {
                Framing::Length(length) => Left::Length(length),
                Framing::Empty => Left::Length(0),
                Framing::Chunked => Left::Chunked(ChunkedDecoder::new(max_body)),
            },
            continue_due: expects_continue,
            refused: None,
        })
    }

    /// Reads the next piece into `buf`; 0 at the body's end.
    pub(crate) fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Whole(rest) => {
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *rest = &rest[n..];
                Ok(n)
            }
            Body::Streamed(streamed) => streamed.read(wire, buf),
        }
    }

    /// Why the body could not be read, if it could not.
    pub(crate) fn refused(&self) -> Option<BodyRefused> {
        match self {
            Body::Whole(_) => None,
            Body::Streamed(streamed) => streamed.refused,
        }
    }

    /// Whether a streamed body is neither read whole nor arrived whole: the connection must
    /// close after the response. Takes nothing.
    pub(crate) fn rest_to_come(&self, wire: &mut dyn Wire) -> bool {
        let Body::Streamed(streamed) = self else {
            return false;
        };
        if streamed.refused.is_some() {
            return true;
        }
        if streamed.finished() {
            return false;
        }
        let Some(input) = wire.body_input() else {
            return true;
        };
        let buffered = input.buffered();
        match &streamed.left {
            Left::Length(left) => (buffered.len() as u64) < *left,
            Left::Chunked(decoder) => {
                let mut probe = decoder.counting_copy();
                !(probe.feed(buffered).is_ok() && probe.is_done())
            }
        }
    }

    /// After the handler: takes off the connection what it left of a streamed body, if all
    /// of that has arrived; returns whether the connection may carry another request.
    pub(crate) fn skip_rest(&mut self, wire: &mut dyn Wire) -> bool {
        let Body::Streamed(streamed) = self else {
            return true;
        };
        if streamed.refused.is_some() {
            return false;
        }
        if streamed.finished() {
            return true;
        }
        match wire.body_input() {
            Some(input) => streamed.skip_buffered(input),
            None => false,
        }
    }
}

impl Streamed {
    fn finished(&self) -> bool {
        match &self.left {
            Left::Length(left) => *left == 0,
            Left::Chunked(decoder) => decoder.is_done(),
        }
    }

    fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(refused) = self.refused {
            return Err(refused.into_io());
        }
        if buf.is_empty() || self.finished() {
            return Ok(0);
        }
        if self.continue_due {
            self.continue_due = false;
            wire.write_all(CONTINUE)?;
            wire.flush()?;
        }
        let Some(input) = wire.body_input() else {
            return Err(io::Error::other(
                "a streamed body needs a blocking connection",
            ));
        };
        let result = match &mut self.left {
            Left::Length(left) => read_length(input, left, buf),
            Left::Chunked(decoder) => read_chunked_piece(input, decoder, buf),
        };
        result.map_err(|error| match error {
            Failure::Refused(refused) => {
                self.refused = Some(refused);
                refused.into_io()
            }
            Failure::Io(error) => error,
        })
    }

    /// Skips the rest of the body if it has all arrived; returns whether it had.
    fn skip_buffered(&mut self, input: &mut dyn BodyInput) -> bool {
        match &mut self.left {
            Left::Length(left) => {
                let buffered = input.buffered().len() as u64;
                if buffered < *left {
                    return false;
                }
                // `left` ≤ what is buffered, so it fits a usize.
                input.consume(*left as usize);
                *left = 0;
                true
            }
            Left::Chunked(decoder) => {
                // Only counted from here: the data skipped is never gathered.
                *decoder = decoder.counting_copy();
                let Ok(taken) = decoder.feed(input.buffered()) else {
                    return false;
                };
                input.consume(taken);
                decoder.is_done()
            }
        }
    }
}

enum Failure {
    Refused(BodyRefused),
    Io(io::Error),
}

const ENDED: BodyRefused = BodyRefused {
    status: 400,
    reason: "the connection ended inside the request body",
};

const TOO_LARGE: BodyRefused = BodyRefused {
    status: 413,
    reason: "the request body is larger than the server takes",
};

const TOO_SLOW: BodyRefused = BodyRefused {
    status: 408,
    reason: "the request body did not arrive in time",
};

fn io_failure(error: io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Refused(TOO_SLOW),
        io::ErrorKind::UnexpectedEof => Failure::Refused(ENDED),
        _ => Failure::Io(error),
    }
}

/// The next piece of a `Content-Length` body with `left` bytes to come.
fn read_length(
    input: &mut dyn BodyInput,
    left: &mut u64,
    buf: &mut [u8],
) -> Result<usize, Failure> {
    let want = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    let n = loop {
        match input.read(&mut buf[..want]) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io_failure(error)),
            Ok(0) => return Err(Failure::Refused(ENDED)),
            Ok(n) => break n,
        }
    };
    *left -= n as u64;
    Ok(n)
}

/// The next piece of a chunked body's data: decodes no more input than `buf` holds, so the
/// data never outgrows it.
fn read_chunked_piece(
    input: &mut dyn BodyInput,
    decoder: &mut ChunkedDecoder,
    buf: &mut [u8],
) -> Result<usize, Failure> {
    while !decoder.is_done() {
        let arrived = match input.fill_buf() {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_failure(error)),
            Ok([]) => return Err(Failure::Refused(ENDED)),
            Ok(arrived) => arrived,
        };
        let piece = arrived.len().min(buf.len());
        let taken = decoder
            .feed(&arrived[..piece])
            .map_err(|error| match error {
                ChunkedError::TooLarge => Failure::Refused(TOO_LARGE),
                ChunkedError::Malformed(why) => Failure::Refused(BodyRefused {
                    status: 400,
                    reason: why,
                }),
                ChunkedError::Io(error) => io_failure(error),
            })?;
        input.consume(taken);
        let n = decoder.take_data(buf);
        if n > 0 {
            return Ok(n);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
