//! [`start_successor`]: hot restart — a new copy of this program takes over the listening
//! sockets before this one drains.

use std::ffi::{CString, OsStr};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::activation::notifier::{handed_over, HANDOVER_READY_VARIABLE};
use crate::error::Error;
use crate::sys;

/// Starts a new copy of this program (same executable, arguments and environment) that
/// inherits `listeners` in systemd's socket-activation format (`LISTEN_FDS`, `LISTEN_PID`,
/// `LISTEN_FDNAMES` from `names`), and waits until it says `READY=1` on a socket of ours
/// (`serve_forever` or [`Prefork::run`](crate::Prefork::run) says it once serving). Returns
/// the new process's pid. Then drain this server
/// ([`ShutdownHandle::drain`](crate::ShutdownHandle::drain)): both processes accept from the
/// same listening sockets meanwhile, so no connection is refused or reset.
///
/// Under systemd (`Type=notify`, which needs `NotifyAccess=all` for this), the new copy keeps
/// the service manager's `NOTIFY_SOCKET` and `WATCHDOG_USEC`, and tells it
/// `MAINPID=<new pid>` with `READY=1` before it tells this process; this process, the main
/// one until then, says `MAINPID=<new pid>` too (which also serves units left at
/// `NotifyAccess=main`). systemd then follows the service to the new process, and this one's
/// exit is not the service's. Once the new copy is ready this process sends the manager
/// nothing more (no watchdog pings, and no `STOPPING=1`
/// as it drains: systemd would take that, from any process it accepts notices from, as the
/// whole service stopping, and stop the new copy too).
///
/// The new copy is not reaped by this process: it outlives it (re-parented to init or the
/// nearest subreaper). A pid file passes from this process to the new copy:
/// [`PidFile::create`](crate::PidFile::create) in the new copy replaces its parent's pid.
/// Socket activation's numbering means the new copy must serve what it inherits
/// ([`InheritedSocket`](crate::InheritedSocket)) rather than bind again.
///
/// # Errors
///
/// [`Error::Restart`] when the new copy cannot be started, exits, or is not ready within
/// `ready_timeout`; this process goes on serving (nothing was handed over).
pub fn start_successor(
    listeners: &[RawFd],
    names: &[&str],
    ready_timeout: Duration,
) -> Result<u32, Error> {
    let fail = |problem: String| Error::Restart { problem };
    let program = std::env::current_exe().map_err(|e| fail(format!("which program: {e}")))?;
    let program = CString::new(program.as_os_str().as_bytes())
        .map_err(|_| fail("the program path holds a NUL".to_owned()))?;
    let argv: Vec<CString> = std::env::args_os()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| fail("an argument holds a NUL".to_owned()))?;
    // Where the new copy says it is ready: an abstract socket only we know the name of.
    static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "socketserver-successor-{}-{}",
        std::process::id(),
        STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let address = sys::abstract_socket_addr(name.as_bytes())
        .map_err(|e| fail(format!("notify socket: {e}")))?;
    let notify =
        UnixDatagram::bind_addr(&address).map_err(|e| fail(format!("notify socket: {e}")))?;
    let mut env: Vec<Vec<u8>> = std::env::vars_os()
        .filter(|(key, _)| !is_handover_variable(key))
        .map(|(key, value)| entry(key.as_bytes(), value.as_bytes()))
        .collect();
    env.push(b"LISTEN_PID=0000000000\0".to_vec());
    env.push(entry(b"LISTEN_FDS", listeners.len().to_string().as_bytes()));
    env.push(entry(b"LISTEN_FDNAMES", names.join(":").as_bytes()));
    env.push(entry(
        HANDOVER_READY_VARIABLE.as_bytes(),
        format!("@{name}").as_bytes(),
    ));
    let pid = sys::spawn_inheriting(&program, &argv, &mut env, listeners)
        .map_err(|e| fail(format!("cannot start the new copy: {e}")))?;
    tracing::info!(pid, "started a new copy; waiting for it to be ready");
    let deadline = Instant::now() + ready_timeout;
    let mut buffer = [0u8; 4096];
    loop {
        if let Ok(Some(status)) = sys::try_reap(pid) {
            return Err(fail(format!(
                "the new copy (pid {pid}) ended before it was ready: {status}"
            )));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            sys::signal_child(pid, libc::SIGKILL);
            let _ = sys::reap(pid);
            return Err(fail(format!(
                "the new copy (pid {pid}) was not ready within {ready_timeout:?}; stopped it"
            )));
        }
        // Short waits, so a copy that dies is noticed soon.
        let _ = notify.set_read_timeout(Some(left.min(Duration::from_millis(50))));
        if let Ok(n) = notify.recv(&mut buffer) {
            let message = String::from_utf8_lossy(&buffer[..n]);
            if message.lines().any(|line| line == "READY=1") {
                tracing::info!(pid, "the new copy is ready");
                handed_over(pid as u32);
                return Ok(pid as u32);
            }
        }
    }
}

/// `KEY=VALUE\0`.
fn entry(key: &[u8], value: &[u8]) -> Vec<u8> {
    [key, b"=", value, b"\0"].concat()
}

/// Variables that describe this process's start and must not reach the new copy as they are:
/// the sockets passed to us (the new copy gets its own), the pid the watchdog watched (the new
/// copy pings as itself; `WATCHDOG_USEC` and `NOTIFY_SOCKET` pass on), and our own
/// predecessor's hand-over socket.
fn is_handover_variable(key: &OsStr) -> bool {
    matches!(
        key.as_bytes(),
        b"LISTEN_PID" | b"LISTEN_FDS" | b"LISTEN_FDNAMES" | b"WATCHDOG_PID"
    ) || key.as_bytes() == HANDOVER_READY_VARIABLE.as_bytes()
        || key.as_bytes().contains(&0)
}
