//! The server: [`BaseServer`], its construction and its loop.

mod base_server;
mod construction;
mod proxy_stage;
mod serve_loop;

pub use base_server::BaseServer;
