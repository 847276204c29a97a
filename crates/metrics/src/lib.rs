//! Prometheus metrics for [`socketserver`]: a server's counters as Prometheus series, a
//! latency histogram for HTTP requests, and the `/metrics` endpoint a Prometheus server
//! scrapes — all through the Prometheus project's own Rust client,
//! [`prometheus-client`](prometheus_client), so the names, types and the exposition format are
//! its (counters end in `_total`, units in `_seconds` and `_bytes`).
//!
//! | type | what it is |
//! |---|---|
//! | [`ServerMetrics`] | a [`Collector`](prometheus_client::collector::Collector) that reads a server's [`ServerStats`](socketserver::ServerStats) at each scrape: connections accepted, open, refused and closed by reason, TLS failures, requests, bytes, drains |
//! | [`LatencyHistogram`] | a histogram of durations (seconds, 50 µs to 10 s) that never locks to observe; an HTTP server's [`RequestObserver`](socketserver_http::RequestObserver) |
//! | [`MetricsEndpoint`] | `GET /metrics` on a listener of its own, served by the framework on a thread of its own |
//!
//! Nothing is counted twice and nothing on a connection's path waits for a scrape: the
//! server's counters are the ones it keeps anyway (read under one short lock per scrape), and
//! the histogram adds two atomic increments per request.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use prometheus_client::registry::{Registry, Unit};
//! use socketserver::{PoolTcpServer, StreamRequest};
//! use socketserver_metrics::{LatencyHistogram, MetricsEndpoint, ServerMetrics};
//!
//! let echo = |req: &mut StreamRequest| {
//!     std::io::copy(&mut req.rfile, &mut req.wfile)?;
//!     Ok(())
//! };
//! let mut server = PoolTcpServer::new("127.0.0.1:0", echo)?;
//!
//! let mut registry = Registry::default();
//! registry.register_collector(Box::new(ServerMetrics::new(server.stats_handle())));
//! let latency = LatencyHistogram::new();
//! registry.register_with_unit("echo_duration", "Echo sessions", Unit::Seconds, latency.clone());
//! let endpoint = MetricsEndpoint::bind("127.0.0.1:0", Arc::new(registry))?;
//!
//! let address = server.server_address()?;
//! let stop = server.shutdown_handle();
//! let serving = std::thread::spawn(move || server.serve_forever());
//! let mut client = std::net::TcpStream::connect(address)?;
//! client.write_all(b"ping")?;
//! client.shutdown(std::net::Shutdown::Write)?;
//! client.read_to_end(&mut Vec::new())?;
//! latency.observe(std::time::Duration::from_micros(120));
//!
//! let mut scrape = std::net::TcpStream::connect(endpoint.local_addr())?;
//! scrape.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut page = String::new();
//! scrape.read_to_string(&mut page)?;
//! assert!(page.contains("\nsocketserver_connections_accepted_total 1\n"));
//! assert!(page.contains("\necho_duration_seconds_count 1\n"));
//!
//! stop.shutdown();
//! serving.join().unwrap()?;
//! endpoint.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod exposition;
mod latency_histogram;
mod metrics_endpoint;
mod server_metrics;

/// The Prometheus client this crate is built on, for its [`Registry`](prometheus_client::registry::Registry)
/// and metric types at the version this crate uses.
pub use prometheus_client;

pub use exposition::{encode, Format};
pub use latency_histogram::LatencyHistogram;
pub use metrics_endpoint::MetricsEndpoint;
pub use server_metrics::ServerMetrics;
