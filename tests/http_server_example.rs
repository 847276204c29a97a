//! The `http_server` example (Python's `python -m http.server`), as a process: serves a
//! directory to curl, keeps idle keep-alive connections parked, drains on SIGTERM.

use std::io::{Read, Write};
use std::process::Command;

mod util;

use util::example_process::{assert_clean_exit, Example};
use util::transports::TempDir;
use util::{assert_clean_eof, connect};

fn serves_a_directory_and_drains_on_sigterm(mode: &str) {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/hello.txt"), "hello over http\n").unwrap();
    let site = dir.join("site");
    let (server, address) = Example::serve(
        "http_server",
        &[
            "--directory",
            site.to_str().unwrap(),
            "--workers",
            "2",
            "--mode",
            mode,
            "--header-timeout",
            "0.5",
        ],
    );
    let curl = Command::new("curl")
        .args(["-sS", "--fail", &format!("http://{address}/hello.txt")])
        .output()
        .expect("curl must be installed");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "hello over http\n");
    // A head that stops half-way gets 408 once the header timeout passes.
    let mut slow = connect(address);
    slow.write_all(b"GET /hello.txt HTTP/1.1\r\nHo").unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    // An idle keep-alive connection is closed cleanly by the drain, after its answer.
    let mut idle = connect(address);
    idle.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = vec![0; 1];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).ends_with("hello over http\n") {
        idle.read_exact(&mut reply).unwrap();
        got.push(reply[0]);
    }
    let finished = server.stop_with(libc::SIGTERM, "http_server");
    assert_clean_exit(&finished);
    assert!(
        finished.stderr.contains("http_server: drained in"),
        "{finished:#?}"
    );
    assert_clean_eof(&mut idle);
}

#[test]
fn http_server_serves_a_directory_and_drains_on_sigterm() {
    serves_a_directory_and_drains_on_sigterm("pool");
}

#[test]
fn http_server_event_mode_serves_a_directory_and_drains_on_sigterm() {
    serves_a_directory_and_drains_on_sigterm("event");
}

/// Every other strategy serves the same directory: a keep-alive pair of requests with curl
/// (the second on the same connection), then a SIGTERM drain and exit 0.
#[test]
fn http_server_every_other_mode_serves_and_drains() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/a.txt"), "a\n").unwrap();
    std::fs::write(dir.join("site/b.txt"), "b\n").unwrap();
    let site = dir.join("site");
    for mode in ["threading", "sequential", "forking"] {
        let (server, address) = Example::serve(
            "http_server",
            &["--directory", site.to_str().unwrap(), "--mode", mode],
        );
        let curl = Command::new("curl")
            .args([
                "-sS",
                "-v",
                "--fail",
                &format!("http://{address}/a.txt"),
                &format!("http://{address}/b.txt"),
            ])
            .output()
            .expect("curl must be installed");
        let stderr = String::from_utf8_lossy(&curl.stderr);
        assert_eq!(
            String::from_utf8_lossy(&curl.stdout),
            "a\nb\n",
            "{mode}: {stderr}"
        );
        assert!(
            stderr.contains("Re-using existing connection"),
            "{mode}: {stderr}"
        );
        let finished = server.stop_with(libc::SIGTERM, "http_server");
        assert_clean_exit(&finished);
    }
}

#[test]
fn http_server_bad_usage_and_missing_directory() {
    let bad = Example::spawn("http_server", &["--mode", "bogus"]).finish();
    assert_eq!(bad.status.code(), Some(2), "{bad:#?}");
    // An unknown flag is named as one, even without a value after it.
    let unknown = Example::spawn("http_server", &["--bogus"]).finish();
    assert_eq!(unknown.status.code(), Some(2), "{unknown:#?}");
    assert!(
        unknown.stderr.contains("unknown argument \"--bogus\""),
        "{unknown:#?}"
    );
    let missing = Example::spawn(
        "http_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--directory",
            "/no/such/directory/here",
        ],
    )
    .finish();
    missing.assert_one_line_failure(1);
}
