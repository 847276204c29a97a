//! [`Report`]: one run's figures, as a human summary or one JSON line.

use std::fmt::Write as _;
use std::time::Duration;

use crate::args::{Config, Mode};
use crate::histogram::Histogram;

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The mode's name.
    pub mode: &'static str,
    /// The target as given.
    pub target: String,
    /// Connections, loops or sockets.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// Generator threads.
    pub threads: usize,
    /// The measured window's real length, in seconds.
    pub duration_s: f64,
    /// Round trips completed in the measured window (idle: connections that passed the check).
    pub requests: u64,
    /// Failed connects, reads, writes, wrong replies and timeouts (udp: not losses).
    pub errors: u64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Largest latency, µs.
    pub max_us: f64,
    /// Idle mode: connections opened and held.
    pub held: Option<u64>,
    /// Idle mode: connections that could not be opened or failed the final check.
    pub failed: Option<u64>,
    /// Udp mode: datagrams with no reply within the timeout.
    pub lost: Option<u64>,
}

impl Report {
    /// Builds a report from the merged counts.
    pub fn new(
        config: &Config,
        window: Duration,
        requests: u64,
        errors: u64,
        latencies: &Histogram,
    ) -> Report {
        let duration_s = window.as_secs_f64();
        Report {
            mode: config.mode.name(),
            target: config.target.to_string(),
            connections: config.connections,
            size: config.size,
            threads: config.threads,
            duration_s,
            requests,
            errors,
            rps: if duration_s > 0.0 {
                requests as f64 / duration_s
            } else {
                0.0
            },
            p50_us: latencies.percentile_ns(50.0) as f64 / 1e3,
            p99_us: latencies.percentile_ns(99.0) as f64 / 1e3,
            max_us: latencies.max_ns() as f64 / 1e3,
            held: None,
            failed: None,
            lost: None,
        }
    }

    /// One line of JSON, no trailing newline. Field order is fixed.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        let _ = write!(out, "\"mode\":{},", json_string(self.mode));
        let _ = write!(out, "\"target\":{},", json_string(&self.target));
        let _ = write!(out, "\"connections\":{},", self.connections);
        let _ = write!(out, "\"size\":{},", self.size);
        let _ = write!(out, "\"threads\":{},", self.threads);
        let _ = write!(out, "\"duration_s\":{},", json_number(self.duration_s, 3));
        let _ = write!(out, "\"requests\":{},", self.requests);
        let _ = write!(out, "\"errors\":{},", self.errors);
        let _ = write!(out, "\"rps\":{},", json_number(self.rps, 1));
        let _ = write!(out, "\"p50_us\":{},", json_number(self.p50_us, 1));
        let _ = write!(out, "\"p99_us\":{},", json_number(self.p99_us, 1));
        let _ = write!(out, "\"max_us\":{}", json_number(self.max_us, 1));
        for (name, value) in [
            ("held", self.held),
            ("failed", self.failed),
            ("lost", self.lost),
        ] {
            if let Some(value) = value {
                let _ = write!(out, ",\"{name}\":{value}");
            }
        }
        out.push('}');
        out
    }

    /// A few lines for a person.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {}: {} connections x {} B, {} threads, {:.2} s measured",
            self.mode, self.target, self.connections, self.size, self.threads, self.duration_s
        );
        let unit = match self.mode {
            "connect" => "conns/s",
            "idle" => "checks/s",
            _ => "req/s",
        };
        let _ = writeln!(
            out,
            "  {:>12.1} {unit}  ({} completed)",
            self.rps, self.requests
        );
        let _ = writeln!(
            out,
            "  latency      p50 {:.1} us   p99 {:.1} us   max {:.1} us",
            self.p50_us, self.p99_us, self.max_us
        );
        let _ = write!(out, "  errors       {}", self.errors);
        if let Some(lost) = self.lost {
            let _ = write!(out, "   lost {lost}");
        }
        if let (Some(held), Some(failed)) = (self.held, self.failed) {
            let _ = write!(out, "\n  idle         held {held}   failed {failed}");
        }
        out
    }
}

/// What the run's summary line calls its unit, for the progress bar.
pub fn rate_unit(mode: Mode) -> &'static str {
    match mode {
        Mode::Connect => "conns/s",
        _ => "req/s",
    }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number with `decimals` places; JSON has no NaN or infinity, so those become 0.
fn json_number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "0".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{json_number, json_string};

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            json_string("unix:/tmp/a\"b\\c\n\u{1}"),
            r#""unix:/tmp/a\"b\\c\n\u0001""#
        );
    }

    #[test]
    fn numbers_are_finite() {
        assert_eq!(json_number(1.26, 1), "1.3");
        assert_eq!(json_number(f64::NAN, 1), "0");
        assert_eq!(json_number(f64::INFINITY, 3), "0");
    }
}
