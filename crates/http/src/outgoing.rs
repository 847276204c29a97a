//! [`Outgoing`]: response bytes and files an event loop sends as the client reads.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::net::TcpStream;

use socketserver::Connection;

use crate::wire::FILE_BUFFER;

/// What is left of the responses on a connection beyond its output buffer: files are read a
/// buffer at a time while the buffer is under the high watermark, so a large file never sits in
/// memory and the loop thread is never held by a slow client.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pieces: VecDeque<Piece>,
    /// The read buffer while a file is being sent.
    buffer: Option<Vec<u8>>,
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
        head: &[u8],
        file: File,
        len: u64,
    ) {
        if !head.is_empty() {
            self.pieces.push_back(Piece::Bytes(head.to_vec()));
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
            let Some(piece) = self.pieces.front_mut() else {
                break;
            };
            let buffer = self.buffer.get_or_insert_with(Vec::new);
            buffer.clear();
            if let Piece::Bytes(bytes) = piece {
                // Bytes followed by a file go out with the file's first buffer.
                buffer.extend_from_slice(bytes);
                self.pieces.pop_front();
            }
            if let Some(Piece::File { file, left }) = self.pieces.front_mut() {
                let start = buffer.len();
                let want = usize::try_from(*left)
                    .unwrap_or(FILE_BUFFER)
                    .min(FILE_BUFFER);
                buffer.resize(start + want, 0);
                match file.read(&mut buffer[start..]) {
                    Ok(0) => {
                        tracing::warn!(peer = %conn.client_address(), "a file shrank while it was sent; closing the connection");
                        conn.abort();
                    }
                    Ok(n) => {
                        buffer.truncate(start + n);
                        *left -= n as u64;
                        if *left == 0 {
                            self.pieces.pop_front();
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                        buffer.truncate(start);
                    }
                    Err(error) => {
                        tracing::warn!(peer = %conn.client_address(), %error, "a file could not be read while it was sent; closing the connection");
                        conn.abort();
                    }
                }
            }
            conn.write(buffer);
        }
        if conn.is_closing() {
            self.pieces.clear();
        }
        if self.pieces.is_empty() {
            self.buffer = None;
        }
    }
}
