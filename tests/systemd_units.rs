//! The unit files in `docs/systemd/` and the hot restart they describe: `systemd-analyze
//! verify` accepts them, and the echo they start hands the service over as systemd needs it —
//! a stand-in for systemd's notify socket records which process says what, in order.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod util;

use util::example_process::example_path;
use util::exchange_load::ExchangeLoad;
use util::notify_listener::{Notice, NotifyListener};
use util::transports::TempDir;
use util::{
    activator_listens, connect, eventually, exchange, free_tcp_port, process_gone, send_signal,
};

const UNITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/systemd");
const INSTALLED_PATH: &str = "/usr/local/bin/socketserver-echo";

/// The documented units, with the echo built here in place of the installed path.
fn units_into(dir: &TempDir) -> Vec<PathBuf> {
    let mut written = Vec::new();
    for entry in std::fs::read_dir(UNITS).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|e| e == "service") {
            assert!(text.contains(INSTALLED_PATH), "{path:?} starts the echo");
        }
        let copy = dir.join(path.file_name().unwrap().to_str().unwrap());
        let echo = example_path("echo");
        std::fs::write(&copy, text.replace(INSTALLED_PATH, echo.to_str().unwrap())).unwrap();
        written.push(copy);
    }
    written.sort();
    written
}

/// The value of `key=` in a unit's text.
fn setting<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in the unit"))
}

#[test]
fn the_documented_units_pass_systemd_analyze_verify() {
    let dir = TempDir::new();
    let units = units_into(&dir);
    assert_eq!(units.len(), 4, "{units:?}");
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .expect("systemd-analyze (Debian's systemd package) must be installed");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    // Unknown keys and bad values are only warnings: none is allowed either.
    assert!(said.trim().is_empty(), "{said}");
}

/// The settings the hand-over relies on are in the documented service.
#[test]
fn the_documented_service_is_the_one_the_hand_over_needs() {
    let service =
        std::fs::read_to_string(Path::new(UNITS).join("socketserver-echo.service")).unwrap();
    assert_eq!(setting(&service, "Type"), "notify");
    assert_eq!(setting(&service, "NotifyAccess"), "all");
    assert_eq!(setting(&service, "ExecReload"), "/bin/kill -HUP $MAINPID");
    let socket =
        std::fs::read_to_string(Path::new(UNITS).join("socketserver-echo.socket")).unwrap();
    let name = setting(&socket, "FileDescriptorName");
    assert!(setting(&service, "ExecStart").contains(&format!("--fd-name {name}")));
}

/// The documented ExecStart's arguments.
fn documented_arguments() -> Vec<String> {
    let service =
        std::fs::read_to_string(Path::new(UNITS).join("socketserver-echo.service")).unwrap();
    setting(&service, "ExecStart")
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// Starts echo as the documented units would (its socket named `echo` passed in, the notify
/// socket and a watchdog), hot-restarts it under load, and checks what the stand-in for
/// systemd heard: the new copy's `MAINPID=` before its `READY=1`, the old copy's confirmation,
/// then nothing from the old copy (no `STOPPING=1`, no watchdog ping), the new copy's pings,
/// and `STOPPING=1` from the new copy alone when it stops.
fn hand_over(extra: &[&str]) {
    let dir = TempDir::new();
    let notify = NotifyListener::bind(&dir.join("notify.sock"));
    let address = format!("127.0.0.1:{}", free_tcp_port());
    let mut arguments = documented_arguments();
    arguments.extend(extra.iter().map(|s| s.to_string()));
    let mut activator = util::Reaped::new(
        Command::new("systemd-socket-activate")
            .args(["-l", &address, "--fdname=echo"])
            .arg(format!(
                "--setenv=NOTIFY_SOCKET={}",
                dir.join("notify.sock").display()
            ))
            .arg("--setenv=WATCHDOG_USEC=300000")
            .arg(example_path("echo"))
            .args(&arguments)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("systemd-socket-activate (Debian's systemd package) must be installed"),
    );
    // It says when it listens; what follows is read to the end by a thread, so no write of
    // the activator or of echo meets a closed pipe.
    let mut stderr = BufReader::new(activator.child().stderr.take().unwrap());
    activator_listens(&mut stderr, 1);
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // The activator execs echo (same pid) at the first connection.
    let address = address.parse().unwrap();
    exchange(&mut connect(address), b"start");
    let ready = notify.until(|notice| notice.has("READY=1"));
    let old = activator.pid();
    assert_eq!(ready.last().unwrap().pid, old, "{ready:?}");
    let load = ExchangeLoad::start(address, 2);
    send_signal(old, libc::SIGHUP);
    let handover = notify.until(|notice| notice.pid == old && notice.text.starts_with("MAINPID="));
    let first_new = handover
        .iter()
        .position(|notice| notice.pid != old)
        .unwrap_or_else(|| panic!("the new copy said nothing: {handover:?}"));
    let new_ready: &Notice = &handover[first_new];
    let new = new_ready.pid;
    let lines: Vec<&str> = new_ready.text.lines().collect();
    let main_pid = format!("MAINPID={new}");
    let said_main = lines.iter().position(|l| *l == main_pid);
    let said_ready = lines.iter().position(|l| *l == "READY=1");
    assert!(
        said_main.is_some() && said_ready.is_some() && said_main < said_ready,
        "the new copy's first notice: MAINPID=<its pid>, then READY=1: {new_ready:?}"
    );
    assert_eq!(
        handover.last().unwrap().text,
        format!("MAINPID={new}\n"),
        "the old copy confirms the new main pid"
    );
    for notice in &handover[..first_new] {
        assert_eq!(
            notice.text, "WATCHDOG=1\n",
            "before the hand-over: {handover:?}"
        );
    }
    assert!(
        eventually(|| process_gone(old)),
        "the old copy drains and exits"
    );
    assert_eq!(activator.wait_code(), Some(0), "the old copy exits 0");
    // From here on only the new copy speaks: its watchdog pings (it got WATCHDOG_USEC), and
    // STOPPING=1 when it is stopped.
    let mut pings = 0;
    let mut after = notify.until(|notice| {
        pings += usize::from(notice.text == "WATCHDOG=1\n");
        pings == 2
    });
    load.finish_without_failures();
    send_signal(new, libc::SIGTERM);
    after.extend(notify.until(|notice| notice.has("STOPPING=1")));
    assert!(
        after.iter().all(|notice| notice.pid == new),
        "after the hand-over only the new copy speaks: {after:?}"
    );
    assert!(
        eventually(|| process_gone(new)),
        "the new copy exits on SIGTERM"
    );
    let said = rest.join().unwrap();
    assert!(!said.contains("panicked"), "{said}");
}

#[test]
fn a_hot_restart_hands_the_main_pid_to_the_new_copy() {
    hand_over(&[]);
}

#[test]
fn a_pre_fork_hot_restart_hands_the_main_pid_to_the_new_master() {
    hand_over(&["--processes", "2"]);
}
