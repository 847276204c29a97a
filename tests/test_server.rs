//! `TestServer`, the harness for users' tests: a clean stop passes; a thread that outlives the
//! server, or a close that cannot finish, is reported.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use socketserver::{CoroutineTcpServer, Leak, StreamRequest, TestServer, ThreadingTcpServer};

mod util;

use util::{connect, PATIENCE};

fn echo(req: &mut StreamRequest) -> std::io::Result<()> {
    std::io::copy(&mut req.rfile, &mut req.wfile).map(drop)
}

#[test]
fn a_clean_stop_reports_what_the_server_did() {
    let server = TestServer::start(ThreadingTcpServer::new("127.0.0.1:0", echo).unwrap());
    let mut client = connect(server.address());
    client.write_all(b"hi").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"hi");
    let stopped = server.stop(PATIENCE).unwrap();
    stopped.result.unwrap();
    assert_eq!(
        (stopped.stats.accepted, stopped.stats.closed_completed),
        (1, 1)
    );
    assert_eq!(stopped.live_workers, 0);
}

/// Under coroutines a connection still open at the stop is ended by its loop (its socket shut
/// down, its handler run to its end): nothing outlives the server, and the client reads the
/// end of its stream.
#[test]
fn coroutines_end_their_connections_at_the_stop() {
    let server = TestServer::start(CoroutineTcpServer::new("127.0.0.1:0", echo).unwrap());
    let mut client = connect(server.address());
    client.write_all(b"x").unwrap();
    let mut reply = [0];
    client.read_exact(&mut reply).unwrap(); // the coroutine is suspended in its next read
    let stopped = server.stop(PATIENCE).unwrap();
    stopped.result.unwrap();
    assert_eq!(stopped.live_workers, 0);
    assert_eq!(stopped.stats.accepted, 1);
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).unwrap(), 0, "{rest:?}");
}

#[test]
fn a_request_thread_that_outlives_the_server_is_a_leak() {
    let mut server = ThreadingTcpServer::new("127.0.0.1:0", echo).unwrap();
    // Python's bpo-31233: with daemon threads the close does not wait for handlers.
    server.dispatch_mut().set_daemon_threads(true);
    let server = TestServer::start(server);
    let mut client = connect(server.address());
    client.write_all(b"x").unwrap();
    let mut reply = [0];
    client.read_exact(&mut reply).unwrap(); // the handler thread runs, blocked in read
    let leak = server.stop(PATIENCE).unwrap_err();
    assert_eq!(
        leak,
        Leak::Outlived {
            connections: 1,
            workers: 1
        }
    );
    drop(client); // lets the handler end
}

#[test]
fn a_close_that_cannot_finish_in_time_is_reported() {
    let server = TestServer::start(ThreadingTcpServer::new("127.0.0.1:0", echo).unwrap());
    let mut client = connect(server.address());
    client.write_all(b"x").unwrap();
    let mut reply = [0];
    client.read_exact(&mut reply).unwrap();
    let deadline = Duration::from_millis(200);
    // The close waits for the handler, which waits for this client.
    assert_eq!(
        server.stop(deadline).unwrap_err(),
        Leak::DidNotStop { deadline }
    );
    drop(client);
}
