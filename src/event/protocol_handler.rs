//! [`ProtocolHandler`]: a [`Protocol`] used as a server's handler, on an event loop or on threads.

use std::io::{self, BufRead, BufWriter, Write};

use crate::drain::BusySpan;

use crate::error::RequestError;
use crate::event::connection::{OutBuf, DEFAULT_WATERMARKS};
use crate::event::protocol_driver::{Peer, ProtocolDriver};
use crate::event::stream_session::StreamSession;
use crate::event::{Connection, Protocol};
use crate::handler::RequestHandler;
use crate::request::{SocketHalf, StreamRequest, StreamSocket};
use crate::session::{EventSession, SessionParts};

/// Makes a [`Protocol`] the handler of a server: the handler type of
/// [`EventTcpServer`](crate::EventTcpServer) and [`EventUnixStreamServer`](crate::EventUnixStreamServer)
/// (asyncio's `protocol_factory`: the value is cloned for every connection).
///
/// On an [`EventLoop`](crate::EventLoop) the callbacks run on the loop's threads. Under any
/// other strategy the same callbacks run on the connection's thread: each read is one
/// `data_received`, the output is sent (blocking) after each callback, and between reads the
/// connection is [parked](crate::StreamRequest::park) — so on a [`ThreadPool`](crate::ThreadPool)
/// a waiting protocol connection holds no worker either.
///
/// # Examples
///
/// ```
/// use socketserver::{ProtocolHandler, Connection, PoolTcpServer, Protocol};
///
/// #[derive(Clone)]
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> std::io::Result<()> {
///         conn.write(data);
///         Ok(())
///     }
/// }
///
/// // The same protocol on a thread pool: idle connections wait parked, not in a worker.
/// let server = PoolTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Echo))?;
/// # drop(server);
/// # Ok::<(), socketserver::Error>(())
/// ```
#[doc(alias = "protocol_factory")]
#[doc(alias = "Callbacks")]
#[derive(Debug, Clone)]
pub struct ProtocolHandler<P> {
    /// The protocol (the prototype's, or a connection's clone) and its callbacks' state.
    driver: ProtocolDriver<P>,
    /// The state of a run on threads (unused on an event loop).
    threaded: Threaded,
}

#[derive(Debug, Default)]
struct Threaded {
    /// A callback was running when the run ended (it panicked).
    in_callback: bool,
    /// Why the connection ended, for `connection_lost`.
    reason: Option<RequestError>,
    /// Held while the protocol has a message in flight (it said so, or it has not answered
    /// what arrived): a drain lets the message finish.
    in_message: Option<BusySpan>,
}

impl Clone for Threaded {
    /// A fresh state: the prototype's is never used.
    fn clone(&self) -> Self {
        Threaded::default()
    }
}

impl<P> ProtocolHandler<P> {
    /// Wraps `protocol`, the prototype every connection gets a clone of.
    pub fn new(protocol: P) -> Self {
        ProtocolHandler {
            driver: ProtocolDriver::new(protocol, DEFAULT_WATERMARKS),
            threaded: Threaded::default(),
        }
    }

    /// The protocol prototype.
    pub fn protocol(&self) -> &P {
        &self.driver.protocol
    }
}

impl<P> From<P> for ProtocolHandler<P> {
    fn from(protocol: P) -> Self {
        ProtocolHandler::new(protocol)
    }
}

impl<P> ProtocolHandler<P> {
    /// Runs one callback on a thread, then sends its output through `wfile` (kept for the
    /// parker, up to a bound, when the client reads slowly under a strategy that parks; else
    /// blocking). Output past the high watermark is sent between `pause_writing` and
    /// `resume_writing`, as on an event loop, so a protocol that streams a large body a buffer
    /// at a time works under any strategy.
    fn call<T, R>(
        &mut self,
        peer: Peer<'_, T>,
        wfile: &mut BufWriter<SocketHalf<T>>,
        callback: impl FnOnce(&mut P, &mut Connection<'_, T>) -> io::Result<R>,
    ) -> io::Result<R>
    where
        T: StreamSocket,
        P: Protocol<T>,
    {
        let value = self.run(peer, callback)?;
        loop {
            while let Some(writing) = self.driver.writing_due() {
                self.run(peer, |protocol, conn| {
                    writing.deliver(protocol, conn);
                    Ok(())
                })?;
            }
            if self.driver.out.is_empty() {
                return Ok(value);
            }
            self.send(wfile)?;
        }
    }

    /// Runs one callback, keeping its output.
    fn run<T, R>(
        &mut self,
        peer: Peer<'_, T>,
        callback: impl FnOnce(&mut P, &mut Connection<'_, T>) -> io::Result<R>,
    ) -> io::Result<R>
    where
        T: StreamSocket,
    {
        self.threaded.in_callback = true;
        let value = self.driver.run(peer, callback);
        self.threaded.in_callback = false;
        let value = value.inspect_err(|error| self.remember(error))?;
        if let Some(error) = self.driver.state.write_error.take() {
            self.remember(&error);
            return Err(error);
        }
        if self.driver.state.aborted {
            self.driver.out = OutBuf::default();
        }
        Ok(value)
    }

    /// Hands the pending output to `wfile`.
    fn send<T: StreamSocket>(&mut self, wfile: &mut BufWriter<SocketHalf<T>>) -> io::Result<()> {
        let sent = wfile
            .write_all(self.driver.out.pending())
            .and_then(|()| wfile.flush());
        self.driver.out.clear();
        sent.inspect_err(|error| self.remember(error))
    }

    /// Holds the connection busy while the protocol has a message in flight.
    fn track_message<T: StreamSocket>(&mut self, request: &StreamRequest<T>) {
        match self.driver.state.in_message() {
            true if self.threaded.in_message.is_none() => {
                self.threaded.in_message = Some(request.busy());
            }
            false => self.threaded.in_message = None,
            true => {}
        }
    }

    fn remember(&mut self, error: &io::Error) {
        self.threaded
            .reason
            .get_or_insert_with(|| RequestError::from_io_ref(error));
    }

    fn closing(&self) -> bool {
        self.driver.state.closing || self.driver.state.aborted
    }
}

/// A request split into what a callback's [`Connection`] borrows and its two halves.
type Parts<'a, T> = (
    Peer<'a, T>,
    &'a mut crate::request::SocketReader<T>,
    &'a mut BufWriter<SocketHalf<T>>,
);

fn split<T: StreamSocket>(request: &mut StreamRequest<T>) -> Parts<'_, T> {
    let StreamRequest {
        rfile,
        wfile,
        socket,
        client_address,
        shutdown,
        ..
    } = request;
    let peer = Peer {
        socket: &**socket,
        client_address,
        shutdown,
    };
    (peer, rfile, wfile)
}

impl<T, P> RequestHandler<StreamRequest<T>> for ProtocolHandler<P>
where
    T: StreamSocket,
    P: Protocol<T>,
{
    /// `connection_made`, then park until the first input.
    fn setup(&mut self, request: &mut StreamRequest<T>) -> io::Result<()> {
        self.driver.read_timeout = request.rfile.read_timeout();
        let (peer, _, wfile) = split(request);
        self.call(peer, wfile, |protocol, conn| protocol.connection_made(conn))?;
        self.track_message(request);
        if !self.closing() {
            request.park();
        }
        Ok(())
    }

    /// One read: `data_received` (or `eof_received`), then park until the next input.
    fn handle(&mut self, request: &mut StreamRequest<T>) -> io::Result<()> {
        if self.closing() {
            return Ok(());
        }
        let (peer, rfile, wfile) = split(request);
        let data = match rfile.fill_buf() {
            Ok(data) => data,
            Err(error) => {
                self.remember(&error);
                return Err(error);
            }
        };
        if data.is_empty() {
            // Nothing can drive a half-open connection on a thread: it ends either way.
            self.call(peer, wfile, |protocol, conn| protocol.eof_received(conn))?;
            return Ok(());
        }
        let n = data.len();
        self.driver.state.unanswered = true;
        self.call(peer, wfile, |protocol, conn| {
            protocol.data_received(conn, data)
        })?;
        rfile.consume(n);
        self.track_message(request);
        if !self.closing() {
            request.park();
        }
        Ok(())
    }

    /// `connection_lost`, once.
    fn finish(&mut self, _request: &mut StreamRequest<T>) -> io::Result<()> {
        self.threaded.in_message = None;
        if self.threaded.in_callback {
            self.threaded
                .reason
                .get_or_insert(RequestError::HandlerPanicked {
                    message: "a protocol callback panicked".to_owned(),
                });
        }
        let reason = self.threaded.reason.take();
        self.driver.protocol.connection_lost(reason.as_ref());
        Ok(())
    }

    fn into_event_session(
        self,
        parts: SessionParts<StreamRequest<T>>,
    ) -> Result<EventSession, (Self, SessionParts<StreamRequest<T>>)> {
        Ok(EventSession(Box::new(StreamSession::new(
            parts,
            self.driver.protocol,
        ))))
    }
}
