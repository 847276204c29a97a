//! Handler errors and panics, and `verify_request` rejecting, failing or panicking. Every
//! request, whatever happens, is shut down and closed exactly once, and the server keeps
//! serving.

#[macro_use]
mod util;

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use parking_lot::Mutex;
use socketserver::{
    Dispatch, RequestError, RequestHandler, SequentialTcpServer, ServerHooks, StreamRequest,
    StreamSocket, ThreadingMixIn,
};
use util::{connect, join_within, read_all, stream_check, tcp_server, Serving, PATIENCE};

/// What a line from the client asks the handler to do.
#[derive(Clone, Default)]
struct Scripted {
    finished: Arc<AtomicUsize>,
}

impl RequestHandler<StreamRequest> for Scripted {
    fn setup(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        request.rfile.read_line(&mut line)?;
        match line.trim_end() {
            "setup-error" => Err(io::Error::other("setup refused")),
            "setup-panic" => panic!("setup panicked"),
            _ => {
                request.wfile.write_all(line.as_bytes())?;
                Ok(())
            }
        }
    }

    fn handle(&mut self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        request.rfile.read_line(&mut line)?;
        match line.trim_end() {
            "error" => Err(io::Error::other("handler refused")),
            "panic" => panic!("handler panicked on purpose"),
            _ => request.wfile.write_all(line.as_bytes()),
        }
    }

    fn finish(&mut self, _request: &mut StreamRequest) -> io::Result<()> {
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Records every `handle_error` call: the error text, the thread, and proof the request was
/// still open (it writes a marker line to the client).
#[derive(Default)]
struct Recorder {
    errors: Mutex<Vec<(String, Option<String>)>>,
}

impl ServerHooks<StreamRequest> for Recorder {
    fn handle_error(&self, request: &StreamRequest, error: &RequestError) {
        // The request is still open here, before shutdown_request.
        let _ = request.socket().write_some(b"reported\n");
        let thread = thread::current().name().map(str::to_owned);
        self.errors.lock().push((error.to_string(), thread));
    }
}

/// Sends two lines (for `setup` and `handle`) and returns everything the server sent before
/// closing the connection.
fn exchange(address: SocketAddr, setup_line: &str, handle_line: &str) -> String {
    let mut client = connect(address);
    // One write, so the server has read everything before it closes (unread input would make
    // the close a reset).
    let lines = if handle_line.is_empty() {
        format!("{setup_line}\n")
    } else {
        format!("{setup_line}\n{handle_line}\n")
    };
    client.write_all(lines.as_bytes()).unwrap();
    String::from_utf8(read_all(&mut client)).unwrap()
}

/// An error or panic in `setup` or `handle` reaches `handle_error` exactly once, while the
/// request is still open and on the thread the request ran on (a worker thread under
/// threading), with `shutdown_request` afterwards; `finish` runs after a failed `handle` but
/// not after a failed `setup`; a panic does not take the server down.
fn errors_and_panics_reach_handle_error<M: Dispatch + Default>() {
    let handler = Scripted::default();
    let finished = Arc::clone(&handler.finished);
    let server = tcp_server::<M, _>(handler).with_hooks(Recorder::default());
    let serving = Serving::start(server);
    let address = serving.address;

    // A handler error: reported once, finish still runs, the client gets EOF.
    assert_eq!(exchange(address, "a", "error"), "a\nreported\n");
    // A panic in handle: the same.
    assert_eq!(exchange(address, "b", "panic"), "b\nreported\n");
    // A setup failure skips handle and finish.
    assert_eq!(exchange(address, "setup-error", ""), "reported\n");
    assert_eq!(exchange(address, "setup-panic", ""), "reported\n");
    // The server goes on.
    assert_eq!(exchange(address, "c", "d"), "c\nd\n");

    let (server, result) = serving.stop();
    result.unwrap();
    let errors = server.hooks().errors.lock().clone();
    let texts: Vec<&str> = errors.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "handler failed: handler refused",
            "handler panicked: handler panicked on purpose",
            "handler failed: setup refused",
            "handler panicked: setup panicked",
        ],
        "handle_error must be called exactly once per failed request"
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        3,
        "finish runs after handle, even a failed one, never after setup failed"
    );
    let threads: Vec<_> = errors
        .iter()
        .map(|(_, thread)| thread.clone().unwrap_or_default())
        .collect();
    let on_workers = threads
        .iter()
        .all(|name| name.starts_with("socketserver-request-"));
    assert_eq!(
        on_workers,
        server.dispatch_name() == "threading",
        "handle_error runs where the request ran: {threads:?}"
    );
}

trait DispatchName {
    fn dispatch_name(&self) -> &'static str;
}

impl<M: Dispatch, H, K> DispatchName
    for socketserver::BaseServer<socketserver::TcpSocket, M, H, K>
{
    fn dispatch_name(&self) -> &'static str {
        self.dispatch().name()
    }
}

/// A `verify_request` that rejects, fails or panics as the test switches it.
#[derive(Default)]
struct Gate {
    mode: Mutex<&'static str>,
    reported: AtomicUsize,
}

impl ServerHooks<StreamRequest> for Gate {
    fn verify_request(&self, _request: &StreamRequest) -> io::Result<bool> {
        match *self.mode.lock() {
            "reject" => Ok(false),
            "error" => Err(io::Error::other("verify failed")),
            "panic" => panic!("verify panicked"),
            _ => Ok(true),
        }
    }

    fn handle_error(&self, _request: &StreamRequest, _error: &RequestError) {
        self.reported.fetch_add(1, Ordering::SeqCst);
    }
}

/// A handler that must never run.
fn never(_request: &mut StreamRequest) -> io::Result<()> {
    panic!("the handler ran for a rejected request")
}

/// `verify_request` returning false, failing or panicking: the handler never runs, the request
/// is shut down (the client reads EOF; `shutdown_request` consumes the request, so the type
/// system rules out a second call), errors go to `handle_error`, and the server keeps serving.
fn rejected_requests_are_closed<M: Dispatch + Default>() {
    let gate = Gate::default();
    let mut server =
        tcp_server::<M, _>(never as fn(&mut StreamRequest) -> io::Result<()>).with_hooks(gate);
    let address = server.server_address().unwrap();
    for (mode, reports) in [("reject", 0), ("error", 1), ("panic", 2)] {
        *server.hooks().mode.lock() = mode;
        let client = thread::spawn(move || {
            let mut client = connect(address);
            client.write_all(b"ignored\n").unwrap();
            read_all(&mut client)
        });
        server.handle_request().unwrap();
        assert_eq!(
            join_within(client, PATIENCE),
            b"",
            "the rejected client reads EOF ({mode})"
        );
        assert_eq!(
            server.hooks().reported.load(Ordering::SeqCst),
            reports,
            "{mode}"
        );
    }
}

per_strategy_in_process!(errors_and_panics_reach_handle_error);
per_strategy!(rejected_requests_are_closed);

/// Exactly as Python's test checks it: a sequential server's `handle_request` returns normally
/// after a handler error, and the next request is served.
#[test]
fn handle_request_returns_normally_after_a_handler_error() {
    let failing = |request: &mut StreamRequest| -> io::Result<()> {
        let mut line = String::new();
        request.rfile.read_line(&mut line)?;
        if line == "fail\n" {
            return Err(io::Error::other("asked to fail"));
        }
        request.wfile.write_all(line.as_bytes())
    };
    let mut server = SequentialTcpServer::new("127.0.0.1:0", failing)
        .unwrap()
        .with_hooks(Recorder::default());
    let address = server.server_address().unwrap();
    let client = thread::spawn(move || {
        let mut client = connect(address);
        client.write_all(b"fail\n").unwrap();
        read_all(&mut client)
    });
    server.handle_request().unwrap();
    assert_eq!(join_within(client, PATIENCE), b"reported\n");
    assert_eq!(server.hooks().errors.lock().len(), 1);
    let client = thread::spawn(move || stream_check(address));
    server.handle_request().unwrap();
    join_within(client, PATIENCE);
    assert_eq!(server.hooks().errors.lock().len(), 1);
}

/// A client that disconnects mid-request: the handler's error is reported, nothing else
/// breaks, the server keeps serving.
#[test]
fn client_reset_mid_request_is_reported_and_the_server_goes_on() {
    let (told, heard) = std::sync::mpsc::channel::<()>();
    let told = Arc::new(Mutex::new(told));
    let writer = move |request: &mut StreamRequest| -> io::Result<()> {
        let mut line = String::new();
        request.rfile.read_line(&mut line)?;
        if line == "big\n" {
            told.lock().send(()).unwrap();
            // Keep writing until the vanished client makes the write fail.
            let chunk = vec![b'x'; 64 * 1024];
            loop {
                request.wfile.write_all(&chunk)?;
            }
        }
        request.wfile.write_all(line.as_bytes())
    };
    let server = tcp_server::<ThreadingMixIn, _>(writer).with_hooks(Recorder::default());
    let serving = Serving::start(server);
    let mut client = connect(serving.address);
    client.write_all(b"big\n").unwrap();
    heard.recv_timeout(PATIENCE).unwrap();
    let socket = socket2::Socket::from(client);
    socket.set_linger(Some(std::time::Duration::ZERO)).unwrap(); // close with a reset
    drop(socket);
    stream_check(serving.address);
    let (server, result) = serving.stop();
    result.unwrap();
    drop(server); // block_on_close: the failed handler has finished
}
