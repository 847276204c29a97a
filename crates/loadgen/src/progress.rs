//! [`Progress`]: an `indicatif` bar while a run lasts, only for a person watching.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A time-based progress bar showing the current rate; inert when not shown.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    unit: &'static str,
    last_count: u64,
    last_at: Instant,
}

impl Progress {
    /// A bar over `planned`, drawn only if `wanted` and stdout is a terminal.
    pub fn new(planned: Duration, unit: &'static str, wanted: bool) -> Progress {
        let start = Instant::now();
        let bar = (wanted && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(u64::try_from(planned.as_millis()).unwrap_or(u64::MAX)),
                ProgressDrawTarget::stdout(),
            );
            if let Ok(style) = ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            start,
            unit,
            last_count: 0,
            last_at: start,
        }
    }

    /// Moves the bar to now and shows the rate since the last tick.
    pub fn tick(&mut self, completed: u64) {
        let Some(bar) = &self.bar else { return };
        let now = Instant::now();
        let elapsed = now - self.last_at;
        if elapsed >= Duration::from_millis(250) {
            let rate = (completed - self.last_count) as f64 / elapsed.as_secs_f64();
            bar.set_message(format!("{rate:.0} {}", self.unit));
            self.last_count = completed;
            self.last_at = now;
        }
        bar.set_position(u64::try_from((now - self.start).as_millis()).unwrap_or(u64::MAX));
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
