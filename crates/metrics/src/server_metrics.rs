//! [`ServerMetrics`]: a server's [`ServerStats`] as Prometheus series, read at each scrape.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use socketserver::{ServerStats, StatsHandle};

/// A prometheus-client [`Collector`] over a server's [`StatsHandle`]: each scrape takes one
/// snapshot of [`ServerStats`] (one short lock) and writes it as these series, named under a
/// prefix (`socketserver` by default; a registry's own prefix goes before it):
///
/// | series | type | from [`ServerStats`] |
/// |---|---|---|
/// | `socketserver_connections_accepted_total` | counter | `accepted` (datagrams included) |
/// | `socketserver_connections_open` | gauge | `open` |
/// | `socketserver_connections_peak` | gauge | `peak` |
/// | `socketserver_connections_parked` | gauge | `parked` |
/// | `socketserver_connections_refused_total{reason}` | counter | `refused_*`: `reason` is `at_limit`, `per_source`, `verify` or `proxy` |
/// | `socketserver_connections_closed_total{reason}` | counter | `closed_*`: `completed`, `error`, `panicked`, `idle_timeout`, `first_byte_timeout`, `read_timeout`, `too_slow`, `write_timeout`, `server_closing`, `drained`, `tls` |
/// | `socketserver_tls_failures_total{kind}` | counter | `closed_tls` by kind (`handshake_timeout`, `not_tls`, `closed_before_hello`, `peer_incompatible`, `client_certificate_rejected`, `alert_received`, `other`); their sum is `closed_total{reason="tls"}` |
/// | `socketserver_requests_total` | counter | `requests` (handler runs: see there what counts) |
/// | `socketserver_received_bytes_total`, `socketserver_sent_bytes_total` | counter | `received_bytes`, `sent_bytes` (a TCP connection's when it closes) |
/// | `socketserver_accept_pauses_total` | counter | `accept_pauses` |
/// | `socketserver_handler_panics_total` | counter | `panics` |
/// | `socketserver_drains_total` | counter | `drains` |
/// | `socketserver_last_drain_duration_seconds` | gauge | `last_drain.elapsed` |
/// | `socketserver_last_drain_connections{outcome}` | gauge | `last_drain`'s `idle_closed`, `finished`, `forced`, `from_backlog` |
/// | `socketserver_last_drain_still_running` | gauge | `last_drain.still_running` |
///
/// The `last_drain` gauges appear once a drain has finished. Every label value is written at
/// every scrape, 0 included, so a rate over it never starts from a missing series.
///
/// # Examples
///
/// ```
/// use prometheus_client::registry::Registry;
/// use socketserver::{StreamRequest, ThreadingTcpServer};
/// use socketserver_metrics::{encode, Format, ServerMetrics};
///
/// let server = ThreadingTcpServer::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(ServerMetrics::new(server.stats_handle())));
///
/// let page = encode(&registry, Format::OpenMetrics)?;
/// assert!(page.contains("# TYPE socketserver_connections_accepted counter\n"));
/// assert!(page.contains("\nsocketserver_connections_accepted_total 0\n"));
/// assert!(page.contains("\nsocketserver_connections_closed_total{reason=\"idle_timeout\"} 0\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ServerMetrics {
    stats: StatsHandle,
    prefix: String,
}

impl ServerMetrics {
    /// The series of the server `stats` reads, named `socketserver_…`.
    pub fn new(stats: StatsHandle) -> Self {
        ServerMetrics::with_prefix(stats, "socketserver")
    }

    /// The series named `<prefix>_…` (for several servers in one process, say `api` and
    /// `admin`; a registry's labels are the other way to tell them apart).
    pub fn with_prefix(stats: StatsHandle, prefix: impl Into<String>) -> Self {
        ServerMetrics {
            stats,
            prefix: prefix.into(),
        }
    }
}

/// One family of series: its descriptor, then each labelled (or the one unlabelled) value.
struct Family<'a, 'e> {
    encoder: &'a mut DescriptorEncoder<'e>,
    prefix: &'a str,
}

impl Family<'_, '_> {
    fn describe(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        metric_type: MetricType,
        write: impl FnOnce(MetricEncoder<'_>) -> fmt::Result,
    ) -> fmt::Result {
        let name = format!("{}_{name}", self.prefix);
        write(
            self.encoder
                .encode_descriptor(&name, help, unit, metric_type)?,
        )
    }

    fn counter(&mut self, name: &str, help: &str, unit: Option<&Unit>, value: u64) -> fmt::Result {
        let counter = ConstCounter::new(value);
        self.describe(name, help, unit, counter.metric_type(), |encoder| {
            counter.encode(encoder)
        })
    }

    fn gauge(&mut self, name: &str, help: &str, value: i64) -> fmt::Result {
        let gauge = ConstGauge::new(value);
        self.describe(name, help, None, gauge.metric_type(), |encoder| {
            gauge.encode(encoder)
        })
    }

    fn labelled(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        label: &str,
        values: &[(&str, u64)],
    ) -> fmt::Result {
        self.describe(name, help, None, metric_type, |mut encoder| {
            for &(value_name, value) in values {
                let labels = [(label, value_name)];
                let series = encoder.encode_family(&labels)?;
                match metric_type {
                    MetricType::Counter => ConstCounter::new(value).encode(series)?,
                    _ => ConstGauge::new(gauge_value(value)).encode(series)?,
                }
            }
            Ok(())
        })
    }
}

/// A count as a gauge's value (prometheus-client's integer gauges are signed).
fn gauge_value(count: impl TryInto<i64>) -> i64 {
    count.try_into().unwrap_or(i64::MAX)
}

impl Collector for ServerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let stats: ServerStats = self.stats.stats();
        let tls = stats.closed_tls;
        let mut family = Family {
            encoder: &mut encoder,
            prefix: &self.prefix,
        };
        family.counter(
            "connections_accepted",
            "Connections (and datagrams) accepted.",
            None,
            stats.accepted,
        )?;
        family.gauge(
            "connections_open",
            "Connections open now: served, parked or on an event loop.",
            gauge_value(stats.open),
        )?;
        family.gauge(
            "connections_peak",
            "The most connections open at once.",
            gauge_value(stats.peak),
        )?;
        family.gauge(
            "connections_parked",
            "Connections parked now, waiting for input without a thread.",
            gauge_value(stats.parked),
        )?;
        family.labelled(
            "connections_refused",
            "Connections turned away, by reason.",
            MetricType::Counter,
            "reason",
            &[
                ("at_limit", stats.refused_at_limit),
                ("per_source", stats.refused_per_source),
                ("verify", stats.refused_by_verify),
                ("proxy", stats.refused_proxy),
            ],
        )?;
        family.labelled(
            "connections_closed",
            "Connections that ended, by reason.",
            MetricType::Counter,
            "reason",
            &[
                ("completed", stats.closed_completed),
                ("error", stats.closed_error),
                ("panicked", stats.closed_panicked),
                ("idle_timeout", stats.closed_idle_timeout),
                ("first_byte_timeout", stats.closed_first_byte_timeout),
                ("read_timeout", stats.closed_read_timeout),
                ("too_slow", stats.closed_too_slow),
                ("write_timeout", stats.closed_write_timeout),
                ("server_closing", stats.closed_server_closing),
                ("drained", stats.closed_drained),
                ("tls", tls.total()),
            ],
        )?;
        family.labelled(
            "tls_failures",
            "TLS connections that ended for a failure of TLS, by kind.",
            MetricType::Counter,
            "kind",
            &[
                ("handshake_timeout", tls.handshake_timeout),
                ("not_tls", tls.not_tls),
                ("closed_before_hello", tls.closed_before_hello),
                ("peer_incompatible", tls.peer_incompatible),
                (
                    "client_certificate_rejected",
                    tls.client_certificate_rejected,
                ),
                ("alert_received", tls.alert_received),
                ("other", tls.other),
            ],
        )?;
        family.counter(
            "requests",
            "Handler runs (calls of handle): a connection, each resume of a parked one, a datagram.",
            None,
            stats.requests,
        )?;
        family.counter(
            "received",
            "Payload bytes received, counted as each TCP connection closes.",
            Some(&Unit::Bytes),
            stats.received_bytes,
        )?;
        family.counter(
            "sent",
            "Payload bytes sent, counted as each TCP connection closes.",
            Some(&Unit::Bytes),
            stats.sent_bytes,
        )?;
        family.counter(
            "accept_pauses",
            "Times accepting paused: out of descriptors or memory, or at the connection limit.",
            None,
            stats.accept_pauses,
        )?;
        family.counter(
            "handler_panics",
            "Handler panics, each of which ended its connection.",
            None,
            stats.panics,
        )?;
        family.counter("drains", "Graceful drains finished.", None, stats.drains)?;
        if let Some(report) = stats.last_drain {
            let seconds = ConstGauge::new(report.elapsed.as_secs_f64());
            family.describe(
                "last_drain_duration",
                "How long the last graceful drain took.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
                |encoder| seconds.encode(encoder),
            )?;
            family.labelled(
                "last_drain_connections",
                "Connections the last graceful drain ended, by outcome.",
                MetricType::Gauge,
                "outcome",
                &[
                    ("idle_closed", report.idle_closed),
                    ("finished", report.finished),
                    ("forced", report.forced),
                    ("from_backlog", report.from_backlog),
                ],
            )?;
            family.gauge(
                "last_drain_still_running",
                "Threads or processes still alive when the last drain returned.",
                gauge_value(report.still_running),
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerMetrics")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
