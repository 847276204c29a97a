//! TLS for every strategy: a [`TlsSocket`] wraps a stream transport, and each connection is a
//! [`TlsStream`] over its socket (rustls 0.23, the aws-lc-rs provider).
//!
//! Handlers keep `rfile` and `wfile`, [`Protocol`](crate::Protocol) callbacks keep receiving
//! plaintext, and HTTP works unchanged: a TLS server is the same server with its transport
//! wrapped.
//!
//! * **The handshake holds nothing a silent client could pin.** The accepting thread only
//!   accepts. The handshake is moved on, never waiting, by whatever holds the connection while
//!   it waits for input: the pool's idle workers, the parker, an event loop, a coroutine's
//!   loop; under [`Sequential`](crate::Sequential) and [`ForkingMixIn`](crate::ForkingMixIn) the
//!   serving thread or the child waits for it, as they wait for input. It has an absolute
//!   deadline from the accept ([`TlsConfig::handshake_timeout`], 10 s by default): a client
//!   that drips its ClientHello a byte at a time is cut there, not per read.
//! * **Reading never holds what writing needs.** Only the rustls state is locked, and never
//!   across a wait for the socket: a handler may read on one thread while another writes.
//! * **Certificates** are one, or several chosen by SNI; [`TlsAcceptor::reload`] swaps in new
//!   ones atomically (connections in flight keep theirs); a bad file keeps the old ones.
//! * **Resumption** uses stateless tickets, keyed once per [`TlsAcceptor`]: made before a
//!   fork (pre-fork, [`ForkingMixIn`](crate::ForkingMixIn)), every child decrypts every other's
//!   tickets.
//! * **Endings:** `close_notify` is sent when a connection ends cleanly; a peer that closes
//!   without it is an `UnexpectedEof` error for the handler, not a normal end of input.
//! * **Failures** are typed ([`TlsError`](crate::TlsError), [`TlsFailure`](crate::TlsFailure))
//!   and counted in [`ServerStats::closed_tls`](crate::ServerStats::closed_tls).
//!
//! # Examples
//!
//! ```
//! use std::io::{BufRead, Write};
//! use socketserver::tls::{TlsAcceptor, TlsConfig, TlsSocket, TlsStream};
//! use socketserver::{BaseServer, StreamRequest, TcpSocket, ThreadPool};
//!
//! # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
//! # let (cert_pem, key_pem) = (made.cert.pem(), made.key_pair.serialize_pem());
//! let acceptor = TlsAcceptor::new(TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?)?;
//! let hello = |req: &mut StreamRequest<TlsStream>| {
//!     let version = req.socket().info().map(|info| info.version()).unwrap_or_default();
//!     writeln!(req.wfile, "hello over {version}")
//! };
//! let transport = TlsSocket::new(TcpSocket::new("127.0.0.1:0".parse()?)?, acceptor);
//! let server = BaseServer::with_transport(transport, hello, ThreadPool::default())?;
//! # drop(server);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cert_resolver;
mod tls_acceptor;
mod tls_config;
mod tls_info;
mod tls_socket;
mod tls_stream;

pub use tls_acceptor::TlsAcceptor;
pub use tls_config::{ClientAuth, TlsConfig, TlsConfigError};
pub use tls_info::TlsInfo;
pub use tls_socket::TlsSocket;
pub use tls_stream::TlsStream;
