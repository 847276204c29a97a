//! The command line: [`Config`] and its parser.
//!
//! Hand-rolled on purpose: a dozen flags do not justify a dependency. Every flag takes
//! `--flag VALUE` or `--flag=VALUE`; durations take seconds (`3`, `0.5`, `3s`) or milliseconds
//! (`500ms`).

use std::fmt;
use std::time::Duration;

use crate::target::Target;

/// The usage text printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage: loadgen MODE [--target HOST:PORT|[IPV6]:PORT|unix:/path] [options]

modes:
  echo      C persistent connections, each writing an S-byte message and reading it back
            (closed loop), for D seconds after a warm-up of W seconds
  connect   C concurrent loops of: connect, send S bytes, read them back, close
  idle      open C connections, hold them H seconds, then check that each still echoes
            (opening, and checking, each get one --timeout plus 1 ms per connection)
  udp       C sockets doing datagram round trips; a reply not back within --timeout is lost
            (with unix:/path, a Unix datagram socket bound to a temporary path)
  http      C keep-alive connections, each on a thread of its own, asking for --path with
            GET and reading the answer (a 2xx with a Content-Length); with --rate, open loop
            at that many requests a second in all, each latency counted from when its
            request was due (so a slow answer delays the next ones and shows in the
            percentiles, as wrk2 counts them); without, closed loop

options:
  --target ADDR        server to load (default 127.0.0.1:9999)
  -c, --connections C  connections, loops or sockets (default 16)
  -s, --size S         message size in bytes (default 64)
  -d, --duration D     measured time (default 5s)
  -w, --warmup W       unmeasured time before it (default 1s; idle: none)
  --hold H             idle mode: how long connections are held (default: --duration)
  -t, --threads T      generator threads (default min(C, available cores))
  -n, --requests N     echo, connect, udp: stop after N measured requests have been started
                       (still at most --duration; a run that reaches N ends early)
  --timeout T          per-operation timeout; past it a request is an error (default 2s)
  --path P             http: the request target (default /)
  --rate R             http: requests a second, all connections together (default: closed loop)
  --json               print one JSON line instead of the summary
  -h, --help           print this help

durations: seconds (3, 0.5, 3s) or milliseconds (500ms)";

/// What kind of load to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Persistent connections, one message in flight on each.
    Echo,
    /// A fresh connection per message.
    Connect,
    /// Many quiet connections, checked after a while.
    Idle,
    /// Datagram round trips.
    Udp,
    /// HTTP/1.1 keep-alive requests.
    Http,
}

impl Mode {
    /// The mode's name on the command line and in the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Connect => "connect",
            Mode::Idle => "idle",
            Mode::Udp => "udp",
            Mode::Http => "http",
        }
    }
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The kind of load.
    pub mode: Mode,
    /// The server.
    pub target: Target,
    /// Connections (echo, idle), concurrent loops (connect) or sockets (udp).
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// The measured time (echo, connect, udp).
    pub duration: Duration,
    /// The unmeasured time before it.
    pub warmup: Duration,
    /// How long idle connections are held.
    pub hold: Duration,
    /// Generator threads, `1..=connections`.
    pub threads: usize,
    /// At most this many measured requests are started (echo, connect, udp); `None`: no limit.
    pub requests: Option<u64>,
    /// How long one connect, read, write or datagram round trip may take.
    pub timeout: Duration,
    /// Print one JSON line instead of the human summary.
    pub json: bool,
    /// Http: the request target.
    pub path: String,
    /// Http: requests a second in all (open loop); `None`: closed loop.
    pub rate: Option<f64>,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a load.
    Run(Box<Config>),
    /// Print [`USAGE`] and exit 0.
    Help,
}

/// A command line that cannot be run; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest payload a UDP datagram can carry over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;

/// Parses the arguments after the program name.
///
/// `cores` is the default thread count's upper bound (`available_parallelism`), passed in so
/// that tests do not depend on the machine.
///
/// # Errors
///
/// A [`UsageError`] naming the flag or value that is wrong.
pub fn parse<I>(args: I, cores: usize) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut args = args.into_iter();
    let mut mode = None;
    let mut target = "127.0.0.1:9999".to_owned();
    let mut connections = 16;
    let mut size = 64;
    let mut duration = Duration::from_secs(5);
    let mut warmup = None;
    let mut hold = None;
    let mut threads = None;
    let mut requests = None;
    let mut timeout = Duration::from_secs(2);
    let mut json = false;
    let mut path = None;
    let mut rate = None;

    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, UsageError> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" if inline.is_none() => json = true,
            "--target" => target = value("--target")?,
            "-c" | "--connections" => connections = count("--connections", &value(&flag)?)?,
            "-s" | "--size" => size = count("--size", &value(&flag)?)?,
            "-d" | "--duration" => duration = parse_duration("--duration", &value(&flag)?)?,
            "-w" | "--warmup" => warmup = Some(parse_duration("--warmup", &value(&flag)?)?),
            "--hold" => hold = Some(parse_duration("--hold", &value(&flag)?)?),
            "-t" | "--threads" => threads = Some(count("--threads", &value(&flag)?)?),
            "-n" | "--requests" => requests = Some(count("--requests", &value(&flag)?)? as u64),
            "--timeout" => timeout = parse_duration("--timeout", &value(&flag)?)?,
            "--path" => path = Some(value("--path")?),
            "--rate" => rate = Some(parse_rate(&value("--rate")?)?),
            other if other.starts_with('-') => {
                return Err(UsageError(format!("unknown option {other:?}")));
            }
            other if mode.is_none() => mode = Some(parse_mode(other)?),
            other => return Err(UsageError(format!("unexpected argument {other:?}"))),
        }
    }

    let mode =
        mode.ok_or_else(|| UsageError("no mode given: echo, connect, idle, udp or http".into()))?;
    if mode != Mode::Http && (path.is_some() || rate.is_some()) {
        return Err(UsageError("--path and --rate are for http mode".into()));
    }
    let path = path.unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/')
        || path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(UsageError(format!(
            "--path {path:?} must start with / and hold no spaces or control characters"
        )));
    }
    let target = Target::parse(&target).map_err(UsageError)?;
    if duration.is_zero() && mode != Mode::Idle {
        return Err(UsageError("--duration must be more than 0".into()));
    }
    if timeout.is_zero() {
        return Err(UsageError("--timeout must be more than 0".into()));
    }
    if mode == Mode::Idle && requests.is_some() {
        return Err(UsageError(
            "--requests does not apply to idle mode (use --connections)".into(),
        ));
    }
    if mode == Mode::Udp && size > MAX_DATAGRAM {
        return Err(UsageError(format!(
            "--size {size} is larger than a datagram ({MAX_DATAGRAM})"
        )));
    }
    // Http: a thread per connection, so one slow answer never holds back another
    // connection's request (in an open loop that would hide the delay it causes).
    let default_threads = match mode {
        Mode::Http => connections,
        _ => connections.min(cores.max(1)),
    };
    if mode == Mode::Http && threads.is_some_and(|t| t != connections) {
        return Err(UsageError(
            "http mode runs a thread per connection: leave out --threads".into(),
        ));
    }
    Ok(Command::Run(Box::new(Config {
        mode,
        target,
        connections,
        size,
        duration,
        warmup: warmup.unwrap_or(if mode == Mode::Idle {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        }),
        hold: hold.unwrap_or(duration),
        threads: threads.unwrap_or(default_threads).min(connections),
        requests,
        timeout,
        json,
        path,
        rate,
    })))
}

/// Requests a second: a positive, finite number.
fn parse_rate(text: &str) -> Result<f64, UsageError> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(UsageError(format!(
            "--rate {text:?} is not a positive number of requests a second"
        ))),
    }
}

fn parse_mode(text: &str) -> Result<Mode, UsageError> {
    match text {
        "echo" => Ok(Mode::Echo),
        "connect" => Ok(Mode::Connect),
        "idle" => Ok(Mode::Idle),
        "udp" => Ok(Mode::Udp),
        "http" => Ok(Mode::Http),
        other => Err(UsageError(format!(
            "unknown mode {other:?}: expected echo, connect, idle, udp or http"
        ))),
    }
}

/// A positive whole number.
fn count(flag: &str, text: &str) -> Result<usize, UsageError> {
    match text.parse::<usize>() {
        Ok(0) => Err(UsageError(format!("{flag} must be at least 1"))),
        Ok(n) => Ok(n),
        Err(_) => Err(UsageError(format!("{flag} {text:?} is not a whole number"))),
    }
}

/// Seconds (`3`, `0.5`, `3s`) or milliseconds (`500ms`), at most a day.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration, UsageError> {
    let bad = || {
        UsageError(format!(
            "{flag} {text:?} is not a duration (e.g. 3, 0.5, 3s, 500ms)"
        ))
    };
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else {
        (text.strip_suffix('s').unwrap_or(text), 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(bad());
    }
    if seconds > 86_400.0 {
        return Err(UsageError(format!("{flag} {text:?} is longer than a day")));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests;
