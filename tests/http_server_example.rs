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

#[test]
fn http_server_coroutine_mode_serves_a_directory_and_drains_on_sigterm() {
    serves_a_directory_and_drains_on_sigterm("coroutine");
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
    let bad = Example::spawn("http_server", &["--small-file-cache", "maybe"]).finish();
    assert_eq!(bad.status.code(), Some(2), "{bad:#?}");
    assert!(bad.stderr.contains("takes on or off"), "{bad:#?}");
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

/// REDbot (the HTTP linter, PyPI's `redbot`) finds no problem — nothing it rates a warning or
/// worse — with a file (with its ranged request and conditional requests), a directory
/// listing, and a directory's redirect. (REDbot asks a file of fewer than 97 bytes for all of
/// its bytes as a "range" and warns at either answer, 200 or 206: the file here is larger.)
fn redbot_finds_no_problem(mode: &str) {
    let dir = TempDir::new();
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("sub")).unwrap();
    let data: Vec<u8> = (0..4096u32).map(|n| (n % 251) as u8).collect();
    std::fs::write(site.join("data.bin"), data).unwrap();
    std::fs::write(site.join("sub/notes.txt"), "notes\n").unwrap();
    let (server, address) = Example::serve(
        "http_server",
        &["--directory", site.to_str().unwrap(), "--mode", mode],
    );
    for target in ["/data.bin", "/", "/sub/", "/sub"] {
        let url = format!("http://{address}{target}");
        let har = Command::new("redbot")
            .args(["-o", "har", &url])
            .output()
            .expect("redbot (PyPI's redbot) must be installed: tests/run installs it");
        assert!(har.status.success(), "{har:?}");
        // The notes REDbot rates WARN or BAD, one per line, from its HAR output.
        let mut judge = Command::new("python3")
            .args([
                "-c",
                "import json, sys\n\
                 notes = [n for e in json.load(sys.stdin)['log']['entries'] for n in e.get('_red_messages', [])]\n\
                 assert notes, 'REDbot made no notes'\n\
                 for n in notes:\n\
                 \x20   if n.get('level') not in ('good', 'info', 'GOOD', 'INFO'): print(n.get('level'), n.get('summary'))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 must be installed");
        judge.stdin.take().unwrap().write_all(&har.stdout).unwrap();
        let judged = judge.wait_with_output().unwrap();
        assert!(judged.status.success(), "{mode} {target}: {judged:?}");
        assert_eq!(
            String::from_utf8_lossy(&judged.stdout),
            "",
            "{mode} {target}: REDbot warns"
        );
    }
    drop(server);
}

#[test]
fn redbot_finds_no_problem_pool() {
    redbot_finds_no_problem("pool");
}

#[test]
fn redbot_finds_no_problem_event() {
    redbot_finds_no_problem("event");
}

#[test]
fn redbot_finds_no_problem_coroutine() {
    redbot_finds_no_problem("coroutine");
}
