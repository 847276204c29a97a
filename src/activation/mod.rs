//! Started by a service manager: sockets inherited through systemd's socket-activation
//! protocol ([`InheritedSocket`]), the readiness protocol (`sd_notify`: [`Notifier`]), and a
//! hot restart that speaks both ([`start_successor`]).

mod inherited_socket;
mod notifier;
mod successor;

pub use inherited_socket::{InheritedSocket, SocketKind};
pub(crate) use notifier::Notifier;
pub use successor::start_successor;
