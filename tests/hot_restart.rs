//! Hot restart: SIGHUP makes `echo` start a new copy of itself that inherits the listening
//! socket; once the copy is ready (its pid replaces ours in the pid file) the old one drains
//! and exits 0. Under continuous connect/echo/close load through three restarts, no exchange
//! fails: no refused or reset connection, none closed before its answer.

use std::net::SocketAddr;

mod util;

use util::example_process::Example;
use util::exchange_load::{try_exchange, ExchangeLoad};
use util::transports::TempDir;
use util::{eventually, pid_in, process_gone, send_signal, wait_for_successor};

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
        let old = pid;
        pid = wait_for_successor(&pid_file, old, &format!("restart {restart}"));
        eprintln!(
            "restart {restart}: {old} -> {pid} after {} exchanges",
            load.done()
        );
        assert!(
            eventually(|| load.done() > before + 50),
            "restart {restart}: the load goes on"
        );
    }
    load.finish_without_failures();
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
    let mut command = std::process::Command::new(&program);
    command.args(["--addr", "127.0.0.1:0"]);
    let (echo, address) = Example::serve_command("echo copy", command);
    let address: SocketAddr = address.parse().unwrap();
    std::fs::remove_file(&program).unwrap();
    let pid = echo.pid();
    echo.signal(libc::SIGHUP);
    // The old copy still answers, before and after the failed hand-over is reported.
    try_exchange(address, 1).unwrap();
    assert!(
        eventually(|| try_exchange(address, 2).is_ok() && !process_gone(pid)),
        "still serving"
    );
    echo.signal(libc::SIGTERM);
    let finished = echo.finish();
    let stderr = finished.stderr;
    assert!(finished.status.success(), "{stderr}");
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("echo: hot restart failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(failures[0].contains("still serving"), "{stderr}");
}
