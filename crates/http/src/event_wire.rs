//! [`EventWire`]: an event loop's connection under an [`Exchange`](crate::Exchange).

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};

use socketserver::Connection;

use crate::outgoing::Outgoing;
use crate::wire::Wire;

/// A request answered through the connection's buffer: writes never block the loop, files
/// go out as the client reads.
pub(crate) struct EventWire<'w, 'c> {
    pub(crate) conn: &'w mut Connection<'c, TcpStream>,
    pub(crate) outgoing: &'w mut Outgoing,
}

impl Wire for EventWire<'_, '_> {
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
