//! Behind a real HAProxy (Debian's package; `tests/run` installs it): three `echo
//! --proxy-protocol` instances, HAProxy in front with `send-proxy-v2` and health checks, and
//! continuous connect/echo/close load through it while one instance drains (taken out through
//! HAProxy's runtime API, then SIGTERM) and another hot-restarts (SIGHUP): no exchange fails.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

mod util;

use util::example_process::Example;
use util::exchange_load::{try_exchange, ExchangeLoad};
use util::transports::TempDir;
use util::{eventually, free_tcp_port, pid_in, process_gone, send_signal, wait_for_successor};

/// HAProxy in the foreground; killed on drop.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The configuration: TCP mode, PROXY v2 to each instance, health checks that send a v2
/// LOCAL header every 100 ms, retries that go to another instance, and the runtime API on
/// `admin`.
fn config(front: u16, backends: &[SocketAddr], admin: &Path) -> String {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(n, address)| {
            format!(
                "    server echo{n} {address} send-proxy-v2 check check-send-proxy inter 100ms fall 1 rise 1\n"
            )
        })
        .collect();
    format!(
        "global\n    maxconn 2000\n    stats socket {} level admin\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    retries 3\n    option redispatch 1\n\
         frontend front\n    bind 127.0.0.1:{front}\n    default_backend echoes\n\
         backend echoes\n    balance roundrobin\n{servers}",
        admin.display()
    )
}

/// One command to HAProxy's runtime API; its answer.
fn haproxy_command(admin: &Path, command: &str) -> String {
    let mut api = UnixStream::connect(admin).expect("HAProxy's runtime API");
    api.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    api.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn load_through_haproxy_survives_a_drain_and_a_hot_restart() {
    let dir = TempDir::new();
    let restart_pid_file = dir.join("restarted.pid");
    let (draining, a) = Example::serve("echo", &["--proxy-protocol"]);
    // The one hot-restarted runs the blocking echo on coroutines (the successor too).
    let (restarted, b) = Example::serve(
        "echo",
        &[
            "--proxy-protocol",
            "--mode",
            "coroutine",
            "--pid-file",
            restart_pid_file.to_str().unwrap(),
        ],
    );
    let (steady, c) = Example::serve("echo", &["--proxy-protocol", "--mode", "event"]);
    let front_port = free_tcp_port();
    let config_path = dir.join("haproxy.cfg");
    let admin = dir.join("haproxy-admin.sock");
    std::fs::write(&config_path, config(front_port, &[a, b, c], &admin)).unwrap();
    let haproxy = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy (Debian's package) must be installed");
    let _haproxy = Haproxy(haproxy);
    let front: SocketAddr = format!("127.0.0.1:{front_port}").parse().unwrap();
    assert!(
        eventually(|| try_exchange(front, 0).is_ok()),
        "HAProxy serves through the echoes"
    );

    let load = ExchangeLoad::start(front, 4);
    assert!(load.made_progress(200), "the load goes on");
    // Drain one instance as an operator does: HAProxy stops sending it new connections, then
    // SIGTERM: it finishes what it holds and exits 0. (Without the first step, a connection
    // whose handshake completes in the microseconds between the drain's last accept and the
    // listener's close is reset by the kernel, as with any server that closes its listener.)
    let answer = haproxy_command(&admin, "set server echoes/echo0 state drain");
    assert!(answer.trim().is_empty(), "HAProxy answered {answer:?}");
    assert!(load.made_progress(200), "the load goes on");
    let finished = draining.stop_with(libc::SIGTERM, "echo behind haproxy, drained");
    assert!(finished.status.success(), "{finished:#?}");
    assert!(load.made_progress(200), "the load goes on");
    // Hot-restart another: the new copy takes over its socket (and pid file).
    let old = restarted.pid();
    send_signal(old, libc::SIGHUP);
    wait_for_successor(&restart_pid_file, old, "hot restart");
    assert!(load.made_progress(200), "the load goes on");
    let total = load.finish_without_failures();
    eprintln!("{total} exchanges through HAProxy, 0 failed");
    // Stop the restarted copy (not our child) and the rest.
    if let Some(pid) = pid_in(&restart_pid_file) {
        send_signal(pid, libc::SIGTERM);
        assert!(eventually(|| process_gone(pid)));
    }
    drop(restarted);
    drop(steady);
}
