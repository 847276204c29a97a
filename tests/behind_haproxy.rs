//! Behind a real HAProxy (Debian's package; `.ci/run` installs it): three `echo
//! --proxy-protocol` instances, HAProxy in front with `send-proxy-v2` and health checks, and
//! continuous connect/echo/close load through it while one instance drains (SIGTERM) and
//! another hot-restarts (SIGHUP): no exchange fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

mod util;

use util::example_process::Example;
use util::transports::TempDir;
use util::{eventually, free_tcp_port, pid_in, process_gone, send_signal, PATIENCE};

/// HAProxy in the foreground; killed on drop.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One connect/echo/close exchange through HAProxy.
fn exchange(front: SocketAddr, n: usize) -> Result<(), String> {
    let mut client = TcpStream::connect(front).map_err(|e| format!("connect: {e}"))?;
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let message = format!("through haproxy {n}\n");
    client
        .write_all(message.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = vec![0; message.len()];
    client
        .read_exact(&mut reply)
        .map_err(|e| format!("read: {e}"))?;
    match reply == message.as_bytes() {
        true => Ok(()),
        false => Err("a wrong answer".to_owned()),
    }
}

/// The configuration: TCP mode, PROXY v2 to each instance, health checks that send a v2
/// LOCAL header every 100 ms, and retries that go to another instance.
fn config(front: u16, backends: &[SocketAddr]) -> String {
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
        "global\n    maxconn 2000\n\
         defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    retries 3\n    option redispatch 1\n\
         frontend front\n    bind 127.0.0.1:{front}\n    default_backend echoes\n\
         backend echoes\n    balance roundrobin\n{servers}"
    )
}

#[test]
fn load_through_haproxy_survives_a_drain_and_a_hot_restart() {
    let dir = TempDir::new();
    let restart_pid_file = dir.join("restarted.pid");
    let (draining, a) = Example::serve("echo", &["--proxy-protocol"]);
    let (restarted, b) = Example::serve(
        "echo",
        &[
            "--proxy-protocol",
            "--pid-file",
            restart_pid_file.to_str().unwrap(),
        ],
    );
    let (steady, c) = Example::serve("echo", &["--proxy-protocol", "--mode", "event"]);
    let front_port = free_tcp_port();
    let config_path = dir.join("haproxy.cfg");
    std::fs::write(&config_path, config(front_port, &[a, b, c])).unwrap();
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
        eventually(|| exchange(front, 0).is_ok()),
        "HAProxy serves through the echoes"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    if let Err(error) = exchange(front, n) {
                        failures.push(error);
                    }
                    n += 1;
                    done.fetch_add(1, Ordering::SeqCst);
                }
                failures
            })
        })
        .collect();
    let progress = |more: usize| {
        let from = done.load(Ordering::SeqCst);
        assert!(
            eventually(|| done.load(Ordering::SeqCst) > from + more),
            "the load goes on"
        );
    };
    progress(200);
    // Drain one instance: it finishes what it holds and exits 0; HAProxy's checks take it out.
    let finished = draining.stop_with(libc::SIGTERM, "echo behind haproxy, drained");
    assert!(finished.status.success(), "{finished:#?}");
    progress(200);
    // Hot-restart another: the new copy takes over its socket (and pid file).
    let old = restarted.pid();
    send_signal(old, libc::SIGHUP);
    assert!(eventually(
        || pid_in(&restart_pid_file).is_some_and(|pid| pid != old)
    ));
    assert!(eventually(|| process_gone(old)));
    progress(200);
    stop.store(true, Ordering::SeqCst);
    let failures: Vec<String> = load
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    let total = done.load(Ordering::SeqCst);
    assert!(
        failures.is_empty(),
        "{} of {total} exchanges failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    eprintln!("{total} exchanges through HAProxy, 0 failed");
    // Stop the restarted copy (not our child) and the rest.
    if let Some(pid) = pid_in(&restart_pid_file) {
        send_signal(pid, libc::SIGTERM);
        assert!(eventually(|| process_gone(pid)));
    }
    drop(restarted);
    drop(steady);
}
