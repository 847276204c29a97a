//! [`Wire`]: what an exchange reads its body from and writes its response to — a blocking
//! stream request, or an event loop's connection.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};

use socketserver::StreamRequest;

/// The connection under an [`Exchange`](crate::Exchange).
pub(crate) trait Wire {
    /// Writes response bytes (an event loop buffers what the socket does not take).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Sends what is buffered (blocking strategies).
    fn flush(&mut self) -> io::Result<()>;

    /// Where the request body is read from.
    fn body(&mut self) -> &mut dyn BufRead;

    /// The client's address.
    fn client_address(&self) -> SocketAddr;

    /// Sends `head` (the response head, if not sent yet), then `len` bytes of `file` from its
    /// position as the body, a buffer at a time.
    fn write_file(&mut self, head: &[u8], file: File, len: u64) -> io::Result<()>;
}

/// The size of a file's pieces.
pub(crate) const FILE_BUFFER: usize = 64 * 1024;

/// A blocking strategy's connection.
impl Wire for StreamRequest<TcpStream> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.wfile.write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.wfile.flush()
    }

    fn body(&mut self) -> &mut dyn BufRead {
        &mut self.rfile
    }

    fn client_address(&self) -> SocketAddr {
        *StreamRequest::client_address(self)
    }

    fn write_file(&mut self, head: &[u8], file: File, len: u64) -> io::Result<()> {
        // `wfile` is buffered: the head and a small file leave in one write.
        self.wfile.write_all(head)?;
        let mut buffer = vec![0; FILE_BUFFER];
        let mut file = file.take(len);
        let mut left = len;
        while left > 0 {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                return Err(file_shrank());
            }
            self.wfile.write_all(&buffer[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}

/// A file ended before the length its response announced: the connection must end (the
/// client would otherwise wait for the missing bytes).
pub(crate) fn file_shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file shrank while it was sent",
    )
}
