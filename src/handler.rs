//! The [`RequestHandler`] trait: user code that serves one request.

use std::io;

use crate::request::Request;
use crate::session::{EventSession, SessionParts};

/// Serves one request: Python's `BaseRequestHandler` (`setup`, `handle`, `finish`).
///
/// The server keeps the handler value you give it as a prototype and **clones it for every
/// request**, as Python instantiates the handler class per request. So:
///
/// * plain fields are per-request state (each request starts from the prototype's values);
/// * state shared by the whole application (a counter, a database handle) goes in an
///   `Arc` field: clones share it, and no global is needed;
/// * a closure `FnMut(&mut R) -> io::Result<()> + Clone + Send` is a handler too (its
///   captured values are cloned the same way).
///
/// The framework calls [`setup`](Self::setup), then [`handle`](Self::handle), then
/// [`finish`](Self::finish). `finish` runs when `handle` fails (returns `Err` or panics) and
/// does not run when `setup` fails. An `Err` or a panic from any of them reaches the server's
/// [`handle_error`](crate::ServerHooks::handle_error) hook once, the connection is closed, and the
/// server goes on.
///
/// `R` is the request type of the transport: [`StreamRequest`](crate::StreamRequest) for TCP.
///
/// # Examples
///
/// A plain struct, with shared state in an `Arc` and per-request state in a plain field (a
/// line echo: `read_line` holds the connection busy from a line's first byte to its end, so a
/// graceful drain lets a half-sent line finish and never hands the handler half of it):
///
/// ```
/// use std::io::{self, BufRead, Write};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use socketserver::{RequestHandler, StreamRequest, ThreadingTcpServer};
///
/// #[derive(Clone, Default)]
/// struct LineEcho {
///     served: Arc<AtomicUsize>, // shared by every request
///     lines: usize,             // this request's own count
/// }
///
/// impl RequestHandler<StreamRequest> for LineEcho {
///     fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
///         let mut line = String::new();
///         while req.rfile.read_line(&mut line)? > 0 {
///             self.lines += 1;
///             req.wfile.write_all(line.as_bytes())?;
///             line.clear();
///         }
///         Ok(())
///     }
///
///     fn finish(&mut self, _req: &mut StreamRequest) -> io::Result<()> {
///         self.served.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// let handler = LineEcho::default();
/// let served = Arc::clone(&handler.served);
/// let mut server = ThreadingTcpServer::new("127.0.0.1:0", handler)?;
/// let address = server.server_address()?;
/// let handle = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
///
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(b"hello\n")?;
/// client.shutdown(std::net::Shutdown::Write)?;
/// let mut reply = String::new();
/// io::Read::read_to_string(&mut client, &mut reply)?;
/// assert_eq!(reply, "hello\n");
///
/// handle.shutdown();
/// serving.join().unwrap()?; // the server is dropped, and closed, when the thread ends
/// assert_eq!(served.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A closure, for the simplest case:
///
/// ```
/// use socketserver::{SequentialTcpServer, StreamRequest};
///
/// let server = SequentialTcpServer::new("127.0.0.1:0", |req: &mut StreamRequest| {
///     std::io::copy(&mut req.rfile, &mut req.wfile)?;
///     Ok(())
/// })?;
/// # drop(server);
/// # Ok::<(), socketserver::Error>(())
/// ```
#[doc(alias = "BaseRequestHandler")]
pub trait RequestHandler<R>: Clone + Send + 'static {
    /// Prepares the request before [`handle`](Self::handle). Default: nothing.
    ///
    /// # Errors
    ///
    /// An error here skips `handle` and `finish` and goes to `handle_error`.
    fn setup(&mut self, request: &mut R) -> io::Result<()> {
        let _ = request;
        Ok(())
    }

    /// Serves the request. Required.
    ///
    /// # Errors
    ///
    /// Any error: it is reported through `handle_error`, then `finish` still runs.
    fn handle(&mut self, request: &mut R) -> io::Result<()>;

    /// Cleans up after [`handle`](Self::handle), whether it succeeded or not. Default: nothing.
    ///
    /// # Errors
    ///
    /// Reported through `handle_error` unless `handle` already failed.
    fn finish(&mut self, request: &mut R) -> io::Result<()> {
        let _ = request;
        Ok(())
    }

    /// Turns the handler and its request into a connection for an
    /// [`EventLoop`](crate::EventLoop). Implemented by [`ProtocolHandler`](crate::ProtocolHandler); every
    /// other handler keeps the default, which gives both back.
    #[doc(hidden)]
    fn into_event_session(
        self,
        parts: SessionParts<R>,
    ) -> Result<EventSession, (Self, SessionParts<R>)>
    where
        R: Request,
    {
        Err((self, parts))
    }
}

impl<R, F> RequestHandler<R> for F
where
    F: FnMut(&mut R) -> io::Result<()> + Clone + Send + 'static,
{
    fn handle(&mut self, request: &mut R) -> io::Result<()> {
        self(request)
    }
}
