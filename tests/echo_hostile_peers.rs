//! The `echo` example against hostile peers, in pool, event and coroutine mode: a peer that
//! sends and never reads leaves the server's memory bounded (the echo stops reading it once its
//! answers back up), and a thousand connections that stop in the middle of a message are closed
//! by their timeouts while the server goes on echoing.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;

mod util;

use util::example_process::Example;
use util::{
    connect, connect_reading_slowly, connection_queues, eventually, exchange,
    server_stopped_reading,
};

const MIB: u64 = 1 << 20;

fn still_echoes(address: SocketAddr) {
    let mut client = connect(address);
    exchange(&mut client, b"still here\n");
}

/// 64 MiB sent, nothing read: the server keeps at most one read's answer for the peer and
/// reads no more of it; the rest waits in the kernel.
fn a_peer_that_never_reads(mode: &str) {
    let (server, address) = Example::serve("echo", &["--mode", mode, "--workers", "2"]);
    still_echoes(address);
    let before = server.resident_bytes();
    let client = connect_reading_slowly(address);
    let writer = {
        let mut client = client.try_clone().unwrap();
        thread::spawn(move || {
            let block = vec![b'x'; 1 << 16];
            for _ in 0..1024 {
                if client.write_all(&block).is_err() {
                    break; // the test closed the connection
                }
            }
        })
    };
    assert!(
        eventually(|| server_stopped_reading(&client)),
        "{mode}: the server should stop reading a peer that reads nothing: (ours, the server's) \
         (send, receive) queues {:?}",
        connection_queues(&client)
    );
    let grown = server.resident_bytes().saturating_sub(before);
    assert!(grown < 2 * MIB, "{mode}: {grown} bytes more resident");
    still_echoes(address);
    client.shutdown(Shutdown::Both).unwrap();
    writer.join().unwrap();
    still_echoes(address);
}

#[test]
fn a_peer_that_never_reads_pool() {
    a_peer_that_never_reads("pool");
}

#[test]
fn a_peer_that_never_reads_event() {
    a_peer_that_never_reads("event");
}

#[test]
fn a_peer_that_never_reads_coroutine() {
    a_peer_that_never_reads("coroutine");
}

/// A thousand connections send part of a line and stop: the idle timeout (half a second here)
/// closes every one with a clean end-of-file after its echo; the server echoes meanwhile.
fn connections_that_stop_mid_message(mode: &str) {
    let (server, address) = Example::serve(
        "echo",
        &["--mode", mode, "--workers", "2", "--idle-timeout", "0.5"],
    );
    let mut stopped: Vec<TcpStream> = (0..1000).map(|_| connect(address)).collect();
    for client in &mut stopped {
        client.write_all(b"half a mes").unwrap();
    }
    still_echoes(address);
    for client in &mut stopped {
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).unwrap();
        assert_eq!(
            echoed, b"half a mes",
            "{mode}: the echo, then a clean end-of-file"
        );
    }
    still_echoes(address);
    drop(server);
}

#[test]
fn connections_that_stop_mid_message_pool() {
    connections_that_stop_mid_message("pool");
}

#[test]
fn connections_that_stop_mid_message_event() {
    connections_that_stop_mid_message("event");
}

#[test]
fn connections_that_stop_mid_message_coroutine() {
    connections_that_stop_mid_message("coroutine");
}
