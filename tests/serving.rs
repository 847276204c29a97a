//! Serving and closing, every case under every dispatch strategy: the stream check then close,
//! closing a server that never served, dropping a server, serving again after a shutdown, and
//! binding and activating by the caller.

#[macro_use]
mod util;

use std::io;
use std::sync::Arc;

use socketserver::{BaseServer, Dispatch, Error, RequestHandler, StreamRequest, TcpSocket};
use util::{stream_check, tcp_server, LineEcho, Serving};

/// Python's handler that also holds a clone of `alive` while it runs, so the test can see
/// whether any request (and its thread) still exists.
#[derive(Clone)]
struct Tracked {
    /// Held only for its reference count.
    _alive: Arc<()>,
}

impl RequestHandler<StreamRequest> for Tracked {
    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        LineEcho.handle(request)
    }
}

/// The stream check three times, then shutdown, join, `server_close`: the listening socket is
/// closed and no request (or its thread) outlives `server_close`.
fn stream_check_three_times_then_close<M: Dispatch + Default>() {
    let alive = Arc::new(());
    let server = tcp_server::<M, _>(Tracked {
        _alive: Arc::clone(&alive),
    });
    let serving = Serving::start(server);
    let address = serving.address;
    for _ in 0..3 {
        stream_check(address);
    }
    let (mut server, result) = serving.stop();
    result.unwrap();
    server.server_close();
    assert!(
        server.fileno().is_none(),
        "server_close must close the listening socket"
    );
    assert!(
        util::tcp_refused(address),
        "nothing may listen on the address after server_close"
    );
    // Only the prototype (inside `server`) and ours remain: no request is alive.
    assert_eq!(
        Arc::strong_count(&alive),
        2,
        "a request outlived server_close"
    );
    drop(server);
    assert_eq!(Arc::strong_count(&alive), 1);
}

/// A server that never handled a request closes cleanly.
fn close_without_requests<M: Dispatch + Default>() {
    let server = tcp_server::<M, _>(LineEcho);
    let (mut server, result) = Serving::start(server).stop();
    result.unwrap();
    server.server_close();
    server.server_close(); // twice is harmless
    assert!(server.fileno().is_none());
    assert!(matches!(server.serve_forever(), Err(Error::Closed)));
}

/// Dropping a server closes its socket, like Python's `with` block.
fn drop_closes_the_socket<M: Dispatch + Default>() {
    let server = tcp_server::<M, _>(LineEcho);
    let address = server.server_address().unwrap();
    stream_check_by_handle_request(server, address);
    assert!(
        util::tcp_refused(address),
        "nothing may listen on the address after drop"
    );
}

/// Serves one stream check with `handle_request`, then drops the server.
fn stream_check_by_handle_request<M: Dispatch>(
    mut server: BaseServer<TcpSocket, M, LineEcho>,
    address: std::net::SocketAddr,
) {
    let client = std::thread::spawn(move || stream_check(address));
    server.handle_request().unwrap();
    util::join_within(client, util::PATIENCE);
}

/// `serve_forever` can run again after `shutdown()` returned.
fn serve_forever_runs_again_after_shutdown<M: Dispatch + Default>() {
    let server = tcp_server::<M, _>(LineEcho);
    let serving = Serving::start(server);
    stream_check(serving.address);
    let (server, result) = serving.stop();
    result.unwrap();
    let serving = Serving::start(server);
    stream_check(serving.address);
    let (_server, result) = serving.stop();
    result.unwrap();
}

/// With bind-and-activate off, the caller changes options, then binds and activates.
fn bind_and_activate_by_the_caller<M: Dispatch + Default>() {
    let mut server: BaseServer<TcpSocket, M, _> =
        BaseServer::<TcpSocket, M, _>::unbound("127.0.0.1:0", LineEcho).unwrap();
    assert!(
        matches!(server.serve_forever(), Err(Error::NotActivated)),
        "serving before activation must be a clear error, not a hang"
    );
    server
        .socket_mut()
        .set_request_queue_size(7)
        .set_allow_reuse_port(true)
        .set_allow_reuse_address(false);
    server.server_bind().unwrap();
    let socket = server.socket().socket().unwrap();
    assert!(
        socket.reuse_port().unwrap(),
        "SO_REUSEPORT must be applied before bind"
    );
    assert!(!socket.reuse_address().unwrap());
    server.server_activate().unwrap();
    assert_ne!(
        server.server_address().unwrap().port(),
        0,
        "the real port is reported"
    );
    let serving = Serving::start(server);
    stream_check(serving.address);
    serving.stop().1.unwrap();
}

per_strategy!(
    stream_check_three_times_then_close,
    close_without_requests,
    drop_closes_the_socket,
    serve_forever_runs_again_after_shutdown,
    bind_and_activate_by_the_caller,
);

#[test]
fn ipv6_server_reports_its_real_address() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine; skipping");
        return;
    };
    drop(listener);
    let server =
        BaseServer::<TcpSocket, socketserver::ThreadingMixIn, _>::new("[::1]:0", LineEcho).unwrap();
    let address = server.server_address().unwrap();
    assert!(address.is_ipv6());
    assert_ne!(address.port(), 0);
    let serving = Serving::start(server);
    stream_check(address);
    serving.stop().1.unwrap();
}

/// A strategy with its settings is given when the server is built, and the server serves with
/// it: a pool of three workers, an event loop of two, at most two threads.
#[test]
fn the_strategy_is_given_when_the_server_is_built() {
    let pool = BaseServer::<TcpSocket, socketserver::ThreadPool, _>::with_dispatch(
        "127.0.0.1:0",
        LineEcho,
        socketserver::ThreadPool::with_workers(3),
    )
    .unwrap();
    assert_eq!(pool.dispatch().workers(), 3);
    let address = pool.server_address().unwrap();
    let serving = Serving::start(pool);
    stream_check(address);
    serving.stop().1.unwrap();

    let threading = BaseServer::<TcpSocket, socketserver::ThreadingMixIn, _>::with_dispatch(
        "127.0.0.1:0",
        LineEcho,
        socketserver::ThreadingMixIn::with_max_threads(2),
    )
    .unwrap();
    assert_eq!(threading.dispatch().max_threads(), Some(2));
    let address = threading.server_address().unwrap();
    let serving = Serving::start(threading);
    stream_check(address);
    serving.stop().1.unwrap();

    let event = socketserver::EventLoop::with_workers(2);
    assert_eq!(event.workers(), 2);
    assert_eq!(
        socketserver::ForkingMixIn::with_max_children(5).max_children(),
        5
    );
}
