//! Python's `http.server` on `socketserver`: an HTTP/1.1 request handler built on the
//! framework's stream handler, with Python's shape — a handler with `do_GET`-style methods
//! ([`HttpHandler`]), `send_response`, `send_header`, `end_headers`, `send_error`
//! ([`Exchange`]) — and none of its weaknesses this far: request heads are parsed by `httparse`
//! under hard limits (414, 431, 400, 505 with a proper status line), a slow head ends in 408,
//! and idle keep-alive connections are parked between requests (no thread held).
//!
//! # Which strategy
//!
//! | strategy | use it for |
//! |---|---|
//! | [`ThreadPool`](socketserver::ThreadPool) (`PoolTcpServer`) | the default: a few workers serve any number of keep-alive clients, idle ones parked |
//! | [`ThreadingMixIn`](socketserver::ThreadingMixIn) | few clients with long requests; each request after a parked wait starts a new thread, so keep-alive traffic is slower than on a pool |
//! | [`Sequential`](socketserver::Sequential), [`ForkingMixIn`](socketserver::ForkingMixIn) | tests, or a process per client for isolation; a keep-alive client holds the server (or its child) while it idles |
//!
//! The event strategy runs `Protocol` handlers; this layer is a blocking handler and does not
//! run on it.
//!
//! [`SimpleHttpRequestHandler`] serves a directory (`python -m http.server`), never anything
//! outside it. Work in progress (issue 12): the `http_server` example, the drain and strategy
//! tests of the HTTP layer, and the benchmarks against Python and nginx come next.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use socketserver::PoolTcpServer;
//! use socketserver_http::{Exchange, HttpHandler, HttpService};
//!
//! #[derive(Clone)]
//! struct Hello;
//!
//! impl HttpHandler for Hello {
//!     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
//!         ex.send_response(200)?;
//!         ex.send_header("Content-Type", "text/plain")?;
//!         ex.send_header("Content-Length", "5")?;
//!         ex.end_headers()?;
//!         ex.write_body(b"hello")
//!     }
//! }
//!
//! let mut server = PoolTcpServer::new("127.0.0.1:0", HttpService::new(Hello))?;
//! let address = server.server_address()?;
//! let stop = server.shutdown_handle();
//! let serving = std::thread::spawn(move || server.serve_forever());
//! let mut client = std::net::TcpStream::connect(address)?;
//! client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut reply = String::new();
//! client.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("\r\n\r\nhello"));
//! stop.shutdown();
//! serving.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chunked;
mod date;
mod exchange;
mod handler;
mod head;
mod limits;
mod request;
mod service;
mod static_files;
mod status;

pub use exchange::Exchange;
pub use handler::HttpHandler;
pub use limits::HttpLimits;
pub use request::{HttpRequest, Version};
pub use service::HttpService;
pub use static_files::SimpleHttpRequestHandler;
pub use status::reason_phrase;
