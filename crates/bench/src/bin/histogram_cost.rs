//! What timing one request costs (issue 20), measured directly rather than inferred from
//! whole-server runs whose noise is larger than it: two clock reads (`Instant::now`, as the
//! HTTP layer's observer and echo's message timing do) and one `LatencyHistogram::observe`,
//! per request, on one thread and on every core at once (the threads share the histogram, as a
//! server's do).
//!
//! Run: cargo run --release -p socketserver-bench --bin histogram_cost
//! Prints the nanoseconds per timed request for 1 thread and for N threads.

use std::hint::black_box;
use std::time::Instant;

use socketserver_metrics::LatencyHistogram;

/// Timed requests per thread and run.
const ROUNDS: u32 = 5_000_000;

/// Nanoseconds per timed request with `threads` threads observing into one histogram.
fn per_request(threads: usize) -> f64 {
    let histogram = LatencyHistogram::new();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let histogram = histogram.clone();
            scope.spawn(move || {
                for _ in 0..ROUNDS {
                    let begun = Instant::now();
                    black_box(&histogram);
                    histogram.observe(begun.elapsed());
                }
            });
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(histogram.count(), u64::from(ROUNDS) * threads as u64);
    // Every thread ran the whole time: the cost of one request is the wall time per round.
    elapsed.as_nanos() as f64 / f64::from(ROUNDS)
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Warm up the clock source and the caches.
    black_box(per_request(1));
    let one = per_request(1);
    let all = per_request(cores);
    println!("timed request (2 clock reads + observe): {one:.1} ns on 1 thread, {all:.1} ns on each of {cores} threads at once");
}
