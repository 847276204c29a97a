//! Shutdown, under every strategy: right after the loop is started, from a handler, of an idle
//! loop (which sleeps instead of polling), and before any loop runs; then a threading handler's
//! shutdown and the handle's traits.

#[macro_use]
mod util;

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socketserver::{Dispatch, ServerHooks, StreamRequest};
use util::{connect, join_within, read_all, stream_check, tcp_server, LineEcho, Serving, PATIENCE};

/// 20 servers, each started on a thread and shut down immediately; every thread ends, whether
/// the shutdown came before or after its loop started.
fn immediate_shutdown_of_twenty_servers<M: Dispatch + Default>() {
    let mut started = Vec::new();
    for _ in 0..20 {
        let mut server = tcp_server::<M, _>(LineEcho);
        let handle = server.shutdown_handle();
        let thread = thread::spawn(move || server.serve_forever());
        handle.shutdown();
        started.push(thread);
    }
    for thread in started {
        join_within(thread, PATIENCE).unwrap();
    }
}

/// A handler stops the server through the shutdown handle on its request; on a sequential
/// server (handler on the serving thread) this must not deadlock.
fn handler_stops_the_server<M: Dispatch + Default>() {
    let stopper = |request: &mut StreamRequest| -> io::Result<()> {
        request.shutdown_handle().shutdown();
        request.wfile.write_all(b"bye\n")
    };
    let mut server = tcp_server::<M, _>(stopper);
    let address = server.server_address().unwrap();
    let serving = thread::spawn(move || server.serve_forever());
    let mut client = connect(address);
    assert_eq!(
        read_all(&mut client),
        b"bye\n",
        "the request in progress completes"
    );
    join_within(serving, PATIENCE).unwrap();
}

/// Counts the loop's wake-ups.
#[derive(Default)]
struct WakeCounter {
    wakes: Arc<AtomicUsize>,
}

impl ServerHooks<StreamRequest> for WakeCounter {
    fn service_actions(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// The loop does not poll (Python wakes every 0.5 s to look at a flag): once its work is done
/// (forking reaps its child within 0.5 s), an idle server does not wake at all, and
/// `shutdown()` still stops it, because it wakes the loop directly.
fn idle_loop_sleeps_and_shutdown_wakes_it<M: Dispatch + Default>() {
    let hooks = WakeCounter::default();
    let wakes = Arc::clone(&hooks.wakes);
    let server = tcp_server::<M, _>(LineEcho).with_hooks(hooks);
    let serving = Serving::start(server);
    stream_check(serving.address);
    // Two idle periods longer than Python's poll interval; the sleeps are what is measured.
    thread::sleep(Duration::from_millis(700));
    let settled = wakes.load(Ordering::SeqCst);
    thread::sleep(Duration::from_millis(700));
    let idle_wakes = wakes.load(Ordering::SeqCst) - settled;
    let begin = Instant::now();
    let (_server, result) = serving.stop();
    let latency = begin.elapsed();
    result.unwrap();
    eprintln!("shutdown latency {latency:?}");
    assert_eq!(
        idle_wakes, 0,
        "an idle loop must sleep; it woke {idle_wakes} times in 0.7 s"
    );
}

/// Shutdown before any loop makes the next loop return at once, exactly once; asking twice is
/// harmless (no stale flag stops a later loop).
fn shutdown_before_the_loop_applies_once<M: Dispatch + Default>() {
    let mut server = tcp_server::<M, _>(LineEcho);
    server.shutdown_handle().shutdown();
    server.shutdown_handle().shutdown();
    assert!(server.shutdown_handle().is_shutdown_requested());
    let returned = thread::spawn(move || {
        let result = server.serve_forever();
        (server, result)
    });
    let (server, result) = join_within(returned, PATIENCE);
    result.unwrap();
    assert!(
        !server.shutdown_handle().is_shutdown_requested(),
        "the request was consumed"
    );
    // The next loop runs normally.
    let serving = Serving::start(server);
    stream_check(serving.address);
    stream_check(serving.address);
    serving.stop().1.unwrap();
}

per_strategy!(
    immediate_shutdown_of_twenty_servers,
    handler_stops_the_server,
    idle_loop_sleeps_and_shutdown_wakes_it,
    shutdown_before_the_loop_applies_once,
);

/// A shutdown from a handler thread of a threading server returns once the loop has stopped,
/// and the loop does not wait for that handler.
#[test]
fn shutdown_from_a_threading_handler_returns_after_the_loop_stops() {
    let (told, heard) = std::sync::mpsc::channel();
    let stopper = move |request: &mut StreamRequest| -> io::Result<()> {
        let handle = request.shutdown_handle().clone();
        handle.shutdown();
        told.send(handle.is_shutdown_requested()).unwrap();
        Ok(())
    };
    let mut server = tcp_server::<socketserver::ThreadingMixIn, _>(stopper);
    let address = server.server_address().unwrap();
    let serving = thread::spawn(move || server.serve_forever());
    let _client = connect(address);
    let still_pending = heard.recv_timeout(PATIENCE).unwrap();
    assert!(
        !still_pending,
        "shutdown() returned before the loop consumed the request"
    );
    join_within(serving, PATIENCE).unwrap();
}

#[test]
fn shutdown_handle_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<socketserver::ShutdownHandle>();
}
