//! Continuous connect/echo/close load against an echo server, counting what fails: for tests
//! that restart, drain or re-route servers under load.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::PATIENCE;

/// One connect/echo/close exchange; `Err` says what went wrong.
pub fn try_exchange(address: SocketAddr, n: usize) -> Result<(), String> {
    let mut client = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let message = format!("exchange {n}\n");
    client
        .write_all(message.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = vec![0; message.len()];
    client
        .read_exact(&mut reply)
        .map_err(|e| format!("read: {e}"))?;
    match reply == message.as_bytes() {
        true => Ok(()),
        false => Err("a wrong answer".to_owned()),
    }
}

/// `clients` threads doing [`try_exchange`] back to back until [`finish`](Self::finish).
pub struct ExchangeLoad {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Vec<String>>>,
}

impl ExchangeLoad {
    pub fn start(address: SocketAddr, clients: usize) -> ExchangeLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let threads = (0..clients)
            .map(|_| {
                let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut failures = Vec::new();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        if let Err(error) = try_exchange(address, n) {
                            failures.push(error);
                        }
                        n += 1;
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    failures
                })
            })
            .collect();
        ExchangeLoad {
            stop,
            done,
            threads,
        }
    }

    /// Exchanges attempted so far.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    /// Whether more than `more` exchanges are attempted from now on (within [`PATIENCE`]).
    pub fn made_progress(&self, more: usize) -> bool {
        let from = self.done();
        super::eventually(|| self.done() > from + more)
    }

    /// Stops the load, checks that no exchange failed and returns how many were attempted.
    pub fn finish_without_failures(self) -> usize {
        let (total, failures) = self.finish();
        assert!(
            failures.is_empty(),
            "{} of {total} exchanges failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        total
    }

    /// Stops the load; returns the exchanges attempted and the failures.
    pub fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let failures = self
            .threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect();
        (self.done.load(Ordering::SeqCst), failures)
    }
}
