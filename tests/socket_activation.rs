//! Socket activation and readiness against the real programs: `systemd-socket-activate`
//! (Debian's systemd package; `tests/run` installs it) passes sockets to `echo` in the
//! `LISTEN_FDS` format, and a datagram socket of the test stands in for systemd's
//! `NOTIFY_SOCKET`.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};

mod util;

use util::example_process::{example_path, Example};
use util::transports::TempDir;
use util::{
    activator_listens, connect, connect_unix, exchange, free_tcp_port, send_signal, PATIENCE,
};

/// A child process killed on drop unless it was waited for.
struct Running(Option<Child>);

impl Running {
    fn pid(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    /// Waits for the exit (bounded by PATIENCE through a watchdog kill) and returns the code
    /// and stderr.
    fn wait(mut self) -> (Option<i32>, String) {
        let mut child = self.0.take().unwrap();
        let pid = child.id() as libc::pid_t;
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if finished.recv_timeout(PATIENCE).is_err() {
                // SAFETY: kill has no memory-safety preconditions; the pid is our child, not
                // reaped yet (we hold it).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_string(&mut stderr).unwrap();
        }
        let status = child.wait().unwrap();
        let _ = done.send(());
        watchdog.join().unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `systemd-socket-activate ARGS… echo ECHO_ARGS…` and waits until it listens (it says
/// so on stderr, one line per socket). The activator execs echo at the first connection.
fn activate(activator_args: &[&str], echo_args: &[&str], sockets: usize) -> (Running, Child2) {
    let mut command = Command::new("systemd-socket-activate");
    command
        .args(activator_args)
        .arg(example_path("echo"))
        .args(echo_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .expect("systemd-socket-activate (Debian's systemd package) must be installed");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    activator_listens(&mut stderr, sockets);
    child.stderr = None;
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    (Running(Some(child)), Child2 { stdout, rest })
}

/// The activated echo's output.
struct Child2 {
    stdout: BufReader<std::process::ChildStdout>,
    rest: std::thread::JoinHandle<String>,
}

impl Child2 {
    fn ready_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }
}

#[test]
fn echo_serves_an_inherited_tcp_socket() {
    serves_an_inherited_tcp_socket(&[]);
}

#[test]
fn echo_coroutine_serves_an_inherited_tcp_socket() {
    serves_an_inherited_tcp_socket(&["--mode", "coroutine"]);
}

fn serves_an_inherited_tcp_socket(echo_args: &[&str]) {
    let port = free_tcp_port();
    let address = format!("127.0.0.1:{port}");
    let (running, mut output) = activate(&["-l", &address], echo_args, 1);
    let mut client = connect(address.parse().unwrap());
    exchange(&mut client, b"activated");
    assert_eq!(output.ready_line(), format!("listening on {address}"));
    drop(client);
    send_signal(running.pid(), libc::SIGTERM);
    let (code, _) = running.wait();
    assert_eq!(code, Some(0));
    assert!(output.rest.join().unwrap().contains("echo: drained in"));
}

/// Two sockets, named: `--fd-name` picks the second; the ready line shows its path, and the
/// path stays (it belongs to the service manager).
#[test]
fn echo_picks_an_inherited_socket_by_name() {
    let dir = TempDir::new();
    let first = dir.join("first.sock");
    let second = dir.join("second.sock");
    let (running, mut output) = activate(
        &[
            "-l",
            first.to_str().unwrap(),
            "-l",
            second.to_str().unwrap(),
            "--fdname=one:two",
        ],
        &["--fd-name", "two", "--mode", "event"],
        2,
    );
    // The activator starts echo at the first connection on either socket.
    let starter = std::thread::spawn({
        let second = second.clone();
        move || exchange(&mut connect_unix(&second), b"to two")
    });
    assert_eq!(
        output.ready_line(),
        format!("listening on {}", second.display())
    );
    starter.join().unwrap();
    exchange(&mut connect_unix(&second), b"again");
    send_signal(running.pid(), libc::SIGTERM);
    let (code, _) = running.wait();
    assert_eq!(code, Some(0));
    assert!(
        second.exists(),
        "the manager's socket file is left in place"
    );
}

/// A datagram socket with `--unix-dgram`: served.
#[test]
fn echo_serves_an_inherited_datagram_socket() {
    let dir = TempDir::new();
    let path = dir.join("dgram.sock");
    let (running, mut output) = activate(
        &["--datagram", "-l", path.to_str().unwrap()],
        &["--unix-dgram", "ignored-when-inherited"],
        1,
    );
    let client_path = dir.join("client.sock");
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"datagram", &path).unwrap();
    let mut reply = [0; 16];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"datagram");
    assert_eq!(
        output.ready_line(),
        format!("listening on {}", path.display())
    );
    send_signal(running.pid(), libc::SIGTERM);
    assert_eq!(running.wait().0, Some(0));
}

/// A datagram socket where echo expects a stream: exit 1 and one stderr line that says why.
#[test]
fn echo_refuses_an_inherited_socket_of_the_wrong_type() {
    let dir = TempDir::new();
    let path = dir.join("wrong.sock");
    let (running, output) = activate(&["--datagram", "-l", path.to_str().unwrap()], &[], 1);
    let client = UnixDatagram::unbound().unwrap();
    client.send_to(b"wake up", &path).unwrap();
    let (code, _) = running.wait();
    assert_eq!(code, Some(1));
    let stderr = output.rest.join().unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("echo:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("Unix datagram socket") && lines[0].contains("needs a listening"),
        "{stderr}"
    );
}

/// Starts echo with `NOTIFY_SOCKET` (and a watchdog) pointing at a datagram socket of ours.
fn notify_run(notify_socket: &str, receiver: &UnixDatagram) {
    let mut command = Command::new(example_path("echo"));
    command
        .args(["--addr", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", notify_socket)
        .env("WATCHDOG_USEC", "100000");
    let (echo, _) = Example::serve_command("echo", command);
    receiver.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0; 512];
    let mut next = || {
        let n = receiver.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    assert!(ready.contains("READY=1"), "{ready}");
    assert!(ready.contains("STATUS=listening on 127.0.0.1:"), "{ready}");
    // The loop pings every WATCHDOG_USEC / 2 while it idles.
    for _ in 0..3 {
        assert_eq!(next(), "WATCHDOG=1\n");
    }
    echo.signal(libc::SIGTERM);
    loop {
        let message = next();
        if message.contains("STOPPING=1") {
            break;
        }
        assert_eq!(message, "WATCHDOG=1\n");
    }
    assert_eq!(echo.finish().status.code(), Some(0));
}

#[test]
fn echo_notifies_ready_watchdog_and_stopping_on_a_path_socket() {
    let dir = TempDir::new();
    let path = dir.join("notify.sock");
    let receiver = UnixDatagram::bind(&path).unwrap();
    notify_run(path.to_str().unwrap(), &receiver);
}

#[test]
fn echo_notifies_on_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("socketserver-notify-test-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let receiver = UnixDatagram::bind_addr(&address).unwrap();
    notify_run(&format!("@{name}"), &receiver);
}

/// A UDP socket with `--udp`: served, and the ready line shows its address.
#[test]
fn echo_serves_an_inherited_udp_socket() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let (running, mut output) = activate(&["--datagram", "-l", &address], &["--udp"], 1);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"udp datagram", &address).unwrap();
    let mut reply = [0; 32];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"udp datagram");
    assert_eq!(output.ready_line(), format!("listening on {address}"));
    send_signal(running.pid(), libc::SIGTERM);
    assert_eq!(running.wait().0, Some(0));
}
