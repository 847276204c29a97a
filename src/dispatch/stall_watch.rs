//! [`StallWatch`]: names a coroutine that runs too long without suspending while it still
//! runs, for the handler that never gives its loop back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::dispatch::LiveThreads;

/// What one coroutine loop tells the watch: since when its current coroutine runs, and which.
#[derive(Debug)]
pub(crate) struct LoopPulse {
    epoch: Instant,
    /// Nanoseconds from `epoch` to the start of the running coroutine's turn; 0: none runs.
    running_since: AtomicU64,
    conn_id: AtomicU64,
}

impl LoopPulse {
    /// A coroutine of connection `conn_id` starts a turn at `at`.
    #[inline]
    pub(crate) fn running(&self, conn_id: u64, at: Instant) {
        let since = u64::try_from(at.duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        self.conn_id.store(conn_id, Ordering::Relaxed);
        // Never 0, which means "none runs".
        self.running_since.store(since.max(1), Ordering::Relaxed);
    }

    /// The turn ended: the coroutine suspended or finished.
    #[inline]
    pub(crate) fn idle(&self) {
        self.running_since.store(0, Ordering::Relaxed);
    }
}

/// The longest the watch sleeps while no coroutine runs at its looks.
const LONGEST_LOOK: Duration = Duration::from_secs(1);

/// One thread that looks at every loop's pulse: every `threshold` while coroutines run, less
/// and less often (up to once a second) while none does, so an idle server is not woken a
/// hundred times a second.
pub(crate) struct StallWatch {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl StallWatch {
    /// Starts the watch over `loops` pulses (made here, one per loop), warning past `threshold`.
    pub(crate) fn start(
        loops: usize,
        threshold: Duration,
        name: String,
        live: &LiveThreads,
    ) -> (Self, Vec<Arc<LoopPulse>>) {
        let epoch = Instant::now();
        let pulses: Vec<Arc<LoopPulse>> = (0..loops)
            .map(|_| {
                Arc::new(LoopPulse {
                    epoch,
                    running_since: AtomicU64::new(0),
                    conn_id: AtomicU64::new(0),
                })
            })
            .collect();
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = pulses.clone();
        let theirs = Arc::clone(&stop);
        let thread = live
            .spawn(thread::Builder::new().name(name), move || {
                watch(&watched, threshold, &theirs);
            })
            .map_err(|error| tracing::warn!(%error, "cannot start the coroutine stall watch"))
            .ok();
        (StallWatch { stop, thread }, pulses)
    }

    /// Stops the watch and joins it.
    pub(crate) fn stop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StallWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn watch(pulses: &[Arc<LoopPulse>], threshold: Duration, stop: &(Mutex<bool>, Condvar)) {
    let threshold = threshold.max(Duration::from_millis(1));
    // The turn each loop was last warned about (a turn is warned about once).
    let mut warned = vec![0u64; pulses.len()];
    let mut look_every = threshold;
    loop {
        {
            let mut stopped = stop.0.lock();
            if *stopped {
                return;
            }
            let _ = stop.1.wait_for(&mut stopped, look_every);
            if *stopped {
                return;
            }
        }
        let mut any_running = false;
        for (pulse, warned) in pulses.iter().zip(&mut warned) {
            let since = pulse.running_since.load(Ordering::Relaxed);
            if since == 0 {
                continue;
            }
            any_running = true;
            let ran = pulse
                .epoch
                .elapsed()
                .saturating_sub(Duration::from_nanos(since));
            if ran >= threshold && *warned != since {
                *warned = since;
                tracing::warn!(
                    conn_id = pulse.conn_id.load(Ordering::Relaxed),
                    ran_ms = ran.as_millis() as u64,
                    "a coroutine still runs without suspending and holds up its loop: move \
                     blocking work into coroutine::offload"
                );
            }
        }
        look_every = match any_running {
            true => threshold,
            false => (look_every * 2).min(LONGEST_LOOK.max(threshold)),
        };
    }
}
