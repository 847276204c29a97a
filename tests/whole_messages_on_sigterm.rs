//! The half command of `whole_messages.rs`, with a real SIGTERM: a pool server run by
//! `serve_until_signal` (as an application's `main` runs it) receives `GE`, then SIGTERM, then
//! `T a\n`, answers the whole command, closes cleanly, and reports one connection finished
//! (and an idle companion closed as idle).
//! One test in this binary: the signal goes to the whole process.

use std::io::{Read, Write};

use socketserver::{PoolTcpServer, SignalHandling};

mod util;

use util::{
    assert_clean_eof, connect, eventually, join_within, send_signal, ParkedLines, PATIENCE,
};

#[test]
fn sigterm_between_two_halves_of_a_command() {
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let signals = SignalHandling::new()
        .drain_timeout(PATIENCE)
        .on_ready(move || ready_tx.send(()).unwrap());
    let mut server = PoolTcpServer::new("127.0.0.1:0", ParkedLines).unwrap();
    let address = server.server_address().unwrap();
    let stats = server.stats_handle();
    let serving = std::thread::spawn(move || server.serve_until_signal(signals));
    ready.recv_timeout(PATIENCE).unwrap();
    // An idle companion: its clean end-of-file shows the drain has reached the connections.
    let mut idle = connect(address);
    idle.write_all(b"ping\n").unwrap();
    let mut pong = [0; 5];
    idle.read_exact(&mut pong).unwrap();
    assert!(eventually(|| stats.stats().parked == 1));
    let mut client = connect(address);
    client.write_all(b"GE").unwrap();
    assert!(eventually(|| util::server_read_everything(&client)));
    send_signal(std::process::id(), libc::SIGTERM);
    assert_clean_eof(&mut idle);
    client.write_all(b"T a\n").unwrap();
    let mut answer = [0; 6];
    client.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"GET A\n");
    assert_clean_eof(&mut client);
    let report = join_within(serving, PATIENCE).unwrap().expect("drained");
    assert_eq!(
        (report.finished, report.idle_closed, report.forced),
        (1, 1, 0),
        "{report:?}"
    );
}
