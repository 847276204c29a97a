//! Closing cleanly: a server that ends a connection while the client's bytes are still
//! unread must not reset it (a reset destroys the answer the client has not read yet). Without
//! the half-close and linger, the first test loses the tail of most answers here.

use std::io::{BufRead, Read, Write};
use std::net::Shutdown;

use socketserver::{StreamOptions, StreamRequest, TestServer, ThreadingTcpServer};

mod util;

use util::{connect, PATIENCE};

/// Answers the first line and ends the connection, leaving the rest of the input unread.
fn answer_first_line(req: &mut StreamRequest) -> std::io::Result<()> {
    let mut line = String::new();
    req.rfile.read_line(&mut line)?;
    req.wfile.write_all(&ANSWER)
}

/// An answer larger than the socket buffers: its tail is still in the server's send queue
/// when the handler returns.
static ANSWER: [u8; 4 << 20] = [b'a'; 4 << 20];

#[test]
fn an_answer_survives_input_the_handler_did_not_read() {
    let mut failures = 0;
    for _ in 0..20 {
        let mut server = ThreadingTcpServer::new("127.0.0.1:0", answer_first_line).unwrap();
        // One-byte reads: the rest of the input stays in the kernel, unread.
        server.socket_mut().set_stream_options(StreamOptions {
            rbufsize: 1,
            ..StreamOptions::default()
        });
        let server = TestServer::start(server);
        let mut client = connect(server.address());
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 32 * 1024));
        client.write_all(&input).unwrap();
        let mut reply = Vec::new();
        match client.read_to_end(&mut reply) {
            Ok(_) if reply.len() == ANSWER.len() => {}
            other => {
                failures += 1;
                eprintln!("{} of {} bytes, then {other:?}", reply.len(), ANSWER.len());
            }
        }
        let _ = client.shutdown(Shutdown::Both);
        server.stop(PATIENCE).unwrap();
    }
    assert_eq!(failures, 0, "answers destroyed by a reset");
}

/// The same on a pool, where the connection ends on a worker.
#[test]
fn an_answer_survives_on_a_parking_pool_too() {
    let mut server = socketserver::PoolTcpServer::new("127.0.0.1:0", answer_first_line).unwrap();
    server.socket_mut().set_stream_options(StreamOptions {
        rbufsize: 1,
        ..StreamOptions::default()
    });
    let server = TestServer::start(server);
    for _ in 0..10 {
        let mut client = connect(server.address());
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 32 * 1024));
        client.write_all(&input).unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(reply.len(), ANSWER.len());
    }
    server.stop(PATIENCE).unwrap();
}
