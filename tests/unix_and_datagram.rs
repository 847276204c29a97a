//! Bad input and the datagram and Unix socket specifics: oversized datagrams (reported, not
//! truncated), a handler that writes nothing, stale, live and foreign files at the socket's
//! path, long or unusable paths, vanished clients, peer credentials, file modes and abstract
//! addresses. In every case the server keeps serving.

mod util;

use std::io::{self, Write};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use parking_lot::Mutex;
use socketserver::{
    DatagramRequest, Error, PeerCredentials, RequestError, ServerHooks, StreamRequest,
    ThreadingUnixStreamServer, UdpServer, UnixDatagramServer, UnixStreamServer,
};
use util::transports::{unix_datagram_check, unix_stream_check, DatagramEcho, StreamEcho, TempDir};
use util::{Serving, PATIENCE};

/// Records the errors `handle_error` sees.
#[derive(Default)]
struct Errors {
    seen: Mutex<Vec<String>>,
}

impl<R: socketserver::Request> ServerHooks<R> for Errors {
    fn handle_error(&self, _request: &R, error: &RequestError) {
        self.seen.lock().push(error.to_string());
    }
}

/// A UDP datagram longer than `max_packet_size` is not truncated silently: it goes to
/// `handle_error` as `DatagramTooLarge`, the handler never sees it, no reply is sent, and the
/// next datagram is served.
#[test]
fn oversized_udp_datagram_is_reported_not_truncated() {
    let mut server = UdpServer::new("127.0.0.1:0", DatagramEcho)
        .unwrap()
        .with_hooks(Errors::default());
    let address = server.server_address().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(&vec![b'x'; 9000], address).unwrap();
    server.handle_request().unwrap();
    client.send_to(b"small\n", address).unwrap();
    server.handle_request().unwrap();
    let mut reply = [0; 16];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(
        &reply[..n],
        b"small\n",
        "the first reply is the small one: nothing was sent for the big one"
    );
    let seen = server.hooks().seen.lock().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].contains("longer than max_packet_size (8192 bytes)"),
        "{}",
        seen[0]
    );
}

/// Opt-in: with `deliver_truncated` the handler gets the cut packet, flagged.
#[test]
fn truncated_datagram_delivered_when_asked() {
    let (seen_tx, seen_rx) = mpsc::channel();
    let handler = move |request: &mut DatagramRequest| -> io::Result<()> {
        seen_tx
            .send((request.packet().len(), request.is_truncated()))
            .unwrap();
        Ok(())
    };
    let mut server = UdpServer::new("127.0.0.1:0", handler).unwrap();
    server
        .socket_mut()
        .set_max_packet_size(100)
        .set_deliver_truncated(true);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(&[7; 150], server.server_address().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    assert_eq!(seen_rx.recv().unwrap(), (100, true));
}

/// An oversized datagram over a Unix datagram socket is reported too, and the server goes on.
#[test]
fn oversized_unix_datagram_is_reported() {
    let dir = TempDir::new();
    let mut server = UnixDatagramServer::new(dir.join("s.sock"), DatagramEcho)
        .unwrap()
        .with_hooks(Errors::default());
    let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
    client.send_to(&vec![0; 9000], dir.join("s.sock")).unwrap();
    server.handle_request().unwrap();
    assert_eq!(server.hooks().seen.lock().len(), 1);
    let serving = Serving::start(server);
    unix_datagram_check(&dir.join("s.sock"), &dir);
    serving.stop().1.unwrap();
}

/// A handler that writes nothing sends nothing (Python sends an empty datagram).
#[test]
fn nothing_written_nothing_sent() {
    let handler = |request: &mut DatagramRequest| -> io::Result<()> {
        if request.packet() != b"silent" {
            request.wfile.write_all(request.rfile.get_ref())?;
        }
        Ok(())
    };
    let mut server = UdpServer::new("127.0.0.1:0", handler).unwrap();
    let address = server.server_address().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"silent", address).unwrap();
    server.handle_request().unwrap();
    client.send_to(b"loud", address).unwrap();
    server.handle_request().unwrap();
    let mut reply = [0; 16];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(
        &reply[..n],
        b"loud",
        "no (empty) datagram may come before the real reply"
    );
}

/// A stale socket file (no server answers) is replaced.
#[test]
fn stale_socket_file_is_replaced() {
    let dir = TempDir::new();
    let path = dir.join("s.sock");
    drop(UnixListener::bind(&path).unwrap()); // leaves the file behind, like a crash
    assert!(path.exists());
    let server = UnixStreamServer::new(&path, StreamEcho).unwrap();
    let serving = Serving::start(server);
    unix_stream_check(&path);
    serving.stop().1.unwrap();

    let dgram = dir.join("d.sock");
    drop(UnixDatagram::bind(&dgram).unwrap());
    let server = UnixDatagramServer::new(&dgram, DatagramEcho).unwrap();
    let serving = Serving::start(server);
    unix_datagram_check(&dgram, &dir);
    serving.stop().1.unwrap();
}

/// Where a live server answers, a second server gets a clear "address in use" error and the
/// first keeps serving.
#[test]
fn live_server_is_left_alone() {
    let dir = TempDir::new();
    let path = dir.join("s.sock");
    let first = Serving::start(UnixStreamServer::new(&path, StreamEcho).unwrap());
    match UnixStreamServer::new(&path, StreamEcho) {
        Err(Error::Bind { source, .. }) => {
            assert_eq!(source.kind(), io::ErrorKind::AddrInUse);
            assert!(source.to_string().contains("already listening"), "{source}");
        }
        other => panic!("expected Error::Bind, got {other:?}"),
    }
    unix_stream_check(&path);
    first.stop().1.unwrap();

    let dgram = dir.join("d.sock");
    let first = Serving::start(UnixDatagramServer::new(&dgram, DatagramEcho).unwrap());
    assert!(matches!(
        UnixDatagramServer::new(&dgram, DatagramEcho),
        Err(Error::Bind { .. })
    ));
    unix_datagram_check(&dgram, &dir);
    first.stop().1.unwrap();
}

/// A path that exists and is not a socket is never removed.
#[test]
fn regular_file_is_not_touched() {
    let dir = TempDir::new();
    let path = dir.join("data.txt");
    std::fs::write(&path, b"precious").unwrap();
    match UnixStreamServer::new(&path, StreamEcho) {
        Err(Error::Bind { source, .. }) => {
            assert!(source.to_string().contains("not a socket"), "{source}")
        }
        other => panic!("expected Error::Bind, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

/// On close the server removes its own file, but not a file that replaced it.
#[test]
fn only_our_own_file_is_removed() {
    let dir = TempDir::new();
    let path = dir.join("s.sock");
    let server = UnixStreamServer::new(&path, StreamEcho).unwrap();
    std::fs::remove_file(&path).unwrap();
    let other = UnixListener::bind(&path).unwrap(); // someone else's socket, same path
    drop(server);
    assert!(path.exists(), "the server removed a file it did not create");
    assert!(UnixStream::connect(&path).is_ok());
    drop(other);
}

/// A path longer than the OS allows is a clear error, not a panic or a truncated path.
#[test]
fn path_too_long_is_a_clear_error() {
    let long = format!("/tmp/{}", "x".repeat(200));
    match UnixStreamServer::new(&long, StreamEcho) {
        Err(error @ Error::Bind { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("at most 107") || message.contains("at most 103"),
                "{message}"
            );
        }
        other => panic!("expected Error::Bind, got {other:?}"),
    }
    assert!(matches!(
        UnixDatagramServer::new(&long, DatagramEcho),
        Err(Error::Bind { .. })
    ));
}

/// A directory that does not exist, or where nobody may create files, is a clear error that
/// names the path.
#[test]
fn unusable_directory_is_a_clear_error() {
    match UnixStreamServer::new("/tmp/no-such-dir-socketserver/s.sock", StreamEcho) {
        Err(error @ Error::Bind { .. }) => {
            assert!(
                error
                    .to_string()
                    .contains("/tmp/no-such-dir-socketserver/s.sock"),
                "{error}"
            );
            let Error::Bind { source, .. } = error else {
                unreachable!()
            };
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected Error::Bind, got {other:?}"),
    }
    // /proc refuses new files even to root.
    assert!(matches!(
        UnixStreamServer::new("/proc/socketserver.sock", StreamEcho),
        Err(Error::Bind { .. })
    ));
}

/// A datagram client that goes away before the reply: documented as not the handler's
/// failure (nothing reported), and the server keeps serving.
#[test]
fn datagram_client_gone_before_reply() {
    let dir = TempDir::new();
    let (arrived_tx, arrived_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Arc::new(Mutex::new(go_rx));
    let slow_echo = move |request: &mut DatagramRequest<UnixDatagram>| -> io::Result<()> {
        if request.packet() == b"wait" {
            arrived_tx.send(()).unwrap();
            go_rx
                .lock()
                .recv_timeout(PATIENCE)
                .map_err(io::Error::other)?;
        }
        request.wfile.write_all(request.rfile.get_ref())
    };
    let server = UnixDatagramServer::new(dir.join("s.sock"), slow_echo)
        .unwrap()
        .with_hooks(Errors::default());
    let serving = Serving::start(server);
    let gone = dir.join("gone.sock");
    let client = UnixDatagram::bind(&gone).unwrap();
    client.send_to(b"wait", dir.join("s.sock")).unwrap();
    arrived_rx.recv_timeout(PATIENCE).unwrap();
    drop(client);
    std::fs::remove_file(&gone).unwrap();
    go_tx.send(()).unwrap();
    // The next client is served (by a sequential server, so the reply above was attempted).
    let own = dir.join("next.sock");
    let next = UnixDatagram::bind(&own).unwrap();
    next.set_read_timeout(Some(PATIENCE)).unwrap();
    next.send_to(b"hello", dir.join("s.sock")).unwrap();
    let mut reply = [0; 8];
    let n = next.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"hello");
    let (server, result) = serving.stop();
    result.unwrap();
    assert!(
        server.hooks().seen.lock().is_empty(),
        "a vanished client is not an error: {:?}",
        server.hooks().seen.lock()
    );
}

/// A Unix stream client that disconnects mid-request: the handler's error is reported, the
/// server keeps serving.
#[test]
fn unix_stream_client_gone_mid_request() {
    let dir = TempDir::new();
    let path = dir.join("s.sock");
    let (arrived_tx, arrived_rx) = mpsc::channel();
    let writer = move |request: &mut StreamRequest<UnixStream>| -> io::Result<()> {
        let mut line = String::new();
        io::BufRead::read_line(&mut request.rfile, &mut line)?;
        if line == "flood\n" {
            arrived_tx.send(()).unwrap();
            let chunk = vec![b'y'; 64 * 1024];
            loop {
                request.wfile.write_all(&chunk)?;
            }
        }
        request.wfile.write_all(line.as_bytes())
    };
    let server = ThreadingUnixStreamServer::new(&path, writer)
        .unwrap()
        .with_hooks(Errors::default());
    let serving = Serving::start(server);
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"flood\n").unwrap();
    arrived_rx.recv_timeout(PATIENCE).unwrap();
    drop(client);
    unix_stream_check(&path);
    let (mut server, result) = serving.stop();
    result.unwrap();
    server.server_close(); // waits for the flooding handler, which failed
    let seen = server.hooks().seen.lock().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("Broken pipe") || seen[0].contains("reset"),
        "{}",
        seen[0]
    );
}

/// Handlers see the client's credentials; the socket file gets the requested mode.
#[test]
fn peer_credentials_and_file_mode() {
    let dir = TempDir::new();
    let path = dir.join("s.sock");
    let (creds_tx, creds_rx) = mpsc::channel();
    let handler = move |request: &mut StreamRequest<UnixStream>| -> io::Result<()> {
        creds_tx.send(request.peer_credentials()?).unwrap();
        Ok(())
    };
    let mut server = UnixStreamServer::unbound(&path, handler).unwrap();
    server.socket_mut().set_mode(Some(0o600));
    server.server_bind().unwrap();
    server.server_activate().unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let _client = UnixStream::connect(&path).unwrap();
    server.handle_request().unwrap();
    let credentials: PeerCredentials = creds_rx.recv().unwrap();
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!((credentials.uid, credentials.gid), (uid, gid));
    if cfg!(target_os = "linux") {
        assert_eq!(credentials.pid, Some(std::process::id() as i32));
    }
}

/// Linux's abstract namespace: no file, same serving.
#[cfg(target_os = "linux")]
#[test]
fn abstract_unix_address() {
    use std::os::linux::net::SocketAddrExt;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "socketserver-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let server = UnixStreamServer::new_abstract(name.as_bytes(), StreamEcho).unwrap();
    let address = server.server_address().unwrap();
    assert_eq!(address.as_abstract_name(), Some(name.as_bytes()));
    let serving = Serving::start(server);
    let mut client = UnixStream::connect_addr(&address).unwrap();
    client.write_all(b"abstract\n").unwrap();
    let mut reply = String::new();
    io::BufRead::read_line(&mut io::BufReader::new(&client), &mut reply).unwrap();
    assert_eq!(reply, "abstract\n");
    serving.stop().1.unwrap();
}

/// IPv6 UDP.
#[test]
fn udp_over_ipv6() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    }
    let server = UdpServer::new("[::1]:0", DatagramEcho).unwrap();
    let serving = Serving::start(server);
    let client = UdpSocket::bind("[::1]:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"six\n", serving.address).unwrap();
    let mut reply = [0; 8];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"six\n");
    serving.stop().1.unwrap();
}
