//! The two forms of the HTTP layer, started the same way for the tests.

#![allow(dead_code, reason = "each test file uses part of this")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socketserver::{
    DrainReport, EventLoop, PoolTcpServer, ServerStats, TcpSocket, TestServer, ThreadPool,
};
use socketserver_http::{
    EventHttpServer, HttpHandler, HttpLimits, HttpProtocol, HttpService, PoolHttpServer,
};

pub const PATIENCE: Duration = Duration::from_secs(20);

/// The two forms of the HTTP layer.
#[derive(Clone, Copy, Debug)]
pub enum Form {
    /// `HttpService` on a pool of this many workers.
    Pool(usize),
    /// `HttpProtocol` on event loops (an `EventHttpServer`, made from an `HttpService`).
    Event,
}

/// A running server of either form.
pub enum Served<H: HttpHandler> {
    Pool(TestServer<TcpSocket, ThreadPool, HttpService<H>>),
    Event(TestServer<TcpSocket, EventLoop, HttpService<H>>),
}

impl<H: HttpHandler> Served<H> {
    pub fn address(&self) -> SocketAddr {
        match self {
            Served::Pool(server) => server.address(),
            Served::Event(server) => server.address(),
        }
    }

    pub fn stats(&self) -> ServerStats {
        match self {
            Served::Pool(server) => server.stats(),
            Served::Event(server) => server.stats(),
        }
    }

    pub fn stop(self) {
        match self {
            Served::Pool(server) => drop(server.stop(PATIENCE).unwrap()),
            Served::Event(server) => drop(server.stop(PATIENCE).unwrap()),
        }
    }

    pub fn drain(self) -> DrainReport {
        match self {
            Served::Pool(server) => server.drain(PATIENCE).unwrap().0,
            Served::Event(server) => server.drain(PATIENCE).unwrap().0,
        }
    }
}

impl<H: HttpHandler> Served<H> {
    /// Serves `service` in `form`: both made the same way.
    pub fn start_service(form: Form, service: HttpService<H>) -> Self {
        match form {
            Form::Pool(workers) => {
                let mut server = PoolHttpServer::new("127.0.0.1:0", service).unwrap();
                server.dispatch_mut().set_workers(workers);
                Served::Pool(TestServer::start(server))
            }
            Form::Event => {
                let server = EventHttpServer::new("127.0.0.1:0", service).unwrap();
                Served::Event(TestServer::start(server))
            }
        }
    }

    pub fn start(form: Form, handler: H, limits: HttpLimits) -> Self {
        match form {
            Form::Pool(workers) => {
                let service = HttpService::new(handler).with_limits(limits);
                let mut server = PoolTcpServer::new("127.0.0.1:0", service).unwrap();
                server.dispatch_mut().set_workers(workers);
                Served::Pool(TestServer::start(server))
            }
            Form::Event => {
                // The older way still compiles: the protocol converts into the service.
                let protocol = HttpProtocol::new(handler).with_limits(limits);
                let server = EventHttpServer::new("127.0.0.1:0", protocol.into()).unwrap();
                Served::Event(TestServer::start(server))
            }
        }
    }
}

/// Runs a test function `NAME(form)` against both forms, as `NAME::pool` and `NAME::event`.
#[macro_export]
macro_rules! both_forms {
    ($name:ident) => {
        mod $name {
            #[test]
            fn pool() {
                super::$name($crate::util::Form::Pool(2));
            }
            #[test]
            fn event() {
                super::$name($crate::util::Form::Event);
            }
        }
    };
}

pub fn connect(address: SocketAddr) -> TcpStream {
    let client = TcpStream::connect(address).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client
}

/// Sends `raw` and reads until the server closes.
pub fn exchange_to_close(address: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut client = connect(address);
    client.write_all(raw).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    reply
}

/// Connects with a small receive buffer, so a client that does not read soon stops the
/// server's sending (the kernel's buffers do not hide a slow reader).
pub fn connect_reading_slowly(address: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads one response head.
pub fn read_head(client: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads one response from a persistent connection: its head and its Content-Length body.
pub fn read_head_and_body(client: &mut TcpStream) -> (String, String) {
    let head = read_head(client);
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0; length];
    client.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}
