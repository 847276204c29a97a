//! The PROXY protocol stage of a TCP server: the carried address reaches handlers,
//! `verify_request` and per-source limits; v2 LOCAL keeps the balancer's address; a header in
//! pieces is waited for without a thread; untrusted, malformed and late connections are closed
//! and counted while the server goes on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use socketserver::proxy_protocol::{ProxyPolicy, TrustedNetwork};
use socketserver::{
    BaseServer, Dispatch, Limits, ServerHooks, StreamRequest, TcpSocket, TestServer, ThreadPool,
    ThreadingMixIn,
};

mod util;

use util::{closed_at_once, connect, connect_from, eventually};

/// Writes the client address it sees, a newline, then echoes one message.
fn who_then_echo(req: &mut StreamRequest) -> std::io::Result<()> {
    let who = *req.client_address();
    writeln!(req.wfile, "{who}")?;
    let mut message = [0; 4];
    std::io::Read::read_exact(&mut req.rfile, &mut message)?;
    req.wfile.write_all(&message)
}

type Handler = fn(&mut StreamRequest) -> std::io::Result<()>;

fn server<M: Dispatch + Default>(policy: ProxyPolicy) -> BaseServer<TcpSocket, M, Handler> {
    let mut server =
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", who_then_echo as Handler).unwrap();
    server.socket_mut().set_proxy_protocol(Some(policy));
    server
}

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.push(0x20 | command);
    bytes.push(family);
    bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Sends `header` and a 4-byte message; returns the address line and checks the echo.
fn through(client: &mut TcpStream, header: &[u8]) -> String {
    client.write_all(header).unwrap();
    client.write_all(b"ping").unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    let text = String::from_utf8(reply).unwrap();
    let (who, echoed) = text.split_once('\n').expect("an address line");
    assert_eq!(
        echoed, "ping",
        "the payload after the header is the handler's"
    );
    who.to_owned()
}

fn carried_address_reaches_the_handler<M: Dispatch + Default>() {
    let server = TestServer::start(server::<M>(ProxyPolicy::default()));
    let mut client = connect(server.address());
    assert_eq!(
        through(
            &mut client,
            b"PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n"
        ),
        "192.0.2.7:51234"
    );
    let mut v6 = vec![0u8; 36];
    v6[..16].copy_from_slice(
        &"2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    v6[32..34].copy_from_slice(&4321u16.to_be_bytes());
    let mut client = connect(server.address());
    assert_eq!(
        through(&mut client, &v2(1, 0x21, &v6)),
        "[2001:db8::7]:4321"
    );
    // LOCAL (a health check): the balancer's own address.
    let mut client = connect(server.address());
    let own = client.local_addr().unwrap();
    assert_eq!(through(&mut client, &v2(0, 0x00, &[])), own.to_string());
    server.stop(util::PATIENCE).unwrap();
}

#[test]
fn carried_address_reaches_the_handler_threading() {
    carried_address_reaches_the_handler::<ThreadingMixIn>();
}

#[test]
fn carried_address_reaches_the_handler_pool() {
    carried_address_reaches_the_handler::<ThreadPool>();
}

#[test]
fn carried_address_reaches_the_handler_coroutine() {
    carried_address_reaches_the_handler::<socketserver::Coroutines>();
}

/// A header that arrives in pieces is waited for in the loop's selector, then served.
#[test]
fn a_header_in_pieces_is_waited_for() {
    let server = TestServer::start(server::<ThreadingMixIn>(ProxyPolicy::default()));
    let mut client = connect(server.address());
    client.write_all(b"PROXY TCP4 192.0.2.").unwrap();
    client.flush().unwrap();
    assert_eq!(
        through(&mut client, b"9 198.51.100.1 1 443\r\n"),
        "192.0.2.9:1"
    );
    server.stop(util::PATIENCE).unwrap();
}

/// Malformed, untrusted and late connections are closed and counted; the server goes on.
#[test]
fn bad_headers_untrusted_peers_and_silence_are_closed_and_counted() {
    let policy = ProxyPolicy {
        trusted: vec!["127.0.0.1/32".parse::<TrustedNetwork>().unwrap()],
        timeout: Duration::from_millis(100),
    };
    let server = TestServer::start(server::<ThreadingMixIn>(policy));
    let mut malformed = connect(server.address());
    malformed.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(closed_at_once(&mut malformed));
    let mut untrusted = connect_from("127.0.0.2:0", server.address());
    untrusted
        .write_all(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n")
        .unwrap();
    assert!(closed_at_once(&mut untrusted));
    let mut silent = connect(server.address());
    assert!(
        closed_at_once(&mut silent),
        "closed after the header timeout"
    );
    assert!(
        eventually(|| server.stats().refused_proxy == 3),
        "{:?}",
        server.stats()
    );
    // The server goes on.
    let mut good = connect(server.address());
    assert_eq!(
        through(&mut good, b"PROXY TCP4 192.0.2.7 198.51.100.1 7 443\r\n"),
        "192.0.2.7:7"
    );
    server.stop(util::PATIENCE).unwrap();
}

/// Refuses one carried address.
struct RefuseDocumentationNet;

impl ServerHooks<StreamRequest> for RefuseDocumentationNet {
    fn verify_request(&self, request: &StreamRequest) -> std::io::Result<bool> {
        Ok(request.client_address().ip().to_string() != "203.0.113.66")
    }
}

/// Per-source limits and `verify_request` see the carried address, not the balancer's.
#[test]
fn limits_and_verify_request_see_the_carried_address() {
    let mut server = server::<ThreadingMixIn>(ProxyPolicy::default());
    server.set_limits(Limits {
        max_per_source: Some(1),
        ..Limits::default()
    });
    let server = TestServer::start(server.with_hooks(RefuseDocumentationNet));
    let header = |ip: &str| format!("PROXY TCP4 {ip} 198.51.100.1 1000 443\r\n");
    // One connection held open from 192.0.2.1 (through the same balancer address)...
    let mut first = connect(server.address());
    first.write_all(header("192.0.2.1").as_bytes()).unwrap();
    let mut line = [0; 16];
    first.read_exact(&mut line[..14]).unwrap(); // "192.0.2.1:1000"
                                                // ...so a second from 192.0.2.1 is over the per-source limit, while 192.0.2.2 is served.
    let mut second = connect(server.address());
    second.write_all(header("192.0.2.1").as_bytes()).unwrap();
    assert!(closed_at_once(&mut second));
    let mut other = connect(server.address());
    assert_eq!(
        through(&mut other, header("192.0.2.2").as_bytes()),
        "192.0.2.2:1000"
    );
    // verify_request sees the carried address.
    let mut refused = connect(server.address());
    refused
        .write_all(header("203.0.113.66").as_bytes())
        .unwrap();
    assert!(closed_at_once(&mut refused));
    // The counters move just after the client sees its close.
    assert!(
        eventually(|| {
            let stats = server.stats();
            (stats.refused_per_source, stats.refused_by_verify) == (1, 1)
        }),
        "{:?}",
        server.stats()
    );
    first.write_all(b"done").unwrap();
    drop(first);
    server.stop(util::PATIENCE).unwrap();
}

/// `echo --proxy-protocol`: the header is consumed, the payload echoed; a client without a
/// header is closed; the echo goes on.
#[test]
fn echo_with_proxy_protocol() {
    use util::example_process::{assert_clean_exit, Example};
    let (echo, address) = Example::serve("echo", &["--proxy-protocol"]);
    let mut client = connect(address);
    client
        .write_all(b"PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\nhello")
        .unwrap();
    let mut reply = [0; 5];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hello");
    drop(client);
    let mut bare = connect(address);
    bare.write_all(b"hello").unwrap();
    assert!(closed_at_once(&mut bare));
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --proxy-protocol"));
}
