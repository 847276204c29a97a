//! [`StreamRequest`]: one connection, as a stream handler sees it.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use crate::handler::{SocketHalf, SocketReader, StreamOptions, StreamSocket};
use crate::request::Request;
use crate::{Error, ShutdownHandle};

/// One accepted connection: Python's `StreamRequestHandler` attributes `rfile`, `wfile`,
/// `request`/`connection` and `client_address`.
///
/// * [`rfile`](Self::rfile) is a buffered reader ([`BufRead`](std::io::BufRead): `read_line`,
///   `lines`, `read_until`…) of [`rbufsize`](StreamOptions::rbufsize) bytes, allocated when the
///   first byte is read (an idle connection costs no buffer).
/// * [`wfile`](Self::wfile) writes everything it is given (`sendall`): unbuffered by default,
///   so bytes reach the client without a flush; buffered when
///   [`wbufsize`](StreamOptions::wbufsize) > 0, then flushed after the handler's `finish`
///   (a flush error because the peer vanished is ignored).
/// * [`timeout`](StreamOptions::timeout) and
///   [`disable_nagle_algorithm`](StreamOptions::disable_nagle_algorithm) are applied to the
///   connection before the handler runs.
///
/// The two are separate fields, so a handler can use both at once
/// (`io::copy(&mut req.rfile, &mut req.wfile)`).
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Write};
/// use socketserver::{SequentialTcpServer, StreamRequest};
///
/// let upper = |req: &mut StreamRequest| {
///     let mut line = String::new();
///     req.rfile.read_line(&mut line)?;
///     write!(req.wfile, "{} says {}", req.client_address().ip(), line.to_uppercase())?;
///     Ok(())
/// };
/// let mut server = SequentialTcpServer::new("127.0.0.1:0", upper)?;
/// let mut client = std::net::TcpStream::connect(server.server_address()?)?;
/// client.write_all(b"hi\n")?;
/// server.handle_request()?;
/// let mut reply = String::new();
/// std::io::Read::read_to_string(&mut client, &mut reply)?;
/// assert_eq!(reply, "127.0.0.1 says HI\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "StreamRequestHandler")]
pub struct StreamRequest<T: StreamSocket = TcpStream> {
    /// The buffered reading side of the connection (Python's `rfile`).
    pub rfile: SocketReader<T>,
    /// The writing side of the connection (Python's `wfile`).
    pub wfile: BufWriter<SocketHalf<T>>,
    socket: Arc<T>,
    client_address: T::Address,
    options: StreamOptions,
    shutdown: ShutdownHandle,
}

impl<T: StreamSocket> StreamRequest<T> {
    /// Wraps an accepted connection. Transports call this; handlers receive the result.
    pub fn new(
        socket: T,
        client_address: T::Address,
        options: StreamOptions,
        shutdown: ShutdownHandle,
    ) -> Self {
        let socket = Arc::new(socket);
        StreamRequest {
            rfile: SocketReader::new(SocketHalf::new(Arc::clone(&socket)), options.rbufsize),
            wfile: BufWriter::with_capacity(options.wbufsize, SocketHalf::new(Arc::clone(&socket))),
            socket,
            client_address,
            options,
            shutdown,
        }
    }

    /// The connected socket (Python's `request` and `connection`).
    #[doc(alias = "request")]
    #[doc(alias = "connection")]
    pub fn socket(&self) -> &T {
        &self.socket
    }

    /// The client's address.
    pub fn client_address(&self) -> &T::Address {
        &self.client_address
    }

    /// The settings this connection was given.
    pub fn options(&self) -> &StreamOptions {
        &self.options
    }

    /// The handle that stops the server (Python's `self.server.shutdown`).
    ///
    /// From a handler, [`ShutdownHandle::shutdown`] stops the loop after this request on a
    /// sequential server, and returns once the loop has stopped on a threading one.
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }
}

/// True for errors that mean the peer has gone away.
fn is_peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}

impl<T: StreamSocket> Request for StreamRequest<T> {
    type Address = T::Address;

    fn client_address(&self) -> &T::Address {
        &self.client_address
    }

    fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    fn prepare(&mut self) -> Result<(), Error> {
        if self.options.timeout.is_some() {
            self.socket
                .set_timeout(self.options.timeout)
                .map_err(Error::Handler)?;
        }
        if self.options.disable_nagle_algorithm {
            self.socket.set_nodelay(true).map_err(Error::Handler)?;
        }
        Ok(())
    }

    fn complete(&mut self) -> io::Result<()> {
        match self.wfile.flush() {
            Err(error) if is_peer_gone(&error) => {
                tracing::debug!(%error, "peer went away before the final flush");
                Ok(())
            }
            other => other,
        }
    }

    fn shutdown_request(self) {
        // Half-close first so the client reads EOF after everything we wrote, even if a
        // descriptor of this socket survives elsewhere (e.g. in a forked child).
        if let Err(error) = self.socket.shutdown(Shutdown::Write) {
            if !is_peer_gone(&error) {
                tracing::debug!(%error, "shutdown(SHUT_WR) failed");
            }
        }
        self.close_request();
    }

    fn close_request(self) {
        // Dropping the last `Arc` closes the descriptor; the buffered writer must not try to
        // flush into a socket we have given up on.
        let StreamRequest { rfile, wfile, .. } = self;
        drop(rfile);
        let (_half, _unsent) = wfile.into_parts();
    }
}

impl<T: StreamSocket> fmt::Debug for StreamRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRequest")
            .field("client_address", &self.client_address)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
