//! [`ShardedCounter`]: a count that many threads add to without sharing a cache line.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// How many shards: threads beyond it share them in turn.
const SHARDS: usize = 16;

/// A counter kept in shards, each on a cache line of its own; a thread always adds to the same
/// shard (threads take shards in turn). Threads on different cores counting each request
/// would otherwise pull one line back and forth for every request; reading sums the shards.
#[derive(Default)]
pub(crate) struct ShardedCounter {
    shards: [Shard; SHARDS],
}

#[derive(Default)]
#[repr(align(128))]
struct Shard(AtomicU64);

/// The next shard a thread takes, in turn.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard, taken at its first count.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
}

impl ShardedCounter {
    /// Adds `n` in this thread's shard.
    pub(crate) fn add(&self, n: u64) {
        self.shards[SHARD.with(|shard| *shard)]
            .0
            .fetch_add(n, Relaxed);
    }

    /// The count: every shard's, added up (each only grows, so the sum is a count that was
    /// true at some moment during the read or just before).
    pub(crate) fn get(&self) -> u64 {
        self.shards.iter().map(|shard| shard.0.load(Relaxed)).sum()
    }
}
