//! [`HttpService`]: an [`HttpHandler`] as the framework's stream handler.

use std::io::{self, Write};
use std::net::TcpStream;

use socketserver::{RequestHandler, StreamRequest};

use crate::exchange::{error_page, start_head, Exchange};
use crate::framing::framing;
use crate::handler::{answer, HttpHandler};
use crate::head::{read_head, HeadError};
use crate::limits::HttpLimits;
use crate::request::{HttpRequest, Version};

/// Serves HTTP/1.0 and 1.1 over a stream request with an [`HttpHandler`]: the handler type of
/// an HTTP server (`ThreadingTcpServer::new(address, HttpService::new(MyHandler))`).
///
/// Between requests of a persistent connection the connection is
/// [parked](socketserver::StreamRequest::park): it holds no thread under a pool or threading
/// server. Each request is read and answered inside a busy span, so a graceful drain closes
/// idle keep-alive connections at once and lets requests in flight finish. Pipelined requests
/// are answered in order.
#[derive(Debug, Clone)]
pub struct HttpService<H> {
    handler: H,
    limits: HttpLimits,
}

impl<H: HttpHandler> HttpService<H> {
    /// Serves with `handler` and the default [`HttpLimits`].
    pub fn new(handler: H) -> Self {
        HttpService {
            handler,
            limits: HttpLimits::default(),
        }
    }

    /// Serves with these limits.
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl<H: HttpHandler> RequestHandler<StreamRequest<TcpStream>> for HttpService<H> {
    fn setup(&mut self, request: &mut StreamRequest<TcpStream>) -> io::Result<()> {
        // Wait for the first request without a thread.
        request.park();
        Ok(())
    }

    fn handle(&mut self, stream: &mut StreamRequest<TcpStream>) -> io::Result<()> {
        // Input is here (or the end of it): one request is in flight until it is answered.
        let busy = stream.busy();
        let server_timeout = stream.rfile.read_timeout();
        stream
            .rfile
            .set_read_timeout(self.limits.head_timeout(server_timeout));
        let head = read_head(&mut stream.rfile, &self.limits);
        stream.rfile.set_read_timeout(server_timeout);
        let head = match head {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(HeadError::Status((code, why))) => return refuse(stream, code, why),
            Err(HeadError::Io(error)) if error.kind() == io::ErrorKind::TimedOut => {
                return refuse(stream, 408, "the request head did not arrive in time");
            }
            Err(HeadError::Io(error)) => return Err(error),
        };
        tracing::debug!(method = %head.method, target = %head.target, peer = %stream.client_address(), "request");
        let framing = match framing(&head, &self.limits) {
            Ok(framing) => framing,
            Err((code, why)) => return refuse(stream, code, why),
        };
        let continue_first = expects_continue(&head);
        let ex = Exchange::new(stream, head, framing, continue_first, self.limits.max_body);
        let keep = answer(&mut self.handler, ex)?;
        drop(busy);
        if keep {
            stream.park();
        }
        Ok(())
    }
}

/// Whether the client waits for `100 Continue` before it sends the body.
pub(crate) fn expects_continue(request: &HttpRequest) -> bool {
    request.version == Version::Http11
        && request
            .header("Expect")
            .is_some_and(|expect| expect.trim().eq_ignore_ascii_case("100-continue"))
}

/// Answers a request that could not be read with `code` and closes: always with a status line
/// (Python sends a 400 page without one when the version is not valid).
fn refuse(stream: &mut StreamRequest<TcpStream>, code: u16, why: &str) -> io::Result<()> {
    tracing::debug!(code, why, peer = %stream.client_address(), "refusing a request");
    stream.wfile.write_all(&refusal(code, why))?;
    stream.wfile.flush()
}

/// A complete response that refuses a request, then closes the connection.
pub(crate) fn refusal(code: u16, why: &str) -> Vec<u8> {
    let body = error_page(code, why);
    let mut out = Vec::with_capacity(256 + body.len());
    start_head(&mut out, code);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    out
}
