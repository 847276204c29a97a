//! Every transport (TCP, UDP, Unix stream, Unix datagram) under every strategy: Python's check
//! three times, then shutdown and close; dropping the server closes its socket; and a server
//! started and shut down at once.

#[macro_use]
mod util;

use socketserver::Dispatch;
use util::transports::{Fixture, TempDir};
use util::{join_within, Serving, PATIENCE};

/// Python's check ×3 on a serving thread, then shutdown, join, `server_close`: the socket is
/// closed (nothing answers), Unix socket files are removed, `server_address` was the bound
/// address (for a Unix socket, its path).
fn check_three_times_then_close<F: Fixture, M: Dispatch + Default>() {
    let dir = TempDir::new();
    let server = F::server::<M>(&dir);
    let serving = Serving::start(server);
    let address = serving.address.clone();
    for _ in 0..3 {
        F::check(&address, &dir);
    }
    let (mut server, result) = serving.stop();
    result.unwrap();
    server.server_close();
    assert!(
        server.fileno().is_none(),
        "server_close must close the socket"
    );
    assert!(
        util::eventually(|| !F::answers(&address, &dir)),
        "nothing may answer after server_close"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir.path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers
            .iter()
            .all(|name| name.to_string_lossy().starts_with("client-")),
        "the server's socket file must be removed on close: {leftovers:?}"
    );
}

/// Dropping the server closes its socket (and removes its file).
fn drop_closes_the_socket<F: Fixture, M: Dispatch + Default>() {
    let dir = TempDir::new();
    let server = F::server::<M>(&dir);
    let address = server.server_address().unwrap();
    drop(server);
    assert!(
        util::eventually(|| !F::answers(&address, &dir)),
        "nothing may answer after drop"
    );
    assert_eq!(
        std::fs::read_dir(&dir.path).unwrap().count(),
        0,
        "no socket file left"
    );
}

/// Start and immediately shut down, ten times.
fn immediate_shutdown<F: Fixture, M: Dispatch + Default>() {
    let dir = TempDir::new();
    for _ in 0..10 {
        let mut server = F::server::<M>(&dir);
        let handle = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.serve_forever());
        handle.shutdown();
        join_within(thread, PATIENCE).unwrap();
    }
}

per_transport_and_strategy!(
    check_three_times_then_close,
    drop_closes_the_socket,
    immediate_shutdown
);
