//! inetd mode and per-connection activation against the real programs: socat's `EXEC:` and
//! `systemd-socket-activate --accept` (with and without `--inetd`) hand one connection to a
//! fresh `echo`, which serves it with its usual handler and exits.

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;

mod util;

use util::example_process::example_path;
use util::tls::{line_exchange, Authority, Client, PemFiles};
use util::{
    activator_listens, connect, exchange, free_tcp_port, lines_of, Reaped, MODES, PATIENCE,
};

/// Runs `socat - EXEC:"echo --inetd ARGS",stderr` with `input` on its standard input: the
/// peer's view (what came back) and socat's stderr. `stderr` gives echo the connection as
/// its standard error too, as inetd does, and echo logs at trace level: a log line that
/// reached the connection would show in what came back. socat reports an exit status other
/// than 0 on its stderr and in its own status.
fn through_socat(echo_args: &str, input: &[u8]) -> (Vec<u8>, String, bool) {
    let mut child = Command::new("socat")
        // Wait for echo's side to end however long it takes (socat's default is 0.5 s).
        .args(["-t", "30", "-"])
        .arg(format!(
            "EXEC:{} --inetd {echo_args},stderr",
            example_path("echo").display()
        ))
        .env("RUST_LOG", "socketserver=trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("socat (Debian's socat package; tests/run installs it) must be installed");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut child = Reaped::new(child);
    let mut back = Vec::new();
    stdout.read_to_end(&mut back).unwrap();
    let mut errors = String::new();
    stderr.read_to_string(&mut errors).unwrap();
    let written = writer.join().unwrap();
    let status = child.child().wait().unwrap();
    assert!(
        written.is_ok(),
        "socat stopped reading: {written:?}; {errors}"
    );
    (back, errors, status.success())
}

/// 256 KiB that no log line resembles.
fn payload() -> Vec<u8> {
    (0..256 * 1024u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn socat_exec_gets_every_byte_back_under_every_strategy() {
    let input = payload();
    for mode in MODES {
        let (back, errors, success) = through_socat(&format!("--mode {mode}"), &input);
        assert!(success, "{mode}: socat failed: {errors}");
        assert!(
            !errors.contains("exited with status"),
            "{mode}: echo did not exit 0: {errors}"
        );
        assert_eq!(back.len(), input.len(), "{mode}: {errors}");
        assert!(back == input, "{mode}: the echo differs from the input");
    }
}

#[test]
fn inetd_mode_refuses_a_pipe_with_one_line_and_status_1() {
    let output = Command::new(example_path("echo"))
        .arg("--inetd")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("not a connected TCP or Unix stream socket"),
        "{stderr}"
    );
}

#[test]
fn inetd_mode_refuses_flags_that_need_a_listening_socket() {
    for flags in [&["--processes", "2"][..], &["--udp"][..]] {
        let output = Command::new(example_path("echo"))
            .arg("--inetd")
            .args(flags)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {output:?}");
    }
}

/// `systemd-socket-activate --accept -l ADDR [--inetd] echo ARGS`: one echo per connection.
/// Returns the activator, once it listens, and its stderr (where it reports each child's
/// exit).
fn activate_per_connection(
    address: &str,
    inetd: bool,
    echo_args: &[&str],
) -> (Reaped, Receiver<String>) {
    let mut command = Command::new("systemd-socket-activate");
    command.args(["--accept", "-l", address]);
    if inetd {
        command.arg("--inetd");
    }
    let mut child = command
        .arg(example_path("echo"))
        .args(echo_args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate (Debian's systemd package) must be installed");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    activator_listens(&mut stderr, 1);
    // The rest, line by line, read on a thread: a child that never exits fails the test
    // after PATIENCE instead of hanging it.
    (Reaped::new(child), lines_of(stderr))
}

/// Reads the activator's stderr until it reports `children` exits; returns their codes.
fn child_exits(stderr: &Receiver<String>, children: usize) -> Vec<String> {
    let mut exits = Vec::new();
    while exits.len() < children {
        let line = stderr
            .recv_timeout(PATIENCE)
            .expect("the activator reports each child's exit");
        if let Some(at) = line.find(" died with ") {
            exits.push(line[at + " died with ".len()..].trim().to_owned());
        }
    }
    exits
}

fn serves_each_connection(inetd: bool, echo_args: &[&str]) {
    let address = format!("127.0.0.1:{}", free_tcp_port());
    let (_activator, stderr) = activate_per_connection(&address, inetd, echo_args);
    for message in [&b"first connection"[..], b"second connection"] {
        let mut client = connect(address.parse().unwrap());
        exchange(&mut client, message);
        exchange(&mut client, b"and more on it");
        client.shutdown(std::net::Shutdown::Write).unwrap();
        // echo closes its side once ours is closed: a clean end, not a reset.
        let mut rest = Vec::new();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    assert_eq!(child_exits(&stderr, 2), ["code 0", "code 0"]);
}

/// systemd's `Accept=yes`: the connection arrives as descriptor 3 (`LISTEN_FDS=1`), a socket
/// that is connected, not listening; echo serves it without any flag.
#[test]
fn accept_yes_connections_are_each_served_by_a_fresh_echo() {
    serves_each_connection(false, &[]);
    serves_each_connection(false, &["--mode", "event"]);
}

/// `systemd-socket-activate --accept --inetd` (systemd's `StandardInput=socket`): the
/// connection on standard input and output.
#[test]
fn inetd_style_activation_serves_the_connection_on_standard_input() {
    serves_each_connection(true, &["--inetd"]);
    serves_each_connection(true, &["--inetd", "--mode", "coroutine"]);
}

/// `--inetd --tls-cert`: the handed-over connection speaks TLS (inetd in front of TLS, as with
/// stunnel): a rustls client's handshake, the echo, and a clean close_notify each way.
#[test]
fn inetd_mode_speaks_tls_over_the_connection() {
    let ca = Authority::new("inetd CA");
    let files = PemFiles::new("inetd-tls");
    let identity = ca.issue(&["localhost"]);
    let cert = files.write("cert.pem", &identity.cert_pem);
    let key = files.write("key.pem", &identity.key_pem);
    let address = format!("127.0.0.1:{}", free_tcp_port());
    let echo_args = [
        "--inetd",
        "--mode",
        "event",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let (_activator, stderr) = activate_per_connection(&address, true, &echo_args);
    let client = Client::new(&ca, "localhost");
    for line in [&b"first over TLS\n"[..], b"second over TLS\n"] {
        let mut stream = client.connect(address.parse().unwrap()).unwrap();
        assert_eq!(line_exchange(&mut stream, line), line);
        stream.conn.send_close_notify();
        stream.flush().unwrap();
        // The server's close_notify ends the stream cleanly (no truncation error).
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    assert_eq!(child_exits(&stderr, 2), ["code 0", "code 0"]);
}
