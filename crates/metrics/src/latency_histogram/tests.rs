//! Unit tests of the bucket bounds and the observe path.

use std::time::Duration;

use crate::latency_histogram::{LatencyHistogram, BOUNDS, BOUNDS_NANOS};

#[test]
fn bounds_in_nanoseconds_match_the_bounds_in_seconds() {
    for (seconds, nanos) in BOUNDS.iter().zip(BOUNDS_NANOS) {
        assert_eq!((seconds * 1e9).round() as u64, nanos);
    }
}

#[test]
fn a_duration_on_a_bound_counts_in_that_bucket() {
    let histogram = LatencyHistogram::new();
    histogram.observe(Duration::from_micros(50)); // le 0.00005
    histogram.observe(Duration::from_nanos(50_001)); // le 0.0001
    histogram.observe(Duration::from_secs(11)); // +Inf
    histogram.observe(Duration::MAX); // +Inf, a day in the sum
    let counts: Vec<u64> = histogram
        .shared
        .buckets
        .iter()
        .map(|bucket| bucket.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    assert_eq!(counts[0], 1);
    assert_eq!(counts[1], 1);
    assert_eq!(counts[BOUNDS.len()], 2);
    assert_eq!(histogram.count(), 4);
    let day = Duration::from_secs(24 * 3600);
    let sum = Duration::from_nanos(50_000 + 50_001) + Duration::from_secs(11) + day;
    assert_eq!(histogram.sum(), sum);
}
