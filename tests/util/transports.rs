//! One fixture per transport, so a scenario runs under every transport and every strategy.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::{self, UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use socketserver::{
    BaseServer, DatagramRequest, Dispatch, RequestHandler, StreamRequest, TcpServer, TcpSocket,
    UdpSocket as UdpTransport, UnixDatagramSocket, UnixStreamSocket,
};

use super::{stream_check, PATIENCE, TEST_LINE};

/// A directory of its own under /tmp, removed on drop; short paths keep Unix socket addresses
/// well under the OS limit.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!("/tmp/ss-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Python's datagram test handler: reply with the packet.
#[derive(Clone, Default)]
pub struct DatagramEcho;

impl<S: socketserver::DatagramSocket> RequestHandler<DatagramRequest<S>> for DatagramEcho {
    fn handle(&mut self, request: &mut DatagramRequest<S>) -> io::Result<()> {
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        request.wfile.write_all(&line)
    }
}

/// Python's stream test handler, for any stream socket.
#[derive(Clone, Default)]
pub struct StreamEcho;

impl<S: socketserver::StreamSocket> RequestHandler<StreamRequest<S>> for StreamEcho {
    fn handle(&mut self, request: &mut StreamRequest<S>) -> io::Result<()> {
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        request.wfile.write_all(&line)
    }
}

/// A transport under test: how to make a server with Python's test handler, and Python's
/// check against it.
pub trait Fixture {
    type Socket: TcpServer;
    type Handler: RequestHandler<<Self::Socket as TcpServer>::Request> + Default;
    /// Creates a server with strategy `M`; Unix transports put their file in `dir`.
    fn server<M: Dispatch + Default>(dir: &TempDir) -> BaseServer<Self::Socket, M, Self::Handler>;
    /// Python's stream or datagram check against the server at `address`.
    fn check(address: &<Self::Socket as TcpServer>::Address, dir: &TempDir);
    /// Whether something still answers at `address`.
    fn answers(address: &<Self::Socket as TcpServer>::Address, dir: &TempDir) -> bool;
}

pub struct Tcp;
pub struct Udp;
pub struct UnixStreamTransport;
pub struct UnixDatagramTransport;

impl Fixture for Tcp {
    type Socket = TcpSocket;
    type Handler = StreamEcho;
    fn server<M: Dispatch + Default>(_dir: &TempDir) -> BaseServer<TcpSocket, M, StreamEcho> {
        BaseServer::<TcpSocket, M, _>::new("127.0.0.1:0", StreamEcho).unwrap()
    }
    fn check(address: &SocketAddr, _dir: &TempDir) {
        stream_check(*address);
    }
    fn answers(address: &SocketAddr, _dir: &TempDir) -> bool {
        std::net::TcpStream::connect(address).is_ok()
    }
}

/// The datagram check over UDP: one datagram out, one datagram back with the same line.
pub fn udp_check(address: SocketAddr) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(TEST_LINE, address).unwrap();
    let mut reply = [0; 64];
    let (n, from) = client.recv_from(&mut reply).unwrap();
    assert_eq!(from, address);
    assert_eq!(&reply[..n], TEST_LINE);
}

impl Fixture for Udp {
    type Socket = UdpTransport;
    type Handler = DatagramEcho;
    fn server<M: Dispatch + Default>(_dir: &TempDir) -> BaseServer<UdpTransport, M, DatagramEcho> {
        BaseServer::<UdpTransport, M, _>::new("127.0.0.1:0", DatagramEcho).unwrap()
    }
    fn check(address: &SocketAddr, _dir: &TempDir) {
        udp_check(*address);
    }
    fn answers(address: &SocketAddr, _dir: &TempDir) -> bool {
        // A closed UDP port answers a connected socket's datagram with ICMP "unreachable".
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(address).unwrap();
        // A closed port answers with ICMP at once; a live echo within this.
        client
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        client.send(TEST_LINE).unwrap();
        let mut reply = [0; 64];
        client.recv(&mut reply).is_ok()
    }
}

/// The stream check over a Unix socket.
pub fn unix_stream_check(path: &Path) {
    let mut client = UnixStream::connect(path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.write_all(TEST_LINE).unwrap();
    let mut reply = Vec::new();
    BufReader::new(&mut client)
        .read_until(b'\n', &mut reply)
        .unwrap();
    assert_eq!(reply, TEST_LINE);
}

impl Fixture for UnixStreamTransport {
    type Socket = UnixStreamSocket;
    type Handler = StreamEcho;
    fn server<M: Dispatch + Default>(dir: &TempDir) -> BaseServer<UnixStreamSocket, M, StreamEcho> {
        BaseServer::<UnixStreamSocket, M, _>::new(dir.join("stream.sock"), StreamEcho).unwrap()
    }
    fn check(address: &net::SocketAddr, dir: &TempDir) {
        // server_address() is the bound path.
        assert_eq!(
            address.as_pathname(),
            Some(dir.join("stream.sock").as_path())
        );
        unix_stream_check(address.as_pathname().expect("a path address"));
    }
    fn answers(address: &net::SocketAddr, _dir: &TempDir) -> bool {
        UnixStream::connect(address.as_pathname().unwrap()).is_ok()
    }
}

/// The datagram check over a Unix socket: the client binds its own path first so the server
/// can reply.
pub fn unix_datagram_check(server: &Path, dir: &TempDir) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let own = dir.join(&format!(
        "client-{}.sock",
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let client = UnixDatagram::bind(&own).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(TEST_LINE, server).unwrap();
    let mut reply = [0; 64];
    let n = client.recv(&mut reply).unwrap();
    assert_eq!(&reply[..n], TEST_LINE);
    let _ = std::fs::remove_file(own);
}

impl Fixture for UnixDatagramTransport {
    type Socket = UnixDatagramSocket;
    type Handler = DatagramEcho;
    fn server<M: Dispatch + Default>(
        dir: &TempDir,
    ) -> BaseServer<UnixDatagramSocket, M, DatagramEcho> {
        BaseServer::<UnixDatagramSocket, M, _>::new(dir.join("dgram.sock"), DatagramEcho).unwrap()
    }
    fn check(address: &net::SocketAddr, dir: &TempDir) {
        assert_eq!(
            address.as_pathname(),
            Some(dir.join("dgram.sock").as_path())
        );
        unix_datagram_check(address.as_pathname().expect("a path address"), dir);
    }
    fn answers(address: &net::SocketAddr, _dir: &TempDir) -> bool {
        UnixDatagram::unbound()
            .unwrap()
            .connect(address.as_pathname().unwrap())
            .is_ok()
    }
}

/// Runs a scenario `fn name<F: Fixture, M: Dispatch + Default>()` under every transport and
/// every dispatch strategy. A new transport or strategy is one line here.
#[macro_export]
macro_rules! per_transport_and_strategy {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use $crate::util::transports::{Tcp, Udp, UnixDatagramTransport, UnixStreamTransport};
                use socketserver::{Coroutines, ForkingMixIn, Sequential, ThreadPool, ThreadingMixIn};
                #[test] fn tcp_sequential() { super::$scenario::<Tcp, Sequential>() }
                #[test] fn tcp_threading() { super::$scenario::<Tcp, ThreadingMixIn>() }
                #[test] fn tcp_forking() { $crate::util::in_subprocess(concat!(stringify!($scenario), "::tcp_forking"), || super::$scenario::<Tcp, ForkingMixIn>()) }
                #[test] fn tcp_pool() { super::$scenario::<Tcp, ThreadPool>() }
                #[test] fn tcp_coroutine() { super::$scenario::<Tcp, Coroutines>() }
                #[test] fn udp_sequential() { super::$scenario::<Udp, Sequential>() }
                #[test] fn udp_threading() { super::$scenario::<Udp, ThreadingMixIn>() }
                #[test] fn udp_forking() { $crate::util::in_subprocess(concat!(stringify!($scenario), "::udp_forking"), || super::$scenario::<Udp, ForkingMixIn>()) }
                #[test] fn udp_pool() { super::$scenario::<Udp, ThreadPool>() }
                #[test] fn udp_coroutine() { super::$scenario::<Udp, Coroutines>() }
                #[test] fn unix_stream_sequential() { super::$scenario::<UnixStreamTransport, Sequential>() }
                #[test] fn unix_stream_threading() { super::$scenario::<UnixStreamTransport, ThreadingMixIn>() }
                #[test] fn unix_stream_forking() { $crate::util::in_subprocess(concat!(stringify!($scenario), "::unix_stream_forking"), || super::$scenario::<UnixStreamTransport, ForkingMixIn>()) }
                #[test] fn unix_stream_pool() { super::$scenario::<UnixStreamTransport, ThreadPool>() }
                #[test] fn unix_stream_coroutine() { super::$scenario::<UnixStreamTransport, Coroutines>() }
                #[test] fn unix_datagram_sequential() { super::$scenario::<UnixDatagramTransport, Sequential>() }
                #[test] fn unix_datagram_threading() { super::$scenario::<UnixDatagramTransport, ThreadingMixIn>() }
                #[test] fn unix_datagram_forking() { $crate::util::in_subprocess(concat!(stringify!($scenario), "::unix_datagram_forking"), || super::$scenario::<UnixDatagramTransport, ForkingMixIn>()) }
                #[test] fn unix_datagram_pool() { super::$scenario::<UnixDatagramTransport, ThreadPool>() }
                #[test] fn unix_datagram_coroutine() { super::$scenario::<UnixDatagramTransport, Coroutines>() }
            }
        )*
    };
}
