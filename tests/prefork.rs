//! Pre-fork workers, as `echo --processes N`: a master and N workers serving one listening
//! socket; a killed worker is replaced, `--max-requests` recycles workers, every in-process
//! strategy runs in the workers, and SIGTERM to the master drains them all (no zombie left).

use std::io::{Read, Write};
use std::net::SocketAddr;

mod util;

use util::example_process::{assert_clean_exit, Example};
use util::{assert_clean_eof, connect, eventually, exchange, process_gone, send_signal};

/// The master's children (its workers).
fn workers(master: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Kills one of the master's two workers; the master starts another.
fn kill_a_worker_and_see_it_replaced(master: u32, mode: &str) {
    let before = workers(master);
    send_signal(before[0], libc::SIGKILL);
    assert!(
        eventually(|| {
            let now = workers(master);
            now.len() == 2 && !now.contains(&before[0])
        }),
        "{mode}: the killed worker is replaced"
    );
}

fn one_exchange(address: SocketAddr, message: &[u8]) {
    let mut client = connect(address);
    exchange(&mut client, message);
}

#[test]
fn a_killed_worker_is_replaced_and_sigterm_drains_them_all() {
    for mode in ["threading", "pool", "event", "coroutine"] {
        let (master, address) = Example::serve("echo", &["--processes", "2", "--mode", mode]);
        assert!(
            eventually(|| workers(master.pid()).len() == 2),
            "{mode}: two workers"
        );
        one_exchange(address, b"hello\n");
        kill_a_worker_and_see_it_replaced(master.pid(), mode);
        one_exchange(address, b"still served\n");
        // An idle client at SIGTERM gets a clean end-of-file; the master exits 0.
        let mut idle = connect(address);
        exchange(&mut idle, b"idle now\n");
        let all = workers(master.pid());
        let finished =
            master.stop_with(libc::SIGTERM, &format!("echo --processes 2 --mode {mode}"));
        assert_clean_exit(&finished);
        assert_clean_eof(&mut idle);
        assert!(
            all.iter().all(|&pid| process_gone(pid)),
            "{mode}: no worker left"
        );
        assert!(
            finished.stderr.contains("still running")
                && finished.stderr.contains(" 0 still running"),
            "{finished:#?}"
        );
    }
}

#[test]
fn max_requests_recycles_workers() {
    let (master, address) = Example::serve("echo", &["--processes", "1", "--max-requests", "2"]);
    assert!(eventually(|| workers(master.pid()).len() == 1));
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..6 {
        seen.extend(workers(master.pid()));
        let mut client = connect(address);
        client
            .write_all(format!("request {n}\n").as_bytes())
            .unwrap();
        let mut reply = vec![0; format!("request {n}\n").len()];
        client.read_exact(&mut reply).unwrap();
    }
    assert!(
        eventually(|| {
            seen.extend(workers(master.pid()));
            seen.len() >= 3
        }),
        "six requests at two per worker take three workers: {seen:?}"
    );
    let finished = master.stop_with(libc::SIGTERM, "echo --processes 1 --max-requests 2");
    assert_clean_exit(&finished);
}

/// The ready line comes once the master handles its signals: a SIGTERM sent the moment it is
/// read drains the tree and exits 0 (not the default action's death by signal).
#[test]
fn sigterm_right_after_the_ready_line_drains() {
    let (master, _) = Example::serve("echo", &["--processes", "2"]);
    let finished = master.stop_with(libc::SIGTERM, "echo --processes 2, signalled at once");
    assert_clean_exit(&finished);
}

/// The master speaks for the tree to a service manager: one READY=1, watchdog pings from its
/// own loop, STOPPING=1 when it drains the workers; the workers stay silent.
#[test]
fn the_master_notifies_for_the_workers() {
    use std::os::unix::net::UnixDatagram;
    let dir = util::transports::TempDir::new();
    let path = dir.join("notify.sock");
    let receiver = UnixDatagram::bind(&path).unwrap();
    receiver.set_read_timeout(Some(util::PATIENCE)).unwrap();
    let mut command = std::process::Command::new(util::example_process::example_path("echo"));
    command
        .args(["--addr", "127.0.0.1:0", "--processes", "2"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "100000");
    let (master, _) = Example::serve_command("echo", command);
    let mut buffer = [0; 512];
    let mut next = || {
        let n = receiver.recv(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    let (mut readies, mut pings) = (0, 0);
    while pings < 3 {
        let message = next();
        if message.contains("READY=1") {
            readies += 1;
            assert!(message.contains("STATUS=2 workers"), "{message}");
        } else if message == "WATCHDOG=1\n" {
            pings += 1;
        }
    }
    assert_eq!(readies, 1, "one READY, from the master");
    master.signal(libc::SIGTERM);
    while !next().contains("STOPPING=1") {}
    assert!(master.finish().status.success());
}

/// SIGHUP to the master: a new master with its own workers takes over the listening socket
/// (its pid replaces the old one in the pid file), the old workers drain and the old master
/// exits. Under continuous connect/echo/close load through ten restarts, no exchange fails.
#[test]
fn ten_hot_restarts_of_a_pre_fork_tree_under_load_fail_no_exchange() {
    let dir = util::transports::TempDir::new();
    let pid_file = dir.join("echo.pid");
    let (first, address) = Example::serve(
        "echo",
        &["--processes", "2", "--pid-file", pid_file.to_str().unwrap()],
    );
    let load = util::exchange_load::ExchangeLoad::start(address, 4);
    let mut master = first.pid();
    assert!(eventually(|| workers(master).len() == 2), "two workers");
    for restart in 1..=10 {
        let before = load.done();
        let old_workers = workers(master);
        send_signal(master, libc::SIGHUP);
        let old = master;
        master = util::wait_for_successor(&pid_file, old, &format!("restart {restart}"));
        assert!(
            old_workers
                .iter()
                .all(|&pid| eventually(|| process_gone(pid))),
            "restart {restart}: the old workers drained and exited"
        );
        assert!(
            eventually(|| workers(master).len() == 2),
            "restart {restart}: the new master runs two workers"
        );
        assert!(
            eventually(|| load.done() > before + 20),
            "restart {restart}: the load goes on"
        );
    }
    load.finish_without_failures();
    send_signal(master, libc::SIGTERM);
    assert!(
        eventually(|| process_gone(master)),
        "the last master exits on SIGTERM"
    );
    assert!(
        eventually(|| !pid_file.exists()),
        "and removes the pid file"
    );
    let finished = first.finish();
    assert!(finished.status.success(), "{finished:#?}");
}

/// One `GET` of `path`, answered 200 with the file's bytes.
fn get_ok(address: SocketAddr, path: &str) {
    let mut client = connect(address);
    client
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    let expected = std::fs::read(path.trim_start_matches('/')).unwrap();
    assert!(
        reply.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert!(reply.ends_with(&expected));
}

#[test]
fn http_server_runs_pre_forked_workers_in_the_pool_and_on_event_loops() {
    for mode in ["pool", "event"] {
        let (master, address) = Example::serve(
            "http_server",
            &[
                "--processes",
                "2",
                "--mode",
                mode,
                "--workers",
                "1",
                "--directory",
                ".",
            ],
        );
        assert!(
            eventually(|| workers(master.pid()).len() == 2),
            "{mode}: two workers"
        );
        get_ok(address, "/README.md");
        kill_a_worker_and_see_it_replaced(master.pid(), mode);
        get_ok(address, "/Cargo.toml");
        let all = workers(master.pid());
        let finished = master.stop_with(
            libc::SIGTERM,
            &format!("http_server --processes 2 --mode {mode}"),
        );
        assert_clean_exit(&finished);
        assert!(
            all.iter().all(|&pid| process_gone(pid)),
            "{mode}: no worker left"
        );
        assert!(
            finished
                .stderr
                .contains("http_server: 3 workers started, 1 replaced, 0 still running"),
            "{finished:#?}"
        );
    }
}

#[test]
fn http_server_metrics_are_one_process_s_not_with_processes() {
    Example::spawn(
        "http_server",
        &[
            "--processes",
            "2",
            "--metrics",
            "127.0.0.1:0",
            "--addr",
            "127.0.0.1:0",
        ],
    )
    .finish()
    .assert_one_line_failure(2);
}
