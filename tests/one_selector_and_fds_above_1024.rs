//! One selector per server (no new selector per `handle_request` or `serve_forever`), and no
//! descriptor-number limit on the loop (Python's `select()` fails for fds ≥ 1024). In a file
//! of its own: it raises this process's descriptor limit and counts descriptors.

mod util;

use std::os::fd::{AsRawFd, OwnedFd};

use socketserver::SequentialTcpServer;
use util::{stream_check, LineEcho, Serving};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

#[test]
fn listener_above_fd_setsize_is_served_by_one_selector() {
    // Raise the soft descriptor limit so we can push the listener's number past 1024.
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_max < 2048 {
            eprintln!(
                "hard descriptor limit {} too low to test; skipping",
                limit.rlim_max
            );
            return;
        }
        limit.rlim_cur = limit.rlim_max.min(4096);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    let filler: Vec<OwnedFd> = (0..1100)
        .map(|_| std::fs::File::open("/dev/null").unwrap().into())
        .collect();
    // Sequential: the connections are closed on the serving thread, so the count below sees
    // only the loop's own descriptors (a threading server's parker lingers over closes
    // on a thread of its own, started the first time one needs it).
    let server = SequentialTcpServer::new("127.0.0.1:0", LineEcho).unwrap();
    let listener_fd = server.fileno().unwrap().as_raw_fd();
    assert!(
        listener_fd >= 1024,
        "listener fd {listener_fd} should be above FD_SETSIZE"
    );
    let serving = Serving::start(server);
    stream_check(serving.address);

    // One poller: descriptors do not grow with more loops and requests.
    let (server, result) = serving.stop();
    result.unwrap();
    let before = open_descriptors();
    let mut server = server;
    server.set_timeout(Some(std::time::Duration::from_millis(1)));
    for _ in 0..50 {
        server.handle_request().unwrap(); // times out
    }
    let serving = Serving::start(server);
    stream_check(serving.address);
    let (server, result) = serving.stop();
    result.unwrap();
    assert_eq!(
        open_descriptors(),
        before,
        "each loop must reuse the server's one selector"
    );
    drop(server);
    drop(filler);
}
