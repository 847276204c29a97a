//! [`Notifier`]: the serving loop's side of systemd's readiness protocol (`sd_notify(3)`).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::sys;

/// Tells the service manager (when `NOTIFY_SOCKET` is set; nothing otherwise) that the server
/// is ready, that it is stopping, and — when `WATCHDOG_USEC` asks for it — that its loop is
/// alive, from the loop itself: a wedged loop stops pinging and the manager restarts it.
/// Notices are best effort: a failure is logged, never fatal. The `sd-notify` crate formats
/// them; `send` below sends them itself, to a path or an abstract `@` socket (`sd-notify`
/// reaches only paths).
///
/// A hot restart's new copy (started by [`start_successor`](crate::start_successor)) says
/// `MAINPID=<its pid>` with its `READY=1`, so the manager follows the service to it, and then
/// tells the old copy on a socket of the old copy's own (`HANDOVER_READY_VARIABLE`). From then
/// on the old copy says nothing to the manager ([`handed_over`]): not `STOPPING=1` as it
/// drains, which systemd would take as the whole service stopping.
#[derive(Debug)]
pub(crate) struct Notifier {
    watchdog: Option<Duration>,
    next_ping: Option<Instant>,
    /// A pre-fork worker: its master speaks for it.
    silent: bool,
    /// A hot restart's new copy: where the old copy waits for our `READY=1`.
    predecessor: Option<std::ffi::OsString>,
}

/// The variable that gives a hot restart's new copy the old copy's socket for `READY=1`.
pub(crate) const HANDOVER_READY_VARIABLE: &str = "SOCKETSERVER_HANDOVER_READY";

/// Set once a new copy of this program serves in its place: this process no longer speaks for
/// the service.
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

/// This process has handed the service over to the new copy `pid` (a hot restart). As the main
/// process still, it says `MAINPID=<pid>` itself too: the new copy's own `MAINPID=` counts
/// only with `NotifyAccess=all`, and without either the manager would take this process's
/// exit for the service's. Every notice it would send from now on (watchdog pings,
/// `STOPPING=1` as it drains) is dropped.
pub(crate) fn handed_over(pid: u32) {
    send(&[NotifyState::MainPid(pid)]);
    HANDED_OVER.store(true, Ordering::SeqCst);
}

impl Notifier {
    /// Reads `WATCHDOG_USEC` (and `WATCHDOG_PID`) and the hot restart's variable once.
    pub(crate) fn from_env() -> Self {
        let watchdog = sd_notify::watchdog_enabled().filter(|usec| !usec.is_zero());
        Notifier {
            watchdog,
            next_ping: None,
            silent: false,
            predecessor: std::env::var_os(HANDOVER_READY_VARIABLE),
        }
    }

    /// Sends nothing from now on (a pre-fork worker: the master notifies for the service).
    pub(crate) fn silence(&mut self) {
        self.silent = true;
        self.watchdog = None;
        self.next_ping = None;
    }

    /// The loop serves: `READY=1` with a status line, and the first watchdog ping. A hot
    /// restart's new copy says `MAINPID=` first, then tells the old copy (after the manager,
    /// so that the manager knows the new main process before the old one can exit).
    pub(crate) fn ready(&mut self, status: &str) {
        if self.silent {
            return;
        }
        match self.predecessor.take() {
            None => send(&[NotifyState::Ready, NotifyState::Status(status)]),
            Some(predecessor) => {
                send(&[
                    NotifyState::MainPid(std::process::id()),
                    NotifyState::Ready,
                    NotifyState::Status(status),
                ]);
                if let Err(error) = send_to(&predecessor, b"READY=1\n") {
                    tracing::warn!(%error, "could not tell the old copy that this one is ready");
                }
            }
        }
        self.ping(Instant::now());
    }

    /// A drain began: `STOPPING=1`.
    pub(crate) fn stopping(&self) {
        if self.silent {
            return;
        }
        send(&[
            NotifyState::Stopping,
            NotifyState::Status("draining connections"),
        ]);
    }

    /// Pings the watchdog if a third of its interval has passed since the last ping (no clock
    /// read without a watchdog: the loop calls this on every wake).
    pub(crate) fn ping_if_due(&mut self) {
        let Some(due) = self.next_ping else {
            return;
        };
        let now = Instant::now();
        if now >= due {
            self.ping(now);
        }
    }

    fn ping(&mut self, now: Instant) {
        if let Some(interval) = self.watchdog {
            send(&[NotifyState::Watchdog]);
            // A third, so that wake-up jitter never stretches a gap past the half that
            // sd_watchdog_enabled(3) asks for.
            self.next_ping = Some(now + interval / 3);
        }
    }

    /// How long the loop may sleep before the next ping is due (no clock read without a
    /// watchdog).
    pub(crate) fn wait_hint(&self) -> Option<Duration> {
        self.next_ping
            .map(|due| due.saturating_duration_since(Instant::now()))
    }
}

/// Sends one notice to `NOTIFY_SOCKET`, a path or (leading `@`) an abstract socket. We send it
/// ourselves: `sd_notify::notify` connects to the variable as a path, so an abstract socket
/// (what systemd itself uses in containers) would never hear from us.
fn send(states: &[NotifyState<'_>]) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if HANDED_OVER.load(Ordering::SeqCst) {
        tracing::debug!(?states, "handed over: the new copy speaks for the service");
        return;
    }
    let message: String = states.iter().map(|state| format!("{state}\n")).collect();
    if let Err(error) = send_to(&target, message.as_bytes()) {
        tracing::warn!(%error, ?target, "could not notify the service manager");
    }
}

/// Sends one datagram to a notify socket: a path, or a Linux abstract name after `@`.
fn send_to(target: &OsStr, message: &[u8]) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    let address = match target.as_bytes().strip_prefix(b"@") {
        Some(name) => sys::abstract_socket_addr(name)?,
        None => std::os::unix::net::SocketAddr::from_pathname(Path::new(target))?,
    };
    let sent = socket.send_to_addr(message, &address)?;
    if sent != message.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "notice cut short"));
    }
    Ok(())
}
