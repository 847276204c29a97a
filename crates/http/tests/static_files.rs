//! `SimpleHttpRequestHandler` in both forms of the HTTP layer (a pool, event loops): files,
//! listings, redirects, conditional requests, ranges, large files streamed, 405 for methods it
//! does not take, and every way out of the served directory refused; checked with raw sockets,
//! curl and Python's `urllib`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use socketserver_http::{HttpLimits, SimpleHttpRequestHandler};

mod util;

use util::{connect, exchange_to_close, Form, Served};

struct Tree(PathBuf);

impl Tree {
    fn new() -> Tree {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("socketserver-http-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("served/sub")).unwrap();
        std::fs::write(root.join("served/a.txt"), "hello from a\n").unwrap();
        std::fs::write(root.join("served/b <x>.html"), "<p>b</p>").unwrap();
        std::fs::write(root.join("served/sub/index.html"), "<p>sub index</p>").unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("served/big.bin"), &big).unwrap();
        std::fs::write(root.join("secret.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), root.join("served/link-out")).unwrap();
        // A directory whose index is a link out of the tree.
        std::fs::create_dir_all(root.join("served/trap")).unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), root.join("served/trap/index.html"))
            .unwrap();
        Tree(root)
    }

    fn served(&self) -> PathBuf {
        self.0.join("served")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(tree: &Tree, form: Form) -> Served<SimpleHttpRequestHandler> {
    let handler = SimpleHttpRequestHandler::new(tree.served()).unwrap();
    Served::start(form, handler, HttpLimits::default())
}

/// Sends one request (with `Connection: close`) and returns the head and the body.
fn get(address: SocketAddr, target: &str, extra: &str) -> (String, Vec<u8>) {
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    let reply = exchange_to_close(address, request.as_bytes());
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    (
        String::from_utf8_lossy(&reply[..end]).into_owned(),
        reply[end..].to_vec(),
    )
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

fn files_listings_redirects_and_conditional_requests(form: Form) {
    let tree = Tree::new();
    let server = start(&tree, form);
    let address = server.address();
    let (head, body) = get(address, "/a.txt", "");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "Content-Type"), Some("text/plain"));
    assert_eq!(body, b"hello from a\n");
    let etag = header(&head, "ETag").unwrap().to_owned();
    let modified = header(&head, "Last-Modified").unwrap().to_owned();
    let (head, body) = get(address, "/a.txt", &format!("If-None-Match: {etag}\r\n"));
    assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
    assert!(body.is_empty());
    let (head, _) = get(
        address,
        "/a.txt",
        &format!("If-Modified-Since: {modified}\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
    // A listing: names escaped, links quoted.
    let (head, body) = get(address, "/", "");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains(">b &lt;x&gt;.html</a>"), "{page}");
    assert!(page.contains("href=\"b%20%3Cx%3E.html\""), "{page}");
    assert!(page.contains("href=\"sub/\""), "{page}");
    // A directory without its slash is redirected; with it, its index is served.
    let (head, _) = get(address, "/sub?x=1", "");
    assert!(head.starts_with("HTTP/1.1 301 "), "{head}");
    assert_eq!(header(&head, "Location"), Some("/sub/?x=1"));
    let (_, body) = get(address, "/sub/", "");
    assert_eq!(body, b"<p>sub index</p>");
    server.stop();
}
both_forms!(files_listings_redirects_and_conditional_requests);

fn every_way_out_of_the_directory_is_refused(form: Form) {
    let tree = Tree::new();
    let server = start(&tree, form);
    let address = server.address();
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/%2E%2E/%2E%2E/secret.txt",
        "/%2Fetc%2Fpasswd",
        "//etc/passwd",
        "/a.txt%00.html",
        "/link-out",
        "/trap/index.html",
        "/sub/..%5C..%5Csecret.txt",
        "/%zz",
    ] {
        let (head, body) = get(address, target, "");
        assert!(head.starts_with("HTTP/1.1 404 "), "{target}: {head}");
        assert!(
            !String::from_utf8_lossy(&body).contains("outside"),
            "{target}"
        );
    }
    // A directory whose index leads out is listed, not served through its index.
    let (head, body) = get(address, "/trap/", "");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let page = String::from_utf8_lossy(&body);
    assert!(
        page.contains("Directory listing") && !page.contains("outside"),
        "{page}"
    );
    // The server goes on.
    let (head, _) = get(address, "/a.txt", "");
    assert!(head.starts_with("HTTP/1.1 200 "));
    server.stop();
}
both_forms!(every_way_out_of_the_directory_is_refused);

/// Links that stay inside are followed however they are written (relative, absolute, to a
/// directory), links that lead out are not however they are written, and what is neither a
/// file nor a directory is not served: a FIFO is answered at once (404), never waited on.
fn links_inside_and_things_that_are_not_files(form: Form) {
    use std::os::unix::fs::symlink;
    let tree = Tree::new();
    let served = tree.served();
    symlink("a.txt", served.join("relative-in")).unwrap();
    symlink(served.join("a.txt"), served.join("absolute-in")).unwrap();
    symlink("sub", served.join("sub-link")).unwrap();
    symlink("../secret.txt", served.join("relative-out")).unwrap();
    symlink("sub/../../secret.txt", served.join("winding-out")).unwrap();
    let made = Command::new("mkfifo")
        .arg(served.join("fifo"))
        .status()
        .unwrap();
    assert!(made.success());
    let server = start(&tree, form);
    let address = server.address();
    for target in ["/relative-in", "/absolute-in"] {
        let (head, body) = get(address, target, "");
        assert!(head.starts_with("HTTP/1.1 200 "), "{target}: {head}");
        assert_eq!(body, b"hello from a\n", "{target}");
    }
    let (head, body) = get(address, "/sub-link/", "");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, b"<p>sub index</p>");
    for target in ["/relative-out", "/winding-out", "/fifo"] {
        let (head, body) = get(address, target, "");
        assert!(head.starts_with("HTTP/1.1 404 "), "{target}: {head}");
        assert!(
            !String::from_utf8_lossy(&body).contains("outside"),
            "{target}"
        );
    }
    // A range of a file reached through a link is read from the same file, part by part.
    let (head, body) = get(address, "/absolute-in", "Range: bytes=0-1,4-5\r\n");
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("\r\n\r\nhe\r\n") && body.contains("\r\n\r\no \r\n"),
        "{body}"
    );
    server.stop();
}
both_forms!(links_inside_and_things_that_are_not_files);

fn ranges(form: Form) {
    let tree = Tree::new();
    let server = start(&tree, form);
    let address = server.address();
    let big = std::fs::read(tree.served().join("big.bin")).unwrap();
    let (head, body) = get(address, "/big.bin", "Range: bytes=10-19\r\n");
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    assert_eq!(header(&head, "Content-Range"), Some("bytes 10-19/100000"));
    assert_eq!(body, &big[10..20]);
    let (_, body) = get(address, "/big.bin", "Range: bytes=-5\r\n");
    assert_eq!(body, &big[99_995..]);
    let (head, _) = get(address, "/big.bin", "Range: bytes=200000-\r\n");
    assert!(head.starts_with("HTTP/1.1 416 "), "{head}");
    assert_eq!(header(&head, "Content-Range"), Some("bytes */100000"));
    let (head, body) = get(address, "/big.bin", "");
    assert!(head.starts_with("HTTP/1.1 200 "));
    assert_eq!(body, big);
    // Several ranges: multipart/byteranges, parts in the order asked.
    let (head, body) = get(address, "/big.bin", "Range: bytes=500-599, 0-9,-3\r\n");
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    let kind = header(&head, "Content-Type").unwrap();
    let boundary = kind
        .strip_prefix("multipart/byteranges; boundary=")
        .expect(kind);
    assert_eq!(
        header(&head, "Content-Length"),
        Some(body.len().to_string().as_str())
    );
    let delimiter = format!("\r\n--{boundary}");
    let text = body.iter().map(|&b| b as char).collect::<String>(); // one char per byte
    let mut pieces: Vec<&str> = text.split(delimiter.as_str()).collect();
    assert_eq!(pieces.remove(0), "", "the body starts with a delimiter");
    assert_eq!(
        pieces.pop(),
        Some("--\r\n"),
        "and ends with the closing one"
    );
    let expected = [(500, 600), (0, 10), (99_997, 100_000)];
    assert_eq!(pieces.len(), expected.len());
    for (piece, (start, end)) in pieces.iter().zip(expected) {
        let (part_head, data) = piece.split_once("\r\n\r\n").unwrap();
        assert!(
            part_head.contains(&format!("Content-Range: bytes {start}-{}/100000", end - 1)),
            "{part_head}"
        );
        let data: Vec<u8> = data.chars().map(|c| c as u8).collect();
        assert_eq!(data, &big[start..end]);
    }
    // Overlapping ranges, or a changed file (If-Range): the whole file.
    let (head, body) = get(address, "/big.bin", "Range: bytes=0-10,5-20\r\n");
    assert!(head.starts_with("HTTP/1.1 200 ") && body == big, "{head}");
    let (head, body) = get(
        address,
        "/big.bin",
        "Range: bytes=0-9\r\nIf-Range: \"an-old-version\"\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 ") && body == big, "{head}");
    let etag = header(&head, "ETag").unwrap().to_owned();
    let (head, body) = get(
        address,
        "/big.bin",
        &format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    assert_eq!(body, &big[..10]);
    server.stop();
}
both_forms!(ranges);

/// Clients no one here wrote: curl and Python's urllib.
fn curl_and_python_read_the_files(form: Form) {
    let tree = Tree::new();
    let server = start(&tree, form);
    let url = format!("http://{}/a.txt", server.address());
    let curl = Command::new("curl")
        .args(["-sS", "--fail", &url])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "hello from a\n");
    let python = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
            &url,
        ])
        .output()
        .expect("python3 must be installed");
    assert_eq!(
        String::from_utf8_lossy(&python.stdout),
        "hello from a\n",
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    server.stop();
}
both_forms!(curl_and_python_read_the_files);

/// A file far larger than any buffer arrives whole, also with a client that reads slowly; and
/// methods the handler does not take are 405 with `Allow`.
fn large_files_stream_and_post_is_405(form: Form) {
    let tree = Tree::new();
    let huge: Vec<u8> = (0..(24u32 << 20)).map(|i| (i % 253) as u8).collect();
    std::fs::write(tree.served().join("huge.bin"), &huge).unwrap();
    let server = start(&tree, form);
    let address = server.address();
    let (head, body) = get(address, "/huge.bin", "");
    assert_eq!(header(&head, "Content-Length"), Some("25165824"), "{head}");
    assert!(body == huge, "the 24 MiB file arrives intact");
    let mut slow = connect(address);
    slow.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let mut piece = vec![0; 256 * 1024];
    loop {
        let n = slow.read(&mut piece).unwrap();
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&piece[..n]);
        std::thread::yield_now();
    }
    let first_end = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(reply[first_end..first_end + huge.len()] == huge[..]);
    let second = String::from_utf8_lossy(&reply[first_end + huge.len()..]);
    assert!(
        second.starts_with("HTTP/1.1 200 OK\r\n") && second.ends_with("hello from a\n"),
        "the pipelined request is answered after the file: {second}"
    );
    let answer = exchange_to_close(
        address,
        b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Allow: GET, HEAD\r\n"), "{answer}");
    server.stop();
}
both_forms!(large_files_stream_and_post_is_405);

/// What CPython's own `test_httpservers.py` and REDbot found: `If-Modified-Since` compared as a
/// date in HTTP's three forms, a file asked for with a trailing slash, a name that is not
/// UTF-8 listed so it can be fetched, a range that reaches past the end of the file, and a
/// directory redirect that must not leave the site (`//sub` → `//sub/` is protocol-relative).
fn conformance_findings(form: Form) {
    use std::os::unix::ffi::OsStrExt;
    let tree = Tree::new();
    let odd_name = std::ffi::OsStr::from_bytes(b"caf\xe9 \xff.txt");
    std::fs::write(tree.served().join(odd_name), "not utf-8 inside a name").unwrap();
    std::fs::write(tree.served().join("fifteen.txt"), "0123456789abcde").unwrap();
    // A directory named like a host: `//evil.example` must stay on this site.
    std::fs::create_dir_all(tree.served().join("evil.example")).unwrap();
    let server = start(&tree, form);
    let address = server.address();

    let (head, _) = get(address, "/a.txt", "");
    let modified = header(&head, "Last-Modified").unwrap().to_owned();
    // RFC 850's two-digit year is the nearest one not more than 50 years ahead: 70 is 2070,
    // 94 is 1994.
    let later = [
        "Fri, 31 Dec 2100 23:59:59 GMT",
        "Wednesday, 31-Dec-70 23:59:59 GMT",
        "Fri Dec 31 23:59:59 2100",
    ];
    for since in later {
        let (head, body) = get(
            address,
            "/a.txt",
            &format!("If-Modified-Since: {since}\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 304 "), "{since}: {head}");
        assert!(body.is_empty());
    }
    for earlier in [
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "not a date",
    ] {
        let (head, _) = get(
            address,
            "/a.txt",
            &format!("If-Modified-Since: {earlier}\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 200 "), "{earlier}: {head}");
    }
    // The same date in another form is the same date.
    let asctime = {
        // "Sun, 06 Nov 1994 08:49:37 GMT" → "Sun Nov  6 08:49:37 1994"
        let parts: Vec<&str> = modified.split(' ').collect();
        let day: u32 = parts[1].parse().unwrap();
        format!(
            "{} {} {day:>2} {} {}",
            &parts[0][..3],
            parts[2],
            parts[4],
            parts[3]
        )
    };
    let (head, _) = get(
        address,
        "/a.txt",
        &format!("If-Modified-Since: {asctime}\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 304 "), "{asctime}: {head}");

    // A file is not a directory.
    let (head, _) = get(address, "/a.txt/", "");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");

    // A name that is not UTF-8: linked by its bytes, and fetched through that link.
    let (_, listing) = get(address, "/", "");
    let listing = String::from_utf8_lossy(&listing).into_owned();
    let link = "caf%E9%20%FF.txt";
    assert!(listing.contains(&format!("href=\"{link}\"")), "{listing}");
    let (head, body) = get(address, &format!("/{link}"), "");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, b"not utf-8 inside a name");

    // A last byte past the end means "to the end" (RFC 9110 14.1.1): 206, not 200.
    for range in ["bytes=0-15", "bytes=0-", "bytes=0-999999"] {
        let (head, body) = get(address, "/fifteen.txt", &format!("Range: {range}\r\n"));
        assert!(head.starts_with("HTTP/1.1 206 "), "{range}: {head}");
        assert_eq!(header(&head, "Content-Range"), Some("bytes 0-14/15"));
        assert_eq!(body, b"0123456789abcde");
    }

    // Every redirect the server makes stays on this site.
    for (target, location) in [
        ("/sub", "/sub/"),
        ("//sub", "/sub/"),
        ("//evil.example", "/evil.example/"),
        ("///evil.example?a=b", "/evil.example/?a=b"),
        ("/%2Fevil.example", "/%2Fevil.example/"),
    ] {
        let (head, _) = get(address, target, "");
        assert!(head.starts_with("HTTP/1.1 301 "), "{target}: {head}");
        assert_eq!(header(&head, "Location"), Some(location), "{target}");
    }
    server.stop();
}
both_forms!(conformance_findings);

/// Waits until every one of `paths` last changed more than a second ago: only such files are
/// kept in memory (a file changed in the clock tick it was read in could change again with
/// its times unchanged). Time passing, not synchronisation: nothing else is waited for.
fn let_settle(paths: &[PathBuf]) {
    use std::os::unix::fs::MetadataExt;
    for path in paths {
        let meta = std::fs::metadata(path).unwrap();
        let changed = std::time::UNIX_EPOCH
            + std::time::Duration::new(meta.ctime() as u64, meta.ctime_nsec() as u32);
        let settled = changed + std::time::Duration::from_millis(1100);
        if let Ok(left) = settled.duration_since(std::time::SystemTime::now()) {
            std::thread::sleep(left);
        }
    }
}

/// Small files kept in memory are served only while they are the same, unchanged file: a
/// write in place, a rename over it, its removal, a directory on its path replaced by a link
/// that leads out — each is seen by the next request. Ranges, several ranges and `HEAD` come
/// from the kept bytes as from the file.
fn kept_small_files_follow_every_change(form: Form) {
    let tree = Tree::new();
    let served = tree.served();
    std::fs::create_dir_all(served.join("k/inner")).unwrap();
    std::fs::create_dir_all(tree.0.join("elsewhere")).unwrap();
    let names = [
        "k/same.txt",
        "k/renamed.txt",
        "k/gone.txt",
        "k/inner/deep.txt",
        "k/ranged.txt",
    ];
    for name in names {
        std::fs::write(served.join(name), format!("first {name}")).unwrap();
    }
    std::fs::write(served.join("k/ranged.txt"), "0123456789").unwrap();
    std::fs::write(tree.0.join("elsewhere/deep.txt"), "outside the tree").unwrap();
    let_settle(&names.map(|name| served.join(name)));
    let server = start(&tree, form);
    let address = server.address();
    // Asked for on several connections, so every worker or loop may keep its own copy.
    for _ in 0..4 {
        for name in names {
            let (head, body) = get(address, &format!("/{name}"), "");
            assert!(head.starts_with("HTTP/1.1 200 "), "{name}: {head}");
            let expected = match name {
                "k/ranged.txt" => "0123456789".to_owned(),
                _ => format!("first {name}"),
            };
            assert_eq!(body, expected.as_bytes(), "{name}");
        }
    }

    // Written in place, the same length: the new bytes.
    std::fs::write(served.join("k/same.txt"), "FIRST k/same.txt").unwrap();
    let (_, body) = get(address, "/k/same.txt", "");
    assert_eq!(body, b"FIRST k/same.txt");
    // Replaced by a rename: the new file.
    std::fs::write(tree.0.join("replacement"), "second").unwrap();
    std::fs::rename(tree.0.join("replacement"), served.join("k/renamed.txt")).unwrap();
    let (_, body) = get(address, "/k/renamed.txt", "");
    assert_eq!(body, b"second");
    // Removed: not found.
    std::fs::remove_file(served.join("k/gone.txt")).unwrap();
    let (head, _) = get(address, "/k/gone.txt", "");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    // A directory on the path moved away and replaced by a link out of the tree, to a file
    // of the same name: refused, never the kept bytes.
    std::fs::rename(served.join("k/inner"), served.join("k/moved")).unwrap();
    std::os::unix::fs::symlink("../../elsewhere", served.join("k/inner")).unwrap();
    let (head, body) = get(address, "/k/inner/deep.txt", "");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    assert!(!String::from_utf8_lossy(&body).contains("first"));

    // The kept file's ranges and HEAD.
    let (head, body) = get(address, "/k/ranged.txt", "Range: bytes=2-4\r\n");
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    assert_eq!(header(&head, "Content-Range"), Some("bytes 2-4/10"));
    assert_eq!(body, b"234");
    let (head, body) = get(address, "/k/ranged.txt", "Range: bytes=0-1,5-6\r\n");
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert!(
        body.contains("Content-Range: bytes 0-1/10\r\n\r\n01\r\n"),
        "{body}"
    );
    assert!(
        body.contains("Content-Range: bytes 5-6/10\r\n\r\n56\r\n"),
        "{body}"
    );
    let reply = exchange_to_close(
        address,
        b"HEAD /k/ranged.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    assert!(reply.contains("Content-Length: 10\r\n"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\n"),
        "no body after a HEAD's head: {reply}"
    );
    server.stop();
}
both_forms!(kept_small_files_follow_every_change);
