//! What coroutines tell `tracing`: a coroutine that runs too long without suspending is named
//! in a warning — while it still runs, so a handler that never suspends is found too — since
//! its loop's other connections wait meanwhile; and a coroutine's spans are its own, not the
//! other coroutines' of its loop. (A test binary of its own: it installs the process's
//! `tracing` subscriber, which the loop threads log to.)

mod util;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use socketserver::{CoroutineTcpServer, StreamRequest};
use tracing_subscriber::fmt::MakeWriter;

use util::Serving;

/// Everything the subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A handler that computes for `spin` without suspending, then answers.
fn spinning(spin: Duration) -> impl FnMut(&mut StreamRequest) -> io::Result<()> + Clone + Send {
    move |request: &mut StreamRequest| {
        let mut byte = [0; 1];
        request.rfile.read_exact(&mut byte)?;
        // The handler's own work (a computation): it never gives the loop back meanwhile.
        let start = Instant::now();
        while start.elapsed() < spin {
            std::hint::spin_loop();
        }
        request.wfile.write_all(&byte)
    }
}

type OneLoop<H> =
    Serving<socketserver::TcpSocket, socketserver::Coroutines, H, socketserver::DefaultHooks>;

/// A coroutine server on one loop thread, warning past `stall_warning`.
fn one_loop<H>(handler: H, stall_warning: Duration) -> OneLoop<H>
where
    H: socketserver::RequestHandler<StreamRequest>,
{
    let mut server = CoroutineTcpServer::new("127.0.0.1:0", handler).unwrap();
    server
        .dispatch_mut()
        .set_workers(1)
        .set_stall_warning(stall_warning);
    Serving::start(server)
}

fn exchange(address: std::net::SocketAddr) {
    let mut client = TcpStream::connect(address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"x").unwrap();
    let mut byte = [0; 1];
    client.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");
}

/// The process's subscriber (installed once): warnings and warning-level spans, as text.
fn captured() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .init();
        captured
    })
}

/// Two connections on one loop, each inside a span of its own across a read that suspends:
/// what each logs after its read is inside its own span, not inside the span of the one that
/// ran last.
#[test]
fn a_coroutines_spans_are_its_own() {
    let captured = captured();
    let handler = |request: &mut StreamRequest| -> io::Result<()> {
        let mut byte = [0; 1];
        request.rfile.read_exact(&mut byte)?;
        let who = char::from(byte[0]);
        let span = tracing::warn_span!("spanned", who = %who);
        let _inside = span.enter();
        // Suspends until the test sends the second byte; the other connection runs meanwhile.
        request.rfile.read_exact(&mut byte)?;
        tracing::warn!(me = %who, "after the suspending read");
        request.wfile.write_all(&byte)
    };
    let serving = one_loop(handler, Duration::from_secs(3600));
    let connect = || {
        let client = TcpStream::connect(serving.address).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client
    };
    let (mut a, mut b) = (connect(), connect());
    a.write_all(b"a").unwrap();
    b.write_all(b"b").unwrap();
    // Both have entered their span and wait in their second read: `b` last.
    assert!(util::eventually(
        || util::server_read_everything(&a) && util::server_read_everything(&b)
    ));
    let mut byte = [0; 1];
    for client in [&mut a, &mut b] {
        client.write_all(b".").unwrap();
        client.read_exact(&mut byte).unwrap();
    }
    serving.stop().1.unwrap();
    let logged = String::from_utf8_lossy(&captured.0.lock()).into_owned();
    let lines: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("after the suspending read"))
        .collect();
    assert_eq!(lines.len(), 2, "{logged}");
    for line in lines {
        let me = if line.contains("me=a") { 'a' } else { 'b' };
        assert!(
            line.contains(&format!("spanned{{who={me}}}")),
            "an event of connection {me} is inside its own span: {line}"
        );
        let other = if me == 'a' { 'b' } else { 'a' };
        assert!(
            !line.contains(&format!("who={other}")),
            "an event of connection {me} is inside the other's span: {line}"
        );
    }
}

#[test]
fn a_coroutine_that_never_suspends_is_named() {
    let captured = captured();

    // Under the threshold: no warning.
    let serving = one_loop(spinning(Duration::ZERO), Duration::from_secs(3600));
    exchange(serving.address);
    serving.stop().1.unwrap();
    let quiet = String::from_utf8_lossy(&captured.0.lock()).into_owned();
    assert!(!quiet.contains("held up its loop"), "{quiet}");

    // Past it: the stalling coroutine's connection is named.
    let serving = one_loop(
        spinning(Duration::from_millis(50)),
        Duration::from_millis(20),
    );
    exchange(serving.address);
    serving.stop().1.unwrap();
    let logged = String::from_utf8_lossy(&captured.0.lock()).into_owned();
    let warning = logged
        .lines()
        .find(|line| line.contains("held up its loop"))
        .unwrap_or_else(|| panic!("no stall warning in:\n{logged}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("conn_id="),
        "it names the connection: {warning}"
    );
    assert!(
        warning.contains("ran_ms="),
        "and how long it ran: {warning}"
    );

    // A handler that does not suspend until the test sees the warning: found while it runs.
    let release = Arc::new(AtomicBool::new(false));
    let released = Arc::clone(&release);
    let stuck = move |request: &mut StreamRequest| -> io::Result<()> {
        let mut byte = [0; 1];
        request.rfile.read_exact(&mut byte)?;
        // Never gives the loop back until told (as a handler stuck in a computation would).
        while !released.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        request.wfile.write_all(&byte)
    };
    let serving = one_loop(stuck, Duration::from_millis(20));
    let mut client = TcpStream::connect(serving.address).unwrap();
    client.write_all(b"x").unwrap();
    let found = util::eventually(|| {
        String::from_utf8_lossy(&captured.0.lock()).contains("still runs without suspending")
    });
    release.store(true, Ordering::SeqCst);
    assert!(found, "no warning while the coroutine ran");
    let mut byte = [0; 1];
    client.read_exact(&mut byte).unwrap();
    serving.stop().1.unwrap();
}
