use std::time::Duration;

use super::{bounds, index, Histogram, BUCKETS};

/// Within the histogram's promised precision (1/128 of the value).
fn assert_near(got: u64, want: u64) {
    let error = (got as f64 - want as f64).abs() / want as f64;
    assert!(error <= 1.0 / 128.0, "{got} is not within 1/128 of {want}");
}

#[test]
fn empty_histogram_reports_zero() {
    let h = Histogram::new();
    assert_eq!(h.total, 0);
    assert_eq!(h.percentile_ns(50.0), 0);
    assert_eq!(h.percentile_ns(99.0), 0);
    assert_eq!(h.max_ns(), 0);
}

#[test]
fn small_values_are_exact_nearest_rank() {
    let mut h = Histogram::new();
    for v in 1..=100 {
        h.record_ns(v);
    }
    assert_eq!(h.percentile_ns(50.0), 50);
    assert_eq!(h.percentile_ns(99.0), 99);
    assert_eq!(h.percentile_ns(99.5), 100);
    assert_eq!(h.percentile_ns(100.0), 100);
    assert_eq!(h.percentile_ns(0.0), 1);
    assert_eq!(h.percentile_ns(1.0), 1);
    assert_eq!(h.percentile_ns(1.5), 2);
    assert_eq!(h.max_ns(), 100);
}

#[test]
fn single_value_is_every_percentile() {
    let mut h = Histogram::new();
    h.record(Duration::from_micros(42));
    for p in [0.0, 50.0, 99.0, 100.0] {
        assert_eq!(h.percentile_ns(p), 42_000, "p{p}");
    }
}

#[test]
fn out_of_range_percentiles_are_clamped() {
    let mut h = Histogram::new();
    h.record_ns(3);
    h.record_ns(7);
    assert_eq!(h.percentile_ns(-5.0), 3);
    assert_eq!(h.percentile_ns(250.0), 7);
    assert_eq!(h.percentile_ns(f64::NAN), 3);
}

#[test]
fn large_values_are_within_one_percent() {
    // 1 µs .. 10 s, spread geometrically.
    let values: Vec<u64> = (0..2000)
        .map(|i| (1_000.0 * 1.0081f64.powi(i)) as u64)
        .collect();
    let mut h = Histogram::new();
    for &v in &values {
        h.record_ns(v);
    }
    let mut sorted = values.clone();
    sorted.sort_unstable();
    for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.9] {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        let exact = sorted[rank - 1] as f64;
        let got = h.percentile_ns(p) as f64;
        assert!(
            (got - exact).abs() / exact <= 1.0 / 128.0,
            "p{p}: {got} vs {exact}"
        );
    }
    assert_eq!(h.max_ns(), *sorted.last().unwrap());
}

#[test]
fn skewed_distribution_p99_sees_the_tail() {
    let mut h = Histogram::new();
    for _ in 0..990 {
        h.record(Duration::from_micros(20));
    }
    for _ in 0..10 {
        h.record(Duration::from_millis(5));
    }
    assert_near(h.percentile_ns(50.0), 20_000);
    assert_near(h.percentile_ns(99.0), 20_000);
    assert_near(h.percentile_ns(99.1), 5_000_000);
    assert_eq!(h.max_ns(), 5_000_000);
}

#[test]
fn merge_equals_recording_everything_in_one() {
    let mut a = Histogram::new();
    let mut b = Histogram::new();
    let mut all = Histogram::new();
    for v in 0..5000u64 {
        let value = v * 977 % 100_003;
        if v % 3 == 0 { &mut a } else { &mut b }.record_ns(value);
        all.record_ns(value);
    }
    a.merge(&b);
    assert_eq!(a.total, all.total);
    for p in [50.0, 90.0, 99.0, 100.0] {
        assert_eq!(a.percentile_ns(p), all.percentile_ns(p));
    }
    assert_eq!(a.max_ns(), all.max_ns());
}

#[test]
fn merging_an_empty_histogram_changes_nothing() {
    let mut a = Histogram::new();
    a.record_ns(500);
    a.merge(&Histogram::new());
    assert_eq!(a.percentile_ns(50.0), 500);
    assert_eq!(a.total, 1);
}

#[test]
fn buckets_cover_every_value_once() {
    // Every bucket's bounds map back to it, and consecutive buckets touch.
    let mut previous_high = None;
    for i in 0..BUCKETS {
        let (low, high) = bounds(i);
        assert_eq!(index(low), i);
        assert_eq!(index(high), i);
        if let Some(prev) = previous_high {
            assert_eq!(low, prev + 1, "gap before bucket {i}");
        }
        previous_high = Some(high);
    }
    assert_eq!(previous_high, Some(u64::MAX));
    assert_eq!(index(u64::MAX), BUCKETS - 1);
}

#[test]
fn huge_durations_do_not_overflow() {
    let mut h = Histogram::new();
    h.record(Duration::MAX);
    assert_eq!(h.max_ns(), u64::MAX);
    assert_eq!(h.percentile_ns(50.0), u64::MAX);
}
