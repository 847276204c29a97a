//! The threading strategy: finished request threads are not kept beyond a short-lived cache
//! that serves a parked connection's next messages, a bound on concurrent handler threads,
//! thread names, `block_on_close` and `daemon_threads`.

mod util;

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use socketserver::{ServerHooks, StreamRequest, ThreadingTcpServer};
use util::{connect, join_within, read_all, stream_check, LineEcho, Serving, PATIENCE};

/// Finished request threads are not accumulated. The strategy holds no handle of its threads,
/// only a count of the running ones: after 10 000 sequential connections that count is back to
/// zero (and never exceeded the few threads that overlap while finishing).
#[test]
fn finished_threads_are_forgotten() {
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", |request: &mut StreamRequest| {
        request.wfile.write_all(b"x")
    })
    .unwrap();
    let address = server.server_address().unwrap();
    let mut most = 0;
    for _ in 0..10_000 {
        let mut client = TcpStream::connect(address).unwrap();
        server.handle_request().unwrap();
        assert_eq!(read_all(&mut client), b"x");
        most = most.max(server.dispatch().active_count());
    }
    // A thread that has sent its reply may not have returned yet, so a few may overlap.
    assert!(
        most <= 16,
        "{most} threads running while one request at a time was served"
    );
    assert!(
        util::eventually(|| server.dispatch().active_count() == 0),
        "request threads did not finish"
    );
    server.server_close();
    assert_eq!(server.dispatch().active_count(), 0);
}

/// A connection that parks between messages is served by the thread the cache kept, not by a
/// new thread per message.
#[test]
fn a_parked_connections_messages_reuse_a_cached_thread() {
    let threads: Arc<Mutex<std::collections::HashSet<thread::ThreadId>>> = Arc::default();
    let seen = Arc::clone(&threads);
    let handler = move |request: &mut StreamRequest| {
        let mut line = String::new();
        if io::BufRead::read_line(&mut request.rfile, &mut line)? == 0 {
            return Ok(());
        }
        seen.lock().unwrap().insert(thread::current().id());
        request.wfile.write_all(line.as_bytes())?;
        request.park();
        Ok(())
    };
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", handler).unwrap();
    let mut client = connect(server.server_address().unwrap());
    // Accepted and dispatched; its later messages come through the parker.
    server.handle_request().unwrap();
    let mut reader = io::BufReader::new(client.try_clone().unwrap());
    for n in 0..20 {
        if n > 0 {
            // The last message's thread has finished and waits in the cache.
            assert!(
                util::eventually(|| server.dispatch().idle_threads() == 1
                    && server.dispatch().active_count() == 0),
                "message {n}: no thread waits in the cache"
            );
        }
        let line = format!("message {n}\n");
        client.write_all(line.as_bytes()).unwrap();
        let mut answer = String::new();
        io::BufRead::read_line(&mut reader, &mut answer).unwrap();
        assert_eq!(answer, line);
    }
    assert_eq!(
        threads.lock().unwrap().len(),
        1,
        "20 messages of a parked connection ran on one cached thread"
    );
    drop(client);
    server.server_close();
    assert_eq!(
        server.dispatch().idle_threads(),
        0,
        "server_close ends the cache"
    );
}

/// Counts accepted requests and loop wake-ups.
#[derive(Default)]
struct Counters {
    accepted: AtomicUsize,
    wakes: AtomicUsize,
}

impl ServerHooks<StreamRequest> for Counters {
    fn verify_request(&self, _request: &StreamRequest) -> io::Result<bool> {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    fn service_actions(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A bound on concurrent handler threads. At the bound the loop stops accepting (the kernel
/// backlog holds the rest) without spinning, and resumes when a handler finishes.
#[test]
fn max_threads_bounds_concurrency() {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (running2, most2) = (Arc::clone(&running), Arc::clone(&most));
    let blocker = move |_request: &mut StreamRequest| -> io::Result<()> {
        let now = running2.fetch_add(1, Ordering::SeqCst) + 1;
        most2.fetch_max(now, Ordering::SeqCst);
        started_tx.send(()).unwrap();
        let released = release_rx.lock().unwrap().recv_timeout(PATIENCE);
        running2.fetch_sub(1, Ordering::SeqCst);
        released.map_err(io::Error::other)
    };
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", blocker)
        .unwrap()
        .with_hooks(Counters::default());
    server.dispatch_mut().set_max_threads(Some(2));
    let serving = Serving::start(server);
    let clients: Vec<_> = (0..4).map(|_| connect(serving.address)).collect();
    started_rx.recv_timeout(PATIENCE).unwrap();
    started_rx.recv_timeout(PATIENCE).unwrap();
    // The other two wait in the backlog: no third handler starts while two run. (A bounded
    // wait: a bug would show up at once, well within it.)
    assert!(
        started_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "a third handler started"
    );
    for _ in 0..4 {
        release_tx.send(()).unwrap();
    }
    started_rx.recv_timeout(PATIENCE).unwrap();
    started_rx.recv_timeout(PATIENCE).unwrap();
    for mut client in clients {
        assert_eq!(read_all(&mut client), b"");
    }
    let (server, result) = serving.stop();
    result.unwrap();
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "never more than max_threads at once"
    );
    assert_eq!(server.hooks().accepted.load(Ordering::SeqCst), 4);
    let wakes = server.hooks().wakes.load(Ordering::SeqCst);
    assert!(
        wakes < 50,
        "the loop must not spin at the bound: {wakes} wake-ups"
    );
}

/// Request threads carry the strategy's name and the request id.
#[test]
fn request_threads_are_named() {
    let (name_tx, name_rx) = mpsc::channel();
    let namer = move |_request: &mut StreamRequest| -> io::Result<()> {
        name_tx
            .send(thread::current().name().map(str::to_owned))
            .unwrap();
        Ok(())
    };
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", namer).unwrap();
    server.dispatch_mut().set_thread_name("echo-worker");
    let serving = Serving::start(server);
    let _client = connect(serving.address);
    let name = name_rx.recv_timeout(PATIENCE).unwrap().unwrap();
    assert!(name.starts_with("echo-worker-"), "{name}");
    serving.stop().1.unwrap();
}

/// `block_on_close` (the default): `server_close` waits for handlers in flight. The handler
/// here can only finish after the listening socket is closed, i.e. inside `server_close`.
#[test]
fn block_on_close_waits_for_handlers() {
    let finished = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel();
    let done = Arc::clone(&finished);
    let waiter = move |request: &mut StreamRequest| -> io::Result<()> {
        let listening = request.socket().local_addr()?;
        started_tx.send(()).unwrap();
        // Wait until nothing listens on the server's address any more.
        while TcpStream::connect(listening).is_ok() {
            thread::yield_now();
        }
        done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    };
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", waiter).unwrap();
    let address = server.server_address().unwrap();
    let _client = connect(address);
    server.handle_request().unwrap();
    started_rx.recv_timeout(PATIENCE).unwrap();
    server.server_close();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "server_close returned before the handler finished"
    );
}

/// `daemon_threads`: `server_close` does not wait for handlers.
#[test]
fn daemon_threads_are_not_waited_for() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let blocker = move |_request: &mut StreamRequest| -> io::Result<()> {
        release_rx
            .lock()
            .unwrap()
            .recv_timeout(PATIENCE)
            .map_err(io::Error::other)
    };
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", blocker).unwrap();
    server.dispatch_mut().set_daemon_threads(true);
    let address = server.server_address().unwrap();
    let mut client = connect(address);
    server.handle_request().unwrap();
    // Waiting for the handler would hang here: it is only released afterwards.
    let closer = thread::spawn(move || {
        server.server_close();
        server
    });
    let server = join_within(closer, PATIENCE);
    assert_eq!(
        server.dispatch().active_count(),
        1,
        "the daemon handler still runs"
    );
    release_tx.send(()).unwrap();
    assert_eq!(read_all(&mut client), b"");
}

/// Many clients at once are all served.
#[test]
fn concurrent_clients_are_all_served() {
    let server = ThreadingTcpServer::new("127.0.0.1:0", LineEcho).unwrap();
    let serving = Serving::start(server);
    let address = serving.address;
    let clients: Vec<_> = (0..32)
        .map(|_| thread::spawn(move || stream_check(address)))
        .collect();
    for client in clients {
        join_within(client, PATIENCE);
    }
    serving.stop().1.unwrap();
}
