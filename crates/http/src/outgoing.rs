//! [`Outgoing`]: response bytes and files an event loop sends as the client reads.

use std::collections::VecDeque;
use std::fs::File;
use std::net::TcpStream;

use socketserver::Connection;

use crate::wire::read_piece;

/// What is left of the responses on a connection beyond its output buffer: files are read a
/// buffer at a time while the buffer is under the high watermark, so a large file never sits in
/// memory and the loop thread is never held by a slow client.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pieces: VecDeque<Piece>,
    /// The read buffer while a file is being sent (empty, unallocated, otherwise).
    buffer: Vec<u8>,
}

#[derive(Debug)]
enum Piece {
    /// Bytes written after a file that was not sent yet.
    Bytes(Vec<u8>),
    /// The rest of a file.
    File { file: File, left: u64 },
}

impl Outgoing {
    /// Whether everything was handed to the connection.
    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Writes `bytes` after what is queued.
    pub(crate) fn write(&mut self, conn: &mut Connection<'_, TcpStream>, bytes: &[u8]) {
        match self.pieces.is_empty() {
            true => conn.write(bytes),
            false => self.pieces.push_back(Piece::Bytes(bytes.to_vec())),
        }
    }

    /// Queues `head`, then `len` bytes of `file`, and sends what the connection takes now
    /// (the head with the file's first buffer, in one write).
    pub(crate) fn write_file(
        &mut self,
        conn: &mut Connection<'_, TcpStream>,
        head: Vec<u8>,
        file: File,
        len: u64,
    ) {
        if !head.is_empty() {
            self.pieces.push_back(Piece::Bytes(head));
        }
        if len > 0 {
            self.pieces.push_back(Piece::File { file, left: len });
        }
        self.pump(conn);
    }

    /// Hands pieces to the connection until its buffer is past the high watermark (the
    /// framework then calls `resume_writing` once the client has read it down) or nothing is
    /// left. A file that cannot be read, or ends early, aborts the connection: its response's
    /// length cannot be kept.
    pub(crate) fn pump(&mut self, conn: &mut Connection<'_, TcpStream>) {
        let (high, _) = conn.write_buffer_limits();
        while conn.write_buffer_size() <= high && !conn.is_closing() {
            let file_next = matches!(self.pieces.get(1), Some(Piece::File { .. }));
            match self.pieces.front_mut() {
                None => break,
                Some(Piece::Bytes(bytes)) if !file_next => {
                    conn.write(bytes);
                    self.pieces.pop_front();
                    continue;
                }
                Some(Piece::Bytes(bytes)) => {
                    // Bytes followed by a file go out with the file's first piece.
                    self.buffer = std::mem::take(bytes);
                    self.pieces.pop_front();
                }
                Some(Piece::File { .. }) => {}
            }
            let Some(Piece::File { file, left }) = self.pieces.front_mut() else {
                break;
            };
            match read_piece(file, *left, &mut self.buffer) {
                Ok(n) => {
                    *left -= n as u64;
                    if *left == 0 {
                        self.pieces.pop_front();
                    }
                    conn.write(&self.buffer);
                    self.buffer.clear();
                }
                Err(error) => {
                    tracing::warn!(peer = %conn.client_address(), %error, "a file could not be sent whole; closing the connection");
                    conn.abort();
                }
            }
        }
        if conn.is_closing() {
            self.pieces.clear();
        }
        if self.pieces.is_empty() {
            self.buffer = Vec::new();
        }
    }
}
