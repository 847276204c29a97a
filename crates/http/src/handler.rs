//! [`HttpHandler`]: what a server does with each method (Python's `do_GET` and friends).

use std::io;
use std::time::Instant;

use crate::exchange::Exchange;
use crate::observer::RequestObserver;

/// The methods a handler serves, each with the request's [`Exchange`]: Python's
/// `BaseHTTPRequestHandler` subclass with `do_GET`, `do_HEAD`, `do_POST`…
///
/// A method the handler does not implement answers 501 Not Implemented (Python's "Unsupported
/// method"), unless the handler names the methods it serves
/// ([`allowed_methods`](Self::allowed_methods)): then `GET`, `POST`, `PUT` and `DELETE` left
/// unimplemented answer 405 with `Allow` (as [`SimpleHttpRequestHandler`](crate::SimpleHttpRequestHandler)
/// does for `POST`, `PUT` and `DELETE`), and other methods still 501. A handler that refuses a
/// method on one resource and not another answers 405 itself with
/// [`Exchange::send_method_not_allowed`].
/// `do_head` defaults to `do_get` with the body dropped, so HEAD needs no code of its own.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use socketserver::PoolTcpServer;
/// use socketserver_http::{Exchange, HttpHandler, HttpService};
///
/// #[derive(Clone)]
/// struct ReadOnly;
///
/// impl HttpHandler for ReadOnly {
///     fn allowed_methods(&self) -> &'static [&'static str] {
///         &["GET", "HEAD"]
///     }
///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
///         ex.send_text(200, "read only\n")
///     }
/// }
///
/// let mut server = PoolTcpServer::new("127.0.0.1:0", HttpService::new(ReadOnly))?;
/// let address = server.server_address()?;
/// let stop = server.shutdown_handle();
/// let serving = std::thread::spawn(move || server.serve_forever());
/// let mut client = std::net::TcpStream::connect(address)?;
/// client.write_all(b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.1 405 ") && reply.contains("\r\nAllow: GET, HEAD\r\n"));
/// stop.shutdown();
/// serving.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(
    unused_variables,
    reason = "the defaults ignore the exchange's contents"
)]
#[doc(alias = "BaseHTTPRequestHandler")]
pub trait HttpHandler: Clone + Send + 'static {
    /// The methods the handler serves, for the `Allow` header of the 405 that `GET`, `POST`,
    /// `PUT` and `DELETE` answer when left unimplemented. Default: none (they answer 501).
    fn allowed_methods(&self) -> &'static [&'static str] {
        &[]
    }

    /// `GET`.
    #[doc(alias = "do_GET")]
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        unserved(self, ex)
    }

    /// `HEAD`: `do_get` without the body by default.
    #[doc(alias = "do_HEAD")]
    fn do_head(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        self.do_get(ex)
    }

    /// `POST`.
    #[doc(alias = "do_POST")]
    fn do_post(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        unserved(self, ex)
    }

    /// `PUT`.
    #[doc(alias = "do_PUT")]
    fn do_put(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        unserved(self, ex)
    }

    /// `DELETE`.
    #[doc(alias = "do_DELETE")]
    fn do_delete(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        unserved(self, ex)
    }

    /// Any other method. Default: 501, whatever [`allowed_methods`](Self::allowed_methods)
    /// says (the server does not know the method).
    fn do_other(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        not_implemented(ex)
    }
}

/// A method the handler left unimplemented: 405 with `Allow` when the handler names what it
/// serves, else 501.
fn unserved<H: HttpHandler>(handler: &H, ex: &mut Exchange<'_>) -> io::Result<()> {
    match handler.allowed_methods() {
        [] => not_implemented(ex),
        allowed => ex.send_method_not_allowed(allowed),
    }
}

fn not_implemented(ex: &mut Exchange<'_>) -> io::Result<()> {
    let message = format!("unsupported method {:?}", ex.request().method);
    ex.send_error(501, &message)
}

/// Calls the handler's method for the request's method and completes the exchange; returns
/// whether the connection may carry another request. With an observer, tells it of the
/// response once complete, timed from `head_at` (the request's head complete).
pub(crate) fn answer<H: HttpHandler>(
    handler: &mut H,
    mut ex: Exchange<'_>,
    observed: Option<(&dyn RequestObserver, Instant)>,
) -> io::Result<bool> {
    if let Err(error) = dispatch(handler, &mut ex) {
        // A handler that gives up on a body the server refuses (`?` on a read) has the
        // refusal answered for it (413, 400, 408); any other failure is the connection's.
        if ex.answered() || ex.body_refused().is_none() {
            return Err(error);
        }
    }
    let (keep, status) = ex.finish()?;
    if let Some((observer, head_at)) = observed {
        observer.request_done(status, head_at.elapsed());
    }
    Ok(keep)
}

fn dispatch<H: HttpHandler>(handler: &mut H, ex: &mut Exchange<'_>) -> io::Result<()> {
    match ex.request().method.as_str() {
        "GET" => handler.do_get(ex),
        "HEAD" => handler.do_head(ex),
        "POST" => handler.do_post(ex),
        "PUT" => handler.do_put(ex),
        "DELETE" => handler.do_delete(ex),
        _ => handler.do_other(ex),
    }
}
