//! [`PendingOutput`]: what a handler wrote that the peer has not taken yet, kept so that the
//! loop holding a parked connection sends it and a slow reader holds no worker.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::coroutine;
use crate::error::TimedOut;
use crate::request::stream_socket::{
    file_shrank, read_piece, send_what_it_takes_with, StreamSocket, SENDFILE_CHUNK,
};
use crate::stats::CloseReason;

/// The most files waiting to be sent on one connection (each holds a descriptor); past it a
/// write waits for the peer, as one past the byte bound does.
const MAX_FILES: usize = 64;

/// Output written by a handler and not taken by the socket yet: bytes (at most `limit`) and
/// files (sent a piece at a time, never read whole). Shared by a request's `wfile` (which
/// adds to it), its `rfile` (which sends it, waiting, before it waits for input) and the
/// parker (which sends it as the peer reads, while the connection is parked).
#[derive(Debug)]
pub(crate) struct PendingOutput {
    pieces: VecDeque<Piece>,
    /// Bytes in `Bytes` pieces.
    bytes: usize,
    files: usize,
    limit: usize,
    /// How long the peer may take nothing while output waits.
    write_timeout: Option<Duration>,
    /// When the socket last took something (or the output started): the write timeout runs
    /// from there.
    last_progress: Instant,
    /// The write timeout passed: the peer is not reading.
    timed_out: bool,
    /// The socket holds output of its own (TLS records) that it has not sent yet.
    held: bool,
    /// `sendfile(2)` said it cannot send these files on this socket (TLS, or a file that is
    /// not in a page cache): files go through a buffer, a piece at a time.
    no_sendfile: bool,
}

#[derive(Debug)]
enum Piece {
    Bytes { data: Vec<u8>, sent: usize },
    File { file: File, left: u64 },
}

impl PendingOutput {
    /// Nothing pending; keeps at most `limit` bytes, for a peer that may take nothing for
    /// `write_timeout`.
    pub(crate) fn new(limit: usize, write_timeout: Option<Duration>) -> Self {
        PendingOutput {
            pieces: VecDeque::new(),
            bytes: 0,
            files: 0,
            limit,
            write_timeout,
            last_progress: Instant::now(),
            timed_out: false,
            held: false,
            no_sendfile: false,
        }
    }

    /// Whether nothing waits: no pieces, and nothing the socket holds of its own.
    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty() && !self.held
    }

    /// Notes whether `socket` holds output of its own after a write that went past this
    /// output (it then waits here, to be sent as the rest is).
    pub(crate) fn note_held<T: StreamSocket>(&mut self, socket: &T) {
        if !self.held && socket.holds_output() {
            self.held = true;
            self.last_progress = Instant::now();
        }
    }

    /// The bytes kept now (files not counted).
    pub(crate) fn len(&self) -> usize {
        self.bytes
    }

    /// Whether `more` bytes fit under the bound.
    pub(crate) fn fits(&self, more: usize) -> bool {
        self.bytes.saturating_add(more) <= self.limit
    }

    /// Whether another file may wait here.
    pub(crate) fn takes_a_file(&self) -> bool {
        self.files < MAX_FILES
    }

    /// Whether the write timeout passed while this output waited.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Keeps `data` after what is pending.
    pub(crate) fn push_bytes(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.pieces.is_empty() {
            self.last_progress = Instant::now();
        }
        self.bytes += data.len();
        self.pieces.push_back(Piece::Bytes {
            data: data.to_vec(),
            sent: 0,
        });
    }

    /// Keeps `len` bytes of `file`, from its position, after what is pending.
    pub(crate) fn push_file(&mut self, file: File, len: u64) {
        if len == 0 {
            return;
        }
        if self.pieces.is_empty() {
            self.last_progress = Instant::now();
        }
        self.files += 1;
        self.pieces.push_back(Piece::File { file, left: len });
    }

    /// When the write timeout ends the connection if the peer takes nothing more.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.write_timeout
            .and_then(|after| self.last_progress.checked_add(after))
    }

    /// The write timeout passed at `now` (the peer took nothing): remembered, and returned as
    /// the error that ends the connection.
    pub(crate) fn expire(&mut self) -> io::Error {
        self.timed_out = true;
        TimedOut::new(
            CloseReason::WriteTimeout,
            self.write_timeout.unwrap_or_default(),
        )
        .into_io()
    }

    /// Sends what the socket takes now, without waiting; `Ok` when everything went or the
    /// socket is full.
    ///
    /// # Errors
    ///
    /// The socket's error, or a file that cannot be read (or ended before its length: the
    /// response it belongs to cannot be completed, so the connection must end).
    pub(crate) fn send_now<T: StreamSocket>(&mut self, socket: &T) -> io::Result<()> {
        self.send_pieces(socket, FilesGo::ThroughABuffer)
    }

    /// [`send_now`](Self::send_now) on a blocking socket that nothing else waits on meanwhile:
    /// files go with `sendfile(2)` from the page cache, in calls of at most
    /// [`SENDFILE_CHUNK`], instead of through a buffer 64 KiB at a time (bytes just before a
    /// file with `MSG_MORE`, in its first packet). `sendfile(2)` has no `MSG_DONTWAIT`, so the
    /// socket is made non-blocking for the call and blocking again after it; a thread blocked
    /// on the socket meanwhile would see `WouldBlock`. Callers: the loop that holds a parked
    /// connection (its handler is not running), and `StreamRequest::send_file` (which holds
    /// the whole request, both halves).
    ///
    /// # Errors
    ///
    /// As [`send_now`](Self::send_now), and the socket's error when its mode cannot be set.
    pub(crate) fn send_now_from_page_cache<T: StreamSocket>(
        &mut self,
        socket: &T,
    ) -> io::Result<()> {
        self.send_pieces(socket, FilesGo::BySendfile)
    }

    fn send_pieces<T: StreamSocket>(&mut self, socket: &T, files: FilesGo) -> io::Result<()> {
        if self.held {
            if !socket.flush_held()? {
                return Ok(()); // the socket is full
            }
            self.held = false;
            self.last_progress = Instant::now();
        }
        if !self.by_sendfile(files) {
            self.join_head_to_file()?;
        }
        loop {
            let by_sendfile = self.by_sendfile(files);
            // Bytes before a file `sendfile(2)` sends leave with its start, in one packet.
            let file_follows =
                by_sendfile && matches!(self.pieces.get(1), Some(Piece::File { .. }));
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            match front {
                Piece::Bytes { data, sent } => {
                    let left = send_what_it_takes_with(socket, &data[*sent..], file_follows)?.len();
                    let n = data.len() - *sent - left;
                    if n > 0 {
                        *sent += n;
                        self.bytes -= n;
                        self.last_progress = Instant::now();
                    }
                    if left > 0 {
                        return Ok(()); // the socket is full
                    }
                    self.pieces.pop_front();
                }
                Piece::File { file, left } if by_sendfile => {
                    let before = *left;
                    let sent = send_file_without_waiting(socket, file, left);
                    if *left < before {
                        self.last_progress = Instant::now();
                    }
                    match sent? {
                        FileSent::All => {
                            self.pieces.pop_front();
                            self.files -= 1;
                        }
                        FileSent::SocketFull => return Ok(()),
                        // From the file's position on, through a buffer.
                        FileSent::Unsupported => self.no_sendfile = true,
                    }
                }
                Piece::File { .. } => self.file_piece_to_front(Vec::new())?,
            }
        }
        self.held = socket.holds_output();
        Ok(())
    }

    /// Whether files go by `sendfile(2)` in a send asked to send them `files` way: not once it
    /// said this socket or file cannot.
    fn by_sendfile(&self, files: FilesGo) -> bool {
        files == FilesGo::BySendfile && !self.no_sendfile
    }

    /// Bytes that have not started going out, followed by a file: the file's first piece is
    /// appended to them, so a response head and its body's start leave in one send.
    fn join_head_to_file(&mut self) -> io::Result<()> {
        let head_then_file = matches!(self.pieces.front(), Some(Piece::Bytes { sent: 0, .. }))
            && matches!(self.pieces.get(1), Some(Piece::File { .. }));
        if !head_then_file {
            return Ok(());
        }
        let Some(Piece::Bytes { data, .. }) = self.pieces.pop_front() else {
            return Ok(());
        };
        self.file_piece_to_front(data)
    }

    /// Reads the next piece of the file at the front, after `head` (bytes that waited before
    /// it), into bytes at the front; on error `head` is put back as it was.
    fn file_piece_to_front(&mut self, head: Vec<u8>) -> io::Result<()> {
        let Some(Piece::File { file, left }) = self.pieces.front_mut() else {
            self.pieces.push_front(Piece::Bytes {
                data: head,
                sent: 0,
            });
            return Ok(());
        };
        let mut data = head;
        let n = match read_piece(file, *left, &mut data) {
            Ok(n) => n,
            Err(error) => {
                // `read_piece` left `data` as it found it: the head alone.
                self.pieces.push_front(Piece::Bytes { data, sent: 0 });
                return Err(error);
            }
        };
        *left -= n as u64;
        if *left == 0 {
            self.pieces.pop_front();
            self.files -= 1;
        }
        self.bytes += n;
        self.pieces.push_front(Piece::Bytes { data, sent: 0 });
        Ok(())
    }

    /// Sends everything, waiting for the peer to read, as a blocking write does: at most
    /// `write_timeout` without progress.
    ///
    /// # Errors
    ///
    /// As [`send_now`](Self::send_now); an expired write timeout is a
    /// [`TimedOut`] error.
    pub(crate) fn send_all<T: StreamSocket>(&mut self, socket: &T) -> io::Result<()> {
        loop {
            self.send_now(socket)?;
            if self.is_empty() {
                return Ok(());
            }
            let left = self
                .deadline()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) || !coroutine::wait(socket.as_fd(), true, left)? {
                return Err(self.expire());
            }
        }
    }

    /// Drops everything pending (the connection is being closed without it).
    pub(crate) fn discard(&mut self) {
        self.pieces.clear();
        self.held = false;
        self.bytes = 0;
        self.files = 0;
    }
}

/// How [`PendingOutput`] sends the files it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilesGo {
    /// Read a piece at a time into bytes that are sent: never waits, whatever the socket's
    /// mode.
    ThroughABuffer,
    /// `sendfile(2)`, the socket non-blocking for the call.
    BySendfile,
}

/// How far [`send_file_without_waiting`] got.
enum FileSent {
    All,
    SocketFull,
    /// Nothing sent this way: the socket or the file cannot be.
    Unsupported,
}

/// Sends the rest of `file` (`left` bytes from its position, counted down as they go) with
/// `sendfile(2)` until the socket is full, on a blocking socket made non-blocking for the
/// call.
fn send_file_without_waiting<T: StreamSocket>(
    socket: &T,
    file: &File,
    left: &mut u64,
) -> io::Result<FileSent> {
    socket.set_nonblocking(true)?;
    let sent = loop {
        if *left == 0 {
            break Ok(FileSent::All);
        }
        let count = usize::try_from(*left)
            .unwrap_or(usize::MAX)
            .min(SENDFILE_CHUNK);
        match socket.send_file_now(file, count) {
            Ok(0) => break Err(file_shrank()),
            Ok(n) => *left -= n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(FileSent::SocketFull),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => break Ok(FileSent::Unsupported),
            Err(e) => break Err(e),
        }
    };
    // Blocking again whatever happened: the handler's reads and writes wait on it.
    let restored = socket.set_nonblocking(false);
    let sent = sent?;
    restored?;
    Ok(sent)
}

/// A [`PendingOutput`] shared by a request's `wfile`, its `rfile` and the parker, with a flag
/// read without the lock — nothing is kept, the usual case — on every write and every wait.
#[derive(Debug)]
pub(crate) struct SharedOutput {
    kept: Mutex<PendingOutput>,
    /// Something is kept: updated under the lock whenever it is released.
    waiting: AtomicBool,
}

impl SharedOutput {
    pub(crate) fn new(limit: usize, write_timeout: Option<Duration>) -> Arc<Self> {
        Arc::new(SharedOutput {
            kept: Mutex::new(PendingOutput::new(limit, write_timeout)),
            waiting: AtomicBool::new(false),
        })
    }

    /// Whether output is kept now. Only the writing half adds to it, so when this says
    /// `false` to that half, it stays so until the half adds something.
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }

    /// The kept output, under its lock (the flag follows it when the guard drops).
    pub(crate) fn lock(&self) -> Kept<'_> {
        Kept {
            guard: self.kept.lock(),
            waiting: &self.waiting,
        }
    }
}

/// [`SharedOutput`]'s lock, which sets the flag to what it leaves.
#[derive(Debug)]
pub(crate) struct Kept<'a> {
    guard: MutexGuard<'a, PendingOutput>,
    waiting: &'a AtomicBool,
}

impl Deref for Kept<'_> {
    type Target = PendingOutput;

    fn deref(&self) -> &PendingOutput {
        &self.guard
    }
}

impl DerefMut for Kept<'_> {
    fn deref_mut(&mut self) -> &mut PendingOutput {
        &mut self.guard
    }
}

impl Drop for Kept<'_> {
    fn drop(&mut self) {
        self.waiting
            .store(!self.guard.is_empty(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
