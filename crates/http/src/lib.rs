//! Python's `http.server` on `socketserver`: an HTTP/1.1 request handler built on the
//! framework's stream handler, with Python's shape — a handler with `do_GET`-style methods
//! ([`HttpHandler`]), `send_response`, `send_header`, `end_headers`, `send_error`
//! ([`Exchange`]) — and none of its weaknesses: request heads are parsed by `httparse` under
//! hard limits (414, 431, 400, 505 with a proper status line, 413 for a body over
//! [`HttpLimits::max_body`]), a slow head ends in 408, and no idle keep-alive connection holds
//! a thread (parked between requests, or served by event loops).
//!
//! # Which strategy
//!
//! The same [`HttpHandler`] runs in two forms: [`HttpService`], a blocking stream handler for
//! the thread and process strategies, and [`HttpProtocol`], a [`Protocol`](socketserver::Protocol)
//! for event loops.
//!
//! | server | use it for |
//! |---|---|
//! | [`PoolHttpServer`] (`HttpService` on a [`ThreadPool`]) | the default: handlers may block (a database, a file system that stalls); a few workers serve any number of keep-alive clients, idle ones parked |
//! | [`EventHttpServer`] (`HttpProtocol` on an [`EventLoop`]) | the fastest, for handlers that do not block (static files, in-memory answers): a loop thread per CPU serves every connection, files go out as clients read |
//! | [`ThreadingHttpServer`] (Python's `ThreadingHTTPServer`) | few clients with long requests; each request after a parked wait starts a new thread, so keep-alive traffic is slower than on a pool |
//! | [`HttpServer`] (Python's `HTTPServer`), [`ForkingHttpServer`] | tests, or a process per client for isolation; a keep-alive client holds the server (or its child) while it idles |
//!
//! HTTP is parsed by [`httparse`](https://docs.rs/httparse) (the parser under hyper: no
//! allocation, fuzzed, SIMD), so this crate only frames requests and enforces the limits.
//! Every request is logged through `tracing` under the target `socketserver_http::access`
//! ([`Exchange::log_request`], Python's `log_message`).
//!
//! [`SimpleHttpRequestHandler`] serves a directory (`python -m http.server`), never anything
//! outside it.
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

mod byte_ranges;
mod chunked;
mod date;
mod event_wire;
mod exchange;
mod file_validators;
mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod head;
mod limits;
mod observer;
mod outgoing;
mod protocol;
mod request;
mod request_framing;
mod service;
mod static_files;
mod status;
mod wire;

pub use exchange::Exchange;
pub use handler::HttpHandler;
pub use limits::HttpLimits;
pub use observer::RequestObserver;
pub use protocol::HttpProtocol;
pub use request::{HttpRequest, Version};
pub use service::HttpService;
pub use static_files::SimpleHttpRequestHandler;
pub use status::reason_phrase;
pub use wire::HttpSocket;

use socketserver::{
    BaseServer, EventLoop, ForkingMixIn, ProtocolHandler, Sequential, TcpSocket, ThreadPool,
    ThreadingMixIn,
};

/// One request at a time (Python's `HTTPServer`, a `TCPServer`):
/// `HttpServer::new(address, HttpService::new(handler))`.
#[doc(alias = "HTTPServer")]
pub type HttpServer<H> = BaseServer<TcpSocket, Sequential, HttpService<H>>;

/// A thread per connection (Python's `ThreadingHTTPServer`); parked keep-alive connections
/// hold none while they wait.
#[doc(alias = "ThreadingHTTPServer")]
pub type ThreadingHttpServer<H> = BaseServer<TcpSocket, ThreadingMixIn, HttpService<H>>;

/// A process per connection (Python's `ForkingMixIn` over `HTTPServer`).
pub type ForkingHttpServer<H> = BaseServer<TcpSocket, ForkingMixIn, HttpService<H>>;

/// A bounded pool of workers; idle keep-alive connections are parked.
pub type PoolHttpServer<H> = BaseServer<TcpSocket, ThreadPool, HttpService<H>>;

/// Event loops ([`HttpProtocol`]): every connection on a few threads, for handlers that do not
/// block — `EventHttpServer::new(address, HttpProtocol::new(handler).into())`.
pub type EventHttpServer<H> = BaseServer<TcpSocket, EventLoop, ProtocolHandler<HttpProtocol<H>>>;
