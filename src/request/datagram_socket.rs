//! [`DatagramSocket`]: what a datagram socket must offer a [`DatagramRequest`](crate::DatagramRequest).

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::{self, UnixDatagram};

/// A bound datagram socket that a [`DatagramRequest`](crate::DatagramRequest) can receive
/// from and reply through: [`UdpSocket`] and [`UnixDatagram`].
pub trait DatagramSocket: AsFd + Send + Sync + 'static {
    /// The address type of the peers.
    type Address: Clone + fmt::Debug + Send + Sync + 'static;

    /// Receives one datagram (`recvfrom(2)`); a datagram longer than `buf` is truncated.
    ///
    /// # Errors
    ///
    /// The OS error ([`io::ErrorKind::WouldBlock`] when none is waiting).
    fn receive_from(&self, buf: &mut [u8]) -> io::Result<(usize, Self::Address)>;

    /// Sends one datagram to `address` (`sendto(2)`).
    ///
    /// # Errors
    ///
    /// The OS error (e.g. `EMSGSIZE` for a datagram too large for the transport).
    fn send_datagram(&self, buf: &[u8], address: &Self::Address) -> io::Result<usize>;
}

impl DatagramSocket for UdpSocket {
    type Address = SocketAddr;

    fn receive_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }

    fn send_datagram(&self, buf: &[u8], address: &SocketAddr) -> io::Result<usize> {
        self.send_to(buf, address)
    }
}

impl DatagramSocket for UnixDatagram {
    type Address = net::SocketAddr;

    fn receive_from(&self, buf: &mut [u8]) -> io::Result<(usize, net::SocketAddr)> {
        self.recv_from(buf)
    }

    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] when the client did not bind an address of its own:
    /// there is nowhere to send a reply.
    fn send_datagram(&self, buf: &[u8], address: &net::SocketAddr) -> io::Result<usize> {
        if address.is_unnamed() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the client's Unix datagram socket is unnamed: bind it to a path to get replies",
            ));
        }
        self.send_to_addr(buf, address)
    }
}
