//! The event-driven way to run a connection: [`Protocol`] callbacks on an [`EventLoop`].

mod connection;
mod connection_handle;
mod connection_timers;
mod event_loop;
mod lingering_close;
mod protocol;
mod protocol_driver;
mod protocol_handler;
mod stream_session;

pub use connection::Connection;
pub(crate) use connection_handle::CallSoon;
pub use connection_handle::ConnectionHandle;
pub use connection_timers::TimerId;
pub use event_loop::EventLoop;
pub use protocol::Protocol;
pub use protocol_handler::ProtocolHandler;
