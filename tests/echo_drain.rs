//! The echo's drain contract, end to end, in every mode: SIGTERM (or SIGINT) closes the
//! listener, serves what is in flight, closes each idle connection cleanly after its last
//! answer, gives a silent client its grace, prints one summary line and exits 0; a second
//! signal closes everything at once.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

mod util;

use util::example_process::{assert_clean_exit, Example, Finished};
use util::{assert_clean_eof, connect, exchange, tcp_refused, MODES};

/// The one summary line on stderr.
fn summary(finished: &Finished) -> String {
    let lines: Vec<&str> = finished
        .stderr_lines()
        .into_iter()
        .filter(|line| line.starts_with("echo: drained in "))
        .collect();
    assert_eq!(lines.len(), 1, "one summary line: {finished:#?}");
    lines[0].to_owned()
}

/// Idle clients are closed cleanly after their answers; new connects are refused; exit 0 with
/// one summary line.
fn drains_on(mode: &str, signal: libc::c_int) {
    let (echo, address) = Example::serve("echo", &["--mode", mode]);
    // The sequential mode serves one connection at a time: one client there.
    let clients = if mode == "sequential" { 1 } else { 10 };
    let mut idle: Vec<TcpStream> = (0..clients).map(|_| connect(address)).collect();
    for (n, client) in idle.iter_mut().enumerate() {
        exchange(client, format!("message {n}\n").as_bytes());
    }
    echo.signal(signal);
    assert!(tcp_refused(address), "the listener closes");
    for client in &mut idle {
        assert_clean_eof(client);
    }
    let finished = echo.finish();
    assert_clean_exit(&finished);
    let line = summary(&finished);
    assert!(line.contains(" 0 forced"), "{line}");
    assert!(line.ends_with(" 0 still running"), "{line}");
}

#[test]
fn echo_drains_on_sigterm_in_every_mode() {
    for mode in MODES {
        drains_on(mode, libc::SIGTERM);
    }
}

#[test]
fn echo_drains_on_sigint_in_every_mode() {
    for mode in MODES {
        drains_on(mode, libc::SIGINT);
    }
}

/// A client that connected just before the signal and sends its first bytes after it (within
/// the grace) gets its answer, then a clean end-of-file.
#[test]
fn a_client_that_speaks_within_the_grace_is_answered() {
    for mode in ["threading", "pool", "event", "coroutine", "forking"] {
        let (echo, address) = Example::serve("echo", &["--mode", mode]);
        let mut client = connect(address);
        // Accepted or still in the backlog: either way it is served.
        echo.signal(libc::SIGTERM);
        assert!(tcp_refused(address), "the listener closes");
        exchange(&mut client, b"late but within the grace\n");
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert_clean_eof(&mut client);
        let finished = echo.finish();
        assert_clean_exit(&finished);
        let line = summary(&finished);
        assert!(line.contains(" 0 forced"), "{mode}: {line}");
    }
}

/// Writes without reading until the echo's output backs up: its handler is then blocked in a
/// write, in the middle of an answer, and no drain can call the connection idle. "Backed up":
/// more than 1 MiB sent and then no progress for a second (the echo reads whenever it is not
/// blocked writing, so a stall that long means it is).
fn stuck_client(address: SocketAddr) -> (TcpStream, thread::JoinHandle<()>) {
    let client = connect(address);
    let mut writer = client.try_clone().unwrap();
    writer.set_nonblocking(true).unwrap();
    let (backed_up_tx, backed_up) = std::sync::mpsc::channel();
    let writing = thread::spawn(move || {
        let chunk = [b'z'; 64 * 1024];
        let mut sent = 0usize;
        let mut told = false;
        loop {
            match writer.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let mut poll = libc::pollfd {
                        fd: std::os::fd::AsRawFd::as_raw_fd(&writer),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd, count 1.
                    let ready = unsafe { libc::poll(&mut poll, 1, 1000) };
                    if ready == 0 && sent > 1 << 20 && !told {
                        told = true;
                        let _ = backed_up_tx.send(());
                    }
                }
                Err(_) => return, // the server closed it
            }
        }
    });
    backed_up
        .recv_timeout(util::PATIENCE)
        .expect("the echo's output backs up");
    (client, writing)
}

/// A second signal closes everything at once, even a connection in the middle of an answer.
/// (Not in sequential mode: its one serving thread is the stuck handler, so nothing shows the
/// test that the first signal has arrived before it sends the second; the library's tests
/// force a sequential server.)
#[test]
fn a_second_signal_closes_everything_at_once() {
    for mode in ["threading", "forking", "pool", "event", "coroutine"] {
        let (echo, address) = Example::serve("echo", &["--mode", mode, "--drain-timeout", "600"]);
        let (client, writing) = stuck_client(address);
        echo.signal(libc::SIGTERM);
        assert!(tcp_refused(address), "{mode}: the listener closes");
        let finished = echo.stop_with(libc::SIGTERM, &format!("echo --mode {mode}, second signal"));
        assert_clean_exit(&finished);
        let line = summary(&finished);
        assert!(!line.contains(" 0 forced"), "{mode}: {line}");
        assert!(line.ends_with(" 0 still running"), "{mode}: {line}");
        client.shutdown(std::net::Shutdown::Both).unwrap_or(());
        writing.join().unwrap();
    }
}

/// `--drain-timeout`: what is still busy then is closed, and the echo exits 0.
#[test]
fn the_drain_timeout_closes_what_remains() {
    for mode in ["threading", "pool", "event", "coroutine"] {
        let (echo, address) = Example::serve("echo", &["--mode", mode, "--drain-timeout", "0.2"]);
        let (client, writing) = stuck_client(address);
        echo.signal(libc::SIGTERM);
        let finished = echo.finish();
        assert_clean_exit(&finished);
        let line = summary(&finished);
        assert!(!line.contains(" 0 forced"), "{mode}: {line}");
        client.shutdown(std::net::Shutdown::Both).unwrap_or(());
        writing.join().unwrap();
    }
}
