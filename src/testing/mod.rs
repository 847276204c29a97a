//! Helpers for users' own tests.

mod test_server;

pub use test_server::{Leak, Stopped, TestServer};
