//! Timers on a connection's loop, handles other threads use to reach a connection on an event
//! loop, and writers for blocking handlers: what they deliver, what they refuse, and that a
//! peer that does not read cannot grow the server's memory through them.

mod util;

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::{
    Connection, ConnectionHandle, ConnectionWriter, EventTcpServer, HandleError, PoolTcpServer,
    Protocol, ProtocolHandler, StreamOptions, StreamRequest, ThreadingTcpServer, TimerId, WhenFull,
    Written,
};
use util::{connect, connect_reading_slowly, eventually, Serving, PATIENCE};

/// Sets the timers a test asks for when the connection is made, and reports each that fires.
#[derive(Clone)]
struct Timed {
    /// (after, cancel it at once?) per timer, in order.
    plan: Vec<(Duration, bool)>,
    /// Which plan entries fired, in order.
    fired: mpsc::Sender<usize>,
    ids: Vec<TimerId>,
    /// Close the connection once this many have fired.
    close_after: usize,
    count: usize,
}

impl Protocol for Timed {
    fn connection_made(&mut self, conn: &mut Connection<'_>) -> std::io::Result<()> {
        for &(after, cancel) in &self.plan {
            let id = conn.call_later(after)?;
            if cancel {
                assert!(conn.cancel_timer(id));
                assert!(!conn.cancel_timer(id), "a timer cancels once");
            }
            self.ids.push(id);
        }
        Ok(())
    }

    fn data_received(&mut self, _: &mut Connection<'_>, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }

    fn timer_fired(&mut self, conn: &mut Connection<'_>, timer: TimerId) -> std::io::Result<()> {
        let index = self.ids.iter().position(|&id| id == timer).unwrap();
        let _ = self.fired.send(index);
        conn.write(format!("timer {index}\n").as_bytes());
        self.count += 1;
        if self.count == self.close_after {
            conn.close();
        }
        Ok(())
    }
}

fn timed(plan: Vec<(Duration, bool)>, close_after: usize) -> (Timed, mpsc::Receiver<usize>) {
    let (fired, heard) = mpsc::channel();
    let protocol = Timed {
        plan,
        fired,
        ids: Vec::new(),
        close_after,
        count: 0,
    };
    (protocol, heard)
}

#[test]
fn timers_fire_in_order_on_the_loop_and_cancelled_ones_never_do() {
    let ms = Duration::from_millis;
    let plan = vec![
        (ms(40), false),
        (ms(1), true),
        (ms(10), false),
        (ms(20), true),
    ];
    let (protocol, fired) = timed(plan, 2);
    let server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(protocol)).unwrap();
    let serving = Serving::start(server);
    let mut client = connect(serving.address);
    let mut heard = String::new();
    client.read_to_string(&mut heard).unwrap();
    // The cancelled timers (1 and 3) were due before the last one that fired.
    assert_eq!(heard, "timer 2\ntimer 0\n");
    assert_eq!(fired.try_iter().collect::<Vec<_>>(), [2, 0]);
    serving.stop().1.unwrap();
}

#[test]
fn a_connection_that_ends_takes_its_timers_with_it() {
    let ms = Duration::from_millis;
    // The first connection's timer is due long before the second's; if it outlived its
    // connection it would fire first, on the same loop.
    let (protocol, fired) = timed(vec![(ms(200), false)], 1);
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(protocol)).unwrap();
    server.dispatch_mut().set_workers(1);
    let stats = server.stats_handle();
    let serving = Serving::start(server);
    // The first client leaves before its timer is due; the second comes once it has gone.
    drop(connect(serving.address));
    assert!(eventually(|| {
        let now = stats.stats();
        now.accepted == 1 && now.open == 0
    }));
    let mut second = connect(serving.address);
    let mut heard = String::new();
    second.read_to_string(&mut heard).unwrap();
    assert_eq!(heard, "timer 0\n");
    // Exactly one timer fired in all: the second connection's.
    assert_eq!(fired.try_iter().count(), 1);
    serving.stop().1.unwrap();
}

#[test]
fn timers_do_not_hold_off_the_idle_timeout() {
    // A heartbeat every 5 ms from the server is not input: the silent client is still closed
    // at its idle timeout.
    #[derive(Clone)]
    struct Heartbeat;
    impl Protocol for Heartbeat {
        fn connection_made(&mut self, conn: &mut Connection<'_>) -> std::io::Result<()> {
            conn.call_later(Duration::from_millis(5)).map(drop)
        }
        fn data_received(&mut self, _: &mut Connection<'_>, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn timer_fired(&mut self, conn: &mut Connection<'_>, _: TimerId) -> std::io::Result<()> {
            conn.write(b".");
            conn.call_later(Duration::from_millis(5)).map(drop)
        }
    }
    let mut server = EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Heartbeat)).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        idle_timeout: Some(Duration::from_millis(150)),
        first_byte_timeout: Some(Duration::from_millis(150)),
        ..StreamOptions::default()
    });
    let stats = server.stats_handle();
    let serving = Serving::start(server);
    let mut client = connect(serving.address);
    let started = Instant::now();
    let mut beats = Vec::new();
    client.read_to_end(&mut beats).unwrap();
    assert!(
        beats.len() >= 2 && beats.iter().all(|&b| b == b'.'),
        "{beats:?}"
    );
    assert!(started.elapsed() < PATIENCE, "the idle timeout closed it");
    // Counted as the connection's guard goes, just after the close the client saw.
    assert!(eventually(|| stats.stats().closed_first_byte_timeout == 1));
    serving.stop().1.unwrap();
}

#[test]
fn timers_and_handles_need_an_event_loop() {
    #[derive(Clone)]
    struct Ask(mpsc::Sender<(bool, bool)>);
    impl Protocol for Ask {
        fn connection_made(&mut self, conn: &mut Connection<'_>) -> std::io::Result<()> {
            let timer = conn.call_later(Duration::from_millis(1));
            let handle = conn.handle();
            let unsupported = |e: &std::io::Error| e.kind() == std::io::ErrorKind::Unsupported;
            let _ = self.0.send((
                timer.as_ref().is_err_and(unsupported),
                handle.as_ref().is_err_and(unsupported),
            ));
            conn.close();
            Ok(())
        }
        fn data_received(&mut self, _: &mut Connection<'_>, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (answers, heard) = mpsc::channel();
    let server = PoolTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Ask(answers))).unwrap();
    let serving = Serving::start(server);
    let _client = connect(serving.address);
    assert_eq!(heard.recv_timeout(PATIENCE).unwrap(), (true, true));
    serving.stop().1.unwrap();
}

/// Hands each connection's handle out, and counts the closures run on it.
#[derive(Clone)]
struct Registered(mpsc::Sender<ConnectionHandle>);

impl Protocol for Registered {
    fn connection_made(&mut self, conn: &mut Connection<'_>) -> std::io::Result<()> {
        let _ = self.0.send(conn.handle()?);
        Ok(())
    }
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> std::io::Result<()> {
        conn.write(data);
        Ok(())
    }
}

fn registered_server() -> (
    Serving<
        socketserver::TcpSocket,
        socketserver::EventLoop,
        ProtocolHandler<Registered>,
        socketserver::DefaultHooks,
    >,
    mpsc::Receiver<ConnectionHandle>,
) {
    let (handles, registered) = mpsc::channel();
    let server =
        EventTcpServer::new("127.0.0.1:0", ProtocolHandler::new(Registered(handles))).unwrap();
    (Serving::start(server), registered)
}

/// Four threads write 100 lines each (`writer N line I`) through `write`; each is taken.
fn write_from_four_threads(
    write: impl Fn(&[u8]) -> Result<Written, HandleError> + Clone + Send + 'static,
) {
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let write = write.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let line = format!("writer {n} line {i}\n");
                    assert_eq!(write(line.as_bytes()), Ok(Written::Queued));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn handles_write_close_and_run_closures_on_the_loop_from_other_threads() {
    let (serving, registered) = registered_server();
    let mut client = connect(serving.address);
    let handle = registered.recv_timeout(PATIENCE).unwrap();
    let loop_thread = Arc::new(parking_lot::Mutex::new(None));
    let writing = handle.clone();
    write_from_four_threads(move |line| writing.write(line, WhenFull::Refuse));
    let seen = Arc::clone(&loop_thread);
    handle
        .call_soon(move |conn| {
            *seen.lock() = std::thread::current().name().map(str::to_owned);
            conn.write(b"from a closure\n");
        })
        .unwrap();
    handle.close();
    let mut lines = Vec::new();
    for line in BufReader::new(&mut client).lines() {
        lines.push(line.unwrap());
    }
    // Every line whole, each writer's in its order, the closure's after them, then the close.
    assert_eq!(lines.len(), 401);
    assert_eq!(lines[400], "from a closure");
    for n in 0..4 {
        let mine: Vec<_> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("writer {n} ")))
            .collect();
        let expected: Vec<_> = (0..100).map(|i| format!("writer {n} line {i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
    let thread = loop_thread.lock().clone().unwrap();
    assert!(thread.starts_with("socketserver-loop"), "{thread}");
    // The connection has ended: the handle says so.
    assert!(eventually(|| handle.is_closed()));
    assert_eq!(
        handle.write(b"late", WhenFull::Refuse),
        Err(HandleError::Closed)
    );
    assert_eq!(handle.call_soon(|_| {}), Err(HandleError::Closed));
    serving.stop().1.unwrap();
}

/// Writes `chunk`s through `write` until it stops taking them; returns the bytes taken and
/// the answer that stopped it.
fn fill<E>(mut write: impl FnMut(&[u8]) -> Result<Written, E>) -> (usize, Result<Written, E>) {
    let chunk = [b'x'; 1024];
    let mut taken = 0;
    loop {
        match write(&chunk) {
            Ok(Written::Queued) => taken += chunk.len(),
            other => return (taken, other),
        }
        assert!(
            taken < 64 << 20,
            "a peer that does not read took {taken} bytes"
        );
    }
}

#[test]
fn a_peer_that_does_not_read_meets_the_policy_the_writer_chose() {
    let (serving, registered) = registered_server();
    let slow = connect_reading_slowly(serving.address);
    let handle = registered.recv_timeout(PATIENCE).unwrap();
    // Refuse: the writes stop being taken. Writes posted and not yet run count too, so the
    // first refusals may come while the loop catches up; a closure run after them reads how
    // much the connection holds once it has.
    let mut taken = 0;
    loop {
        let (more, stopped) = fill(|chunk| handle.write(chunk, WhenFull::Refuse));
        taken += more;
        assert_eq!(stopped, Err(HandleError::Full));
        let (tell, held) = mpsc::channel();
        handle
            .call_soon(move |conn| {
                let _ = tell.send(conn.write_buffer_size());
            })
            .unwrap();
        let held = held.recv_timeout(PATIENCE).unwrap();
        if held + 1024 > 64 * 1024 {
            break;
        }
    }
    // Bounded: the kernel's buffers plus the 64 KiB watermark, nowhere near the 64 MiB the
    // loop above allows.
    assert!(taken < 16 << 20, "{taken}");
    assert_eq!(handle.write(b"more", WhenFull::Drop), Ok(Written::Dropped));
    assert_eq!(
        handle.write(b"more", WhenFull::Refuse),
        Err(HandleError::Full)
    );
    assert!(!handle.is_closed());
    // Disconnect: the connection is aborted.
    assert_eq!(
        handle.write(b"more", WhenFull::Disconnect),
        Err(HandleError::Disconnected)
    );
    assert!(eventually(|| handle.is_closed()));
    let mut got = 0;
    let mut reader = &slow;
    let mut buf = [0; 65536];
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < taken,
        "the aborted connection delivered what was pending: {got} of {taken}"
    );
    serving.stop().1.unwrap();
}

#[test]
fn writers_reach_a_blocking_handler_s_connection_from_other_threads() {
    let (writers, registered) = mpsc::channel::<ConnectionWriter>();
    let server = ThreadingTcpServer::new("127.0.0.1:0", move |req: &mut StreamRequest| {
        writers.send(req.writer()?).unwrap();
        let mut line = String::new();
        while req.rfile.read_line(&mut line)? > 0 {}
        Ok(())
    })
    .unwrap();
    let serving = Serving::start(server);
    let client = connect(serving.address);
    let writer = registered.recv_timeout(PATIENCE).unwrap();
    let writing = writer.clone();
    write_from_four_threads(move |line| writing.write(line, WhenFull::Refuse));
    let mut reader = BufReader::new(client.try_clone().unwrap());
    for n in 0..400 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("writer ") && line.ends_with('\n'),
            "line {n}: {line:?}"
        );
    }
    // The client leaves: the handler returns, the request ends, and so do its writers.
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(eventually(|| writer.is_closed()));
    assert_eq!(
        writer.write(b"late", WhenFull::Refuse),
        Err(HandleError::Closed)
    );
    serving.stop().1.unwrap();
}

#[test]
fn a_writer_to_a_peer_that_does_not_read_meets_the_policy_and_never_blocks() {
    let (writers, registered) = mpsc::channel::<ConnectionWriter>();
    let served = Arc::new(AtomicUsize::new(0));
    let ended = Arc::clone(&served);
    let server = ThreadingTcpServer::new("127.0.0.1:0", move |req: &mut StreamRequest| {
        writers.send(req.writer()?).unwrap();
        let mut line = String::new();
        let read = req.rfile.read_line(&mut line);
        ended.fetch_add(1, Ordering::SeqCst);
        read.map(drop)
    })
    .unwrap();
    let serving = Serving::start(server);
    let slow = connect_reading_slowly(serving.address);
    let writer = registered.recv_timeout(PATIENCE).unwrap();
    let (taken, stopped) = fill(|chunk| writer.write(chunk, WhenFull::Refuse));
    assert_eq!(stopped, Err(HandleError::Full));
    assert!((64 * 1024..16 << 20).contains(&taken), "{taken}");
    assert_eq!(writer.write(b"more", WhenFull::Drop), Ok(Written::Dropped));
    // Disconnect: the connection is shut down both ways; the handler's read sees the end.
    assert_eq!(
        writer.write(b"more", WhenFull::Disconnect),
        Err(HandleError::Disconnected)
    );
    assert!(writer.is_closed());
    assert!(eventually(|| served.load(Ordering::SeqCst) == 1));
    drop(slow);
    serving.stop().1.unwrap();
}
