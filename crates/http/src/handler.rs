//! [`HttpHandler`]: what a server does with each method (Python's `do_GET` and friends).

use std::io;
use std::time::Instant;

use crate::exchange::Exchange;
use crate::observer::RequestObserver;

/// The methods a handler serves, each with the request's [`Exchange`]: Python's
/// `BaseHTTPRequestHandler` subclass with `do_GET`, `do_HEAD`, `do_POST`…
///
/// A method the handler does not implement answers 501 Not Implemented (Python's "Unsupported
/// method"); a handler that knows a method but refuses it on a resource answers 405 with
/// [`Exchange::send_method_not_allowed`] (as [`SimpleHttpRequestHandler`](crate::SimpleHttpRequestHandler)
/// does for `POST`, `PUT` and `DELETE`).
/// `do_head` defaults to `do_get` with the body dropped, so HEAD needs no code of its own.
#[allow(
    unused_variables,
    reason = "the defaults ignore the exchange's contents"
)]
#[doc(alias = "BaseHTTPRequestHandler")]
pub trait HttpHandler: Clone + Send + 'static {
    /// `GET`.
    #[doc(alias = "do_GET")]
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        not_implemented(ex)
    }

    /// `HEAD`: `do_get` without the body by default.
    #[doc(alias = "do_HEAD")]
    fn do_head(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        self.do_get(ex)
    }

    /// `POST`.
    #[doc(alias = "do_POST")]
    fn do_post(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        not_implemented(ex)
    }

    /// `PUT`.
    #[doc(alias = "do_PUT")]
    fn do_put(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        not_implemented(ex)
    }

    /// `DELETE`.
    #[doc(alias = "do_DELETE")]
    fn do_delete(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        not_implemented(ex)
    }

    /// Any other method.
    fn do_other(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        not_implemented(ex)
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
