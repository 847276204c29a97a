//! [`Wire`]: what an exchange reads its body from and writes its response to — a blocking
//! stream request, or an event loop's connection.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;

use socketserver::{SocketReader, StreamRequest, StreamSocket};

/// A stream socket with an IP peer that HTTP can be served over: a [`TcpStream`](std::net::TcpStream), or
/// a [`TlsStream`](socketserver::tls::TlsStream) over one.
pub trait HttpSocket: StreamSocket<Address = SocketAddr> {}

impl<T: StreamSocket<Address = SocketAddr>> HttpSocket for T {}

/// The connection under an [`Exchange`](crate::Exchange).
pub(crate) trait Wire {
    /// Writes response bytes (an event loop buffers what the socket does not take).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Sends what is buffered (blocking strategies).
    fn flush(&mut self) -> io::Result<()>;

    /// The client's address.
    fn client_address(&self) -> SocketAddr;

    /// Sends `head` (the response head, if not sent yet), then `len` bytes of `file` from its
    /// position as the body, a buffer at a time; the head leaves with the file's first piece.
    fn write_file(&mut self, head: Vec<u8>, file: File, len: u64) -> io::Result<()>;

    /// The blocking reader a streamed request body is read from; `None` on an event loop
    /// (its bodies are gathered whole).
    fn body_input(&mut self) -> Option<&mut dyn BodyInput> {
        None
    }
}

/// A blocking connection's reader, as a streamed body reads it.
pub(crate) trait BodyInput: BufRead {
    /// What has arrived and not been read: never waits.
    fn buffered(&self) -> &[u8];
}

impl<T: StreamSocket> BodyInput for SocketReader<T> {
    fn buffered(&self) -> &[u8] {
        self.buffer()
    }
}

/// The size of a file's pieces.
pub(crate) const FILE_BUFFER: usize = 64 * 1024;

/// A blocking strategy's connection (its writes kept for the parker when the client reads
/// slowly).
impl<T: HttpSocket> Wire for StreamRequest<T> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.wfile.write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.wfile.flush()
    }

    fn client_address(&self) -> SocketAddr {
        *StreamRequest::client_address(self)
    }

    fn write_file(&mut self, head: Vec<u8>, file: File, len: u64) -> io::Result<()> {
        // The loop that parks the connection sends the file as the client reads (a pool's
        // worker moves on at once); the head leaves with its first piece.
        self.send_file(&head, file, len)
    }

    fn body_input(&mut self) -> Option<&mut dyn BodyInput> {
        Some(&mut self.rfile)
    }
}

/// Appends the next piece of `file` to `buffer`: at most [`FILE_BUFFER`] bytes, at most `left`.
/// Returns how many. A file that ends before `left` is an error: the response's
/// `Content-Length` cannot be kept, so the connection must end.
pub(crate) fn read_piece(file: &mut File, left: u64, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let start = buffer.len();
    let want = usize::try_from(left)
        .unwrap_or(FILE_BUFFER)
        .min(FILE_BUFFER);
    buffer.resize(start + want, 0);
    let read = loop {
        match file.read(&mut buffer[start..]) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Ok(0) if want > 0 => break Err(file_shrank()),
            other => break other,
        }
    };
    buffer.truncate(start + *read.as_ref().unwrap_or(&0));
    read
}

/// A file ended before the length its response announced: the connection must end (the
/// client would otherwise wait for the missing bytes).
fn file_shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file shrank while it was sent",
    )
}
