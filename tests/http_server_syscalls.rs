//! How `http_server` finds and sends a file, seen with the real `strace` over the example: the
//! path is opened in one system call (`openat2` beneath the served directory, Linux 5.6+),
//! never resolved component by component (`realpath`'s way: a failing `readlink` for every
//! component, four for a file three directories deep); and a large file goes from the page
//! cache to the socket (`sendfile`), not through the process: on the event loops, and from
//! the parker when a pool's or a thread's client reads slowly.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

mod util;

use util::example_process::{example_path, Example};
use util::transports::TempDir;
use util::{connect, connect_reading_slowly, eventually};

const REQUESTS: usize = 20;

/// Serves a small file `REQUESTS` times and a large one once under `mode` (to a client whose
/// small receive buffer makes it slower than the server: the parker sends what a worker's
/// write left), with `strace` watching; returns what it saw.
fn traced_requests(mode: &str) -> String {
    let dir = TempDir::new();
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("a/b")).unwrap();
    std::fs::write(site.join("a/b/file.txt"), "deep inside\n").unwrap();
    let big: Vec<u8> = (0..8_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.join("big.bin"), &big).unwrap();
    let trace = dir.join("trace");
    let (strace, address) = traced_server(
        mode,
        &[],
        &site,
        &trace,
        "readlink,readlinkat,openat2,sendfile,epoll_ctl",
    );
    ask_again_and_again(address, "/a/b/file.txt", b"deep inside\n");
    let mut client = connect_reading_slowly(address);
    client
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Nothing is read until the server waits for the socket to take more (strace writes each
    // call as it happens): under a pool or threads that is the parker, the handler done, and
    // what is left is the parker's to send.
    assert!(
        eventually(|| std::fs::read_to_string(&trace).is_ok_and(|traced| socket_filled(&traced))),
        "the server never waited for the socket to take more"
    );
    let mut reply = Vec::new();
    let mut piece = [0; 65536];
    let head_end = loop {
        let n = client.read(&mut piece).unwrap();
        assert!(n > 0, "the server closed the connection");
        reply.extend_from_slice(&piece[..n]);
        if let Some(at) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    while reply.len() < head_end + big.len() {
        let n = client.read(&mut piece).unwrap();
        assert!(n > 0, "the server closed the connection mid-body");
        reply.extend_from_slice(&piece[..n]);
    }
    assert!(reply.starts_with(b"HTTP/1.1 200 "));
    assert!(reply[head_end..] == big[..], "the body arrived intact");
    drop(client);
    stop_traced(strace, &trace)
}

/// Asks for `path` `REQUESTS` times on one connection; each answer is a 200 ending in `body`.
fn ask_again_and_again(address: std::net::SocketAddr, path: &str, body: &[u8]) {
    let mut client = connect(address);
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    for _ in 0..REQUESTS {
        client.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut piece = [0; 512];
        while !got.ends_with(body) {
            let n = client.read(&mut piece).unwrap();
            assert!(n > 0, "the server closed the connection");
            got.extend_from_slice(&piece[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 "));
    }
}

/// `http_server --mode MODE --workers 1 EXTRA...` serving `site` under `strace`, which writes
/// the `calls` it makes to `trace`; and the address it serves.
fn traced_server(
    mode: &str,
    extra: &[&str],
    site: &std::path::Path,
    trace: &std::path::Path,
    calls: &str,
) -> (Example, std::net::SocketAddr) {
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-e", &format!("trace={calls}"), "-o"])
        .arg(trace)
        .arg("--")
        .arg(example_path("http_server"))
        .args(["--addr", "127.0.0.1:0", "--mode", mode, "--workers", "1"])
        .args(extra)
        .arg("--directory")
        .arg(site);
    let (strace, address) = Example::serve_command("http_server", command);
    (strace, address.parse().unwrap())
}

/// Stops the server `strace` runs, and strace with it; returns the trace.
fn stop_traced(strace: Example, trace: &std::path::Path) -> String {
    // The server is strace's child: stop it, and strace ends with it.
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", strace.pid())).unwrap();
    let server: libc::pid_t = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is the traced server, which
    // strace (our child) has not reaped while it still traces it.
    assert_eq!(unsafe { libc::kill(server, libc::SIGTERM) }, 0);
    let finished = strace.finish();
    assert!(finished.status.success(), "{finished:#?}");
    std::fs::read_to_string(trace).unwrap()
}

/// Checks that every request opened its file in one `openat2` and walked no path; returns
/// the trace.
fn a_file_is_opened_in_one_system_call(mode: &str) -> String {
    let traced = traced_requests(mode);
    let opens = traced
        .lines()
        .filter(|line| line.contains("openat2(") && line.contains("\"a/b/file.txt\""))
        .count();
    // (Below the served directory: resolving the directory itself, once at start, may walk.)
    let readlinks = traced
        .lines()
        .filter(|line| line.contains("readlink") && line.contains("/site/"))
        .count();
    assert_eq!(
        opens, REQUESTS,
        "{mode}: one openat2 per request:\n{traced}"
    );
    assert_eq!(readlinks, 0, "{mode}: no path walk:\n{traced}");
    traced
}

/// Whether, after opening the large file, the server waits for a full socket to take more
/// (registered for `EPOLLOUT`).
fn socket_filled(traced: &str) -> bool {
    traced
        .lines()
        .skip_while(|line| !line.contains("\"big.bin\""))
        .any(|line| line.contains("epoll_ctl(") && line.contains("EPOLLOUT"))
}

fn sendfiles(traced: &str) -> usize {
    traced
        .lines()
        .filter(|line| line.contains("sendfile("))
        .count()
}

/// On the event loops the large file goes from the page cache.
#[test]
fn event() {
    let traced = a_file_is_opened_in_one_system_call("event");
    assert!(
        sendfiles(&traced) >= 1,
        "the large file went by sendfile:\n{traced}"
    );
}

/// On a coroutine too (its socket never blocks: a full socket suspends it).
#[test]
fn coroutine() {
    let traced = a_file_is_opened_in_one_system_call("coroutine");
    assert!(
        sendfiles(&traced) >= 1,
        "the large file went by sendfile:\n{traced}"
    );
}

/// The pool and the thread-per-connection strategy keep what a slow peer has not taken for
/// the parker, which sends a file's rest from the page cache too (the socket non-blocking
/// for the call: a worker never waits in `sendfile` for a slow peer).
#[test]
fn pool_and_threading() {
    for mode in ["pool", "threading"] {
        let traced = a_file_is_opened_in_one_system_call(mode);
        assert!(
            sendfiles(&traced) >= 1,
            "{mode}: the large file's rest went by sendfile:\n{traced}"
        );
    }
}

/// A small file that last changed more than a second ago is kept in memory by the thread that
/// served it: asked for again, it costs a `stat` of its path (`newfstatat`, no descriptor)
/// instead of an `openat2`, a read and a `close` — the file is opened once (or again after a
/// second, when its path is resolved beneath the directory again). With `--small-file-cache
/// off`, every request opens the file.
fn a_settled_small_file_is_served_from_memory(mode: &str, cache: &str) {
    let dir = TempDir::new();
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("a/b")).unwrap();
    std::fs::write(site.join("a/b/kept.txt"), "kept in memory\n").unwrap();
    // Time passing, not synchronisation: only a file changed over a second ago is kept.
    std::thread::sleep(Duration::from_millis(1100));
    let trace = dir.join("trace");
    let (strace, address) = traced_server(
        mode,
        &["--small-file-cache", cache],
        &site,
        &trace,
        "openat2,newfstatat,close",
    );
    ask_again_and_again(address, "/a/b/kept.txt", b"kept in memory\n");
    let traced = stop_traced(strace, &trace);
    let calls = |name: &str| {
        traced
            .lines()
            .filter(|line| line.contains(name) && line.contains("\"a/b/kept.txt\""))
            .count()
    };
    if cache == "off" {
        assert_eq!(
            calls("openat2("),
            REQUESTS,
            "{mode}: opened every time:\n{traced}"
        );
        assert_eq!(calls("newfstatat("), 0, "{mode}: {traced}");
        return;
    }
    assert!(
        calls("openat2(") <= 2,
        "{mode}: opened once (twice if a second passed):\n{traced}"
    );
    assert!(
        calls("newfstatat(") >= REQUESTS - 2,
        "{mode}: the other requests stat the path:\n{traced}"
    );
}

#[test]
fn kept_in_memory_event() {
    a_settled_small_file_is_served_from_memory("event", "on");
}

#[test]
fn kept_in_memory_pool() {
    a_settled_small_file_is_served_from_memory("pool", "on");
}

#[test]
fn not_kept_with_the_cache_off() {
    a_settled_small_file_is_served_from_memory("event", "off");
}
