//! Every Python class has its Rust counterpart exported from the crate root, findable by its
//! Python name in rustdoc search (the item's own name or a `#[doc(alias)]`).

#![allow(unused_imports)]

// Compile-time half: each counterpart is exported from the crate root.
use socketserver::{
    BaseServer, DatagramRequest, ForkingMixIn, ForkingTcpServer, ForkingUdpServer,
    ForkingUnixDatagramServer, ForkingUnixStreamServer, RequestHandler, SequentialTcpServer,
    StreamRequest, TcpServer, ThreadingMixIn, ThreadingTcpServer, ThreadingUdpServer,
    ThreadingUnixDatagramServer, ThreadingUnixStreamServer, UdpServer, UnixDatagramServer,
    UnixStreamServer,
};

/// Python name → the Rust item, and the file that must carry the alias.
const COUNTERPARTS: &[(&str, &str, &str)] = &[
    (
        "BaseServer",
        "BaseServer",
        include_str!("../src/server/base_server.rs"),
    ),
    (
        "TCPServer",
        "SequentialTcpServer",
        include_str!("../src/lib.rs"),
    ),
    (
        "TCPServer",
        "TcpServer",
        include_str!("../src/transport/mod.rs"),
    ),
    (
        "ThreadingMixIn",
        "ThreadingMixIn",
        include_str!("../src/dispatch/threading.rs"),
    ),
    (
        "ThreadingTCPServer",
        "ThreadingTcpServer",
        include_str!("../src/lib.rs"),
    ),
    (
        "BaseRequestHandler",
        "RequestHandler",
        include_str!("../src/handler.rs"),
    ),
    (
        "StreamRequestHandler",
        "StreamRequest",
        include_str!("../src/request/stream.rs"),
    ),
    // asyncio's names for the event-driven strategy.
    (
        "asyncio.Protocol",
        "Protocol",
        include_str!("../src/event/protocol.rs"),
    ),
    (
        "Transport",
        "Connection",
        include_str!("../src/event/connection.rs"),
    ),
    (
        "create_server",
        "EventTcpServer",
        include_str!("../src/lib.rs"),
    ),
    (
        "create_unix_server",
        "EventUnixStreamServer",
        include_str!("../src/lib.rs"),
    ),
    (
        "protocol_factory",
        "ProtocolHandler",
        include_str!("../src/event/protocol_handler.rs"),
    ),
    (
        "asyncio",
        "EventLoop",
        include_str!("../src/event/event_loop.rs"),
    ),
];

#[test]
fn python_names_find_their_rust_counterparts() {
    for (python, rust, source) in COUNTERPARTS {
        if python == rust {
            assert!(
                source.contains(&format!("pub struct {rust}"))
                    || source.contains(&format!("pub trait {rust}")),
                "{rust} must be defined under its Python name"
            );
        } else {
            let alias = format!("#[doc(alias = \"{python}\")]");
            let at = source
                .find(&alias)
                .unwrap_or_else(|| panic!("no {alias} for {rust}"));
            // The alias must sit on the item itself: the next item line after it names `rust`.
            let item = source[at..]
                .lines()
                .find(|line| line.starts_with("pub "))
                .unwrap_or_default();
            assert!(item.contains(rust), "{alias} is on `{item}`, not on {rust}");
        }
    }
}
