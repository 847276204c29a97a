//! [`Outgoing`]: response bytes and files an event loop sends as the client reads.

use std::collections::VecDeque;
use std::fs::File;

use socketserver::Connection;

use crate::wire::{read_piece, HttpSocket};

/// What is left of the responses on a connection beyond its output buffer. A file of at least
/// [`SENDFILE_FROM`] bytes goes from the page cache to the socket (`Connection::send_file`)
/// whenever nothing else waits before it, as the client takes it; otherwise (a small file,
/// whose head and body then leave in one send, or output still waiting) files are read a
/// buffer at a time while the buffer is under the high watermark. Either way a large file never
/// sits in memory and the loop thread is never held by a slow client.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    pieces: VecDeque<Piece>,
    /// The read buffer while a file is being sent (empty, unallocated, otherwise).
    buffer: Vec<u8>,
    /// `send_file` is not available here: files are read.
    reads_files: bool,
}

/// The shortest file sent with `sendfile`: below it, reading it behind its head (one send for
/// both) costs less than a second system call.
pub(crate) const SENDFILE_FROM: u64 = 16 * 1024;

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
    pub(crate) fn write<T: HttpSocket>(&mut self, conn: &mut Connection<'_, T>, bytes: &[u8]) {
        match self.pieces.is_empty() {
            true => conn.write(bytes),
            false => self.pieces.push_back(Piece::Bytes(bytes.to_vec())),
        }
    }

    /// Queues `head`, then `len` bytes of `file`, and sends what the connection takes now
    /// (the head with the file's first buffer, in one write).
    pub(crate) fn write_file<T: HttpSocket>(
        &mut self,
        conn: &mut Connection<'_, T>,
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
    pub(crate) fn pump<T: HttpSocket>(&mut self, conn: &mut Connection<'_, T>) {
        let (high, _) = conn.write_buffer_limits();
        while conn.write_buffer_size() <= high && !conn.is_closing() {
            let file_next = matches!(self.pieces.get(1), Some(Piece::File { .. }));
            let direct = self.sends_directly();
            match self.pieces.front_mut() {
                None => break,
                Some(Piece::Bytes(bytes)) if !file_next => {
                    conn.write(bytes);
                    self.pieces.pop_front();
                    continue;
                }
                Some(Piece::Bytes(bytes)) => {
                    // Bytes followed by a file (its head) go out with the file's start.
                    self.buffer = std::mem::take(bytes);
                    self.pieces.pop_front();
                }
                Some(Piece::File { .. }) => {}
            }
            let Some(Piece::File { file, left }) = self.pieces.front_mut() else {
                break;
            };
            if direct {
                let head = std::mem::take(&mut self.buffer);
                match conn.send_file(&head, file, *left) {
                    Ok(n) => {
                        *left -= n;
                        if *left == 0 {
                            self.pieces.pop_front();
                            continue;
                        }
                        // Output waits or the socket is full (the framework calls
                        // resume_writing when it takes more), or the connection is closing.
                        break;
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
                        // Nothing was written: the head goes with the file's first piece.
                        self.reads_files = true;
                        self.buffer = head;
                    }
                    Err(error) => {
                        tracing::warn!(peer = %conn.client_address(), %error, "a file could not be sent whole; closing the connection");
                        conn.abort();
                        break;
                    }
                }
            }
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

    /// Whether the next file (at the front, or after its head) goes by `send_file`: it is
    /// long enough, and the connection can.
    fn sends_directly(&self) -> bool {
        let file = match self.pieces.front() {
            Some(Piece::Bytes(_)) => self.pieces.get(1),
            front => front,
        };
        matches!(file, Some(Piece::File { left, .. }) if *left >= SENDFILE_FROM)
            && !self.reads_files
    }
}
