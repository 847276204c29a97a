//! [`HttpService`]: an [`HttpHandler`] as the framework's stream handler.

use std::io::{self, Write};
use std::net::TcpStream;

use socketserver::{RequestHandler, StreamRequest};

use crate::exchange::{error_page, Exchange};
use crate::handler::HttpHandler;
use crate::head::{read_head, HeadError};
use crate::limits::HttpLimits;
use crate::status::reason_phrase;

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
        let head = match read_head(&mut stream.rfile, &self.limits, || {}) {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(HeadError::Status(code, why)) => return refuse(stream, code, why),
            Err(HeadError::Io(error)) if error.kind() == io::ErrorKind::TimedOut => {
                return refuse(stream, 408, "the request head did not arrive in time");
            }
            Err(HeadError::Io(error)) => return Err(error),
        };
        tracing::debug!(method = %head.method, target = %head.target, peer = %stream.client_address(), "request");
        if let Some(coding) = head.header("Transfer-Encoding") {
            if head.header("Content-Length").is_some() {
                // Two lengths: the way request smuggling starts.
                return refuse(stream, 400, "both Transfer-Encoding and Content-Length");
            }
            if !coding.trim().eq_ignore_ascii_case("chunked") {
                return refuse(stream, 501, "only the chunked transfer coding is served");
            }
        }
        let method = head.method.clone();
        let mut ex = Exchange::new(stream, head);
        match method.as_str() {
            "GET" => self.handler.do_get(&mut ex)?,
            "HEAD" => self.handler.do_head(&mut ex)?,
            "POST" => self.handler.do_post(&mut ex)?,
            "PUT" => self.handler.do_put(&mut ex)?,
            "DELETE" => self.handler.do_delete(&mut ex)?,
            _ => self.handler.do_other(&mut ex)?,
        }
        let keep = ex.finish()?;
        drop(busy);
        if keep {
            stream.park();
        }
        Ok(())
    }
}

/// Answers a request that could not be read with `code` and closes: always with a status line
/// (Python sends a 400 page without one when the version is not valid).
fn refuse(stream: &mut StreamRequest<TcpStream>, code: u16, why: &str) -> io::Result<()> {
    tracing::debug!(code, why, peer = %stream.client_address(), "refusing a request");
    let body = error_page(code, why);
    write!(
        stream.wfile,
        "HTTP/1.1 {code} {}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason_phrase(code),
        body.len()
    )?;
    stream.wfile.flush()
}
