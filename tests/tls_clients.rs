//! The examples' `--tls-cert`/`--tls-key` against the real clients users run: curl, openssl
//! s_client and Python's ssl (installed by tests/run where missing), plus what only raw bytes
//! show (forked children's server randoms).

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use util::example_process::{assert_clean_exit, Example};
use util::tls::{Authority, Client, Identity, PemFiles};
use util::PATIENCE;

/// A CA, a certificate for localhost, and their files.
struct Pki {
    ca: Authority,
    files: PemFiles,
}

impl Pki {
    fn new(label: &str) -> Pki {
        let ca = Authority::new("test CA");
        let files = PemFiles::new(label);
        files.write("ca.pem", &ca.pem());
        let pki = Pki { ca, files };
        pki.write_identity(&pki.ca.issue(&["localhost"]));
        pki
    }

    fn write_identity(&self, identity: &Identity) {
        self.files.write("cert.pem", &identity.cert_pem);
        self.files.write("key.pem", &identity.key_pem);
    }

    fn arg(&self, name: &str) -> String {
        self.files.path(name).display().to_string()
    }

    fn tls_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.arg("cert.pem"),
            "--tls-key".into(),
            self.arg("key.pem"),
        ]
    }
}

fn serve(name: &'static str, pki: &Pki, extra: &[&str]) -> (Example, SocketAddr) {
    let tls = pki.tls_args();
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(tls.iter().map(String::as_str));
    Example::serve(name, &args)
}

/// http_server --tls-cert over the PKI's directory, with `extra` arguments.
fn serve_directory(pki: &Pki, extra: &[&str]) -> (Example, SocketAddr) {
    let directory = pki.arg("");
    let mut args = vec!["--directory", directory.as_str()];
    args.extend_from_slice(extra);
    serve("http_server", pki, &args)
}

fn stop(example: Example) {
    let finished = example.stop_with(libc::SIGTERM, "SIGTERM");
    assert_clean_exit(&finished);
}

/// Runs `program` with `args`, `input` on stdin; its stdout and stderr together.
fn run(program: &str, args: &[&str], input: &[u8]) -> String {
    run_within(program, args, input, PATIENCE)
}

/// [`run`], for a program that may take up to `limit`.
fn run_within(program: &str, args: &[&str], input: &[u8], limit: std::time::Duration) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed (tests/run installs it): {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output =
        util::join_within(std::thread::spawn(move || child.wait_with_output()), limit).unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

#[test]
fn curl_fetches_files_over_https_in_every_mode() {
    let pki = Pki::new("curl");
    let body: String = (0..40_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    pki.files.write("page.txt", &body);
    for mode in ["pool", "event", "coroutine", "threading"] {
        let (example, address) = serve_directory(&pki, &["--mode", mode]);
        let url = format!("https://localhost:{}/page.txt", address.port());
        let resolve = format!("localhost:{}:127.0.0.1", address.port());
        let got = run(
            "curl",
            &[
                "-sS",
                "--cacert",
                &pki.arg("ca.pem"),
                "--resolve",
                &resolve,
                &url,
            ],
            b"",
        );
        assert!(
            got == body,
            "{mode}: curl got {} bytes: {:.200}",
            got.len(),
            got
        );
        stop(example);
    }
}

/// openssl s_client sees close_notify (no "unexpected eof") after a response that closes, in
/// TLS 1.3 and 1.2, with ALPN.
#[test]
fn openssl_sees_close_notify_and_alpn() {
    let pki = Pki::new("openssl");
    pki.files.write("hello.txt", "hello\n");
    let (example, address) = serve_directory(&pki, &[]);
    let connect = address.to_string();
    for version in ["-tls1_3", "-tls1_2"] {
        let request = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let out = run(
            "openssl",
            &[
                "s_client",
                "-connect",
                &connect,
                "-servername",
                "localhost",
                "-CAfile",
                &pki.arg("ca.pem"),
                "-alpn",
                "http/1.1",
                "-ign_eof",
                version,
            ],
            request,
        );
        assert!(
            out.contains("Verify return code: 0 (ok)"),
            "{version}: {out}"
        );
        assert!(out.contains("ALPN protocol: http/1.1"), "{version}: {out}");
        assert!(out.contains("HTTP/1.1 200 OK"), "{version}: {out}");
        assert!(out.contains("hello"), "{version}: {out}");
        assert!(
            !out.to_lowercase().contains("unexpected eof"),
            "{version}: {out}"
        );
    }
    // Plaintext to the HTTPS port: Go's 400, then the close.
    let mut plain = TcpStream::connect(address).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = plain.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.0 400 Bad Request"), "{answer}");
    stop(example);
}

#[test]
fn python_ssl_echoes_and_unwraps_cleanly() {
    let pki = Pki::new("python");
    for mode in ["pool", "event", "coroutine", "threading", "forking"] {
        let (example, address) = serve("echo", &pki, &["--mode", mode]);
        let script = format!(
            "import socket, ssl\n\
             ctx = ssl.create_default_context(cafile={ca:?})\n\
             s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port})), server_hostname='localhost')\n\
             s.sendall(b'ping over tls\\n')\n\
             got = b''\n\
             while not got.endswith(b'\\n'):\n    got += s.recv(100)\n\
             version = s.version()\n\
             s.unwrap()\n\
             print(version, got.decode().strip())\n",
            ca = pki.arg("ca.pem"),
            port = address.port()
        );
        let out = run("python3", &["-c", &script], b"");
        assert_eq!(out.trim(), "TLSv1.3 ping over tls", "{mode}");
        stop(example);
    }
}

/// A session resumed in another forked child (stateless tickets keyed before the fork), with
/// openssl's -sess_out/-sess_in; pre-fork workers too.
#[test]
fn sessions_resume_across_forked_children() {
    let pki = Pki::new("resume");
    for extra in [
        &["--mode", "forking"][..],
        &["--processes", "2", "--mode", "pool"][..],
    ] {
        let (example, address) = serve("echo", &pki, extra);
        let connect = address.to_string();
        let session = pki.arg("session.pem");
        let ca = pki.arg("ca.pem");
        let s_client = |session_flag: &str| {
            let mut child = Command::new("openssl")
                .args([
                    "s_client",
                    "-connect",
                    &connect,
                    "-servername",
                    "localhost",
                    "-CAfile",
                    &ca,
                    "-tls1_3",
                    session_flag,
                    &session,
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"ticket please\n").unwrap();
            // The echo (and the ticket sent after the handshake) come back before stdin ends.
            let mut stdout = child.stdout.take().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0; 4096];
            while !String::from_utf8_lossy(&seen).contains("ticket please") {
                let n = stdout.read(&mut buf).unwrap();
                assert!(
                    n > 0,
                    "s_client ended early: {}",
                    String::from_utf8_lossy(&seen)
                );
                seen.extend_from_slice(&buf[..n]);
            }
            drop(stdin);
            stdout.read_to_end(&mut seen).unwrap();
            child.wait().unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        };
        let first = s_client("-sess_out");
        assert!(first.contains("New, TLSv1.3"), "{first}");
        let second = s_client("-sess_in");
        assert!(second.contains("Reused, TLSv1.3"), "{extra:?}: {second}");
        stop(example);
    }
}

/// The ServerHello's random of one handshake, from the raw bytes.
fn server_random(ca: &Authority, address: SocketAddr) -> [u8; 32] {
    let hello = util::tls::client_hello(ca);
    let mut socket = TcpStream::connect(address).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.write_all(&hello).unwrap();
    // A handshake record (22), its length, a ServerHello (2), its length, the version: the
    // random is bytes 11..43.
    let mut head = [0; 43];
    socket.read_exact(&mut head).unwrap();
    assert_eq!((head[0], head[5]), (22, 2), "a ServerHello");
    head[11..43].try_into().unwrap()
}

#[test]
fn forked_children_never_share_a_server_random() {
    let pki = Pki::new("random");
    let (example, address) = serve("echo", &pki, &["--mode", "forking"]);
    let randoms: Vec<[u8; 32]> = (0..8).map(|_| server_random(&pki.ca, address)).collect();
    let mut distinct = randoms.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        randoms.len(),
        "two children produced the same random"
    );
    stop(example);
}

/// SIGUSR1 reloads the files with connections open: new connections get the new certificate,
/// open ones go on; a bad file keeps the certificate in force and says why on stderr.
#[test]
fn sigusr1_reloads_the_certificate_with_connections_open() {
    let pki = Pki::new("reload");
    let (example, address) = serve("echo", &pki, &["--mode", "pool"]);
    let client = Client::new(&pki.ca, "localhost");
    let mut open = client.connect(address).unwrap();
    let first = open.conn.peer_certificates().unwrap()[0].clone();
    let next = pki.ca.issue(&["localhost"]);
    pki.write_identity(&next);
    example.signal(libc::SIGUSR1);
    assert!(util::eventually(|| {
        let fresh = client.connect(address).unwrap();
        fresh.conn.peer_certificates().unwrap()[0] == next.der()
    }));
    assert_eq!(
        util::tls::line_exchange(&mut open, b"still here\n"),
        b"still here\n"
    );
    assert_ne!(first, next.der());
    // A key that does not match: refused, the certificate in force stays.
    pki.files
        .write("key.pem", &pki.ca.issue(&["localhost"]).key_pem);
    example.signal(libc::SIGUSR1);
    let finished = {
        let fresh = client.connect(address).unwrap();
        let got = fresh.conn.peer_certificates().unwrap()[0].clone();
        assert!(got == next.der(), "first? {}", got == first);
        drop((fresh, open));
        example.stop_with(libc::SIGTERM, "SIGTERM")
    };
    assert!(
        finished
            .stderr_lines()
            .iter()
            .any(|line| line.contains("TLS reload failed")),
        "{:?}",
        finished.stderr_lines()
    );
}

/// testssl.sh (Debian's `testssl`) scans http_server --tls-cert: protocols, cipher
/// categories, forward secrecy, server defaults and the known vulnerabilities, with no finding
/// of HIGH or CRITICAL severity.
#[test]
fn testssl_finds_nothing_high_or_critical() {
    let pki = Pki::new("testssl");
    pki.files.write("index.html", "<p>hello</p>\n");
    let (example, address) = serve_directory(&pki, &[]);
    let json = pki.arg("findings.json");
    let target = format!("https://localhost:{}/", address.port());
    // A full scan of these sections takes testssl about half a minute.
    let out = run_within(
        "testssl",
        &[
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--ip",
            "127.0.0.1",
            "--add-ca",
            &pki.arg("ca.pem"),
            "--severity",
            "HIGH",
            "--jsonfile",
            &json,
            "-p",
            "-s",
            "-f",
            "-S",
            "-U",
            &target,
        ],
        b"",
        std::time::Duration::from_secs(240),
    );
    let findings = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}: {out}"));
    // Each finding is one object with an "id" and a "severity"; testssl's own notes about
    // the scan are of other severities, filtered out by --severity.
    let serious: Vec<&str> = findings
        .lines()
        .filter(|line| {
            line.contains("\"severity\"") && (line.contains("HIGH") || line.contains("CRITICAL"))
        })
        .collect();
    assert!(serious.is_empty(), "{serious:#?}\n{findings}");
    assert!(out.contains("TLS 1.3"), "the scan ran: {out}");
    stop(example);
}
