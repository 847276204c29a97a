//! Hot restart: SIGHUP makes `echo` start a new copy of itself that inherits the listening
//! socket; once the copy is ready (its pid replaces ours in the pid file) the old one drains
//! and exits 0. Under continuous connect/echo/close load through three restarts, no exchange
//! fails: no refused or reset connection, none closed before its answer.

use std::io::Read;
use std::net::SocketAddr;

mod util;

use util::example_process::Example;
use util::exchange_load::{try_exchange, ExchangeLoad};
use util::transports::TempDir;
use util::{eventually, pid_in, process_gone, send_signal};

#[test]
fn three_hot_restarts_under_load_fail_no_exchange() {
    let dir = TempDir::new();
    let pid_file = dir.join("echo.pid");
    let (first, address) = Example::serve("echo", &["--pid-file", pid_file.to_str().unwrap()]);
    let load = ExchangeLoad::start(address, 4);
    let mut pid = first.pid();
    assert_eq!(pid_in(&pid_file), Some(pid));
    for restart in 1..=3 {
        let before = load.done();
        send_signal(pid, libc::SIGHUP);
        assert!(
            eventually(|| pid_in(&pid_file).is_some_and(|new| new != pid)),
            "restart {restart}: the new copy took over the pid file"
        );
        let old = pid;
        pid = pid_in(&pid_file).unwrap();
        eprintln!(
            "restart {restart}: {old} -> {pid} after {} exchanges",
            load.done()
        );
        assert!(
            eventually(|| process_gone(old)),
            "restart {restart}: the old copy exited"
        );
        assert!(
            eventually(|| load.done() > before + 50),
            "restart {restart}: the load goes on"
        );
    }
    let (total, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {total} exchanges failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    send_signal(pid, libc::SIGTERM);
    assert!(
        eventually(|| process_gone(pid)),
        "the last copy exits on SIGTERM"
    );
    assert!(
        eventually(|| !pid_file.exists()),
        "and removes the pid file"
    );
    drop(first); // reaps the first copy (it exited 0 after the first restart)
}

/// A new copy that cannot come up (here: the program file is gone) leaves the old one serving,
/// with one stderr line that says why.
#[test]
fn a_failed_restart_keeps_the_old_copy_serving() {
    let dir = TempDir::new();
    let program = dir.join("echo-copy");
    std::fs::copy(util::example_process::example_path("echo"), &program).unwrap();
    let mut child = std::process::Command::new(&program)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let address: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    std::fs::remove_file(&program).unwrap();
    let pid = child.id();
    let mut stderr = child.stderr.take().unwrap();
    send_signal(pid, libc::SIGHUP);
    // The old copy still answers, before and after the failed hand-over is reported.
    try_exchange(address, 1).unwrap();
    let mut report = Vec::new();
    let reader = std::thread::spawn(move || {
        let _ = stderr.read_to_end(&mut report);
        String::from_utf8_lossy(&report).into_owned()
    });
    assert!(
        eventually(|| try_exchange(address, 2).is_ok() && !process_gone(pid)),
        "still serving"
    );
    send_signal(pid, libc::SIGTERM);
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{stderr}");
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("echo: hot restart failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(failures[0].contains("still serving"), "{stderr}");
}
