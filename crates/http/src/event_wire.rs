//! [`EventWire`]: an event loop's connection under an [`Exchange`](crate::Exchange).

use std::fs::File;
use std::io;
use std::net::SocketAddr;

use socketserver::Connection;

use crate::outgoing::Outgoing;
use crate::wire::{HttpSocket, Wire};

/// A request answered through the connection's buffer: writes never block the loop, files
/// go out as the client reads.
pub(crate) struct EventWire<'w, 'c, T: HttpSocket> {
    pub(crate) conn: &'w mut Connection<'c, T>,
    pub(crate) outgoing: &'w mut Outgoing,
}

impl<T: HttpSocket> Wire for EventWire<'_, '_, T> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.outgoing.write(self.conn, bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // The loop sends the buffer as the socket takes it.
        Ok(())
    }

    fn client_address(&self) -> SocketAddr {
        *self.conn.client_address()
    }

    fn write_file(&mut self, head: Vec<u8>, file: File, len: u64) -> io::Result<()> {
        self.outgoing.write_file(self.conn, head, file, len);
        Ok(())
    }
}
