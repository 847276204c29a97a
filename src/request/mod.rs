//! What a handler is given: the [`Request`] trait, and its stream and datagram requests with
//! their readers, writers, options and framings.

mod connection_writer;
mod datagram;
mod datagram_socket;
mod linger;
mod message_framing;
mod min_rate;
mod peer_credentials;
mod pending_output;
#[expect(
    clippy::module_inception,
    reason = "the module is named after its trait"
)]
mod request;
mod request_context;
mod socket_reader;
mod stream;
mod stream_options;
mod stream_socket;
mod when_full;

pub use connection_writer::ConnectionWriter;
pub use datagram::DatagramRequest;
pub use datagram_socket::DatagramSocket;
pub(crate) use linger::{discard_arrived, Linger};
pub use message_framing::{Delimited, Framed, MessageFraming};
pub(crate) use min_rate::MessageClock;
pub use min_rate::MinRate;
pub use peer_credentials::PeerCredentials;
pub use request::Request;
pub use request_context::RequestContext;
pub use socket_reader::SocketReader;
pub(crate) use stream::is_peer_gone;
pub use stream::StreamRequest;
pub use stream_options::StreamOptions;
pub(crate) use stream_socket::{file_shrank, SENDFILE_CHUNK};
pub use stream_socket::{Handshake, SocketHalf, StreamSocket};
pub use when_full::{WhenFull, Written};
