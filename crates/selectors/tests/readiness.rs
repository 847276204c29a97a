//! What each backend reports: read and write readiness, hang-up, interest changes, and the
//! level-triggered behaviour.

#[macro_use]
mod util;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;

use socketserver_selectors::{Events, Interest, Token};
use util::{poll_now, tcp_pair, tokens, udp, wait, Backend};

backend_tests!(
    readable_when_data_arrives,
    writable_when_send_buffer_has_room,
    hangup_when_peer_closes,
    hangup_when_peer_shuts_down_writing,
    modify_switches_interest,
    unregister_stops_events,
    level_triggered_until_read,
    full_events_leave_the_rest_for_the_next_wait,
);

fn readable_when_data_arrives<S: Backend>() {
    let (mut client, server) = tcp_pair();
    let mut selector = S::create();
    selector
        .register(server.as_fd(), Interest::READABLE, Token(1))
        .unwrap();
    assert!(poll_now(&mut selector).is_empty());

    client.write_all(b"hello").unwrap();
    let events = wait(&mut selector);
    assert_eq!(events.len(), 1);
    let event = events.iter().next().unwrap();
    assert_eq!(event.token(), Token(1));
    assert_eq!(event.fd(), server.as_raw_fd());
    assert!(event.is_readable());
    assert!(!event.is_writable());
    assert!(!event.is_error());
    assert!(!event.is_hangup());
}

fn writable_when_send_buffer_has_room<S: Backend>() {
    let (_client, server) = tcp_pair();
    let mut selector = S::create();
    selector
        .register(server.as_fd(), Interest::WRITABLE, Token(2))
        .unwrap();

    let events = wait(&mut selector);
    assert_eq!(tokens(&events), [2]);
    let event = events.iter().next().unwrap();
    assert!(event.is_writable());
    assert!(!event.is_readable());
}

fn hangup_when_peer_closes<S: Backend>() {
    let (client, mut server) = tcp_pair();
    let mut selector = S::create();
    selector
        .register(server.as_fd(), Interest::READABLE, Token(3))
        .unwrap();
    drop(client);

    let events = wait(&mut selector);
    assert_eq!(tokens(&events), [3]);
    let event = events.iter().next().unwrap();
    // Every backend reports a closed peer as readable (the read returns end of file) ...
    assert!(event.is_readable());
    // ... and those that can tell also say why.
    assert_eq!(event.is_hangup(), S::REPORTS_HANGUP);
    assert_eq!(server.read(&mut [0; 8]).unwrap(), 0);
}

fn hangup_when_peer_shuts_down_writing<S: Backend>() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut selector = S::create();
    selector
        .register(ours.as_fd(), Interest::READABLE, Token(4))
        .unwrap();
    theirs.shutdown(std::net::Shutdown::Write).unwrap();

    let events = wait(&mut selector);
    assert_eq!(tokens(&events), [4]);
    let event = events.iter().next().unwrap();
    assert!(event.is_readable());
    assert_eq!(
        event.is_hangup(),
        S::REPORTS_HANGUP && cfg!(any(target_os = "linux", target_os = "android"))
    );
}

fn modify_switches_interest<S: Backend>() {
    let (_client, server) = tcp_pair();
    let mut selector = S::create();
    selector
        .register(server.as_fd(), Interest::READABLE, Token(5))
        .unwrap();
    assert!(poll_now(&mut selector).is_empty(), "nothing to read yet");

    let key = selector
        .modify(server.as_fd(), Interest::WRITABLE, Token(6))
        .unwrap();
    assert_eq!(
        (key.interest(), key.token()),
        (Interest::WRITABLE, Token(6))
    );
    let events = wait(&mut selector);
    assert_eq!(tokens(&events), [6]);
    assert!(events.iter().next().unwrap().is_writable());

    selector
        .modify(server.as_fd(), Interest::READABLE, Token(5))
        .unwrap();
    assert!(
        poll_now(&mut selector).is_empty(),
        "back to read interest only"
    );
}

fn unregister_stops_events<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    selector
        .register(socket.as_fd(), Interest::WRITABLE, Token(7))
        .unwrap();
    assert_eq!(tokens(&wait(&mut selector)), [7]);

    let key = selector.unregister(socket.as_fd()).unwrap();
    assert_eq!((key.fd(), key.token()), (socket.as_raw_fd(), Token(7)));
    assert!(selector.is_empty());
    assert!(poll_now(&mut selector).is_empty());
}

fn level_triggered_until_read<S: Backend>() {
    let socket = udp();
    let mut selector = S::create();
    selector
        .register(socket.as_fd(), Interest::READABLE, Token(8))
        .unwrap();
    socket.send_to(b"x", socket.local_addr().unwrap()).unwrap();

    assert_eq!(tokens(&wait(&mut selector)), [8]);
    assert_eq!(
        tokens(&poll_now(&mut selector)),
        [8],
        "still readable: reported again"
    );
    socket.recv(&mut [0; 8]).unwrap();
    assert!(poll_now(&mut selector).is_empty());
}

fn full_events_leave_the_rest_for_the_next_wait<S: Backend>() {
    let sockets: Vec<_> = (0..3).map(|_| udp()).collect();
    let mut selector = S::create();
    for (i, socket) in sockets.iter().enumerate() {
        selector
            .register(socket.as_fd(), Interest::WRITABLE, Token(i))
            .unwrap();
    }
    let mut events = Events::with_capacity(2);
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        selector.select(&mut events, Some(util::PATIENCE)).unwrap();
        assert_eq!(events.len(), 2);
        seen.extend(events.iter().map(|e| e.token().0));
    }
    assert_eq!(seen, BTreeSet::from([0, 1, 2]), "no registration starves");
}
