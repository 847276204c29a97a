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
        let before = workers(master.pid());
        send_signal(before[0], libc::SIGKILL);
        assert!(
            eventually(|| {
                let now = workers(master.pid());
                now.len() == 2 && !now.contains(&before[0])
            }),
            "{mode}: the killed worker is replaced"
        );
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
