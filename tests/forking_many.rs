//! After 2 000 forked requests there is no zombie and no leaked descriptor. In a file of its
//! own: it counts this process's descriptors and children.

mod util;

use std::io::Write;

use socketserver::{ForkingTcpServer, StreamRequest};
use util::{connect, read_all};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

#[test]
fn two_thousand_forks_leave_no_zombie_and_no_descriptor() {
    let mut server = ForkingTcpServer::new("127.0.0.1:0", |request: &mut StreamRequest| {
        request.wfile.write_all(b"x")
    })
    .unwrap();
    let address = server.server_address().unwrap();
    let before = open_descriptors();
    let mut most = 0;
    for _ in 0..2000 {
        let mut client = connect(address);
        server.handle_request().unwrap();
        assert_eq!(read_all(&mut client), b"x");
        most = most.max(server.dispatch().active_children());
    }
    assert!(
        most <= 40,
        "children are reaped as they finish (at most max_children live)"
    );
    assert_eq!(open_descriptors(), before, "the parent leaked descriptors");
    server.server_close();
    assert_eq!(server.dispatch().active_children(), 0);
    // No child of this process is left at all, zombie or alive.
    // SAFETY: waitpid with a null status pointer is allowed.
    let result = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!(result, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ECHILD)
    );
}
