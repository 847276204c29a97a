//! Accept errors are classified: transient ones are retried, running out of descriptors backs
//! off without spinning and is logged once per episode, anything else ends `serve_forever` with
//! an error the caller can act on.
//!
//! A transport that wraps `TcpSocket` injects the errors: `TcpServer` is a trait, so this is
//! how any user would wrap a transport, too.

mod util;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use socketserver::{
    BaseServer, Error, RequestContext, StreamRequest, TcpServer, TcpSocket, ThreadingMixIn,
};
use util::{join_within, stream_check, LineEcho, PATIENCE};

/// What the flaky transport does on its next `get_request` calls.
#[derive(Default)]
struct Plan {
    /// errno values to return, one per call, before accepting for real.
    inject: Mutex<VecDeque<i32>>,
    /// While set, every call fails with EMFILE.
    exhausted: AtomicBool,
    calls: AtomicUsize,
}

struct Flaky {
    inner: TcpSocket,
    plan: Arc<Plan>,
}

impl TcpServer for Flaky {
    type Address = SocketAddr;
    type Request = StreamRequest;

    fn server_bind(&mut self) -> io::Result<()> {
        self.inner.server_bind()
    }
    fn server_activate(&mut self) -> io::Result<()> {
        self.inner.server_activate()
    }
    fn get_request(&mut self, context: &RequestContext) -> io::Result<StreamRequest> {
        self.plan.calls.fetch_add(1, Ordering::SeqCst);
        if self.plan.exhausted.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
        if let Some(errno) = self.plan.inject.lock().unwrap().pop_front() {
            return Err(io::Error::from_raw_os_error(errno));
        }
        self.inner.get_request(context)
    }
    fn server_address(&self) -> io::Result<SocketAddr> {
        self.inner.server_address()
    }
    fn fileno(&self) -> Option<BorrowedFd<'_>> {
        self.inner.fileno()
    }
    fn server_close(&mut self) {
        self.inner.server_close();
    }
}

type FlakyServer = BaseServer<Flaky, ThreadingMixIn, LineEcho>;

fn flaky_server() -> (FlakyServer, Arc<Plan>) {
    let plan = Arc::new(Plan::default());
    let inner = TcpSocket::new("127.0.0.1:0".parse().unwrap()).unwrap();
    let server = BaseServer::from_socket(
        Flaky {
            inner,
            plan: Arc::clone(&plan),
        },
        LineEcho,
    )
    .unwrap();
    (server, plan)
}

/// Log lines captured from the serving thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(needle)
            .count()
    }
}

/// Runs `serve_forever` on a thread with a subscriber that captures the log.
fn serve_logged(mut server: FlakyServer, log: Captured) -> thread::JoinHandle<Result<(), Error>> {
    thread::spawn(move || {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || log.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::with_default(subscriber, || server.serve_forever())
    })
}

#[test]
fn transient_accept_errors_are_retried() {
    let (server, plan) = flaky_server();
    plan.inject
        .lock()
        .unwrap()
        .extend([libc::ECONNABORTED, libc::EINTR, libc::EPROTO]);
    let address = server.server_address().unwrap();
    let handle = server.shutdown_handle();
    let serving = serve_logged(server, Captured::default());
    stream_check(address);
    assert!(
        plan.inject.lock().unwrap().is_empty(),
        "all three failures were met and retried"
    );
    assert!(
        plan.calls.load(Ordering::SeqCst) >= 4,
        "three failures, then the real accept"
    );
    handle.shutdown();
    join_within(serving, PATIENCE).unwrap();
}

#[test]
fn running_out_of_descriptors_backs_off_without_spinning() {
    let (server, plan) = flaky_server();
    plan.exhausted.store(true, Ordering::SeqCst);
    let address = server.server_address().unwrap();
    let handle = server.shutdown_handle();
    let log = Captured::default();
    let serving = serve_logged(server, log.clone());

    let client = thread::spawn(move || stream_check(address));
    // Let the exhaustion last a while; this sleep is the window being measured.
    thread::sleep(Duration::from_millis(400));
    let attempts = plan.calls.load(Ordering::SeqCst);
    plan.exhausted.store(false, Ordering::SeqCst);
    join_within(client, PATIENCE); // served once descriptors are back

    // Back-off doubles from 10 ms: about 6 attempts in 400 ms. Python's loop spins here and
    // would make many thousands.
    assert!(
        (1..=20).contains(&attempts),
        "{attempts} accept attempts in 400 ms"
    );
    stream_check(address);
    handle.shutdown();
    join_within(serving, PATIENCE).unwrap();
    assert_eq!(log.count("out of resources"), 1, "logged once per episode");
    assert_eq!(log.count("accepting again"), 1);
}

#[test]
fn fatal_accept_error_ends_serve_forever_with_an_error() {
    let (server, plan) = flaky_server();
    plan.inject.lock().unwrap().push_back(libc::EINVAL);
    let address = server.server_address().unwrap();
    let serving = serve_logged(server, Captured::default());
    let _client = std::net::TcpStream::connect(address).unwrap();
    match join_within(serving, PATIENCE) {
        Err(Error::Accept { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::EINVAL)),
        other => panic!("expected Error::Accept, got {other:?}"),
    }
}
