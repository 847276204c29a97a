//! The chat example (`examples/chat.rs`) with 1 000 clients, one of which never reads: every
//! other client gets every line, whole and in order; the one that does not read is
//! disconnected once its backlog passes the high watermark; the server's memory stays
//! bounded. The lines' delivery times are printed (measured, not asserted).

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use selectors::{DefaultSelector, Events, Interest, Selector, Token};
use util::example_process::{release_example_path, Example};
use util::{connect_reading_slowly, PATIENCE};

const CLIENTS: usize = 1000;
/// Lines the sender sends, and each line's length (newline included): 160 × 1 KiB to each
/// member, more than a non-reader's kernel buffers and the chat's watermark hold (about
/// 100 KiB), sent at 50 KB/s, which every other member reads as it comes.
const LINES: usize = 160;
const LINE_LEN: usize = 1024;
const PACE: Duration = Duration::from_millis(20);
/// Reader threads in this test, each polling its share of the clients.
const READERS: usize = 4;

fn start(mode: &str) -> (Example, SocketAddr) {
    let mut command = std::process::Command::new(release_example_path("chat"));
    command.args(["--addr", "127.0.0.1:0", "--mode", mode, "--workers", "2"]);
    let (example, address) = Example::serve_command("chat", command);
    (example, address.parse().unwrap())
}

/// Reads up to and including the first newline, a byte at a time (nothing after it is taken).
fn read_welcome(client: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0];
    while line.last() != Some(&b'\n') {
        client.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Line `seq`: its number, when it was sent (ns since `epoch`), padding, a newline.
fn line(seq: usize, epoch: Instant) -> Vec<u8> {
    let mut line = format!("{seq} {} ", epoch.elapsed().as_nanos()).into_bytes();
    line.resize(LINE_LEN - 1, b'.');
    line.push(b'\n');
    line
}

/// What one reader thread saw: per client, the lines in order; and each line's delivery time.
struct Heard {
    clients: Vec<TcpStream>,
    latencies: Vec<Duration>,
}

/// Reads `clients` (non-blocking, in an epoll selector) until each has had lines `first` to
/// `first + LINES`; checks each line whole and in order.
fn read_all(clients: Vec<TcpStream>, first: usize, epoch: Instant) -> Heard {
    let mut selector = DefaultSelector::new().unwrap();
    for (i, client) in clients.iter().enumerate() {
        client.set_nonblocking(true).unwrap();
        selector
            .register(client.as_fd(), Interest::READABLE, Token(i))
            .unwrap();
    }
    let mut events = Events::with_capacity(clients.len());
    let mut partial: Vec<Vec<u8>> = vec![Vec::new(); clients.len()];
    let mut lines = vec![first; clients.len()];
    let mut latencies = Vec::new();
    let mut buf = vec![0; 256 * 1024];
    let deadline = Instant::now() + PATIENCE * 3;
    while lines.iter().any(|&n| n < first + LINES) {
        assert!(
            Instant::now() < deadline,
            "lines still missing: {:?}",
            lines.iter().filter(|&&n| n < first + LINES).count()
        );
        selector
            .select(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for event in &events {
            let i = event.token().0;
            loop {
                match (&clients[i]).read(&mut buf) {
                    Ok(0) => panic!("client {i} was disconnected after {} lines", lines[i]),
                    Ok(n) => {
                        let arrived = epoch.elapsed();
                        partial[i].extend_from_slice(&buf[..n]);
                        // Lines are of one length: a line cut or merged shows as a header
                        // out of place (the parse below) or a missing newline.
                        while partial[i].len() >= LINE_LEN {
                            let whole: Vec<u8> = partial[i].drain(..LINE_LEN).collect();
                            assert_eq!(
                                whole[LINE_LEN - 1],
                                b'\n',
                                "client {i}: a line cut or merged"
                            );
                            let text = String::from_utf8_lossy(&whole[..64]).into_owned();
                            let mut fields = text.split(' ');
                            let seq: usize = fields.next().unwrap().parse().unwrap();
                            let sent: u64 = fields.next().unwrap().parse().unwrap();
                            assert_eq!(seq, lines[i], "client {i}: lines out of order");
                            lines[i] += 1;
                            latencies.push(arrived.saturating_sub(Duration::from_nanos(sent)));
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client {i}: {e}"),
                }
            }
        }
    }
    Heard { clients, latencies }
}

/// Sends lines `first..first + LINES` from `sender`, paced, while `READERS` threads read
/// them at every one of `readers`; gives the readers back with every line's delivery time,
/// sorted.
fn flood(
    sender: &mut TcpStream,
    readers: Vec<TcpStream>,
    first: usize,
    epoch: Instant,
) -> (Vec<TcpStream>, Vec<Duration>) {
    let mut shares: Vec<Vec<TcpStream>> = (0..READERS).map(|_| Vec::new()).collect();
    for (i, client) in readers.into_iter().enumerate() {
        shares[i % READERS].push(client);
    }
    let threads: Vec<_> = shares
        .into_iter()
        .map(|share| std::thread::spawn(move || read_all(share, first, epoch)))
        .collect();
    for seq in first..first + LINES {
        sender.write_all(&line(seq, epoch)).unwrap();
        // Pacing the load (50 MB/s of fan-out in all), not synchronising: the readers keep
        // up, so their delivery times show what a silent member costs them.
        std::thread::sleep(PACE);
    }
    let mut readers = Vec::new();
    let mut latencies = Vec::new();
    for thread in threads {
        let heard = util::join_within(thread, PATIENCE * 4);
        readers.extend(heard.clients);
        latencies.extend(heard.latencies);
    }
    latencies.sort();
    (readers, latencies)
}

/// "p50 …, p99 …, max …" of sorted delivery times.
fn percentiles(sorted: &[Duration]) -> String {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    format!("p50 {:?}, p99 {:?}, max {:?}", at(0.5), at(0.99), at(1.0))
}

fn a_thousand_clients_and_one_that_never_reads(mode: &str) {
    let (server, address) = start(mode);
    let mut sender = util::connect(address);
    read_welcome(&mut sender);
    let mut readers = Vec::new();
    for _ in 0..CLIENTS - 2 {
        let mut client = util::connect(address);
        // Joined: the welcome comes before any line of others.
        read_welcome(&mut client);
        readers.push(client);
    }
    let epoch = Instant::now();
    // First without the silent member, for comparison; then with it.
    let (readers, alone) = flood(&mut sender, readers, 0, epoch);
    // The one that never reads: a small receive buffer, so its backlog builds at the server.
    let mut silent = connect_reading_slowly(address);
    read_welcome(&mut silent);
    let resident_before = server.resident_bytes();
    let (readers, with_silent) = flood(&mut sender, readers, LINES, epoch);
    let resident_after = server.resident_bytes();
    assert_eq!(readers.len(), CLIENTS - 2);

    // The silent one was dropped: what it can still read ends well short of its lines.
    silent.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = 0;
    let mut buf = [0; 65536];
    loop {
        match silent.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the silent client was not disconnected: {e} after {got} bytes"),
        }
    }
    assert!(
        got < LINES * LINE_LEN,
        "the silent client got everything: {got} bytes"
    );

    let grown = resident_after.saturating_sub(resident_before);
    eprintln!(
        "chat --mode {mode}: {} readers, {LINES} lines each round; delivery without a silent \
         member: {}; with one: {}; the silent client got {got} bytes before its disconnect; \
         server RSS {} → {} KiB",
        CLIENTS - 2,
        percentiles(&alone),
        percentiles(&with_silent),
        resident_before / 1024,
        resident_after / 1024,
    );
    // Bounded: the round sent 160 MiB of output; a server that kept a backlog per member, or
    // per line, would hold it.
    assert!(grown < 32 << 20, "the server grew by {grown} bytes");
    drop((sender, silent, readers));
    let finished = server.stop_with(libc::SIGTERM, &format!("chat --mode {mode}"));
    assert!(finished.status.success(), "{:?}", finished.status);
}

#[test]
fn chat_on_the_event_loop() {
    a_thousand_clients_and_one_that_never_reads("event");
}

#[test]
fn chat_on_coroutines() {
    a_thousand_clients_and_one_that_never_reads("coroutine");
}

#[test]
fn chat_bad_usage_is_one_line_and_exit_2_and_a_taken_port_exit_1() {
    for args in [
        &["--mode", "pool"][..],
        &["--when-full", "refuse"],
        &["--workers", "many"],
        &["--addr"],
    ] {
        Example::spawn("chat", args)
            .finish()
            .assert_one_line_failure(2);
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    Example::spawn("chat", &["--addr", &address])
        .finish()
        .assert_one_line_failure(1);
}
