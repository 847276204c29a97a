//! The server: [`BaseServer`], its construction and its loop.

mod accept;
mod admission;
mod base_server;
mod construction;
mod graceful_drain;
mod proxy_stage;
mod serve_loop;

pub use base_server::BaseServer;
