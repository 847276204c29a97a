//! [`Registry`]: a server's connection counts, limits, close reasons and panic policy, shared
//! by the loop, the strategies and every connection's guard.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use slab::Slab;

use crate::connections::sharded_counter::ShardedCounter;
use crate::connections::{ConnectionGuard, PanicPolicy};
use crate::drain::{DrainLevel, DrainProgress, DrainTarget, Liveness};
use crate::error::Error;
use crate::ip_prefix::ip_prefix;
use crate::limits::{Limits, Overload};
use crate::shutdown::{LoopWaker, ShutdownHandle};
use crate::stats::{CloseReason, ServerStats};

/// Why a connection was turned away at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    AtLimit,
    PerSource,
}

pub(crate) struct Registry {
    state: Mutex<State>,
    parked: AtomicUsize,
    /// Counted without the lock.
    throughput: Throughput,
    waker: LoopWaker,
    shutdown: ShutdownHandle,
    /// The server's drain level: raised here only, shared with every connection.
    progress: Arc<DrainProgress>,
}

/// The counters that move with every request (not only with every connection): atomics,
/// on cache lines of their own so that counting does not slow the threads that read
/// `parked` or take the lock; the request count in shards, as every worker adds to it.
#[derive(Default)]
#[repr(align(128))]
struct Throughput {
    requests: ShardedCounter,
    received: AtomicU64,
    sent: AtomicU64,
}

struct State {
    limits: Limits,
    policy: PanicPolicy,
    stats: ServerStats,
    per_source: HashMap<IpAddr, usize>,
    /// The loop stopped accepting for want of a slot and waits for a release.
    loop_waits: bool,
    /// The transport gives no more requests: the loop waits for the last connection to end.
    loop_waits_for_none: bool,
    /// Descriptors open when serving started, and the soft limit then.
    descriptors_at_start: usize,
    descriptor_limit: Option<usize>,
    recent_panics: VecDeque<Instant>,
    /// Set when the panic budget is spent: `serve_forever` returns it.
    fatal: Option<Error>,
    /// Every open connection's drain state.
    entries: Slab<Arc<Liveness>>,
    /// The counters as the drain began (its report counts from there).
    at_drain_start: Option<ServerStats>,
}

impl Registry {
    pub(crate) fn new(waker: LoopWaker, shutdown: ShutdownHandle) -> Arc<Self> {
        Arc::new(Registry {
            state: Mutex::new(State {
                limits: Limits::default(),
                policy: PanicPolicy::default(),
                stats: ServerStats::default(),
                per_source: HashMap::new(),
                loop_waits: false,
                loop_waits_for_none: false,
                descriptors_at_start: 0,
                descriptor_limit: None,
                recent_panics: VecDeque::new(),
                fatal: None,
                entries: Slab::new(),
                at_drain_start: None,
            }),
            parked: AtomicUsize::new(0),
            throughput: Throughput::default(),
            waker,
            progress: Arc::clone(shutdown.drain_progress()),
            shutdown,
        })
    }

    pub(crate) fn limits(&self) -> Limits {
        self.state.lock().limits
    }

    pub(crate) fn set_limits(&self, limits: Limits) {
        self.state.lock().limits = limits;
        self.waker.wake(); // a raised bound may let the loop accept again
    }

    pub(crate) fn panic_policy(&self) -> PanicPolicy {
        self.state.lock().policy
    }

    pub(crate) fn set_panic_policy(&self, policy: PanicPolicy) {
        self.state.lock().policy = policy;
    }

    /// Notes the descriptors open as serving starts, for the descriptor reserve.
    pub(crate) fn serving_starts(&self, descriptors: usize, limit: Option<usize>) {
        let mut state = self.state.lock();
        state.descriptors_at_start = descriptors.saturating_sub(state.stats.open);
        state.descriptor_limit = limit;
    }

    /// Whether the loop may accept a connection now. When not, the next release wakes it.
    pub(crate) fn has_room(&self) -> bool {
        let mut state = self.state.lock();
        let at_limit = state.limits.overload == Overload::Wait
            && state
                .limits
                .max_connections
                .is_some_and(|max| state.stats.open >= max);
        let near_descriptor_limit = state.descriptor_limit.is_some_and(|limit| {
            state.descriptors_at_start + state.stats.open + state.limits.descriptor_reserve >= limit
        });
        let room = !at_limit && !near_descriptor_limit;
        if !room && !state.loop_waits {
            state.loop_waits = true;
            state.stats.accept_pauses += 1;
            if near_descriptor_limit {
                tracing::warn!(
                    open = state.stats.open,
                    limit = ?state.descriptor_limit,
                    reserve = state.limits.descriptor_reserve,
                    "near the descriptor limit: pausing accept until connections close"
                );
            } else {
                tracing::info!(
                    open = state.stats.open,
                    "at max_connections: pausing accept"
                );
            }
        }
        room
    }

    /// Counts an accepted request that is not a connection (a datagram).
    pub(crate) fn accepted_datagram(&self) {
        self.state.lock().stats.accepted += 1;
    }

    /// Counts a run of a handler's `handle`.
    pub(crate) fn count_request(&self) {
        self.throughput.requests.add(1);
    }

    /// Counts bytes a request carried (a datagram and its answer, a connection as it closes).
    pub(crate) fn count_traffic(&self, received: u64, sent: u64) {
        if received > 0 {
            self.throughput
                .received
                .fetch_add(received, Ordering::Relaxed);
        }
        if sent > 0 {
            self.throughput.sent.fetch_add(sent, Ordering::Relaxed);
        }
    }

    /// Takes a slot for a connection from `source`, or says why not.
    pub(crate) fn admit(
        self: &Arc<Self>,
        source: Option<IpAddr>,
    ) -> Result<ConnectionGuard, Refusal> {
        let mut state = self.state.lock();
        state.stats.accepted += 1;
        let limits = state.limits;
        if limits
            .max_connections
            .is_some_and(|max| state.stats.open >= max)
        {
            state.stats.refused_at_limit += 1;
            return Err(Refusal::AtLimit);
        }
        let source = source.map(|ip| source_key(ip, &limits));
        if let (Some(max), Some(key)) = (limits.max_per_source, source) {
            if state.per_source.get(&key).copied().unwrap_or(0) >= max {
                state.stats.refused_per_source += 1;
                return Err(Refusal::PerSource);
            }
        }
        if let Some(key) = source {
            *state.per_source.entry(key).or_insert(0) += 1;
        }
        state.stats.open += 1;
        state.stats.peak = state.stats.peak.max(state.stats.open);
        let liveness = Arc::new(Liveness::new(Arc::clone(&self.progress)));
        let key = state.entries.insert(Arc::clone(&liveness));
        drop(state);
        Ok(ConnectionGuard::new(
            Arc::clone(self),
            source,
            key,
            liveness,
        ))
    }

    /// A drain moved on to `level`: every open connection is told (one waiting at a message
    /// boundary that now counts as idle is woken with an end-of-file; at
    /// [`DrainLevel::Forced`] every connection is shut down both ways), new ones start there,
    /// and every close wakes the loop from now on.
    pub(crate) fn advance_drain(&self, level: DrainLevel) {
        let mut state = self.state.lock();
        if level <= self.progress.level() {
            return;
        }
        if state.at_drain_start.is_none() {
            let mut stats = state.stats;
            stats.parked = self.parked.load(Ordering::Relaxed);
            state.at_drain_start = Some(stats);
        }
        self.progress.raise(level);
        state.loop_waits = true;
        for (_, liveness) in &state.entries {
            liveness.advance(level);
        }
    }

    /// The counters as the drain began, if one has.
    pub(crate) fn stats_at_drain_start(&self) -> Option<ServerStats> {
        self.state.lock().at_drain_start
    }

    /// Whether no connection is open; if one is, the last release wakes the loop (its
    /// transport gives no more requests, and it returns once they have ended).
    pub(crate) fn none_open_or_wake_when_none(&self) -> bool {
        let mut state = self.state.lock();
        state.loop_waits_for_none = true;
        state.stats.open == 0
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.state.lock().stats.open
    }

    /// Counts a connection the PROXY protocol stage closed (it was never admitted).
    pub(crate) fn refused_by_proxy(&self) {
        let mut state = self.state.lock();
        state.stats.accepted += 1;
        state.stats.refused_proxy += 1;
    }

    /// Counts a request `verify_request` turned away.
    pub(crate) fn refused_by_verify(&self) {
        self.state.lock().stats.refused_by_verify += 1;
    }

    /// A connection ended (its guard dropped).
    pub(crate) fn release(&self, key: usize, source: Option<IpAddr>, reason: Option<CloseReason>) {
        let (wake, liveness) = {
            let mut state = self.state.lock();
            state.stats.open -= 1;
            let liveness = state.entries.try_remove(key);
            if let Some(key) = source {
                if let Some(count) = state.per_source.get_mut(&key) {
                    *count -= 1;
                    if *count == 0 {
                        state.per_source.remove(&key);
                    }
                }
            }
            if let Some(reason) = reason {
                let counter = match reason {
                    CloseReason::Completed => &mut state.stats.closed_completed,
                    CloseReason::Error => &mut state.stats.closed_error,
                    CloseReason::Panicked => &mut state.stats.closed_panicked,
                    CloseReason::IdleTimeout => &mut state.stats.closed_idle_timeout,
                    CloseReason::FirstByteTimeout => &mut state.stats.closed_first_byte_timeout,
                    CloseReason::WriteTimeout => &mut state.stats.closed_write_timeout,
                    CloseReason::ServerClosing => &mut state.stats.closed_server_closing,
                    CloseReason::Drained => &mut state.stats.closed_drained,
                    CloseReason::ReadTimeout => &mut state.stats.closed_read_timeout,
                    CloseReason::TooSlow => &mut state.stats.closed_too_slow,
                    CloseReason::Tls(failure) => state.stats.closed_tls.counter(failure),
                };
                *counter += 1;
            }
            // While a drain runs, every close may be the last one the loop waits for.
            let draining = self.progress.level() != DrainLevel::Serving;
            let none_left = state.loop_waits_for_none && state.stats.open == 0;
            let wake = std::mem::take(&mut state.loop_waits) || draining || none_left;
            (wake, liveness)
        };
        if wake {
            self.waker.wake();
        }
        // What the connection carried, recorded as its socket closed (before this).
        if let Some(liveness) = liveness {
            let (received, sent) = liveness.traffic();
            self.count_traffic(received, sent);
        }
    }

    pub(crate) fn parked_changed(&self, parked: bool) {
        if parked {
            self.parked.fetch_add(1, Ordering::Relaxed);
        } else {
            self.parked.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A handler panicked: count it and apply the panic policy.
    pub(crate) fn panicked(&self) {
        let mut state = self.state.lock();
        state.stats.panics += 1;
        match state.policy {
            PanicPolicy::Isolate => {}
            PanicPolicy::Abort => {
                tracing::error!("a handler panicked and the panic policy is Abort: aborting");
                std::process::abort();
            }
            PanicPolicy::Budget { panics, window } => {
                let now = Instant::now();
                state.recent_panics.push_back(now);
                while state
                    .recent_panics
                    .front()
                    .is_some_and(|&at| now.duration_since(at) > window)
                {
                    state.recent_panics.pop_front();
                }
                if state.recent_panics.len() > panics as usize && state.fatal.is_none() {
                    tracing::error!(
                        panics,
                        ?window,
                        "panic budget exceeded: stopping the server"
                    );
                    state.fatal = Some(Error::PanicBudgetExceeded { panics, window });
                    drop(state);
                    self.shutdown.request_stop();
                }
            }
        }
    }

    /// The error that stopped the server, if the panic budget was spent.
    pub(crate) fn take_fatal(&self) -> Option<Error> {
        self.state.lock().fatal.take()
    }

    pub(crate) fn stats(&self) -> ServerStats {
        let mut stats = self.state.lock().stats;
        stats.parked = self.parked.load(Ordering::Relaxed);
        stats.requests = self.throughput.requests.get();
        stats.received_bytes = self.throughput.received.load(Ordering::Relaxed);
        stats.sent_bytes = self.throughput.sent.load(Ordering::Relaxed);
        // The drains are the shutdown handle's, read under its lock after ours is released
        // (the handle calls into the registry with its own held).
        stats.drains = self.shutdown.drains_finished();
        stats.last_drain = self.shutdown.last_drain_report();
        stats
    }
}

/// The source an address counts toward: its first `prefix` bits.
fn source_key(ip: IpAddr, limits: &Limits) -> IpAddr {
    ip_prefix(ip, limits.ipv4_source_prefix, limits.ipv6_source_prefix)
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

impl DrainTarget for Registry {
    fn advance_drain(&self, level: DrainLevel) {
        Registry::advance_drain(self, level);
    }
}
