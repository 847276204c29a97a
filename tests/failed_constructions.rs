//! 1024 failed constructions (a port in use, an address that does not parse) each give a clear
//! error and leak no descriptor.
//! In a file of its own: it counts this process's open descriptors, which other tests running
//! in parallel would disturb.

use std::net::TcpListener;

use socketserver::{Error, SequentialTcpServer, StreamRequest, ThreadingTcpServer};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

#[test]
fn failed_constructions_give_clear_errors_and_leak_no_descriptor() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let handler = |_request: &mut StreamRequest| Ok(());
    let before = open_descriptors();
    for i in 0..1024 {
        if i % 2 == 0 {
            match ThreadingTcpServer::new(address, handler) {
                Err(error @ Error::Bind { .. }) => {
                    let message = error.to_string();
                    assert!(
                        message.contains(&address.to_string())
                            && message.contains("choose another port"),
                        "{message}"
                    );
                }
                other => panic!("a port in use must be Error::Bind, got {other:?}"),
            }
        } else {
            match SequentialTcpServer::new("127.0.0.1:not-a-port", handler) {
                Err(Error::Address { address, .. }) => assert_eq!(address, "127.0.0.1:not-a-port"),
                other => panic!("a bad address must be Error::Address, got {other:?}"),
            }
        }
    }
    if cfg!(target_os = "linux") {
        assert_eq!(
            open_descriptors(),
            before,
            "failed constructions leaked descriptors"
        );
    }
}
