//! [`TlsSocket`]: a stream transport whose connections speak TLS.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;

use crate::proxy_protocol::ProxyPolicy;
use crate::request::{RequestContext, StreamRequest, StreamSocket};
use crate::tls::tls_acceptor::TlsAcceptor;
use crate::tls::tls_stream::TlsStream;
use crate::transport::{TcpServer, TcpSocket};

/// A stream transport (`S`: [`TcpSocket`] by default, or
/// [`UnixStreamSocket`](crate::UnixStreamSocket)) whose accepted connections are
/// [`TlsStream`]s: the same server, strategies and handlers, over TLS. Binding, listening,
/// options and the PROXY protocol (read before the TLS bytes) are the inner transport's;
/// reach them with [`inner_mut`](Self::inner_mut).
///
/// Accepting only wraps the socket; the handshake happens where the connection waits for
/// input (see the [module](crate::tls)).
pub struct TlsSocket<S = TcpSocket> {
    inner: S,
    acceptor: TlsAcceptor,
}

impl<S> TlsSocket<S> {
    /// `inner`'s connections, with `acceptor`'s configuration (keep a clone of it to reload).
    pub fn new(inner: S, acceptor: TlsAcceptor) -> Self {
        TlsSocket { inner, acceptor }
    }

    /// The transport under TLS.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The transport under TLS, to change its options.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The TLS configuration in force (a clone shares it: reload through it).
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

impl<S, T> TcpServer for TlsSocket<S>
where
    S: TcpServer<Request = StreamRequest<T>, Address = T::Address>,
    T: StreamSocket,
{
    type Address = S::Address;
    type Request = StreamRequest<TlsStream<T>>;

    fn server_bind(&mut self) -> io::Result<()> {
        self.inner.server_bind()
    }

    fn server_activate(&mut self) -> io::Result<()> {
        self.inner.server_activate()
    }

    fn get_request(&mut self, context: &RequestContext) -> io::Result<Self::Request> {
        let (socket, address, options) = self.inner.get_request(context)?.into_parts();
        Ok(StreamRequest::new(
            self.acceptor.accept(socket)?,
            address,
            options,
            context,
        ))
    }

    fn server_address(&self) -> io::Result<Self::Address> {
        self.inner.server_address()
    }

    fn display_address(&self) -> String {
        self.inner.display_address()
    }

    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.inner.fileno()
    }

    fn child_closes_socket(&self) -> bool {
        self.inner.child_closes_socket()
    }

    fn exhausted(&self) -> bool {
        self.inner.exhausted()
    }

    fn server_close(&mut self) {
        self.inner.server_close();
    }

    fn proxy_policy(&self) -> Option<&ProxyPolicy> {
        self.inner.proxy_policy()
    }
}

impl<S: fmt::Debug> fmt::Debug for TlsSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSocket")
            .field("inner", &self.inner)
            .field("acceptor", &self.acceptor)
            .finish()
    }
}
