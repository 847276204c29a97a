//! The event-driven way to run a connection: [`Protocol`] callbacks on an [`EventLoop`].

mod callbacks;
mod connection;
mod event_loop;
mod protocol;
mod protocol_driver;
mod stream_session;

pub use callbacks::Callbacks;
pub use connection::Connection;
pub use event_loop::EventLoop;
pub use protocol::Protocol;
