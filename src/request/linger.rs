//! [`Linger`]: a close that waits, after its half-close, until what was sent is acknowledged —
//! discarding what the peer still sends, so the close sends no reset over an answer on its
//! way. Stepped by a parker without waiting, or run to its end in place.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use crate::coroutine;
use crate::sys;

/// The most input a linger discards before it gives up on the peer (one that keeps sending is
/// not waiting for an answer).
const DISCARD_MAX: usize = 256 * 1024;
/// The first look at the send queue comes this soon; later ones less often, up to
/// [`PAUSE_MAX`] apart (on loopback or a LAN the acknowledgement comes within the first).
const PAUSE_MIN: Duration = Duration::from_millis(1);
const PAUSE_MAX: Duration = Duration::from_millis(10);

/// One lingering close.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linger {
    until: Instant,
    pause: Duration,
    discarded: usize,
}

impl Linger {
    /// A linger of at most `linger` from `now`.
    pub(crate) fn new(now: Instant, linger: Duration) -> Self {
        Linger {
            until: now.checked_add(linger).unwrap_or(now),
            pause: PAUSE_MIN,
            discarded: 0,
        }
    }

    /// One look, without waiting: discards what has arrived; `true` once there is nothing
    /// more to wait for (the peer closed or reset, it sent more than a linger discards,
    /// everything sent is acknowledged and the peer has stopped sending, or the time is up).
    /// A peer still sending when we close would get a reset that can destroy our last answer
    /// before it reads it; so while input keeps coming, the linger goes on.
    pub(crate) fn step(&mut self, fd: BorrowedFd<'_>, now: Instant) -> bool {
        let before = self.discarded;
        if self.discard_arrived(fd) {
            return true;
        }
        let still_sending = self.discarded > before;
        if !still_sending && sys::unacknowledged_output(fd).map_or(true, |pending| pending == 0) {
            return true;
        }
        if now >= self.until {
            tracing::debug!("closing with output still unacknowledged");
            return true;
        }
        false
    }

    /// When to look again: soon, then less and less often, never after the end.
    pub(crate) fn next_look(&mut self, now: Instant) -> Instant {
        let at = now
            .checked_add(self.pause)
            .map_or(self.until, |next| next.min(self.until));
        self.pause = (self.pause * 2).min(PAUSE_MAX);
        at
    }

    /// Lingers here, waiting on this thread, until [`step`](Self::step) says it is over.
    pub(crate) fn run(mut self, fd: BorrowedFd<'_>) {
        loop {
            let now = Instant::now();
            if self.step(fd, now) {
                return;
            }
            let left = self.next_look(now).saturating_duration_since(now);
            // Wake on input, or look at the send queue again soon.
            // (On a coroutine, suspended meanwhile.)
            let _ = coroutine::wait(fd, false, Some(left));
        }
    }

    /// Discards what has arrived without waiting; `true` when the linger is over for the
    /// peer's sake (it closed or reset, or sent more than a linger discards).
    pub(crate) fn discard_arrived(&mut self, fd: BorrowedFd<'_>) -> bool {
        discard(fd, &mut self.discarded)
    }
}

/// After a half-close with nothing of ours on its way: discards what has already arrived,
/// without waiting, so the close that follows sends no reset; `true` when something had
/// arrived (the peer may still be sending) and the peer has not closed.
pub(crate) fn discard_arrived(fd: BorrowedFd<'_>) -> bool {
    let mut discarded = 0;
    !discard(fd, &mut discarded) && discarded > 0
}

/// Reads and drops what has arrived, adding to `discarded`; `true` when the peer closed or
/// reset, or the discarded input passed [`DISCARD_MAX`].
fn discard(fd: BorrowedFd<'_>, discarded: &mut usize) -> bool {
    let mut scratch = [0u8; 4096];
    loop {
        match sys::recv_now(fd, &mut scratch) {
            Ok(0) => return true, // the peer closed: nothing more can arrive
            Ok(n) if *discarded + n > DISCARD_MAX => return true,
            Ok(n) => *discarded += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true, // reset or gone: nothing to protect
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    #[test]
    fn the_looks_come_soon_then_less_often_and_never_after_the_end() {
        let start = Instant::now();
        let mut linger = Linger::new(start, Duration::from_millis(25));
        let looks: Vec<Duration> = (0..6).map(|_| linger.next_look(start) - start).collect();
        let ms = Duration::from_millis;
        assert_eq!(looks, [ms(1), ms(2), ms(4), ms(8), ms(10), ms(10)]);
        let late = start + ms(20);
        assert_eq!(linger.next_look(late), start + ms(25), "capped at the end");
    }

    #[test]
    fn input_is_discarded_and_a_closed_peer_ends_the_linger() {
        let (server, mut client) = pair();
        server.set_nonblocking(true).unwrap();
        client.write_all(b"unread").unwrap();
        let mut linger = Linger::new(Instant::now(), Duration::from_secs(60));
        let fd = server.as_fd();
        let patience = Some(Duration::from_secs(20));
        assert!(sys::wait_readable(fd, patience).unwrap());
        assert!(!linger.discard_arrived(fd), "the peer is still there");
        assert_eq!(linger.discarded, 6);
        drop(client);
        assert!(sys::wait_readable(fd, patience).unwrap());
        assert!(linger.step(fd, Instant::now()), "the peer closed");
    }

    #[test]
    fn a_peer_still_sending_keeps_the_linger_going() {
        let (server, mut client) = pair();
        server.set_nonblocking(true).unwrap();
        let fd = server.as_fd();
        let patience = Some(Duration::from_secs(20));
        let mut linger = Linger::new(Instant::now(), Duration::from_secs(60));
        client.write_all(b"more").unwrap();
        assert!(sys::wait_readable(fd, patience).unwrap());
        // Nothing of ours is unacknowledged, but input came: a close now could reset.
        assert!(
            !linger.step(fd, Instant::now()),
            "the peer is still sending"
        );
        assert!(
            linger.step(fd, Instant::now()),
            "it stopped: nothing more to wait for"
        );
        client.write_all(b"again").unwrap();
        assert!(sys::wait_readable(fd, patience).unwrap());
        assert!(
            discard_arrived(fd),
            "the free look says the peer may still be sending"
        );
        assert!(!discard_arrived(fd), "and nothing once it is all dropped");
    }
}
