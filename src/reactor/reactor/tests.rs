use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use selectors::Interest;

use super::Reactor;

fn reactor_with(count: usize) -> (Reactor<UnixStream>, Vec<UnixStream>, Vec<usize>) {
    let mut reactor = Reactor::new(16).unwrap();
    let mut peers = Vec::new();
    let mut keys = Vec::new();
    for _ in 0..count {
        let (ours, theirs) = UnixStream::pair().unwrap();
        keys.push(reactor.insert(ours, Some(Interest::READABLE)).ok().unwrap());
        peers.push(theirs);
    }
    (reactor, peers, keys)
}

#[test]
fn a_deadline_moved_later_expires_at_the_later_time_only() {
    let (mut reactor, _peers, keys) = reactor_with(1);
    let start = Instant::now();
    reactor.set_deadline(keys[0], Some(start + Duration::from_secs(1)));
    reactor.set_deadline(keys[0], Some(start + Duration::from_secs(5)));
    assert_eq!(reactor.pop_expired(start + Duration::from_secs(2)), None);
    assert_eq!(
        reactor.pop_expired(start + Duration::from_secs(5)),
        Some(keys[0])
    );
    assert_eq!(
        reactor.pop_expired(start + Duration::from_secs(9)),
        None,
        "expired once"
    );
}

#[test]
fn a_deadline_moved_earlier_expires_at_the_earlier_time() {
    let (mut reactor, _peers, keys) = reactor_with(1);
    let start = Instant::now();
    reactor.set_deadline(keys[0], Some(start + Duration::from_secs(5)));
    reactor.set_deadline(keys[0], Some(start + Duration::from_secs(1)));
    assert_eq!(
        reactor.pop_expired(start + Duration::from_secs(1)),
        Some(keys[0])
    );
    assert_eq!(reactor.pop_expired(start + Duration::from_secs(6)), None);
}

#[test]
fn a_removed_connections_deadline_never_reaches_its_successor() {
    let (mut reactor, mut peers, keys) = reactor_with(1);
    let start = Instant::now();
    reactor.set_deadline(keys[0], Some(start + Duration::from_secs(1)));
    reactor.remove(keys[0]).unwrap();
    peers.clear();
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let reused = reactor.insert(ours, None).ok().unwrap();
    assert_eq!(reused, keys[0], "the slab reuses the key");
    assert_eq!(reactor.pop_expired(start + Duration::from_secs(2)), None);
}

#[test]
fn readiness_is_reported_by_key_and_cleared_deadlines_never_fire() {
    let (mut reactor, mut peers, keys) = reactor_with(3);
    reactor.set_deadline(keys[2], Some(Instant::now()));
    reactor.set_deadline(keys[2], None);
    std::io::Write::write_all(&mut peers[1], b"x").unwrap();
    reactor.wait(Some(Duration::from_secs(5))).unwrap();
    let ready: Vec<usize> = reactor.ready().iter().map(|r| r.key).collect();
    assert_eq!(ready, [keys[1]]);
    assert_eq!(
        reactor.pop_expired(Instant::now() + Duration::from_secs(1)),
        None
    );
}
