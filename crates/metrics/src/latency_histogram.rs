//! [`LatencyHistogram`]: durations in buckets, observed without a lock.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use socketserver_http::RequestObserver;

/// The buckets' upper bounds in microseconds, 50 µs to 10 s in 1-2.5-5 steps (`+Inf`
/// follows): from a small answer on loopback to a request at the end of any sensible timeout.
const BOUNDS_MICROS: [u64; 17] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// The most one observation adds to the sum: a day.
const MAX_NANOS: u64 = 24 * 3600 * 1_000_000_000;

/// [`BOUNDS_MICROS`] in seconds, as a scrape shows them.
const BOUNDS: [f64; 17] = {
    let mut seconds = [0.0; 17];
    let mut i = 0;
    while i < BOUNDS_MICROS.len() {
        seconds[i] = BOUNDS_MICROS[i] as f64 / 1e6;
        i += 1;
    }
    seconds
};

/// [`BOUNDS_MICROS`] in nanoseconds, for the observe path (integer compares only).
const BOUNDS_NANOS: [u64; 17] = {
    let mut nanos = [0; 17];
    let mut i = 0;
    while i < BOUNDS_MICROS.len() {
        nanos[i] = BOUNDS_MICROS[i] * 1_000;
        i += 1;
    }
    nanos
};

/// A Prometheus histogram of durations that observes with two atomic increments and never
/// locks: the bucket's counter and the sum (in nanoseconds). prometheus-client's own
/// `Histogram` takes a lock per observation, which many threads answering requests would
/// contend on; this one is encoded through the same histogram encoder
/// ([`EncodeMetric`]), so a scrape reads the same `_bucket`, `_sum` and `_count` series.
///
/// The counters are kept in shards, each on cache lines of its own, and a thread always counts
/// in the same shard (threads take shards in turn): threads on different cores do not pull
/// one cache line back and forth for every request (two threads timing requests flat out on
/// one shared set of counters took twice as long per request as one thread). A scrape adds
/// the shards up.
///
/// Buckets (seconds): 50 µs, 100 µs, 250 µs, 500 µs, 1 ms, 2.5 ms, 5 ms, 10 ms, 25 ms, 50 ms,
/// 100 ms, 250 ms, 500 ms, 1 s, 2.5 s, 5 s, 10 s, `+Inf`. A scrape reads the counters one by
/// one while observations go on, so `_sum` may run one request ahead of or behind `_count`;
/// `_count` is always the sum of the buckets.
///
/// A clone shares the counters (register one clone, observe through another). As an HTTP
/// server's [`RequestObserver`] it observes each answered request's duration, whatever its
/// status.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use prometheus_client::registry::{Registry, Unit};
/// use socketserver_http::{HttpService, SimpleHttpRequestHandler};
/// use socketserver_metrics::{encode, Format, LatencyHistogram};
///
/// let latency = LatencyHistogram::new();
/// let mut registry = Registry::default();
/// registry.register_with_unit(
///     "http_request_duration",
///     "HTTP requests, from the complete head to the complete response",
///     Unit::Seconds,
///     latency.clone(),
/// );
/// // Every request the service answers is observed.
/// let service = HttpService::new(SimpleHttpRequestHandler::new(".")?)
///     .with_observer(Arc::new(latency.clone()));
/// # let _ = service;
///
/// latency.observe(Duration::from_micros(70));
/// let page = encode(&registry, Format::Text).unwrap();
/// assert!(page.contains("http_request_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
/// assert!(page.contains("http_request_duration_seconds_count 1\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct LatencyHistogram {
    shared: Arc<Counters>,
}

/// The counters, shared by every clone: one shard per group of threads.
#[derive(Default)]
struct Counters {
    shards: [Shard; SHARDS],
}

/// How many shards: threads beyond it share them in turn.
const SHARDS: usize = 16;

/// One shard's counters, on cache lines no other shard's share.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    /// Observations per bucket (not cumulative), `+Inf` last.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

/// The next shard a thread takes, in turn.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard, taken at its first observation.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
}

impl Counters {
    /// Observations in bucket `index`, over every shard.
    fn bucket(&self, index: usize) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.buckets[index].load(Relaxed))
            .sum()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        LatencyHistogram::default()
    }

    /// Counts one duration: one atomic increment in its bucket, one atomic add to the sum. A
    /// duration over a day adds a day to the sum (so that no run of them wraps it).
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).map_or(MAX_NANOS, |n| n.min(MAX_NANOS));
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        let shard = &self.shared.shards[SHARD.with(|shard| *shard)];
        shard.buckets[bucket].fetch_add(1, Relaxed);
        shard.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// The observations so far.
    pub fn count(&self) -> u64 {
        (0..=BOUNDS.len())
            .map(|index| self.shared.bucket(index))
            .sum()
    }

    /// The sum of the observed durations.
    pub fn sum(&self) -> Duration {
        let nanos = self
            .shared
            .shards
            .iter()
            .map(|shard| shard.sum_nanos.load(Relaxed))
            .fold(0u64, u64::saturating_add);
        Duration::from_nanos(nanos)
    }
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), fmt::Error> {
        let mut count = 0;
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .copied()
            // The encoder writes `f64::MAX` as `+Inf`.
            .chain([f64::MAX])
            .enumerate()
            .map(|(index, bound)| {
                let n = self.shared.bucket(index);
                count += n;
                (bound, n)
            })
            .collect();
        let sum = self.sum().as_secs_f64();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl RequestObserver for LatencyHistogram {
    fn request_done(&self, _status: u16, elapsed: Duration) {
        self.observe(elapsed);
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("sum", &self.sum())
            .finish()
    }
}

#[cfg(test)]
mod tests;
