//! Limits on connections (in all, per source, the descriptor reserve), the two overload
//! policies, the stats that count what happened, and the panic policy.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use socketserver::{
    BaseServer, Connection, Dispatch, Error, EventLoop, Limits, Overload, PanicPolicy,
    PoolTcpServer, Protocol, ProtocolHandler, RequestError, ServerHooks, StreamOptions,
    StreamRequest, TcpSocket, TestServer, ThreadingMixIn,
};

mod util;

use util::{answers_soon, closed_at_once, connect, connect_from, eventually, exchange, PATIENCE};

/// Echoes; the same protocol runs under every strategy.
#[derive(Clone, Default)]
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        conn.write(data);
        Ok(())
    }
}

fn echo_server<M: Dispatch + Default>(
    limits: Limits,
) -> BaseServer<TcpSocket, M, ProtocolHandler<Echo>> {
    let mut server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", ProtocolHandler::new(Echo)).unwrap();
    server.set_limits(limits);
    server
}

fn round_trip(client: &mut TcpStream, byte: u8) {
    client.write_all(&[byte]).unwrap();
    let mut reply = [0];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], byte);
}

/// At `max_connections` with `Overload::Wait`, a third client waits unanswered (not accepted)
/// and is served once one of the two closes.
fn wait_policy<M: Dispatch + Default>() {
    let server = echo_server::<M>(Limits {
        max_connections: Some(2),
        ..Limits::default()
    });
    let stats = server.stats_handle();
    let serving = TestServer::start(server);
    let mut first = connect(serving.address());
    let mut second = connect(serving.address());
    round_trip(&mut first, 1);
    round_trip(&mut second, 2);
    let mut third = connect(serving.address());
    assert!(!answers_soon(&mut third, 3), "the third client must wait");
    assert_eq!(
        stats.stats().accepted,
        2,
        "the third is left in the backlog"
    );
    drop(first);
    let mut reply = [0];
    third.read_exact(&mut reply).unwrap(); // served once a slot frees
    assert_eq!(reply[0], 3);
    let seen = stats.stats();
    assert_eq!((seen.peak, seen.accept_pauses >= 1), (2, true), "{seen:?}");
    drop((second, third));
    serving.stop(PATIENCE).unwrap();
}

per_threaded_strategy!(wait_policy);

/// At `max_connections` with `Overload::Refuse`, a third client is closed at once and
/// counted; the two held go on.
fn refuse_policy<M: Dispatch + Default>() {
    let server = echo_server::<M>(Limits {
        max_connections: Some(2),
        overload: Overload::Refuse,
        ..Limits::default()
    });
    let stats = server.stats_handle();
    let serving = TestServer::start(server);
    let mut first = connect(serving.address());
    let mut second = connect(serving.address());
    round_trip(&mut first, 1);
    round_trip(&mut second, 2);
    let mut third = connect(serving.address());
    assert!(closed_at_once(&mut third));
    round_trip(&mut first, 4);
    let seen = stats.stats();
    assert_eq!(
        (seen.accepted, seen.refused_at_limit, seen.open),
        (3, 1, 2),
        "{seen:?}"
    );
    drop((first, second));
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn threading_refuses_at_max_connections() {
    refuse_policy::<ThreadingMixIn>();
}

#[test]
fn event_refuses_at_max_connections() {
    refuse_policy::<EventLoop>();
}

#[test]
fn coroutine_refuses_at_max_connections() {
    refuse_policy::<socketserver::Coroutines>();
}

#[test]
fn per_source_limit_over_ipv4_closes_the_extra_connection_and_serves_other_sources() {
    let server = echo_server::<ThreadingMixIn>(Limits {
        max_per_source: Some(1),
        ..Limits::default()
    });
    let stats = server.stats_handle();
    let serving = TestServer::start(server);
    let mut first = connect_from("127.0.0.1:0", serving.address());
    round_trip(&mut first, 1);
    let mut second = connect_from("127.0.0.1:0", serving.address());
    assert!(
        closed_at_once(&mut second),
        "the second from 127.0.0.1 is closed"
    );
    let mut other = connect_from("127.0.0.2:0", serving.address());
    round_trip(&mut other, 2);
    assert_eq!(stats.stats().refused_per_source, 1);
    drop(first);
    // The slot is back once the first closes.
    assert!(eventually(|| stats.stats().open == 1));
    let mut again = connect_from("127.0.0.1:0", serving.address());
    round_trip(&mut again, 3);
    drop((other, again));
    serving.stop(PATIENCE).unwrap();
}

#[test]
fn per_source_limit_over_ipv6() {
    let Ok(mut server) =
        BaseServer::<TcpSocket, EventLoop, _>::new("[::1]:0", ProtocolHandler::new(Echo))
    else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    server.set_limits(Limits {
        max_per_source: Some(1),
        ..Limits::default()
    });
    let serving = TestServer::start(server);
    let mut first = connect(serving.address());
    round_trip(&mut first, 1);
    let mut second = connect(serving.address());
    assert!(closed_at_once(&mut second));
    round_trip(&mut first, 2);
    drop(first);
    serving.stop(PATIENCE).unwrap();
}

/// The descriptor reserve pauses accepting before the process runs out of descriptors. Run in
/// a subprocess of its own: the server counts this process's descriptors when serving starts.
#[test]
fn the_descriptor_reserve_pauses_accepting_before_the_limit() {
    util::in_subprocess(
        "the_descriptor_reserve_pauses_accepting_before_the_limit",
        || {
            let mut server = echo_server::<ThreadingMixIn>(Limits::default());
            let open = std::fs::read_dir("/proc/self/fd").unwrap().count() - 1;
            let limit = socketserver::raise_fd_limit().unwrap() as usize;
            // Room for exactly two connections above what is open now.
            server.set_limits(Limits {
                descriptor_reserve: limit - open - 2,
                ..Limits::default()
            });
            let stats = server.stats_handle();
            let serving = TestServer::start(server);
            // The server takes its descriptor count as it starts: no client may exist yet.
            assert!(eventually(|| serving.shutdown_handle().is_serving()));
            let mut first = connect(serving.address());
            let mut second = connect(serving.address());
            round_trip(&mut first, 1);
            round_trip(&mut second, 2);
            let mut third = connect(serving.address());
            assert!(
                !answers_soon(&mut third, 3),
                "accepting pauses at the reserve"
            );
            drop(first);
            let mut reply = [0];
            third.read_exact(&mut reply).unwrap();
            assert!(stats.stats().accept_pauses >= 1);
            drop((second, third));
            serving.stop(PATIENCE).unwrap();
        },
    );
}

/// Fails on "fail", panics on "panic", idles past its timeout otherwise (parked).
#[derive(Clone, Default)]
struct Outcomes;

impl socketserver::RequestHandler<StreamRequest> for Outcomes {
    fn setup(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        request.park();
        Ok(())
    }
    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut word = [0; 4];
        let n = request.rfile.read(&mut word)?;
        match &word[..n] {
            b"fail" => Err(io::Error::other("asked to fail")),
            b"pani" => panic!("asked to panic"),
            b"done" => Ok(()),
            b"" => Ok(()),
            _ => {
                request.wfile.write_all(&word[..n])?;
                request.park();
                Ok(())
            }
        }
    }
}

/// Keeps `handle_error` quiet and turns away clients that send nothing first... by port.
#[derive(Default)]
struct Quiet;

impl ServerHooks<StreamRequest> for Quiet {
    fn handle_error(&self, _request: &StreamRequest, _error: &RequestError) {}
}

#[test]
fn stats_count_every_connection_once_by_how_it_ended() {
    let mut server = PoolTcpServer::new("127.0.0.1:0", Outcomes)
        .unwrap()
        .with_hooks(Quiet);
    server.dispatch_mut().set_workers(2);
    server.socket_mut().set_stream_options(StreamOptions {
        idle_timeout: Some(Duration::from_millis(200)),
        ..StreamOptions::default()
    });
    let stats = server.stats_handle();
    let serving = TestServer::start(server);
    for word in [b"done", b"fail", b"pani"] {
        let mut client = connect(serving.address());
        client.write_all(word).unwrap();
        assert!(closed_at_once(&mut client));
    }
    // One that goes silent: closed by the idle timeout.
    let mut silent = connect(serving.address());
    silent.write_all(b"echo").unwrap();
    let mut reply = [0; 4];
    silent.read_exact(&mut reply).unwrap();
    assert!(closed_at_once(&mut silent));
    // One parked when the server closes.
    let mut parked = connect(serving.address());
    parked.write_all(b"ping").unwrap();
    parked.read_exact(&mut reply).unwrap();
    assert!(eventually(|| stats.stats().parked == 1));
    let socketserver::Stopped { server, result, .. } = serving.stop(PATIENCE).unwrap();
    result.unwrap();
    drop(server);
    parked.shutdown(Shutdown::Write).unwrap();
    let seen = stats.stats();
    assert_eq!(seen.accepted, 5, "{seen:?}");
    assert_eq!(seen.open, 0, "{seen:?}");
    assert_eq!(seen.parked, 0, "{seen:?}");
    assert_eq!(
        (
            seen.closed_completed,
            seen.closed_error,
            seen.closed_panicked,
            seen.closed_idle_timeout,
            seen.closed_server_closing
        ),
        (1, 1, 1, 1, 1),
        "{seen:?}"
    );
    assert_eq!(seen.panics, 1);
}

#[test]
fn verify_request_refusals_are_counted_as_refusals_not_closes() {
    struct Nobody;
    impl ServerHooks<StreamRequest> for Nobody {
        fn verify_request(&self, _request: &StreamRequest) -> io::Result<bool> {
            Ok(false)
        }
    }
    let server =
        BaseServer::<TcpSocket, ThreadingMixIn, _>::new("127.0.0.1:0", ProtocolHandler::new(Echo))
            .unwrap()
            .with_hooks(Nobody);
    let stats = server.stats_handle();
    let serving = TestServer::start(server);
    let mut client = connect(serving.address());
    assert!(closed_at_once(&mut client));
    assert!(eventually(|| stats.stats().refused_by_verify == 1));
    let seen = stats.stats();
    assert_eq!((seen.open, seen.closed_completed), (0, 0), "{seen:?}");
    serving.stop(PATIENCE).unwrap();
}

/// Panics on every connection.
#[derive(Clone, Default)]
struct AlwaysPanics;

impl Protocol for AlwaysPanics {
    fn data_received(&mut self, _conn: &mut Connection<'_>, _data: &[u8]) -> io::Result<()> {
        panic!("always");
    }
}

/// `PanicPolicy::Budget`: past the budget the server stops with an error.
fn panic_budget_stops_the_server<M: Dispatch + Default>() {
    let mut server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", ProtocolHandler::new(AlwaysPanics))
            .unwrap()
            .with_hooks(Quiet);
    server.set_panic_policy(PanicPolicy::Budget {
        panics: 2,
        window: Duration::from_secs(60),
    });
    let address = server.server_address().unwrap();
    let serving = std::thread::spawn(move || server.serve_forever());
    // Within the budget the server goes on; the third panic stops it.
    for _ in 0..3 {
        let mut client = connect(address);
        client.write_all(b"x").unwrap();
        assert!(closed_at_once(&mut client));
    }
    let result = util::join_within(serving, PATIENCE);
    assert!(
        matches!(result, Err(Error::PanicBudgetExceeded { panics: 2, .. })),
        "{result:?}"
    );
}

#[test]
fn threading_panic_budget_stops_the_server() {
    panic_budget_stops_the_server::<ThreadingMixIn>();
}

#[test]
fn event_panic_budget_stops_the_server() {
    panic_budget_stops_the_server::<EventLoop>();
}

/// `PanicPolicy::Abort` ends the process at the first panic (run in a child process: this
/// test binary runs itself with an environment variable and expects SIGABRT).
#[test]
fn panic_policy_abort_aborts_the_process() {
    const CHILD: &str = "SOCKETSERVER_TEST_ABORT_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let mut server = BaseServer::<TcpSocket, ThreadingMixIn, _>::new(
            "127.0.0.1:0",
            ProtocolHandler::new(AlwaysPanics),
        )
        .unwrap()
        .with_hooks(Quiet);
        server.set_panic_policy(PanicPolicy::Abort);
        let address = server.server_address().unwrap();
        std::thread::spawn(move || server.serve_forever());
        let mut client = connect(address);
        client.write_all(b"x").unwrap();
        let _ = closed_at_once(&mut client);
        std::thread::sleep(PATIENCE); // the abort ends this process long before
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "panic_policy_abort_aborts_the_process",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "{:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Panics on a message that starts with `!`, echoes every other.
#[derive(Clone, Default)]
struct SometimesPanics;

impl Protocol for SometimesPanics {
    fn data_received(&mut self, conn: &mut Connection<'_>, data: &[u8]) -> io::Result<()> {
        assert!(!data.starts_with(b"!"), "a handler bug, on purpose");
        conn.write(data);
        Ok(())
    }
}

/// One request in a hundred panics (isolated, the default policy): every other request is
/// still answered, and each panic is counted once.
fn one_percent_panics_leave_the_rest_served<M: Dispatch + Default>() {
    let server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", ProtocolHandler::new(SometimesPanics))
            .unwrap()
            .with_hooks(Quiet);
    let server = TestServer::start(server);
    let mut answered = 0;
    for n in 0..300 {
        let mut client = connect(server.address());
        if n % 100 == 7 {
            client.write_all(b"!boom").unwrap();
            assert!(
                closed_at_once(&mut client),
                "a panic closes its own connection"
            );
        } else {
            exchange(&mut client, format!("request {n}").as_bytes());
            answered += 1;
        }
    }
    assert_eq!(answered, 297);
    assert!(
        eventually(|| server.stats().panics == 3),
        "{:?}",
        server.stats()
    );
    server.stop(PATIENCE).unwrap();
}

per_threaded_strategy!(one_percent_panics_leave_the_rest_served);
