//! Started by a service manager: sockets inherited through systemd's socket-activation
//! protocol ([`InheritedSocket`]) and the readiness protocol (`sd_notify`: [`Notifier`]).

mod inherited_socket;
mod notifier;

pub use inherited_socket::{InheritedSocket, SocketKind};
pub(crate) use notifier::Notifier;
