//! [`MetricsEndpoint`]: `GET /metrics` on a listener of its own.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use prometheus_client::registry::Registry;
use socketserver::{Error, InheritedSocket, ShutdownHandle, TcpSocket};
use socketserver_http::{Exchange, HttpHandler, HttpService, ThreadingHttpServer};

use crate::exposition::{encode, Format};

/// Serves a [`Registry`] at `GET /metrics` (and `HEAD`) on a listener of its own, never on
/// the server it describes: a scrape cannot reach a served directory, and a server too busy
/// to answer still gets scraped. Any other path answers 404, any other method 405.
///
/// It is a [`ThreadingHttpServer`] of this framework, serving on a thread of its own (named
/// `socketserver-metrics`) with a thread per scrape connection, under the HTTP layer's limits
/// and timeouts: a scraper that stalls holds one thread until the header timeout, nothing
/// more. Each scrape encodes the registry on that thread, reading every
/// [`Collector`](prometheus_client::collector::Collector) (a [`ServerMetrics`](crate::ServerMetrics)
/// takes one short lock on its server's counters); the served server's threads never wait
/// for it.
///
/// The body is OpenMetrics 1.0.0 (`application/openmetrics-text; version=1.0.0;
/// charset=utf-8`) to a scraper that asks for it (Prometheus does), else the text format
/// 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`), which `promtool check metrics`
/// reads: see [`Format`].
///
/// [`stop`](Self::stop) (or dropping it) stops the server and joins its thread. For a hot
/// restart, hand [`as_raw_fd`](Self::as_raw_fd) to
/// [`start_successor`](socketserver::start_successor) with the served server's listeners; the
/// new process serves it with [`from_inherited`](Self::from_inherited).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// use prometheus_client::metrics::gauge::Gauge;
/// use prometheus_client::registry::Registry;
/// use socketserver_metrics::MetricsEndpoint;
///
/// let mut registry = Registry::default();
/// let queue: Gauge = Gauge::default();
/// registry.register("queue_length", "Jobs waiting", queue.clone());
/// queue.set(3);
///
/// let endpoint = MetricsEndpoint::bind("127.0.0.1:0", Arc::new(registry))?;
/// let mut client = std::net::TcpStream::connect(endpoint.local_addr())?;
/// client.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut answer = String::new();
/// client.read_to_string(&mut answer)?;
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
/// assert!(answer.ends_with("# TYPE queue_length gauge\nqueue_length 3\n"));
/// endpoint.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MetricsEndpoint {
    address: SocketAddr,
    fd: RawFd,
    shutdown: ShutdownHandle,
    serving: Option<JoinHandle<Result<(), Error>>>,
}

impl MetricsEndpoint {
    /// Listens on `address` (`"127.0.0.1:9100"`, or port 0 for any free one:
    /// [`local_addr`](Self::local_addr) tells which) and serves `registry` there from now on.
    ///
    /// # Errors
    ///
    /// As [`ThreadingHttpServer::new`](socketserver::BaseServer::new): [`Error::Address`] when
    /// `address` does not resolve, [`Error::Bind`] when the port is taken or not allowed;
    /// [`Error::Io`] when the serving thread cannot start.
    pub fn bind<A>(address: A, registry: Arc<Registry>) -> Result<Self, Error>
    where
        A: ToSocketAddrs + fmt::Debug,
    {
        let server = ThreadingHttpServer::new(address, service(registry))?;
        MetricsEndpoint::serve(server)
    }

    /// Serves `registry` on a listening TCP socket this process inherited (a hot restart's
    /// predecessor passed it, or a service manager did).
    ///
    /// # Errors
    ///
    /// [`Error::Inherited`] when the socket is not a listening TCP socket; [`Error::Io`] when
    /// the serving thread cannot start.
    pub fn from_inherited(socket: InheritedSocket, registry: Arc<Registry>) -> Result<Self, Error> {
        let socket = TcpSocket::from_inherited(socket)?;
        let server = ThreadingHttpServer::from_inherited(socket, service(registry))?;
        MetricsEndpoint::serve(server)
    }

    fn serve(mut server: ThreadingHttpServer<MetricsHandler>) -> Result<Self, Error> {
        let address = server.server_address()?;
        let fd = server
            .fileno()
            .map(|fd| fd.as_raw_fd())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "no listening socket"))?;
        let shutdown = server.shutdown_handle();
        let serving = thread::Builder::new()
            .name("socketserver-metrics".to_owned())
            .spawn(move || server.serve_forever())?;
        tracing::info!(%address, "serving metrics at /metrics");
        Ok(MetricsEndpoint {
            address,
            fd,
            shutdown,
            serving: Some(serving),
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The listening socket, to hand to a new process
    /// ([`start_successor`](socketserver::start_successor)); it stays this endpoint's (open
    /// until [`stop`](Self::stop)).
    pub fn fileno(&self) -> RawFd {
        self.fd
    }

    /// Stops serving, closes the listener and waits for the serving thread (a scrape in
    /// progress finishes first).
    pub fn stop(mut self) {
        self.stop_serving();
    }

    fn stop_serving(&mut self) {
        let Some(serving) = self.serving.take() else {
            return;
        };
        self.shutdown.shutdown();
        match serving.join() {
            Ok(Ok(())) => tracing::info!(address = %self.address, "metrics endpoint stopped"),
            Ok(Err(error)) => tracing::warn!(%error, "the metrics endpoint failed"),
            Err(_) => tracing::error!("the metrics endpoint's thread panicked"),
        }
    }
}

impl AsRawFd for MetricsEndpoint {
    /// The listening socket ([`fileno`](Self::fileno)).
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.stop_serving();
    }
}

impl fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("address", &self.address)
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

fn service(registry: Arc<Registry>) -> HttpService<MetricsHandler> {
    HttpService::new(MetricsHandler { registry })
}

/// Answers `/metrics`; nothing else is here.
#[derive(Clone, Debug)]
pub(crate) struct MetricsHandler {
    registry: Arc<Registry>,
}

impl HttpHandler for MetricsHandler {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let target = &ex.request().target;
        let path = target
            .split_once('?')
            .map_or(target.as_str(), |(path, _)| path);
        if path != "/metrics" {
            return ex.send_error(404, "metrics are at /metrics");
        }
        let format = Format::from_accept(ex.request().header("Accept"));
        let body = match encode(&self.registry, format) {
            Ok(body) => body,
            Err(_) => {
                tracing::error!("a metric failed to encode");
                return ex.send_error(500, "a metric failed to encode");
            }
        };
        ex.send_response(200)?;
        ex.send_header("Content-Type", format.content_type())?;
        ex.send_header("Content-Length", &body.len().to_string())?;
        ex.end_headers()?;
        ex.write_body(body.as_bytes())
    }

    fn allowed_methods(&self) -> &'static [&'static str] {
        &["GET", "HEAD"]
    }

    /// 405 too: the endpoint serves only `GET` and `HEAD`.
    fn do_other(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        ex.send_method_not_allowed(self.allowed_methods())
    }
}
