//! The crate's errors, split by whose life they end: the server's ([`Error`]: bind, listen,
//! accept, pid file, inherited sockets…) or one request's ([`RequestError`], what
//! `handle_error` and `connection_lost` receive, with [`TimedOut`] saying which timeout).

mod handle_error;
mod request_error;
mod server_error;
mod timed_out;
mod tls_error;

pub use handle_error::HandleError;
pub use request_error::RequestError;
pub use server_error::Error;
pub use timed_out::TimedOut;
pub use tls_error::TlsError;
