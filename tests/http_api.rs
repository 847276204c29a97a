//! The `http_api` example (a key-value store over HTTP with JSON errors), as a process, in
//! both modes: the real `curl` (PUT, GET, DELETE, 404, 405 with `Allow`, 413 for an upload
//! over the limit, percent-encoded keys, a value large enough to be streamed) and Python's
//! `http.client` (PUT, GET and DELETE on one keep-alive connection).

use std::process::Command;

mod util;

use util::example_process::{assert_clean_exit, Example};
use util::transports::TempDir;

/// The limit the tests start the example with: 2 MiB (a pool gathers 1 MiB, streams more).
const MAX_BODY: usize = 2 << 20;

/// A response as curl printed it: status, head and body.
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A JSON error: the status, `application/json`, and the exact body.
    fn assert_json_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        assert_eq!(self.header("Content-Type"), Some("application/json"));
        assert_eq!(
            self.text(),
            format!(r#"{{"error":"{message}","status":{status}}}"#)
        );
    }
}

/// Runs curl with `args` (`-i`: the head is printed before the body).
fn curl(args: &[&str]) -> Reply {
    let output = Command::new("curl")
        .args(["-sS", "-i"])
        .args(args)
        .output()
        .expect("curl must be installed");
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    let mut rest = &output.stdout[..];
    loop {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no head from curl {args:?}: {output:?}"));
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 4..];
        // `100 Continue` (curl asks for it before a large upload) comes before the answer.
        if head.starts_with("HTTP/1.1 100") {
            continue;
        }
        let status = head[9..12].parse().unwrap();
        return Reply {
            status,
            head,
            body: rest.to_vec(),
        };
    }
}

fn the_store_over_curl(mode: &str) {
    let max_body = MAX_BODY.to_string();
    let (server, address) = Example::serve("http_api", &["--mode", mode, "--max-body", &max_body]);
    let url = |path: &str| format!("http://{address}{path}");

    // PUT a new key, then replace it.
    let created = curl(&["-X", "PUT", "--data-binary", "hello", &url("/kv/greeting")]);
    assert_eq!(created.status, 201, "{}", created.head);
    let replaced = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        "hello, world",
        &url("/kv/greeting"),
    ]);
    assert_eq!(replaced.status, 204, "{}", replaced.head);
    let got = curl(&[&url("/kv/greeting")]);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(got.text(), "hello, world");

    // A percent-encoded key is the decoded key; binary values come back as they went.
    let dir = TempDir::new();
    let value: Vec<u8> = (0..=255).collect();
    std::fs::write(dir.join("value"), &value).unwrap();
    let file = format!("@{}", dir.join("value").display());
    assert_eq!(
        curl(&["-X", "PUT", "--data-binary", &file, &url("/kv/a%20b")]).status,
        201
    );
    assert_eq!(curl(&[&url("/kv/a%20b")]).body, value);
    let listing = curl(&[&url("/kv/")]);
    assert_eq!(listing.header("Content-Type"), Some("application/json"));
    assert_eq!(listing.text(), r#"["a b","greeting"]"#);

    // 404 and 405, in JSON.
    curl(&[&url("/kv/missing")]).assert_json_error(404, "not found");
    curl(&[&url("/elsewhere")]).assert_json_error(404, "not found");
    let refused = curl(&["-X", "POST", "--data-binary", "x", &url("/kv/greeting")]);
    refused.assert_json_error(
        405,
        "POST is not allowed here; allowed: GET, HEAD, PUT, DELETE",
    );
    assert_eq!(refused.header("Allow"), Some("GET, HEAD, PUT, DELETE"));

    // An upload one byte over the limit: 413 in JSON, by Content-Length and chunked alike
    // (chunked on a pool: streamed, refused as the handler reads past the limit).
    std::fs::write(dir.join("big"), vec![b'b'; MAX_BODY + 1]).unwrap();
    let big = format!("@{}", dir.join("big").display());
    let too_large = "the request body is larger than the server takes";
    curl(&["-X", "PUT", "--data-binary", &big, &url("/kv/big")]).assert_json_error(413, too_large);
    let chunked = ["-H", "Transfer-Encoding: chunked"];
    curl(
        &[
            &chunked[..],
            &["-X", "PUT", "--data-binary", &big, &url("/kv/big")],
        ]
        .concat(),
    )
    .assert_json_error(413, too_large);
    assert_eq!(curl(&[&url("/kv/big")]).status, 404);

    // A value over what a pool gathers (1 MiB), under the limit: streamed in, whole out.
    let large: Vec<u8> = (0..MAX_BODY - 1).map(|n| (n % 253) as u8).collect();
    std::fs::write(dir.join("large"), &large).unwrap();
    let large_file = format!("@{}", dir.join("large").display());
    assert_eq!(
        curl(&["-X", "PUT", "--data-binary", &large_file, &url("/kv/large")]).status,
        201
    );
    let large2 = url("/kv/large2");
    let chunked_put = [
        &chunked[..],
        &["-X", "PUT", "--data-binary", &large_file, &large2],
    ]
    .concat();
    assert_eq!(curl(&chunked_put).status, 201);
    assert!(curl(&[&url("/kv/large")]).body == large);
    assert!(curl(&[&url("/kv/large2")]).body == large);

    // DELETE, then it is gone.
    assert_eq!(curl(&["-X", "DELETE", &url("/kv/greeting")]).status, 204);
    curl(&["-X", "DELETE", &url("/kv/greeting")]).assert_json_error(404, "not found");
    curl(&[&url("/kv/greeting")]).assert_json_error(404, "not found");

    let finished = server.stop_with(libc::SIGTERM, "http_api");
    assert_clean_exit(&finished);
}

#[test]
fn http_api_pool_serves_the_store_to_curl() {
    the_store_over_curl("pool");
}

#[test]
fn http_api_event_serves_the_store_to_curl() {
    the_store_over_curl("event");
}

/// PUT, GET and DELETE on one keep-alive connection, with Python's `http.client`.
const PYTHON_CLIENT: &str = r#"
import http.client, json, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=20)
conn.connect()
sock = conn.sock
conn.request("PUT", "/kv/caf%C3%A9", body=b"\x00latte\xff")
put = conn.getresponse()
assert (put.status, put.read()) == (201, b""), put.status
conn.request("GET", "/kv/caf%C3%A9")
got = conn.getresponse()
assert got.status == 200, got.status
assert got.getheader("Content-Type") == "application/octet-stream"
assert got.read() == b"\x00latte\xff"
conn.request("GET", "/kv/")
assert json.loads(conn.getresponse().read()) == ["café"]
conn.request("DELETE", "/kv/caf%C3%A9")
deleted = conn.getresponse()
assert (deleted.status, deleted.read()) == (204, b""), deleted.status
conn.request("GET", "/kv/caf%C3%A9")
gone = conn.getresponse()
assert gone.status == 404 and gone.getheader("Content-Type") == "application/json"
assert json.loads(gone.read()) == {"error": "not found", "status": 404}
assert conn.sock is sock, "the connection was not kept"
print("ok")
"#;

fn python_keeps_one_connection(mode: &str) {
    let (server, address) = Example::serve("http_api", &["--mode", mode]);
    let output = Command::new("python3")
        .args([
            "-c",
            PYTHON_CLIENT,
            &address.ip().to_string(),
            &address.port().to_string(),
        ])
        .output()
        .expect("python3 must be installed");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
    assert_clean_exit(&server.stop_with(libc::SIGTERM, "http_api"));
}

#[test]
fn http_api_pool_keeps_a_python_connection() {
    python_keeps_one_connection("pool");
}

#[test]
fn http_api_event_keeps_a_python_connection() {
    python_keeps_one_connection("event");
}

/// `--bind` and `--port` (Python's `http.server` flags) make the address too.
#[test]
fn http_api_takes_bind_and_port() {
    let (server, address) =
        Example::serve_with("http_api", &["--bind", "127.0.0.1", "--port", "0"]);
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let reply = curl(&[&format!("http://{address}/kv/")]);
    assert_eq!((reply.status, reply.text().as_str()), (200, "[]"));
    assert_clean_exit(&server.stop_with(libc::SIGTERM, "http_api"));
}

/// Bad usage: one stderr line, exit 2, as the other examples.
#[test]
fn http_api_refuses_bad_flags() {
    for args in [
        &["--nonsense"][..],
        &["--mode", "forking"],
        &["--port", "http"],
        &["--max-body", "-1"],
        &["--addr"],
    ] {
        Example::spawn("http_api", args)
            .finish()
            .assert_one_line_failure(2);
    }
}
