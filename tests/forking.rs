//! The forking strategy: Python's check under every transport (and a child the test forked
//! itself is never reaped by the server), handler errors and panics that end only the child,
//! `server_close` waiting for the children, a loop at `max_children` that still answers
//! `shutdown()`, its defaults, and an idle server reaping its children.
//!
//! Every test runs in a subprocess of its own (`util::in_subprocess`): forked children inherit
//! all of a process's descriptors, so tests running side by side would hold each other's
//! sockets open.

mod util;

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use socketserver::{
    ForkingMixIn, ForkingTcpServer, RequestError, ServerHooks, StreamRequest, StreamSocket,
};
use util::transports::{Fixture, Tcp, TempDir, Udp, UnixDatagramTransport, UnixStreamTransport};
use util::{connect, join_within, read_all, stream_check, Serving, PATIENCE};

/// Forks a child of the test's own that exits at once with status 72.
fn fork_unrelated_child() -> libc::pid_t {
    // SAFETY: the child only calls `_exit`, which is async-signal-safe.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", io::Error::last_os_error()),
        // SAFETY: `_exit` never returns and runs no destructors.
        0 => unsafe { libc::_exit(72) },
        pid => pid,
    }
}

/// Reaps the test's own child and returns its exit status.
fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: `status` is valid for writes.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(
        reaped,
        pid,
        "our child was already reaped by someone else: {}",
        io::Error::last_os_error()
    );
    assert!(libc::WIFEXITED(status));
    libc::WEXITSTATUS(status)
}

/// Python's check ×3 under forking, then shutdown and close: no child of the server remains,
/// and the test's own child (exit 72) is still there for the test to reap.
fn check_and_leave_unrelated_children_alone<F: Fixture>() {
    let dir = TempDir::new();
    let unrelated = fork_unrelated_child();
    let server = F::server::<ForkingMixIn>(&dir);
    let serving = Serving::start(server);
    let address = serving.address.clone();
    for _ in 0..3 {
        F::check(&address, &dir);
    }
    let (mut server, result) = serving.stop();
    result.unwrap();
    server.server_close();
    assert_eq!(
        server.dispatch().active_children(),
        0,
        "server_close waits for every child"
    );
    assert!(server.fileno().is_none());
    assert_eq!(
        reap(unrelated),
        72,
        "the server must never reap a child it did not start"
    );
}

#[test]
fn forking_tcp_server() {
    util::in_subprocess(
        "forking_tcp_server",
        check_and_leave_unrelated_children_alone::<Tcp>,
    );
}

#[test]
fn forking_unix_stream_server() {
    util::in_subprocess(
        "forking_unix_stream_server",
        check_and_leave_unrelated_children_alone::<UnixStreamTransport>,
    );
}

#[test]
fn forking_udp_server() {
    util::in_subprocess(
        "forking_udp_server",
        check_and_leave_unrelated_children_alone::<Udp>,
    );
}

#[test]
fn forking_unix_datagram_server() {
    util::in_subprocess(
        "forking_unix_datagram_server",
        check_and_leave_unrelated_children_alone::<UnixDatagramTransport>,
    );
}

/// Writes a marker line to the client from `handle_error`, which runs in the child.
#[derive(Default)]
struct ReportToClient;

impl ServerHooks<StreamRequest> for ReportToClient {
    fn handle_error(&self, request: &StreamRequest, error: &RequestError) {
        let _ = request
            .socket()
            .write_some(format!("reported: {error}\n").as_bytes());
    }
}

/// Log lines captured from the serving thread (the parent's view of its children).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn failing(request: &mut StreamRequest) -> io::Result<()> {
    let mut line = String::new();
    request.rfile.read_line(&mut line)?;
    match line.trim_end() {
        "error" => Err(io::Error::other("refused in the child")),
        "panic" => panic!("panicked in the child"),
        _ => request.wfile.write_all(line.as_bytes()),
    }
}

/// A handler error or panic in the child is reported through `handle_error` in the child (the
/// client reads its report), the child exits non-zero (the parent logs the status), only the
/// child ends, and the server keeps serving.
#[test]
fn errors_and_panics_end_only_the_child() {
    util::in_subprocess(
        "errors_and_panics_end_only_the_child",
        errors_and_panics_end_only_the_child_body,
    );
}

fn errors_and_panics_end_only_the_child_body() {
    let mut server = ForkingTcpServer::new(
        "127.0.0.1:0",
        failing as fn(&mut StreamRequest) -> io::Result<()>,
    )
    .unwrap()
    .with_hooks(ReportToClient);
    let address = server.server_address().unwrap();
    let log = Captured::default();
    let writer = log.clone();
    let handle = server.shutdown_handle();
    let serving = thread::spawn(move || {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let result = server.serve_forever();
            server.server_close(); // reaps (and logs) the children
            result
        })
    });
    for (line, report) in [
        (
            "error\n",
            "reported: handler failed: refused in the child\n",
        ),
        (
            "panic\n",
            "reported: handler panicked: panicked in the child\n",
        ),
    ] {
        let mut client = connect(address);
        client.write_all(line.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(read_all(&mut client)).unwrap(), report);
    }
    stream_check(address);
    handle.shutdown();
    join_within(serving, PATIENCE).unwrap();
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("child ended abnormally").count(), 2, "{text}");
    assert_eq!(text.matches("exit status 1").count(), 2, "{text}");
}

/// `server_close` waits for the children. The child here can only finish once the listening
/// socket is closed, i.e. inside `server_close`; it leaves a marker file.
#[test]
fn server_close_waits_for_children() {
    util::in_subprocess(
        "server_close_waits_for_children",
        server_close_waits_for_children_body,
    );
}

fn server_close_waits_for_children_body() {
    let dir = TempDir::new();
    let marker = dir.join("done");
    let marker_in_child = marker.clone();
    let waiter = move |request: &mut StreamRequest| -> io::Result<()> {
        let listening = request.socket().local_addr()?;
        request.wfile.write_all(b"started\n")?;
        while std::net::TcpStream::connect(listening).is_ok() {
            thread::yield_now();
        }
        std::fs::write(&marker_in_child, b"done")
    };
    let mut server = ForkingTcpServer::new("127.0.0.1:0", waiter).unwrap();
    let mut client = connect(server.server_address().unwrap());
    server.handle_request().unwrap();
    let mut started = String::new();
    io::BufReader::new(&mut client)
        .read_line(&mut started)
        .unwrap();
    assert_eq!(started, "started\n");
    assert_eq!(server.dispatch().active_children(), 1);
    server.server_close();
    assert!(
        marker.exists(),
        "server_close returned before the child finished"
    );
    assert_eq!(server.dispatch().active_children(), 0);
}

/// Counts requests the loop accepted.
#[derive(Default)]
struct Accepted(AtomicUsize);

impl ServerHooks<StreamRequest> for Accepted {
    fn verify_request(&self, _request: &StreamRequest) -> io::Result<bool> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
}

/// At `max_children` the loop stops accepting but stays responsive: `shutdown()` returns while
/// the children are still busy (Python blocks in `waitpid(-1)` here).
#[test]
fn at_max_children_the_loop_still_answers_shutdown() {
    util::in_subprocess(
        "at_max_children_the_loop_still_answers_shutdown",
        at_max_children_the_loop_still_answers_shutdown_body,
    );
}

fn at_max_children_the_loop_still_answers_shutdown_body() {
    let waits_for_go = |request: &mut StreamRequest| -> io::Result<()> {
        request.wfile.write_all(b"started\n")?;
        let mut go = String::new();
        request.rfile.read_line(&mut go)?;
        request.wfile.write_all(go.as_bytes())
    };
    let mut server = ForkingTcpServer::new("127.0.0.1:0", waits_for_go)
        .unwrap()
        .with_hooks(Accepted::default());
    server.dispatch_mut().set_max_children(2);
    let serving = Serving::start(server);
    let mut busy: Vec<_> = (0..2).map(|_| connect(serving.address)).collect();
    for client in &mut busy {
        let mut started = String::new();
        io::BufReader::new(client).read_line(&mut started).unwrap();
        assert_eq!(started, "started\n");
    }
    let mut waiting = connect(serving.address); // held in the backlog
                                                // Shutdown must not wait for the busy children.
    let (mut server, result) = serving.stop();
    result.unwrap();
    assert_eq!(
        server.hooks().0.load(Ordering::SeqCst),
        2,
        "nothing accepted past the limit"
    );
    assert_eq!(server.dispatch().active_children(), 2);
    for client in &mut busy {
        client.write_all(b"go\n").unwrap();
    }
    server.server_close();
    for mut client in busy {
        assert_eq!(read_all(&mut client), b"go\n");
    }
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = io::Read::read_to_end(&mut waiting, &mut rest); // closed with the listener
    assert!(rest.is_empty());
}

/// The defaults are Python's: 40 children, `block_on_close`, a 300 s `handle_request` timeout.
#[test]
fn forking_defaults_are_pythons() {
    util::in_subprocess(
        "forking_defaults_are_pythons",
        forking_defaults_are_pythons_body,
    );
}

fn forking_defaults_are_pythons_body() {
    let server = ForkingTcpServer::new(
        "127.0.0.1:0",
        failing as fn(&mut StreamRequest) -> io::Result<()>,
    )
    .unwrap();
    assert_eq!(server.dispatch().max_children(), 40);
    assert!(server.dispatch().block_on_close());
    assert_eq!(server.timeout(), Some(Duration::from_secs(300)));
    let _ = ForkingMixIn::default();
    let _: Option<&dyn Fn(&StreamRequest) -> &std::net::SocketAddr> =
        Some(&|r: &StreamRequest| r.client_address());
}

/// The children of this process, running or zombie (ended, not reaped).
fn children() -> Vec<u32> {
    let mut all = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        all.extend(
            children
                .split_whitespace()
                .map(|pid| pid.parse::<u32>().unwrap()),
        );
    }
    all
}

/// An idle forking server still reaps its finished children (it wakes for them; Python only
/// reaps on its 0.5 s poll), so none stays a zombie while no request comes in.
#[test]
fn idle_forking_server_reaps_its_children() {
    util::in_subprocess(
        "idle_forking_server_reaps_its_children",
        idle_forking_server_reaps_its_children_body,
    );
}

fn idle_forking_server_reaps_its_children_body() {
    let server = ForkingTcpServer::new(
        "127.0.0.1:0",
        failing as fn(&mut StreamRequest) -> io::Result<()>,
    )
    .unwrap();
    let serving = Serving::start(server);
    for _ in 0..3 {
        stream_check(serving.address);
    }
    // Every child ends after its request; an idle loop must still reap it, or it stays a zombie.
    assert!(
        util::eventually(|| children().is_empty()),
        "children left: {:?}",
        children()
    );
    let (server, result) = serving.stop();
    result.unwrap();
    assert_eq!(server.dispatch().active_children(), 0);
}
