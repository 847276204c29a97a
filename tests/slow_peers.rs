//! A slow peer costs a buffer and a timer, not a worker: on a pool of one worker, clients that
//! send half a message, or that do not read their answers, leave the worker free for everyone
//! else; their answers still arrive whole and in order once they read, and the timeouts end
//! the ones that never finish.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socketserver::{
    Delimited, PoolTcpServer, RequestHandler, StreamOptions, StreamRequest, TestServer,
};

mod util;

use util::{assert_clean_eof, connect, connect_reading_slowly, eventually, ParkedLines, PATIENCE};

/// Answers each line `N` with `ANSWER` bytes: `N` repeated (then a newline), under the bound
/// of output kept for a slow reader.
#[derive(Clone)]
struct Big;

const ANSWER: usize = 60_000;

fn answer_to(n: u32) -> Vec<u8> {
    let mut answer = format!("{n:08} ").repeat(ANSWER / 9).into_bytes();
    answer.resize(ANSWER - 1, b'.');
    answer.push(b'\n');
    answer
}

impl RequestHandler<StreamRequest> for Big {
    fn setup(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        req.park_until(Delimited::line());
        Ok(())
    }

    fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        if req.rfile.read_line(&mut line)? == 0 {
            return Ok(());
        }
        match line.trim().parse::<u32>() {
            Ok(n) => req.wfile.write_all(&answer_to(n))?,
            Err(_) => req.wfile.write_all(line.to_uppercase().as_bytes())?,
        }
        req.park_until(Delimited::line());
        Ok(())
    }
}

fn one_worker<H: RequestHandler<StreamRequest>>(
    handler: H,
    options: StreamOptions,
) -> TestServer<socketserver::TcpSocket, socketserver::ThreadPool, H> {
    let mut server = PoolTcpServer::new("127.0.0.1:0", handler).unwrap();
    server.dispatch_mut().set_workers(1);
    server.socket_mut().set_stream_options(options);
    TestServer::start(server)
}

/// The one worker answers a fresh client.
fn served(address: SocketAddr) {
    let mut client = connect(address);
    client.write_all(b"quick\n").unwrap();
    let mut answer = String::new();
    BufReader::new(&client).read_line(&mut answer).unwrap();
    assert_eq!(answer, "QUICK\n", "the worker is free");
}

#[test]
fn half_lines_hold_no_worker() {
    let server = one_worker(ParkedLines, StreamOptions::default());
    let mut halves: Vec<TcpStream> = (0..20).map(|_| connect(server.address())).collect();
    for (n, client) in halves.iter_mut().enumerate() {
        client.write_all(format!("half {n}").as_bytes()).unwrap();
    }
    assert!(eventually(|| util::servers_read_everything(&halves)));
    served(server.address());
    for (n, client) in halves.iter_mut().enumerate() {
        client.write_all(b" done\n").unwrap();
        let mut answer = String::new();
        BufReader::new(&*client).read_line(&mut answer).unwrap();
        assert_eq!(answer, format!("HALF {n} DONE\n"));
    }
    server.stop(PATIENCE).unwrap();
}

/// A client pipelines a hundred requests whose answers (6 MB) are far more than the kernel
/// holds, and reads nothing: the worker serves others; once it reads, every answer arrives
/// whole and in order.
#[test]
fn a_client_that_does_not_read_holds_no_worker() {
    let server = one_worker(Big, StreamOptions::default());
    let mut slow = connect_reading_slowly(server.address());
    let requests: String = (0..100).map(|n| format!("{n}\n")).collect();
    slow.write_all(requests.as_bytes()).unwrap();
    served(server.address());
    served(server.address());
    let mut reader = BufReader::new(&slow);
    for n in 0..100 {
        let mut answer = Vec::new();
        reader.read_until(b'\n', &mut answer).unwrap();
        assert!(answer == answer_to(n), "answer {n} whole and in order");
    }
    drop(reader);
    server.stop(PATIENCE).unwrap();
}

/// A file far larger than the kernel's buffers goes out as the client reads, with no worker
/// held meanwhile.
#[derive(Clone)]
struct File(std::sync::Arc<std::path::PathBuf>);

impl RequestHandler<StreamRequest> for File {
    fn setup(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        req.park_until(Delimited::line());
        Ok(())
    }

    fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        if req.rfile.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "file\n" {
            let file = std::fs::File::open(&*self.0)?;
            let len = file.metadata()?.len();
            req.send_file(format!("{len}\n").as_bytes(), file, len)?;
        } else {
            req.wfile.write_all(line.to_uppercase().as_bytes())?;
        }
        req.park_until(Delimited::line());
        Ok(())
    }
}

#[test]
fn a_file_goes_out_as_the_client_reads() {
    let path = std::env::temp_dir().join(format!("slow-peers-{}.bin", std::process::id()));
    let contents: Vec<u8> = (0..(8u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let server = one_worker(
        File(std::sync::Arc::new(path.clone())),
        StreamOptions::default(),
    );
    let mut slow = connect_reading_slowly(server.address());
    slow.write_all(b"file\nafter\n").unwrap();
    served(server.address());
    let mut reader = BufReader::new(&slow);
    let mut head = String::new();
    reader.read_line(&mut head).unwrap();
    assert_eq!(head, format!("{}\n", contents.len()));
    let mut body = vec![0; contents.len()];
    reader.read_exact(&mut body).unwrap();
    assert!(body == contents, "the file arrives intact");
    let mut after = String::new();
    reader.read_line(&mut after).unwrap();
    assert_eq!(
        after, "AFTER\n",
        "what was asked after the file comes after it"
    );
    std::fs::remove_file(&path).unwrap();
    drop(reader);
    server.stop(PATIENCE).unwrap();
}

/// A client that never reads is closed by the write timeout; the worker serves others
/// meanwhile.
#[test]
fn a_client_that_never_reads_meets_the_write_timeout() {
    let options = StreamOptions {
        write_timeout: Some(Duration::from_millis(300)),
        ..StreamOptions::default()
    };
    let server = one_worker(Big, options);
    let slow = connect_reading_slowly(server.address());
    let requests: String = (0..100).map(|n| format!("{n}\n")).collect();
    (&slow).write_all(requests.as_bytes()).unwrap();
    served(server.address());
    assert!(eventually(|| server.stats().closed_write_timeout == 1));
    served(server.address());
    drop(slow);
    server.stop(PATIENCE).unwrap();
}

/// The write timeout ends a client that never reads while the parker sends its answers; its
/// close does not linger on the parker's thread (a peer that stops reading cannot take what
/// a linger would wait for), so the other parked connections are served meanwhile — even with
/// a close linger far longer than the test.
#[test]
fn a_write_timeout_in_the_parker_stalls_no_other_connection() {
    let options = StreamOptions {
        write_timeout: Some(Duration::from_millis(300)),
        close_linger: Some(Duration::from_secs(3600)),
        ..StreamOptions::default()
    };
    let server = one_worker(Big, options);
    let mut parked = connect(server.address());
    parked.write_all(b"before\n").unwrap();
    let mut reader = BufReader::new(parked.try_clone().unwrap());
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    assert_eq!(answer, "BEFORE\n");
    let slow = connect_reading_slowly(server.address());
    let requests: String = (0..100).map(|n| format!("{n}\n")).collect();
    (&slow).write_all(requests.as_bytes()).unwrap();
    assert!(eventually(|| server.stats().closed_write_timeout == 1));
    parked.write_all(b"after\n").unwrap();
    answer.clear();
    reader.read_line(&mut answer).unwrap();
    assert_eq!(answer, "AFTER\n", "the parked connection is served");
    drop(slow);
    drop((reader, parked));
    server.stop(PATIENCE).unwrap();
}

/// A line longer than its framing's bound: the handler's read says so (it answers, and the
/// connection ends), instead of waiting for more.
#[derive(Clone)]
struct Short;

impl RequestHandler<StreamRequest> for Short {
    fn setup(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        req.park_until(Delimited::new(b'\n', 16));
        Ok(())
    }

    fn handle(&mut self, req: &mut StreamRequest) -> io::Result<()> {
        let mut line = String::new();
        match req.rfile.read_line(&mut line) {
            Ok(0) => Ok(()),
            Ok(_) => {
                req.wfile.write_all(line.to_uppercase().as_bytes())?;
                req.park_until(Delimited::new(b'\n', 16));
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                req.wfile.write_all(b"too long\n")
            }
            Err(error) => Err(error),
        }
    }
}

#[test]
fn a_line_past_its_bound_is_refused_by_the_handler() {
    let server = one_worker(Short, StreamOptions::default());
    let mut client = connect(server.address());
    client.write_all(b"short\n").unwrap();
    client.write_all(&[b'x'; 100]).unwrap();
    let mut reader = BufReader::new(&client);
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    assert_eq!(answer, "SHORT\n");
    answer.clear();
    reader.read_line(&mut answer).unwrap();
    assert_eq!(answer, "too long\n");
    drop(reader);
    assert_clean_eof(&mut client);
    server.stop(PATIENCE).unwrap();
}

/// Half a line that never ends is timed from its first byte (the read timeout here) while it
/// is gathered; the worker serves others meanwhile.
#[test]
fn half_a_line_meets_its_read_timeout() {
    let options = StreamOptions {
        read_timeout: Some(Duration::from_millis(300)),
        ..StreamOptions::default()
    };
    let server = one_worker(ParkedLines, options);
    let mut half = connect(server.address());
    half.write_all(b"never ends").unwrap();
    served(server.address());
    assert_clean_eof(&mut half);
    assert!(
        eventually(|| server.stats().closed_read_timeout == 1),
        "{:?}",
        server.stats()
    );
    server.stop(PATIENCE).unwrap();
}
