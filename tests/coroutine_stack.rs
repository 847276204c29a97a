//! A coroutine that once went deep and now waits for its socket gives the stack below the
//! frame it waits in back to the kernel after a second, so an idle connection costs the stack
//! it stands on, not the deepest it ever reached. (A test binary of its own: it reads its own
//! process's resident memory, which no other test here moves.)

mod util;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use socketserver::{CoroutineTcpServer, StreamRequest};

use util::Serving;

/// Touches about `kib` KiB of stack below its caller, a KiB per frame.
#[inline(never)]
fn deep(kib: u8) -> u8 {
    let mut frame = [kib; 1024];
    std::hint::black_box(&mut frame);
    match kib {
        0 => frame[1023],
        _ => deep(kib - 1).wrapping_add(frame[1023]),
    }
}

/// This process's resident memory in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap();
    kib * 1024
}

const CONNECTIONS: usize = 32;
const DEPTH_KIB: u8 = 128;

#[test]
fn a_coroutine_that_went_deep_gives_its_stack_back_while_it_waits() {
    let handler = |request: &mut StreamRequest| -> io::Result<()> {
        let mut byte = [0; 1];
        request.rfile.read_exact(&mut byte)?;
        std::hint::black_box(deep(DEPTH_KIB));
        request.wfile.write_all(&byte)?;
        request.wfile.flush()?;
        // Waits for the client's next byte (it never comes until the test ends).
        request.rfile.read(&mut byte).map(drop)
    };
    let mut server = CoroutineTcpServer::new("127.0.0.1:0", handler).unwrap();
    server.dispatch_mut().set_workers(1);
    let serving = Serving::start(server);
    let before = resident_bytes();
    let clients: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| {
            let mut client = TcpStream::connect(serving.address).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            client.write_all(b"x").unwrap();
            let mut byte = [0; 1];
            client.read_exact(&mut byte).unwrap();
            client
        })
        .collect();
    // Every coroutine went 128 KiB deep; each now waits in a shallow read.
    let deepest = resident_bytes().saturating_sub(before);
    let touched = CONNECTIONS as u64 * u64::from(DEPTH_KIB) * 1024;
    assert!(
        deepest >= touched * 3 / 4,
        "{deepest} bytes resident after {CONNECTIONS} coroutines went {DEPTH_KIB} KiB deep"
    );
    let mut now = deepest;
    let released = util::eventually(|| {
        now = resident_bytes().saturating_sub(before);
        now < touched / 4
    });
    assert!(
        released,
        "{now} bytes still resident ({deepest} after going deep): the idle stacks were kept"
    );
    drop(clients);
    serving.stop().1.unwrap();
}
