//! The PROXY protocol stage: connections from trusted balancers wait in the serving loop's
//! selector (no thread) until their header has arrived, then go on to `verify_request`, the
//! limits and dispatch with the client address the header carries.

use std::io;
use std::time::Instant;

use std::os::fd::{AsFd, BorrowedFd};

use selectors::Interest;

use crate::dispatch::Dispatch;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::proxy_protocol::{parse, Parsed, ProxyHeader};
use crate::request::Request;
use crate::sys;
use crate::transport::TcpServer;

use super::base_server::BaseServer;

/// A connection whose PROXY header has not arrived yet.
pub(super) struct PendingProxy<R> {
    pub(super) request: R,
    pub(super) deadline: Instant,
}

impl<R: Request> AsFd for PendingProxy<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.request
            .parking_fd()
            .expect("only requests with a descriptor wait for a header")
    }
}

/// The most a v2 header can be: 16 fixed bytes and a 16-bit length.
const LONGEST_HEADER: usize = 16 + u16::MAX as usize;
/// The first look at a header: room for any v1 header (107 bytes at most) and most v2 ones,
/// on the stack.
const FIRST_LOOK: usize = 256;

/// What the header stage decided for one connection.
enum Verdict {
    Ready(ProxyHeader, usize),
    Wait,
    Refuse(String),
}

impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// A new connection: dispatched at once without a PROXY policy; with one, refused if it
    /// is not from a trusted balancer, otherwise held until its header has arrived.
    pub(super) fn admit_accepted(&mut self, request: S::Request) {
        let Some(policy) = self.parts.socket.proxy_policy() else {
            self.dispatch_request(request);
            return;
        };
        if !request.is_connection() {
            self.dispatch_request(request);
            return;
        }
        let trusted = request.source_ip().is_some_and(|ip| policy.trusts(ip));
        if !trusted {
            self.refuse_proxy(request, "not from a trusted balancer".to_owned());
            return;
        }
        let deadline = Instant::now() + policy.timeout;
        self.try_header(PendingProxy { request, deadline });
    }

    /// Reads the header if it has arrived: dispatches, refuses, or keeps waiting.
    fn try_header(&mut self, pending: PendingProxy<S::Request>) {
        let verdict = match pending.request.parking_fd() {
            Some(fd) => peek_header(fd),
            None => Verdict::Refuse("no descriptor to read a header from".to_owned()),
        };
        match verdict {
            Verdict::Ready(header, consumed) => {
                let mut request = pending.request;
                if let Some(fd) = request.parking_fd() {
                    if let Err(error) = discard(fd, consumed) {
                        self.refuse_proxy(request, format!("reading the header: {error}"));
                        return;
                    }
                }
                if let ProxyHeader::Proxied { source, .. } = header {
                    if !request.apply_proxied_source(source) {
                        tracing::debug!(%source, "the transport cannot hold this address");
                    }
                }
                tracing::debug!(?header, peer = ?request.client_address(), "PROXY header read");
                self.dispatch_request(request);
            }
            Verdict::Refuse(why) => self.refuse_proxy(pending.request, why),
            Verdict::Wait if Instant::now() >= pending.deadline => {
                self.refuse_proxy(pending.request, "no complete header in time".to_owned());
            }
            Verdict::Wait => self.hold(pending),
        }
    }

    fn hold(&mut self, pending: PendingProxy<S::Request>) {
        if pending.request.parking_fd().is_none() {
            self.refuse_proxy(
                pending.request,
                "cannot wait for it: no descriptor".to_owned(),
            );
            return;
        }
        let deadline = pending.deadline;
        match self
            .serving
            .reactor
            .insert(pending, Some(Interest::READABLE))
        {
            Ok(key) => self.serving.reactor.set_deadline(key, Some(deadline)),
            Err((pending, error)) => {
                self.refuse_proxy(pending.request, format!("cannot wait for it: {error}"))
            }
        }
    }

    /// A held connection is readable: try its header again.
    pub(super) fn proxy_ready(&mut self, key: usize) {
        if let Some(pending) = self.serving.reactor.remove(key) {
            self.try_header(pending);
        }
    }

    /// Refuses held connections whose time ran out (the reactor's timer heap knows which).
    pub(super) fn expire_proxy(&mut self) {
        if self.serving.reactor.len() == 0 {
            return;
        }
        let now = Instant::now();
        while let Some(key) = self.serving.reactor.pop_expired(now) {
            if let Some(pending) = self.serving.reactor.remove(key) {
                self.refuse_proxy(pending.request, "no complete header in time".to_owned());
            }
        }
    }

    /// Connections still waiting for their header.
    pub(super) fn proxy_waiting(&self) -> usize {
        self.serving.reactor.len()
    }

    fn refuse_proxy(&mut self, request: S::Request, why: String) {
        tracing::debug!(peer = ?request.client_address(), reason = %why, "PROXY protocol: closing");
        self.registry.refused_by_proxy();
        request.shutdown_request();
    }
}

/// Peeks at what has arrived and parses it, without consuming anything.
fn peek_header(fd: std::os::fd::BorrowedFd<'_>) -> Verdict {
    let mut first = [0u8; FIRST_LOOK];
    // Only a long v2 header needs more than the first look; it gets a heap buffer.
    let mut larger = Vec::new();
    let mut size = FIRST_LOOK;
    loop {
        let buffer: &mut [u8] = if size == FIRST_LOOK {
            &mut first
        } else {
            larger.resize(size, 0);
            &mut larger
        };
        let n = match sys::peek_now(fd, buffer) {
            Ok(0) => return Verdict::Refuse("closed before its header".to_owned()),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Verdict::Wait,
            Err(error) => return Verdict::Refuse(error.to_string()),
        };
        match parse(&buffer[..n]) {
            Ok(Parsed::Complete { header, consumed }) => return Verdict::Ready(header, consumed),
            Ok(Parsed::Incomplete) if n == size && size < LONGEST_HEADER => {
                // The buffer was full: a long v2 header; look at more of it.
                size = (size * 4).min(LONGEST_HEADER);
            }
            Ok(Parsed::Incomplete) => return Verdict::Wait,
            Err(error) => return Verdict::Refuse(error.to_string()),
        }
    }
}

/// Consumes the header's `len` bytes (they have arrived: the peek saw them), a stack-sized
/// piece at a time.
fn discard(fd: std::os::fd::BorrowedFd<'_>, len: usize) -> io::Result<()> {
    let mut scratch = [0u8; FIRST_LOOK];
    let mut left = len;
    while left > 0 {
        let piece = left.min(scratch.len());
        match sys::recv_now(fd, &mut scratch[..piece])? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => left -= n,
        }
    }
    Ok(())
}
