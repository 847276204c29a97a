//! Handlers and what they see: the [`RequestHandler`] trait and the stream request.

mod datagram;
mod datagram_socket;
mod message_framing;
mod min_rate;
mod peer_credentials;
mod pending_output;
mod request_handler;
mod socket_reader;
mod stream;
mod stream_options;
mod stream_socket;

pub use datagram::DatagramRequest;
pub use datagram_socket::DatagramSocket;
pub use message_framing::{Delimited, Framed, MessageFraming};
pub(crate) use min_rate::MessageClock;
pub use min_rate::MinRate;
pub use peer_credentials::PeerCredentials;
pub use request_handler::RequestHandler;
pub use socket_reader::SocketReader;
pub(crate) use stream::linger_before_close;
pub use stream::StreamRequest;
pub use stream_options::StreamOptions;
pub use stream_socket::{SocketHalf, StreamSocket};
