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
//! for event loops. Every server is made the same way, from an `HttpService`
//! (`PoolHttpServer::new(address, HttpService::new(handler))`,
//! `EventHttpServer::new(address, HttpService::new(handler))`): on an event loop it is served
//! as its `HttpProtocol`.
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
//! # An API without boilerplate
//!
//! - The target split and decoded: [`Exchange::path`] (`/kv/a%20b?x=1` → `/kv/a b`),
//!   [`Exchange::query_pairs`], [`Exchange::target`] ([`RequestTarget`]: raw path and query
//!   too); [`percent_decode`], [`percent_decode_str`], [`parse_query`] for other text.
//! - A response in one call: [`Exchange::send_text`], [`send_json`](Exchange::send_json),
//!   [`send_bytes`](Exchange::send_bytes), [`send_body`](Exchange::send_body),
//!   [`send_empty`](Exchange::send_empty); errors in JSON (or text, or a function's format)
//!   with [`ErrorFormat`], the server's own refusals included.
//! - A body in pieces: [`Exchange::body_reader`] ([`BodyReader`], an [`std::io::Read`]
//!   bounded by [`HttpLimits::max_body`]; bodies over
//!   [`max_gathered_body`](HttpLimits::max_gathered_body) stream from the connection on the
//!   thread strategies).
//! - Settings with builders: `HttpLimits::new().with_max_body(64 * 1024)`.
//! - The `http` crate's types: [`HttpRequest::http_method`], [`header_map`](HttpRequest::header_map),
//!   [`to_parts`](HttpRequest::to_parts), [`Exchange::send_status`],
//!   [`Exchange::send_http_response`], [`Exchange::to_http_request`].
//!
//! `examples/http_api.rs` is a key-value store written with these.
//!
//! # Coming from
//!
//! **Python's `http.server` and `urllib.parse`**
//!
//! | Python | here |
//! |---|---|
//! | `HTTPServer`, `ThreadingHTTPServer` | [`HttpServer`], [`ThreadingHttpServer`]; [`PoolHttpServer`] for production |
//! | `BaseHTTPRequestHandler`, `do_GET` | [`HttpHandler`], [`HttpHandler::do_get`]; the handler instance's state is [`Exchange`] |
//! | `self.command`, `self.path`, `self.request_version`, `self.headers` | [`HttpRequest::method`], [`HttpRequest::target`] (raw), [`HttpRequest::version`], [`HttpRequest::header`] |
//! | `urlsplit(self.path)`, `unquote(path)`, `parse_qsl(query)` | [`Exchange::target`], [`Exchange::path`], [`Exchange::query_pairs`]; [`RequestTarget`], [`percent_decode_str`], [`parse_query`] |
//! | `self.rfile.read(int(self.headers['Content-Length']))` | [`Exchange::read_body`] (chunked too, bounded), or [`Exchange::body_reader`] in pieces |
//! | `send_response`, `send_header`, `end_headers`, `wfile.write` | the same names on [`Exchange`]; [`Exchange::write_body`] |
//! | `send_error(code, message)`, `error_message_format`, `error_content_type` | [`Exchange::send_error`], [`ErrorFormat`] ([`HttpService::with_error_format`]) |
//! | `log_message`, `log_request`, `log_error` | the same names, as `tracing` events |
//! | `SimpleHTTPRequestHandler`, `python -m http.server` | [`SimpleHttpRequestHandler`], `examples/http_server.rs` |
//!
//! **hyper and the `http` crate**
//!
//! | hyper / `http` | here |
//! |---|---|
//! | `http::Request<B>`, `request::Parts` | [`Exchange::to_http_request`], [`HttpRequest::to_parts`] |
//! | `Method`, `Version`, `HeaderMap` | [`HttpRequest::http_method`], [`HttpRequest::http_version`], [`HttpRequest::header_map`] |
//! | `StatusCode`, `http::Response<B>` | [`Exchange::send_status`], [`Exchange::send_http_response`] |
//! | `service_fn`, a `Service` per connection | an [`HttpHandler`], cloned per connection |
//! | streaming `Incoming` body | [`Exchange::body_reader`] (an [`std::io::Read`]) |
//! | `http1::Builder` settings (`max_buf_size`, `header_read_timeout`) | [`HttpLimits`] (`max_head`, `header_timeout`) |
//! | a tokio runtime | a dispatch strategy: [`ThreadPool`] for blocking handlers, [`EventLoop`] for handlers that never wait |
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
//!
//! A JSON API on event loops, made as the pool server is:
//!
//! ```
//! use std::io::{Read, Write};
//! use socketserver_http::{ErrorFormat, EventHttpServer, Exchange, HttpHandler, HttpService};
//!
//! #[derive(Clone)]
//! struct Greet;
//!
//! impl HttpHandler for Greet {
//!     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
//!         match ex.path().strip_prefix("/hello/") {
//!             // /hello/w%C3%B6rld → "wörld"
//!             Some(name) => ex.send_text(200, &format!("hello, {name}")),
//!             None => ex.send_error(404, "not found"),
//!         }
//!     }
//! }
//!
//! let service = HttpService::new(Greet).with_error_format(ErrorFormat::Json);
//! let mut server = EventHttpServer::new("127.0.0.1:0", service)?;
//! let address = server.server_address()?;
//! let stop = server.shutdown_handle();
//! let serving = std::thread::spawn(move || server.serve_forever());
//! let mut client = std::net::TcpStream::connect(address)?;
//! client.write_all(b"GET /hello/w%C3%B6rld HTTP/1.1\r\nHost: x\r\n\r\n")?;
//! client.write_all(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut reply = String::new();
//! client.read_to_string(&mut reply)?;
//! assert!(reply.contains("\r\n\r\nhello, wörld"), "{reply}");
//! assert!(reply.ends_with(r#"{"error":"not found","status":404}"#), "{reply}");
//! stop.shutdown();
//! serving.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body_reader;
mod byte_ranges;
mod chunked;
mod date;
mod error_format;
mod event_wire;
mod exchange;
mod file_validators;
mod fnv;
mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod head;
mod http_interop;
mod limits;
mod observer;
mod outgoing;
mod protocol;
mod request;
mod request_framing;
mod service;
mod small_files;
mod static_files;
mod status;
mod target;
mod wire;

pub use body_reader::{BodyReader, BodyRefused};
pub use error_format::ErrorFormat;
pub use exchange::Exchange;
pub use handler::HttpHandler;
pub use limits::HttpLimits;
pub use observer::RequestObserver;
pub use protocol::HttpProtocol;
pub use request::{HttpRequest, Version};
pub use service::HttpService;
pub use static_files::SimpleHttpRequestHandler;
pub use status::reason_phrase;
pub use target::{parse_query, percent_decode, percent_decode_str, RequestTarget};
pub use wire::HttpSocket;

use socketserver::{
    BaseServer, EventLoop, ForkingMixIn, Sequential, TcpSocket, ThreadPool, ThreadingMixIn,
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

/// A bounded pool of workers; idle keep-alive connections are parked:
/// `PoolHttpServer::new(address, HttpService::new(handler))`.
pub type PoolHttpServer<H> = BaseServer<TcpSocket, ThreadPool, HttpService<H>>;

/// Event loops: every connection on a few threads, for handlers that do not block —
/// `EventHttpServer::new(address, HttpService::new(handler))`, made as every other HTTP server
/// is, and served as [`HttpProtocol`] (`HttpProtocol::new(handler).into()` makes the same
/// service).
pub type EventHttpServer<H> = BaseServer<TcpSocket, EventLoop, HttpService<H>>;
