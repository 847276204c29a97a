//! The stream request: how `wfile` and `rfile` buffer, a huge write while signals interrupt it,
//! the connection's `timeout` and `TCP_NODELAY`, and an idle client timing out.

mod util;

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use socketserver::{SequentialTcpServer, StreamOptions, StreamRequest, ThreadingTcpServer};
use util::{connect, join_within, read_all, Serving, PATIENCE};

/// `wfile` is unbuffered by default (bytes reach the client without a flush) and `rfile` is
/// buffered.
#[test]
fn wfile_unbuffered_and_rfile_buffered_by_default() {
    let handler = |request: &mut StreamRequest| -> io::Result<()> {
        assert_eq!(
            request.rfile.capacity(),
            8192,
            "rfile is buffered (rbufsize)"
        );
        request.wfile.write_all(b"first\n")?;
        assert!(
            request.wfile.buffer().is_empty(),
            "nothing may wait in an unbuffered wfile"
        );
        // The client answers only after it has seen "first": no flush happened, so this
        // proves the write went straight out.
        let mut go = String::new();
        request.rfile.read_line(&mut go)?;
        request.wfile.write_all(go.as_bytes())
    };
    let server = ThreadingTcpServer::new("127.0.0.1:0", handler).unwrap();
    let serving = Serving::start(server);
    let mut client = connect(serving.address);
    let mut reader = io::BufReader::new(client.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "first\n");
    client.write_all(b"go\n").unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "go\n");
    serving.stop().1.unwrap();
}

/// With `wbufsize > 0` writes are buffered and flushed after `finish`.
#[test]
fn wbufsize_buffers_until_finish() {
    let (seen, buffered) = mpsc::channel();

    let handler = move |request: &mut StreamRequest| -> io::Result<()> {
        request.wfile.write_all(b"kept")?;
        seen.send(request.wfile.buffer().to_vec()).unwrap();
        Ok(())
    };
    let mut server = SequentialTcpServer::new("127.0.0.1:0", handler).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        wbufsize: 1024,
        ..StreamOptions::default()
    });
    let address = server.server_address().unwrap();
    let client = thread::spawn(move || read_all(&mut connect(address)));
    server.handle_request().unwrap();
    assert_eq!(
        buffered.recv().unwrap(),
        b"kept",
        "the bytes waited in the buffer"
    );
    assert_eq!(
        join_within(client, PATIENCE),
        b"kept",
        "and were flushed at the end"
    );
}

/// How many SIGUSR1 the handler's thread received.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// Installs `count_signal` for SIGUSR1 without `SA_RESTART`, so blocking calls see `EINTR`.
fn install_interrupting_handler() {
    // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask" value; the handler only
    // touches an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// A 16 MiB + 1 byte write through the unbuffered `wfile` arrives whole, also while signals
/// interrupt the sending thread (EINTR and partial writes are retried).
#[test]
fn huge_write_arrives_whole_despite_signals() {
    const SIZE: usize = 16 * 1024 * 1024 + 1;
    install_interrupting_handler();
    let (tid_tx, tid_rx) = mpsc::channel();

    let handler = move |request: &mut StreamRequest| -> io::Result<()> {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        tid_tx.send(me as usize).unwrap();
        let payload: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
        let written = request.wfile.write(&payload)?;
        assert_eq!(written, SIZE, "a single write() call writes everything");
        Ok(())
    };
    let server = ThreadingTcpServer::new("127.0.0.1:0", handler).unwrap();
    let serving = Serving::start(server);
    let mut client = connect(serving.address);
    let sender = tid_rx.recv_timeout(PATIENCE).unwrap() as libc::pthread_t;
    let before = SIGNALS.load(Ordering::SeqCst);
    // Read slowly at first so the sender blocks in send(), and signal it while it does.
    let mut received = Vec::with_capacity(SIZE);
    let mut chunk = vec![0; 64 * 1024];
    let mut signals_sent = 0;
    loop {
        if signals_sent < 50 {
            // SAFETY: `sender` is the live handler thread: it cannot finish before we have
            // read all its bytes.
            let sent = unsafe { libc::pthread_kill(sender, libc::SIGUSR1) };
            assert_eq!(sent, 0);
            signals_sent += 1;
            thread::sleep(Duration::from_millis(2)); // let the send buffer fill up again
        }
        let n = client.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(received.len(), SIZE, "every byte arrived");
    assert!(
        received
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8),
        "in order"
    );
    assert!(
        SIGNALS.load(Ordering::SeqCst) > before,
        "the sender was interrupted"
    );
    serving.stop().1.unwrap();
}

/// The stream handler applies `timeout` and `TCP_NODELAY` to the connection.
#[test]
fn timeout_and_nodelay_are_applied() {
    let (seen, settings) = mpsc::channel();

    let handler = move |request: &mut StreamRequest| -> io::Result<()> {
        let socket = request.socket();
        seen.send((
            socket.read_timeout()?,
            socket.write_timeout()?,
            socket.nodelay()?,
        ))
        .unwrap();
        Ok(())
    };
    let mut server = SequentialTcpServer::new("127.0.0.1:0", handler).unwrap();
    let timeout = Some(Duration::from_millis(1500));
    server.socket_mut().set_stream_options(StreamOptions {
        timeout,
        disable_nagle_algorithm: true,
        ..StreamOptions::default()
    });
    let address = server.server_address().unwrap();
    let client = thread::spawn(move || read_all(&mut connect(address)));
    server.handle_request().unwrap();
    join_within(client, PATIENCE);
    assert_eq!(settings.recv().unwrap(), (timeout, timeout, true));
}

/// A read timeout on the connection ends an idle client's request with an error that goes
/// to `handle_error`; the server goes on.
#[test]
fn idle_client_times_out() {
    let handler = |request: &mut StreamRequest| -> io::Result<()> {
        let mut line = String::new();
        request.rfile.read_line(&mut line)?;
        request.wfile.write_all(line.as_bytes())
    };
    let mut server = SequentialTcpServer::new("127.0.0.1:0", handler).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        timeout: Some(Duration::from_millis(50)),
        ..StreamOptions::default()
    });
    let address = server.server_address().unwrap();
    let idle = connect(address);
    server.handle_request().unwrap(); // returns after the timeout, with the error reported
    let mut idle = idle;
    assert_eq!(read_all(&mut idle), b"", "the idle client is disconnected");
    let client = thread::spawn(move || util::stream_check(address));
    server.handle_request().unwrap();
    join_within(client, PATIENCE);
}
