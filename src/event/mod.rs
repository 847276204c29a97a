//! The event-driven way to run a connection: [`Protocol`] callbacks on an [`EventLoop`].

mod connection;
mod event_loop;
mod lingering_close;
mod protocol;
mod protocol_driver;
mod protocol_handler;
mod stream_session;

pub use connection::Connection;
pub use event_loop::EventLoop;
pub use protocol::Protocol;
pub use protocol_handler::ProtocolHandler;
