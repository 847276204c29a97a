//! [`Histogram`]: latencies in fixed memory, percentiles within 1 %.
//!
//! A log-linear layout in the manner of HdrHistogram: values below 128 ns have a bucket each;
//! above, every power of two is split into 64 equal buckets, so a bucket is never wider than
//! 1/64 of its lower bound. A run of any length costs the same ~30 KiB per thread.

use std::time::Duration;

/// Values below this have a bucket of their own.
const EXACT: u64 = 128;
/// Linear buckets per power of two above [`EXACT`].
const PER_OCTAVE: u64 = 64;
/// Octaves from 2^7 to 2^63.
const OCTAVES: u64 = 64 - 7;
/// Total bucket count.
const BUCKETS: usize = (EXACT + OCTAVES * PER_OCTAVE) as usize;

/// A latency histogram in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_ns(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Records one value in nanoseconds.
    pub fn record_ns(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Adds another histogram's values to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The largest value recorded, exactly; 0 when empty.
    pub fn max_ns(&self) -> u64 {
        self.max
    }

    /// The `p`-th percentile (nearest rank: the smallest value that at least `p` % of the
    /// values are less than or equal to), in nanoseconds; 0 when empty.
    ///
    /// Exact below 128 ns; above, the middle of the value's bucket, clamped to the recorded
    /// minimum and maximum, which is within 1/128 of the true value. `p` is clamped to
    /// `0..=100`; `p = 0` gives the minimum and `p = 100` the maximum.
    pub fn percentile_ns(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
        // ceil(p/100 * n), at least 1; computed in f64 then guarded against rounding.
        let rank = ((p / 100.0) * self.total as f64)
            .ceil()
            .clamp(1.0, self.total as f64) as u64;
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bounds(i);
                return (low + (high - low) / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

/// The bucket holding `value`.
fn index(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let octave = u64::from(63 - value.leading_zeros()); // floor(log2 value), >= 7
    let shift = octave - 6; // keep the top 7 bits: 64..=127
    let sub = (value >> shift) - PER_OCTAVE;
    (EXACT + (octave - 7) * PER_OCTAVE + sub) as usize
}

/// The smallest and largest value of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < EXACT {
        return (i, i);
    }
    let octave = (i - EXACT) / PER_OCTAVE + 7;
    let sub = (i - EXACT) % PER_OCTAVE + PER_OCTAVE;
    let shift = octave - 6;
    let low = sub << shift;
    (low, low + ((1u64 << shift) - 1))
}

#[cfg(test)]
mod tests;
