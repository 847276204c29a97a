//! TLS under every strategy, against an in-process rustls client and the real outside
//! clients (openssl s_client, curl, Python's ssl).

mod util;

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use socketserver::tls::{TlsAcceptor, TlsConfig, TlsSocket, TlsStream};
use socketserver::{BaseServer, Dispatch, StreamRequest, TcpSocket, TestServer};

use util::tls::{client_hello, line_exchange, with_client_auth, Authority, Client};
use util::PATIENCE;

type TlsRequest = StreamRequest<TlsStream>;

/// One test per strategy, `$scenario::<Strategy, _>(handler)`, each strategy with its handler
/// (a blocking one, or a protocol for the event loop).
macro_rules! per_strategy_with {
    ($scenario:ident { $($test:ident: $strategy:ident => $handler:expr),* $(,)? }) => {
        mod $scenario {
            use super::*;
            $(
                #[test]
                fn $test() {
                    $scenario::<socketserver::$strategy, _>($handler);
                }
            )*
        }
    };
}

/// A TLS server over 127.0.0.1:0 with strategy `M`.
fn tls_server<M, H>(config: TlsConfig, handler: H) -> BaseServer<TlsSocket, M, H>
where
    M: Dispatch + Default,
    H: socketserver::RequestHandler<TlsRequest>,
{
    let acceptor = TlsAcceptor::new(config).unwrap();
    let transport = TlsSocket::new(
        TcpSocket::new("127.0.0.1:0".parse().unwrap()).unwrap(),
        acceptor,
    );
    BaseServer::with_transport(transport, handler, M::default()).unwrap()
}

/// Answers each line with the TLS version, the SNI name and the line.
fn describe(req: &mut TlsRequest) -> io::Result<()> {
    let mut line = String::new();
    while req.rfile.read_line(&mut line)? > 0 {
        let info = req
            .socket()
            .info()
            .expect("the handshake is over before the handler runs");
        let answer = format!(
            "{} {} {}",
            info.version(),
            info.server_name().unwrap_or("-"),
            line
        );
        req.wfile.write_all(answer.as_bytes())?;
        line.clear();
    }
    Ok(())
}

fn one_line_in_both_versions<M, H>(handler: H)
where
    M: Dispatch + Default,
    H: socketserver::RequestHandler<TlsRequest>,
{
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let server = TestServer::start(tls_server::<M, _>(identity.config(), handler));
    for (version, name) in [
        (&rustls::version::TLS13, "TLSv1.3"),
        (&rustls::version::TLS12, "TLSv1.2"),
    ] {
        let client = Client::build(&ca, "localhost", &[version], None, &[]);
        let mut stream = client.connect(server.address()).unwrap();
        let got = line_exchange(&mut stream, b"hello\n");
        assert_eq!(
            String::from_utf8(got).unwrap(),
            format!("{name} localhost hello\n")
        );
        stream.conn.send_close_notify();
        stream.flush().unwrap();
        // The server's close_notify: a clean end of input for the client.
        let mut rest = Vec::new();
        stream
            .read_to_end(&mut rest)
            .expect("the server ends with close_notify");
        assert!(rest.is_empty());
    }
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_completed, 2);
}

per_strategy_with!(one_line_in_both_versions {
    sequential: Sequential => describe,
    threading: ThreadingMixIn => describe,
    forking: ForkingMixIn => describe,
    pool: ThreadPool => describe,
    coroutine: Coroutines => describe,
    event: EventLoop => describe_protocol(),
});

/// [`describe`] as a protocol, for the event loop.
#[derive(Clone, Default)]
struct DescribeProtocol {
    line: Vec<u8>,
}

impl socketserver::Protocol<TlsStream> for DescribeProtocol {
    fn data_received(
        &mut self,
        conn: &mut socketserver::Connection<'_, TlsStream>,
        data: &[u8],
    ) -> io::Result<()> {
        for &byte in data {
            self.line.push(byte);
            if byte == b'\n' {
                let info = conn.socket().info().unwrap();
                let head = format!("{} {} ", info.version(), info.server_name().unwrap_or("-"));
                conn.write(head.as_bytes());
                conn.write(&std::mem::take(&mut self.line));
            }
        }
        Ok(())
    }
}

fn describe_protocol() -> socketserver::ProtocolHandler<DescribeProtocol> {
    socketserver::ProtocolHandler::new(DescribeProtocol::default())
}

/// An echo protocol on the event loop: Protocol callbacks get plaintext.
#[derive(Clone)]
struct EchoProtocol;

impl socketserver::Protocol<TlsStream> for EchoProtocol {
    fn data_received(
        &mut self,
        conn: &mut socketserver::Connection<'_, TlsStream>,
        data: &[u8],
    ) -> io::Result<()> {
        let info = conn
            .socket()
            .info()
            .expect("connection_made comes after the handshake");
        assert_eq!(info.version(), "TLSv1.3");
        conn.write(data);
        Ok(())
    }
}

#[test]
fn the_event_loop_speaks_tls_to_protocols() {
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let handler = socketserver::ProtocolHandler::new(EchoProtocol);
    let server = TestServer::start(tls_server::<socketserver::EventLoop, _>(
        identity.config(),
        handler,
    ));
    let client = Client::new(&ca, "localhost");
    let mut stream = client.connect(server.address()).unwrap();
    // More than a record and more than the socket takes at once: the loop keeps the rest.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let writer_data = big.clone();
    stream.write_all(&writer_data).unwrap();
    let mut got = vec![0; big.len()];
    stream.read_exact(&mut got).unwrap();
    assert!(got == big, "the echo came back whole and in order");
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("the server ends with close_notify");
    let stopped = server.stop(PATIENCE).unwrap();
    assert_eq!(stopped.stats.closed_completed, 1);
}

/// Handshakes go on while hundreds of clients that never speak are connected: nothing waits
/// for a ClientHello (two workers or loop threads would all be taken otherwise).
fn silent_clients_pin_nothing<M, H>(handler: H)
where
    M: Dispatch + Default + Configure,
    H: socketserver::RequestHandler<TlsRequest>,
{
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    // A deadline far beyond the test's patience: a design that waited for the silent ones
    // would not answer in time.
    let config = identity
        .config()
        .handshake_timeout(Duration::from_secs(120));
    let mut server = tls_server::<M, _>(config, handler);
    M::two_workers(server.dispatch_mut());
    let server = TestServer::start(server);
    let silent: Vec<std::net::TcpStream> = (0..500)
        .map(|_| std::net::TcpStream::connect(server.address()).unwrap())
        .collect();
    let client = Client::new(&ca, "localhost");
    let mut stream = client.connect(server.address()).unwrap();
    assert_eq!(line_exchange(&mut stream, b"x\n"), b"TLSv1.3 localhost x\n");
    drop(stream);
    drop(silent);
    server.stop(PATIENCE).unwrap();
}

/// Small strategies, so that silent clients would take every thread.
trait Configure {
    fn two_workers(&mut self);
}

impl Configure for socketserver::ThreadPool {
    fn two_workers(&mut self) {
        self.set_workers(2);
    }
}

impl Configure for socketserver::EventLoop {
    fn two_workers(&mut self) {
        self.set_workers(2);
    }
}

impl Configure for socketserver::Coroutines {
    fn two_workers(&mut self) {
        self.set_workers(2);
    }
}

impl Configure for socketserver::ThreadingMixIn {
    fn two_workers(&mut self) {
        self.set_max_threads(Some(2));
    }
}

per_strategy_with!(silent_clients_pin_nothing {
    pool: ThreadPool => describe,
    threading: ThreadingMixIn => describe,
    event: EventLoop => describe_protocol(),
    coroutine: Coroutines => describe,
});

/// A client that sends its ClientHello a byte at a time is cut at the handshake's deadline,
/// counted from the accept, however often its bytes come.
fn a_dripping_hello_is_cut_at_the_deadline<M, H>(handler: H)
where
    M: Dispatch + Default,
    H: socketserver::RequestHandler<TlsRequest>,
{
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let config = identity
        .config()
        .handshake_timeout(Duration::from_millis(500));
    let server = TestServer::start(tls_server::<M, _>(config, handler));
    let hello = client_hello(&ca);
    let mut socket = std::net::TcpStream::connect(server.address()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    // At 50 bytes a second the hello would take seconds; each byte comes well within any
    // per-read timeout.
    let mut sent = 0;
    let mut cut = false;
    for byte in &hello {
        if socket.write_all(&[*byte]).is_err() {
            cut = true;
            break;
        }
        sent += 1;
        let mut buf = [0; 64];
        match socket.read(&mut buf) {
            Ok(0) => {
                cut = true;
                break;
            }
            Ok(_) => panic!("the server answered half a ClientHello"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    assert!(cut, "the connection was cut before the hello was whole");
    assert!(sent < hello.len(), "sent {sent} of {}", hello.len());
    assert!(util::eventually(|| server
        .stats()
        .closed_tls
        .handshake_timeout
        == 1));
    server.stop(PATIENCE).unwrap();
}

per_strategy_with!(a_dripping_hello_is_cut_at_the_deadline {
    pool: ThreadPool => describe,
    threading: ThreadingMixIn => describe,
    event: EventLoop => describe_protocol(),
    coroutine: Coroutines => describe,
    sequential: Sequential => describe,
});

#[test]
fn plaintext_to_the_tls_port_gets_the_configured_answer_and_a_close() {
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let answer = b"HTTP/1.0 400 Bad Request\r\n\r\nThis port speaks TLS.\n";
    let config = identity.config().plaintext_answer(Some(answer));
    let server = TestServer::start(tls_server::<socketserver::ThreadPool, _>(config, describe));
    let mut socket = std::net::TcpStream::connect(server.address()).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = socket.read_to_end(&mut got);
    assert_eq!(got, answer);
    // A port scan: connected, then closed before a byte.
    drop(std::net::TcpStream::connect(server.address()).unwrap());
    assert!(util::eventually(|| {
        let tls = server.stats().closed_tls;
        tls.not_tls == 1 && tls.closed_before_hello == 1
    }));
    server.stop(PATIENCE).unwrap();
}

/// Two names, two certificates: SNI picks, and a client asking for neither gets the first.
#[test]
fn sni_picks_the_certificate() {
    let ca = Authority::new("test CA");
    let a = ca.issue(&["a.test"]);
    let b = ca.issue(&["b.test"]);
    let config = a
        .config()
        .with_name_pem("B.test", b.cert_pem.as_bytes(), b.key_pem.as_bytes())
        .unwrap();
    let server = TestServer::start(tls_server::<socketserver::ThreadPool, _>(config, describe));
    for (name, expected) in [("a.test", &a), ("b.test", &b)] {
        let mut stream = Client::new(&ca, name).connect(server.address()).unwrap();
        let presented = stream.conn.peer_certificates().unwrap()[0].clone();
        assert_eq!(presented, expected.der(), "{name}");
        let answer = line_exchange(&mut stream, b"x\n");
        assert_eq!(answer, format!("TLSv1.3 {name} x\n").as_bytes());
    }
    server.stop(PATIENCE).unwrap();
}

/// What the handshake settled, as the handler sees it: version, SNI, ALPN, the length of the
/// client's chain.
fn negotiated(info: &socketserver::tls::TlsInfo) -> String {
    let alpn = info.alpn_protocol().map(String::from_utf8_lossy);
    format!(
        "{} {} {} {}\n",
        info.version(),
        info.server_name().unwrap_or("-"),
        alpn.as_deref().unwrap_or("-"),
        info.peer_certificates().len()
    )
}

fn negotiation_handler(req: &mut TlsRequest) -> io::Result<()> {
    let mut byte = [0; 1];
    req.rfile.read_exact(&mut byte)?;
    let answer = negotiated(req.socket().info().unwrap());
    req.wfile.write_all(answer.as_bytes())
}

#[derive(Clone)]
struct NegotiationProtocol;

impl socketserver::Protocol<TlsStream> for NegotiationProtocol {
    fn data_received(
        &mut self,
        conn: &mut socketserver::Connection<'_, TlsStream>,
        _data: &[u8],
    ) -> io::Result<()> {
        let answer = negotiated(conn.socket().info().unwrap());
        conn.write(answer.as_bytes());
        conn.close();
        Ok(())
    }
}

/// SNI picks certificate A or B, ALPN is agreed, a client certificate is required, checked
/// and shown: under every strategy (the handshake is the same code everywhere, driven by
/// different loops).
fn sni_alpn_and_client_certificates<M, H>(handler: H)
where
    M: Dispatch + Default,
    H: socketserver::RequestHandler<TlsRequest>,
{
    let (ca, clients_ca, _) = with_client_auth(socketserver::tls::ClientAuth::Required);
    let (a, b) = (ca.issue(&["a.test"]), ca.issue(&["b.test"]));
    let config = a
        .config()
        .with_name_pem("b.test", b.cert_pem.as_bytes(), b.key_pem.as_bytes())
        .unwrap()
        .alpn_protocols(&[b"http/1.1"])
        .client_auth_pem(
            clients_ca.pem().as_bytes(),
            socketserver::tls::ClientAuth::Required,
        )
        .unwrap();
    let server = TestServer::start(tls_server::<M, _>(config, handler));
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    let good = clients_ca.issue(&["client"]);
    for (name, expected) in [("a.test", &a), ("b.test", &b)] {
        let client = Client::build(&ca, name, &versions, Some(&good), &[b"h2", b"http/1.1"]);
        let mut stream = client.connect(server.address()).unwrap();
        assert_eq!(
            stream.conn.peer_certificates().unwrap()[0],
            expected.der(),
            "{name}"
        );
        stream.write_all(b"?").unwrap();
        let mut got = String::new();
        io::BufReader::new(&mut stream).read_line(&mut got).unwrap();
        assert_eq!(got, format!("TLSv1.3 {name} http/1.1 1\n"));
    }
    // Without a certificate, and with one from another CA: refused (at the first read).
    for identity in [None, Some(Authority::new("another CA").issue(&["client"]))] {
        let client = Client::build(&ca, "a.test", &versions, identity.as_ref(), &[]);
        let refused = client.connect(server.address()).and_then(|mut stream| {
            stream.write_all(b"?")?;
            let mut byte = [0; 1];
            stream.read(&mut byte)
        });
        assert!(refused.is_err(), "{refused:?}");
    }
    server.stop(PATIENCE).unwrap();
}

per_strategy_with!(sni_alpn_and_client_certificates {
    sequential: Sequential => negotiation_handler,
    threading: ThreadingMixIn => negotiation_handler,
    forking: ForkingMixIn => negotiation_handler,
    pool: ThreadPool => negotiation_handler,
    coroutine: Coroutines => negotiation_handler,
    event: EventLoop => socketserver::ProtocolHandler::new(NegotiationProtocol),
});

/// A client that does not trust our certificate says so with an alert: counted as one.
#[test]
fn a_client_that_refuses_the_certificate_is_counted() {
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let server = TestServer::start(tls_server::<socketserver::ThreadPool, _>(
        identity.config(),
        describe,
    ));
    let stranger = Authority::new("a CA the server's certificate is not from");
    assert!(Client::new(&stranger, "localhost")
        .connect(server.address())
        .is_err());
    assert!(util::eventually(|| server
        .stats()
        .closed_tls
        .alert_received
        == 1));
    server.stop(PATIENCE).unwrap();
}

#[test]
fn alpn_is_agreed_and_a_client_without_a_common_protocol_is_refused() {
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let config = identity.config().alpn_protocols(&[b"http/1.1"]);
    let alpn = |req: &mut TlsRequest| {
        let info = req.socket().info().unwrap();
        let protocol = info.alpn_protocol().unwrap_or(b"none").to_vec();
        req.wfile.write_all(&protocol)
    };
    let server = TestServer::start(tls_server::<socketserver::ThreadPool, _>(config, alpn));
    let versions = [&rustls::version::TLS13];
    let both = Client::build(&ca, "localhost", &versions, None, &[b"h2", b"http/1.1"]);
    let mut stream = both.connect(server.address()).unwrap();
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"http/1.1");
    let h2_only = Client::build(&ca, "localhost", &versions, None, &[b"h2"]);
    assert!(h2_only.connect(server.address()).is_err());
    assert!(util::eventually(|| server
        .stats()
        .closed_tls
        .peer_incompatible
        == 1));
    server.stop(PATIENCE).unwrap();
}

#[test]
fn client_certificates_are_required_and_checked() {
    let (ca, clients_ca, config) = with_client_auth(socketserver::tls::ClientAuth::Required);
    let other_ca = Authority::new("someone else's CA");
    let count = |req: &mut TlsRequest| {
        let chain = req.socket().info().unwrap().peer_certificates().len();
        writeln!(req.wfile, "{chain}")
    };
    let server = TestServer::start(tls_server::<socketserver::ThreadPool, _>(config, count));
    let versions = [&rustls::version::TLS13];
    let good = clients_ca.issue(&["client"]);
    let client = Client::build(&ca, "localhost", &versions, Some(&good), &[]);
    let mut stream = client.connect(server.address()).unwrap();
    let mut got = String::new();
    io::BufReader::new(&mut stream).read_line(&mut got).unwrap();
    assert_eq!(got, "1\n");
    // In TLS 1.3 the client learns of the refusal at its first read.
    for identity in [None, Some(other_ca.issue(&["client"]))] {
        let client = Client::build(&ca, "localhost", &versions, identity.as_ref(), &[]);
        let refused = client.connect(server.address()).and_then(|mut stream| {
            let mut byte = [0; 1];
            stream.read(&mut byte)
        });
        assert!(refused.is_err(), "{refused:?}");
    }
    assert!(util::eventually(|| server
        .stats()
        .closed_tls
        .client_certificate_rejected
        == 2));
    server.stop(PATIENCE).unwrap();
}

/// Optional client certificates: a client without one is served (no chain), one with a
/// trusted one shows it.
#[test]
fn client_certificates_may_be_optional() {
    let (ca, clients_ca, config) = with_client_auth(socketserver::tls::ClientAuth::Optional);
    // On the event loop: a protocol sees the chain too.
    let server = TestServer::start(tls_server::<socketserver::EventLoop, _>(
        config,
        socketserver::ProtocolHandler::new(CountProtocol),
    ));
    let versions = [&rustls::version::TLS13];
    let good = clients_ca.issue(&["client"]);
    for (identity, expected) in [(None, "0\n"), (Some(&good), "1\n")] {
        let client = Client::build(&ca, "localhost", &versions, identity, &[]);
        let mut stream = client.connect(server.address()).unwrap();
        stream.write_all(b"?").unwrap();
        let mut got = String::new();
        io::BufReader::new(&mut stream).read_line(&mut got).unwrap();
        assert_eq!(got, expected);
    }
    server.stop(PATIENCE).unwrap();
}

/// Answers each input with the length of the client's certificate chain.
#[derive(Clone)]
struct CountProtocol;

impl socketserver::Protocol<TlsStream> for CountProtocol {
    fn data_received(
        &mut self,
        conn: &mut socketserver::Connection<'_, TlsStream>,
        _data: &[u8],
    ) -> io::Result<()> {
        let chain = conn.socket().info().unwrap().peer_certificates().len();
        conn.write(format!("{chain}\n").as_bytes());
        Ok(())
    }
}

/// A reload puts new certificates in force for new connections; open ones keep theirs; a bad
/// one changes nothing.
#[test]
fn a_reload_swaps_certificates_for_new_connections_only() {
    let ca = Authority::new("test CA");
    let (a, b) = (ca.issue(&["localhost"]), ca.issue(&["localhost"]));
    let acceptor = TlsAcceptor::new(a.config()).unwrap();
    let transport = TlsSocket::new(
        TcpSocket::new("127.0.0.1:0".parse().unwrap()).unwrap(),
        acceptor.clone(),
    );
    let server = BaseServer::<_, socketserver::ThreadPool, _>::with_transport(
        transport,
        describe,
        socketserver::ThreadPool::default(),
    )
    .unwrap();
    let server = TestServer::start(server);
    let client = Client::new(&ca, "localhost");
    let mut before = client.connect(server.address()).unwrap();
    assert_eq!(before.conn.peer_certificates().unwrap()[0], a.der());
    acceptor.reload(b.config()).unwrap();
    let mut after = client.connect(server.address()).unwrap();
    assert_eq!(after.conn.peer_certificates().unwrap()[0], b.der());
    // A's key with B's certificate: refused, B stays.
    let mismatched = TlsConfig::from_pem(b.cert_pem.as_bytes(), a.key_pem.as_bytes()).unwrap();
    let error = acceptor.reload(mismatched).unwrap_err();
    assert!(error.to_string().contains("does not match"), "{error}");
    let again = client.connect(server.address()).unwrap();
    assert_eq!(again.conn.peer_certificates().unwrap()[0], b.der());
    assert_eq!(
        line_exchange(&mut before, b"old\n"),
        b"TLSv1.3 localhost old\n"
    );
    assert_eq!(
        line_exchange(&mut after, b"new\n"),
        b"TLSv1.3 localhost new\n"
    );
    drop((before, after, again));
    server.stop(PATIENCE).unwrap();
}

/// A peer that closes without close_notify has cut the stream short: the handler's read says
/// so (`UnexpectedEof`), it does not see a normal end of input.
fn a_truncation_is_not_an_end_of_file<M: Dispatch + Default>() {
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let (seen, saw) = mpsc::channel();
    let handler = move |req: &mut TlsRequest| {
        let mut all = Vec::new();
        let result = req.rfile.read_to_end(&mut all);
        let _ = seen.send(result.map_err(|e| e.kind()));
        Ok(())
    };
    let server = TestServer::start(tls_server::<M, _>(identity.config(), handler));
    let mut stream = Client::new(&ca, "localhost")
        .connect(server.address())
        .unwrap();
    stream.write_all(b"half a message").unwrap();
    stream.flush().unwrap();
    stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
    let result = saw.recv_timeout(PATIENCE).unwrap();
    assert_eq!(result, Err(io::ErrorKind::UnexpectedEof));
    // And a clean end is a clean end.
    let mut stream = Client::new(&ca, "localhost")
        .connect(server.address())
        .unwrap();
    stream.write_all(b"whole").unwrap();
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    assert_eq!(saw.recv_timeout(PATIENCE).unwrap(), Ok(5));
    server.stop(PATIENCE).unwrap();
}

per_strategy_in_process!(a_truncation_is_not_an_end_of_file);

/// One thread reads while another writes, both ways at once, more than the sockets hold: a
/// read that held the TLS lock while it waited would stop the writer (tiny_http's deadlock).
#[test]
fn reading_and_writing_from_two_threads_do_not_block_each_other() {
    const SIZE: usize = 4 << 20;
    let ca = Authority::new("test CA");
    let identity = ca.issue(&["localhost"]);
    let handler = |req: &mut TlsRequest| {
        let StreamRequest { rfile, wfile, .. } = req;
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut sink = Vec::new();
                rfile
                    .take(SIZE as u64)
                    .read_to_end(&mut sink)
                    .map(|_| sink.len())
            });
            let block = vec![7u8; 64 * 1024];
            for _ in 0..SIZE / block.len() {
                wfile.write_all(&block)?;
            }
            wfile.flush()?;
            let read = reader.join().unwrap()?;
            assert_eq!(read, SIZE);
            Ok(())
        })
    };
    let server = TestServer::start(tls_server::<socketserver::ThreadingMixIn, _>(
        identity.config(),
        handler,
    ));
    let stream = Client::new(&ca, "localhost")
        .connect(server.address())
        .unwrap();
    // The client drives both directions from one thread, without waiting on either.
    let mut stream = stream;
    stream.sock.set_nonblocking(true).unwrap();
    let (mut sent, mut received) = (0usize, 0usize);
    let block = vec![9u8; 16 * 1024];
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut buf = vec![0; 64 * 1024];
    while received < SIZE {
        assert!(
            std::time::Instant::now() < deadline,
            "stuck at {sent} sent, {received} received"
        );
        if sent < SIZE && !stream.conn.wants_write() {
            sent += stream
                .conn
                .writer()
                .write(&block[..block.len().min(SIZE - sent)])
                .unwrap();
        }
        while stream.conn.wants_write() {
            match stream.conn.write_tls(&mut stream.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        match stream.conn.read_tls(&mut stream.sock) {
            Ok(_) => {
                stream.conn.process_new_packets().unwrap();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        loop {
            match stream.conn.reader().read(&mut buf) {
                Ok(n) if n > 0 => received += n,
                _ => break,
            }
        }
    }
    drop(stream);
    server.stop(PATIENCE).unwrap();
}
