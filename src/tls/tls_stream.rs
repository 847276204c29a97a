//! [`TlsStream`]: one TLS connection over a stream socket, as handlers and loops use it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use rustls::{HandshakeKind, ServerConnection};

use crate::coroutine;
use crate::error::TlsError;
use crate::request::{Handshake, StreamSocket};
use crate::stats::TlsFailure;
use crate::tls::tls_acceptor::Settings;
use crate::tls::tls_info::TlsInfo;

/// The most plaintext encrypted in one step: one TLS record's worth.
const RECORD: usize = 16 * 1024;

/// The first byte of every TLS handshake record (content type 22).
const HANDSHAKE_RECORD: u8 = 0x16;

/// A TLS connection over `S` (a [`TcpStream`] by default): the [`StreamSocket`] a TLS
/// server's [`StreamRequest`](crate::StreamRequest) and [`Connection`](crate::Connection)
/// wrap, so `rfile`, `wfile` and `Connection::write` carry plaintext. Python's `SSLSocket`.
///
/// Only the rustls state is locked, and never while waiting for the socket: every socket call
/// under the lock is one that does not wait (`MSG_DONTWAIT`), and a read or write that must
/// wait drops the lock first. So one thread may read while another writes (the tiny_http
/// deadlock cannot happen), and a slow peer never blocks the other direction.
///
/// On a thread, a read or write waits as a blocking socket does, up to the timeouts the
/// framework sets ([`set_recv_timeout`](StreamSocket::set_recv_timeout) and
/// [`set_send_timeout`](StreamSocket::set_send_timeout)); on a coroutine the wait suspends it;
/// in non-blocking mode (an event loop) it is `WouldBlock`.
#[doc(alias = "SSLSocket")]
pub struct TlsStream<S: StreamSocket = TcpStream> {
    socket: S,
    state: Mutex<State>,
    /// When the handshake must be over.
    deadline: Instant,
    plaintext_answer: Option<Arc<[u8]>>,
    handshaking: AtomicBool,
    nonblocking: AtomicBool,
    /// rustls holds records the socket has not taken.
    held_output: AtomicBool,
    /// rustls holds decrypted bytes not read yet.
    held_input: AtomicBool,
    /// The waits' limits, in nanoseconds (`u64::MAX`: none).
    recv_timeout: AtomicU64,
    send_timeout: AtomicU64,
    info: OnceLock<TlsInfo>,
}

struct State {
    connection: ServerConnection,
    /// Decrypted bytes not read yet.
    plaintext: usize,
    /// A byte has arrived (a close before it is a port scan or a health check).
    first_byte_seen: bool,
    /// A TLS error ended the session, or `close_notify` went: nothing more is sent.
    ended: bool,
}

/// What one read of records from the socket found.
enum Records {
    /// Records arrived and were processed.
    Arrived,
    /// Nothing has arrived.
    Nothing,
    /// The peer closed its side.
    Closed,
}

impl<S: StreamSocket> TlsStream<S> {
    pub(crate) fn new(socket: S, connection: ServerConnection, settings: &Settings) -> Self {
        let now = Instant::now();
        TlsStream {
            socket,
            state: Mutex::new(State {
                connection,
                plaintext: 0,
                first_byte_seen: false,
                ended: false,
            }),
            deadline: now
                .checked_add(settings.handshake_timeout)
                .unwrap_or(now + Duration::from_secs(86_400)),
            plaintext_answer: settings.plaintext_answer.clone(),
            handshaking: AtomicBool::new(true),
            nonblocking: AtomicBool::new(false),
            held_output: AtomicBool::new(false),
            held_input: AtomicBool::new(false),
            recv_timeout: AtomicU64::new(u64::MAX),
            send_timeout: AtomicU64::new(u64::MAX),
            info: OnceLock::new(),
        }
    }

    /// The socket under the TLS layer.
    pub fn get_ref(&self) -> &S {
        &self.socket
    }

    /// What the handshake settled (SNI, ALPN, version, cipher suite, the client's
    /// certificates, resumption); `None` until it is over (a handler always finds it).
    pub fn info(&self) -> Option<&TlsInfo> {
        self.info.get()
    }

    /// Sends what rustls holds of records, never waiting; `Ok(true)` when all went.
    fn flush_locked(&self, state: &mut State) -> io::Result<bool> {
        while state.connection.wants_write() {
            match state.connection.write_tls(&mut Now(&self.socket)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.held_output.store(true, Ordering::Release);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.held_output.store(false, Ordering::Release);
        Ok(true)
    }

    /// Reads and processes the records that have arrived, never waiting.
    fn read_records(&self, state: &mut State) -> io::Result<Records> {
        let mut reader = Now(&self.socket);
        let mut first = FirstByte {
            inner: &mut reader,
            seen: state.first_byte_seen,
            not_tls: false,
        };
        let read = state.connection.read_tls(&mut first);
        let (seen, not_tls) = (first.seen, first.not_tls);
        state.first_byte_seen = seen;
        match read {
            Ok(_) if not_tls => Err(self.not_tls(state)),
            Ok(0) => Ok(Records::Closed),
            Ok(_) => {
                let processed = state.connection.process_new_packets();
                match processed {
                    Ok(io_state) => {
                        state.plaintext = io_state.plaintext_bytes_to_read();
                        self.held_input
                            .store(state.plaintext > 0, Ordering::Release);
                        // What the records asked for (handshake messages, a key update).
                        self.flush_locked(state)?;
                        Ok(Records::Arrived)
                    }
                    Err(error) => {
                        // rustls queued an alert saying why: it goes if the socket takes it.
                        let _ = self.flush_locked(state);
                        state.ended = true;
                        Err(tls_error(&error).into_io())
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Records::Nothing),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Records::Arrived),
            Err(e) => Err(e),
        }
    }

    /// Plaintext arrived: the configured answer goes if the socket takes it now.
    fn not_tls(&self, state: &mut State) -> io::Error {
        state.ended = true;
        if let Some(answer) = &self.plaintext_answer {
            let _ = self.socket.send_now(answer);
        }
        TlsError::new(
            TlsFailure::NotTls,
            "the client did not speak TLS (plaintext to a TLS port)",
        )
        .into_io()
    }

    /// Waits, without the lock, until the socket is readable (`writable`) or the wait's limit
    /// passes; `Ok(false)` then.
    fn wait(&self, writable: bool) -> io::Result<bool> {
        let nanos = match writable {
            true => self.send_timeout.load(Ordering::Relaxed),
            false => self.recv_timeout.load(Ordering::Relaxed),
        };
        let limit = (nanos != u64::MAX).then(|| Duration::from_nanos(nanos));
        coroutine::wait(self.socket.as_fd(), writable, limit)
    }

    fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// The handshake is over: what it settled is kept for the handler.
    fn handshake_done(&self, state: &State) {
        let connection = &state.connection;
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLS",
        };
        let info = TlsInfo {
            server_name: connection.server_name().map(str::to_owned),
            alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
            version,
            cipher_suite: connection
                .negotiated_cipher_suite()
                .and_then(|suite| suite.suite().as_str())
                .unwrap_or("unknown")
                .to_owned(),
            peer_certificates: connection
                .peer_certificates()
                .map(|chain| chain.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
            resumed: connection.handshake_kind() == Some(HandshakeKind::Resumed),
        };
        let _ = self.info.set(info);
        self.handshaking.store(false, Ordering::Release);
    }

    /// Reads decrypted bytes, reading and processing records as they arrive; waits (without
    /// the lock) when `waits` and nothing has come, else says `WouldBlock`.
    fn read(&self, buf: &mut [u8], waits: bool) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut state = self.lock();
            match state.connection.reader().read(buf) {
                Ok(n) => {
                    state.plaintext = state.plaintext.saturating_sub(n);
                    self.held_input
                        .store(state.plaintext > 0, Ordering::Release);
                    // `Ok(0)`: the peer's close_notify, a clean end of input.
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: a truncation, never a normal end.
                Err(e) => return Err(e),
            }
            match self.read_records(&mut state)? {
                Records::Arrived | Records::Closed => continue,
                Records::Nothing => {}
            }
            drop(state);
            if !waits || !self.wait(false)? {
                // Nothing yet (non-blocking), or the read timeout passed (what a blocking
                // socket's SO_RCVTIMEO says).
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Encrypts up to one record of `buf` and sends what the socket takes, never waiting:
    /// `WouldBlock` while older records are still held. Returns the plaintext taken.
    fn write_now(&self, state: &mut State, buf: &[u8]) -> io::Result<usize> {
        if !self.flush_locked(state)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let taken = state
            .connection
            .writer()
            .write(&buf[..buf.len().min(RECORD)])?;
        self.flush_locked(state)?;
        Ok(taken)
    }
}

impl<S: StreamSocket> AsFd for TlsStream<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl<S: StreamSocket> StreamSocket for TlsStream<S> {
    type Address = S::Address;

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf, !self.nonblocking())
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut state = self.lock();
            let taken = match self.write_now(&mut state, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                other => Some(other?),
            };
            drop(state);
            if let Some(taken) = taken {
                // A blocking write returns once its records have gone.
                while !self.nonblocking() && !self.flush_held()? {
                    if !self.wait(true)? {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                }
                return Ok(taken);
            }
            if self.nonblocking() || !self.wait(true)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.socket.shutdown(how)
    }

    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.recv_timeout.store(nanos(timeout), Ordering::Relaxed);
        Ok(())
    }

    fn set_send_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.send_timeout.store(nanos(timeout), Ordering::Relaxed);
        Ok(())
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_nodelay(nodelay)
    }

    fn peer_ip(address: &Self::Address) -> Option<std::net::IpAddr> {
        S::peer_ip(address)
    }

    fn address_from_ip(address: std::net::SocketAddr) -> Option<Self::Address> {
        S::address_from_ip(address)
    }

    fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf, false)
    }

    fn send_now(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.write_now(&mut self.lock(), buf)
    }

    fn send_now_more(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_now(buf)
    }

    /// Reads a record's worth of the file and encrypts it (no `sendfile(2)` through TLS).
    fn send_file_now(&self, file: &std::fs::File, count: usize) -> io::Result<usize> {
        let mut state = self.lock();
        if !self.flush_locked(&mut state)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut piece = vec![0; count.min(RECORD)];
        let n = loop {
            match (&*file).read(&mut piece) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        // The buffer bound is at least a record: all of it is taken.
        state.connection.writer().write_all(&piece[..n])?;
        self.flush_locked(&mut state)?;
        Ok(n)
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.nonblocking.store(on, Ordering::Relaxed);
        self.socket.set_nonblocking(on)
    }

    fn holds_output(&self) -> bool {
        self.held_output.load(Ordering::Acquire)
    }

    fn flush_held(&self) -> io::Result<bool> {
        if !self.holds_output() {
            return Ok(true);
        }
        self.flush_locked(&mut self.lock())
    }

    fn holds_input(&self) -> bool {
        self.held_input.load(Ordering::Acquire)
    }

    fn wire_traffic(&self) -> Option<(u64, u64)> {
        self.socket.wire_traffic()
    }

    fn handshaking(&self) -> bool {
        self.handshaking.load(Ordering::Acquire)
    }

    fn advance_handshake(&self) -> io::Result<Handshake> {
        let mut state = self.lock();
        loop {
            if state.connection.wants_write() && !self.flush_locked(&mut state)? {
                return Ok(Handshake::WantWrite);
            }
            if !state.connection.is_handshaking() {
                self.handshake_done(&state);
                return Ok(Handshake::Done);
            }
            match self.read_records(&mut state)? {
                Records::Arrived => {}
                Records::Nothing => return Ok(Handshake::WantRead),
                Records::Closed => {
                    state.ended = true;
                    let (failure, message) = match state.first_byte_seen {
                        false => (
                            TlsFailure::ClosedBeforeHello,
                            "the client closed before its first byte",
                        ),
                        true => (TlsFailure::Other, "the client closed during the handshake"),
                    };
                    return Err(TlsError::new(failure, message).into_io());
                }
            }
        }
    }

    fn handshake_deadline(&self) -> Option<Instant> {
        self.handshaking().then_some(self.deadline)
    }

    fn writes_from_other_threads(&self) -> bool {
        false
    }

    fn close_notify(&self) {
        if self.handshaking() {
            return;
        }
        let mut state = self.lock();
        if std::mem::replace(&mut state.ended, true) {
            return;
        }
        state.connection.send_close_notify();
        let _ = self.flush_locked(&mut state);
    }
}

fn nanos(timeout: Option<Duration>) -> u64 {
    timeout.map_or(u64::MAX, |t| {
        u64::try_from(t.as_nanos()).unwrap_or(u64::MAX - 1)
    })
}

/// The kind of TLS failure a rustls error is.
fn tls_error(error: &rustls::Error) -> TlsError {
    use rustls::Error as E;
    let failure = match error {
        E::PeerIncompatible(_) | E::NoApplicationProtocol => TlsFailure::PeerIncompatible,
        E::NoCertificatesPresented | E::InvalidCertificate(_) => {
            TlsFailure::ClientCertificateRejected
        }
        E::AlertReceived(_) => TlsFailure::AlertReceived,
        _ => TlsFailure::Other,
    };
    TlsError::new(failure, error.to_string())
}

/// The socket read and written without waiting, as rustls' `io` wants it.
struct Now<'a, S>(&'a S);

impl<S: StreamSocket> Read for Now<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv_now(buf)
    }
}

impl<S: StreamSocket> Write for Now<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send_now(buf)
    }

    /// Every record rustls holds in one send (a handshake's whole flight leaves together, so
    /// the client answers it at once instead of waiting on Nagle for its first part's ACK).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.send_vectored_now(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that looks at the connection's first byte: a TLS client's is a handshake
/// record's.
struct FirstByte<'r, R> {
    inner: &'r mut R,
    seen: bool,
    not_tls: bool,
}

impl<R: Read> Read for FirstByte<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 && !self.seen {
            self.seen = true;
            self.not_tls = buf[0] != HANDSHAKE_RECORD;
        }
        Ok(n)
    }
}

impl<S: StreamSocket> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshaking", &self.handshaking())
            .field("info", &self.info.get())
            .finish_non_exhaustive()
    }
}
