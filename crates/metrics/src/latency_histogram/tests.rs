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
    let counts: Vec<u64> = (0..=BOUNDS.len())
        .map(|index| histogram.shared.bucket(index))
        .collect();
    assert_eq!(counts[0], 1);
    assert_eq!(counts[1], 1);
    assert_eq!(counts[BOUNDS.len()], 2);
    assert_eq!(histogram.count(), 4);
    let day = Duration::from_secs(24 * 3600);
    let sum = Duration::from_nanos(50_000 + 50_001) + Duration::from_secs(11) + day;
    assert_eq!(histogram.sum(), sum);
}

/// Threads count in shards of their own; every observation is in the total, whichever shard
/// took it.
#[test]
fn observations_from_many_threads_all_count() {
    let histogram = LatencyHistogram::new();
    std::thread::scope(|scope| {
        for thread in 0..40u64 {
            let histogram = histogram.clone();
            scope.spawn(move || {
                for _ in 0..100 {
                    histogram.observe(Duration::from_micros(10 + thread));
                }
            });
        }
    });
    assert_eq!(histogram.count(), 4_000);
    let micros: u64 = (0..40u64).map(|thread| (10 + thread) * 100).sum();
    assert_eq!(histogram.sum(), Duration::from_micros(micros));
}
