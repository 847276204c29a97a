//! `serve_until_signal`, with real signals sent to this test process. One test in this binary:
//! signals go to the whole process, so nothing else may run here at the same time.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use socketserver::{ForkingTcpServer, SignalHandling, StreamRequest, ThreadingTcpServer};

mod util;

use util::{
    assert_clean_eof, connect, eventually, expect_echo, join_within, send_signal, PATIENCE,
};

fn echo(req: &mut StreamRequest) -> std::io::Result<()> {
    std::io::copy(&mut req.rfile, &mut req.wfile).map(drop)
}

/// Drains within PATIENCE and counts SIGHUPs; returns the handling, the count, and a receiver
/// told when the server is ready.
fn counting_hangups() -> (SignalHandling, Arc<AtomicUsize>, Receiver<()>) {
    let hangups = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hangups);
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let signals = SignalHandling::new()
        .drain_timeout(PATIENCE)
        .on_hangup(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .on_ready(move || ready_tx.send(()).unwrap());
    (signals, hangups, ready)
}

/// Writes the child's pid, then echoes.
fn pid_then_echo(req: &mut StreamRequest) -> std::io::Result<()> {
    writeln!(req.wfile, "{}", std::process::id())?;
    echo(req)
}

#[test]
fn signals_drain_the_server_and_spare_forked_children() {
    // SIGHUP calls the hook; SIGTERM drains: an idle client sees a clean end-of-file.
    let (signals, hangups, ready) = counting_hangups();
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", echo).unwrap();
    let address = server.server_address().unwrap();
    let serving = std::thread::spawn(move || server.serve_until_signal(signals));
    ready.recv_timeout(PATIENCE).unwrap();
    let mut client = connect(address);
    client.write_all(b"ping").unwrap();
    let mut reply = [0; 4];
    client.read_exact(&mut reply).unwrap();
    send_signal(std::process::id(), libc::SIGHUP);
    assert!(eventually(|| hangups.load(Ordering::SeqCst) == 1));
    send_signal(std::process::id(), libc::SIGTERM);
    let report = join_within(serving, PATIENCE).unwrap().expect("drained");
    assert_eq!((report.idle_closed, report.forced), (1, 0), "{report:?}");
    assert_clean_eof(&mut client);

    // A forked child ignores SIGHUP (neither dying nor reaching the parent's hook) and takes
    // SIGTERM as "drain": it ends its idle connection cleanly.
    let (signals, hangups, ready) = counting_hangups();
    let mut server = ForkingTcpServer::new("127.0.0.1:0", pid_then_echo).unwrap();
    let address = server.server_address().unwrap();
    let serving = std::thread::spawn(move || server.serve_until_signal(signals));
    ready.recv_timeout(PATIENCE).unwrap();
    let mut spared = BufReader::new(connect(address));
    let mut drained = BufReader::new(connect(address));
    let mut pids = Vec::new();
    for client in [&mut spared, &mut drained] {
        let mut line = String::new();
        client.read_line(&mut line).unwrap();
        pids.push(line.trim().parse::<u32>().unwrap());
        client.get_mut().write_all(b"ping").unwrap();
        let mut reply = [0; 4];
        client.read_exact(&mut reply).unwrap();
    }
    send_signal(pids[0], libc::SIGHUP);
    send_signal(pids[1], libc::SIGTERM);
    let mut rest = Vec::new();
    drained.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the child drained its idle connection");
    // The SIGHUP'd child still serves, and the parent's hook never ran.
    spared.get_mut().write_all(b"pong").unwrap();
    expect_echo(&mut spared, b"pong");
    assert_eq!(hangups.load(Ordering::SeqCst), 0);
    // The parent's SIGTERM drains the rest.
    send_signal(std::process::id(), libc::SIGTERM);
    let report = join_within(serving, PATIENCE).unwrap().expect("drained");
    assert_eq!(report.forced, 0, "{report:?}");
    assert_eq!(report.still_running, 0, "{report:?}");
    spared.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}
