//! [`DatagramRequest`]: one datagram, as a datagram handler sees it.

use std::fmt;
use std::io::{self, Cursor};
use std::net::UdpSocket;
use std::sync::Arc;

use std::os::fd::AsFd;

use crate::error::RequestError;
use crate::request::{DatagramSocket, Request, RequestContext};
use crate::shutdown::ShutdownHandle;
use crate::sys;

/// One received datagram: Python's `DatagramRequestHandler` attributes `rfile` (the packet),
/// `wfile` (the reply), `socket` and `client_address`.
///
/// * [`rfile`](Self::rfile) reads the packet ([`Read`](std::io::Read) and
///   [`BufRead`](std::io::BufRead)); [`packet`](Self::packet) gives it as bytes.
/// * [`wfile`](Self::wfile) collects the reply; after the handler's `finish` it is sent to the
///   client as **one** datagram — and only if something was written. Python always sends one,
///   even empty; an empty datagram is a message of its own in most protocols, so we send none
///   (a deliberate difference).
/// * [`socket`](Self::socket) is the server's socket, shared by every request, for handlers
///   that reply with more than one datagram.
///
/// A datagram longer than the server's `max_packet_size` never reaches the handler truncated
/// (Python silently truncates it): it is reported as [`RequestError::DatagramTooLarge`] through
/// `handle_error`, unless the transport was told to deliver truncated datagrams, in which case
/// [`is_truncated`](Self::is_truncated) says so.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Write};
/// use socketserver::{DatagramRequest, UdpServer};
///
/// let shout = |req: &mut DatagramRequest| {
///     let mut line = String::new();
///     req.rfile.read_line(&mut line)?;
///     req.wfile.write_all(line.to_uppercase().as_bytes())
/// };
/// let mut server = UdpServer::new("127.0.0.1:0", shout)?;
/// let client = std::net::UdpSocket::bind("127.0.0.1:0")?;
/// client.send_to(b"hi\n", server.server_address()?)?;
/// server.handle_request()?;
/// let mut reply = [0; 16];
/// let n = client.recv(&mut reply)?;
/// assert_eq!(&reply[..n], b"HI\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "DatagramRequestHandler")]
pub struct DatagramRequest<S: DatagramSocket = UdpSocket> {
    /// The received packet (Python's `rfile`).
    pub rfile: Cursor<Vec<u8>>,
    /// The reply, sent as one datagram when the handler is done (Python's `wfile`).
    pub wfile: Vec<u8>,
    socket: Arc<S>,
    client_address: S::Address,
    shutdown: ShutdownHandle,
    truncated: bool,
    deliver_truncated: bool,
    max_packet_size: usize,
    /// The bytes of the packet as received (more than kept when it was truncated).
    received: usize,
    /// The bytes of the answer sent.
    sent: usize,
}

impl<S: DatagramSocket> DatagramRequest<S> {
    /// Receives one datagram of at most `max_packet_size` bytes from `socket`, noting whether
    /// it was longer. Transports call this; handlers receive the result.
    ///
    /// # Errors
    ///
    /// The OS error of `recvfrom(2)` ([`io::ErrorKind::WouldBlock`] when none is waiting).
    pub fn receive(
        socket: &Arc<S>,
        max_packet_size: usize,
        deliver_truncated: bool,
        context: &RequestContext,
    ) -> io::Result<Self> {
        // One byte more than allowed: if it fills, the datagram was too long.
        let mut packet = vec![0; max_packet_size + 1];
        let (received, client_address) = socket.receive_from(&mut packet)?;
        let truncated = received > max_packet_size;
        packet.truncate(received.min(max_packet_size));
        Ok(DatagramRequest {
            rfile: Cursor::new(packet),
            wfile: Vec::new(),
            socket: Arc::clone(socket),
            client_address,
            shutdown: context.shutdown_handle().clone(),
            truncated,
            deliver_truncated,
            max_packet_size,
            received,
            sent: 0,
        })
    }

    /// The received packet.
    pub fn packet(&self) -> &[u8] {
        self.rfile.get_ref()
    }

    /// Whether the datagram was longer than `max_packet_size` and cut (only ever `true` when
    /// the transport delivers truncated datagrams).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The server's socket, shared by all requests (Python's `self.socket`).
    pub fn socket(&self) -> &S {
        &self.socket
    }

    /// The client's address.
    pub fn client_address(&self) -> &S::Address {
        &self.client_address
    }

    /// The handle that stops the server.
    pub fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }
}

impl<S: DatagramSocket> Request for DatagramRequest<S> {
    type Address = S::Address;

    fn client_address(&self) -> &S::Address {
        &self.client_address
    }

    fn shutdown_handle(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// The server's socket: a coroutine runs the request, but never suspends on this socket,
    /// which every datagram request shares (a reply that finds it full waits on the thread).
    fn shared_socket(&self) -> Option<Arc<dyn AsFd + Send + Sync>> {
        Some(Arc::clone(&self.socket) as Arc<dyn AsFd + Send + Sync>)
    }

    fn prepare(&mut self) -> Result<(), RequestError> {
        if self.truncated && !self.deliver_truncated {
            return Err(RequestError::DatagramTooLarge {
                max_packet_size: self.max_packet_size,
                peer: format!("{:?}", self.client_address),
            });
        }
        Ok(())
    }

    fn complete(&mut self) -> io::Result<()> {
        if self.wfile.is_empty() {
            return Ok(());
        }
        let sent = loop {
            match self.socket.send_datagram(&self.wfile, &self.client_address) {
                // The server socket is non-blocking (for the loop's sake): wait for room.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    sys::wait_writable(self.socket.as_fd())?;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match sent {
            Ok(sent) => {
                self.sent = sent;
                Ok(())
            }
            // A Unix datagram client that closed (its path is gone) cannot be answered; like a
            // vanished stream peer, that is not the handler's failure.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                tracing::debug!(peer = ?self.client_address, %error, "client went away before the reply");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn message_traffic(&self) -> (u64, u64) {
        (self.received as u64, self.sent as u64)
    }

    fn close_request(self) {}
}

impl<S: DatagramSocket> fmt::Debug for DatagramRequest<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramRequest")
            .field("client_address", &self.client_address)
            .field("len", &self.packet().len())
            .field("truncated", &self.truncated)
            .finish_non_exhaustive()
    }
}
