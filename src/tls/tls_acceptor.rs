//! [`TlsAcceptor`]: a server's TLS configuration, shared by its connections and reloadable.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rustls::server::ProducesTickets;
use rustls::{ServerConfig, ServerConnection};

use crate::request::StreamSocket;
use crate::tls::tls_config::{TlsConfig, TlsConfigError};
use crate::tls::tls_stream::TlsStream;

/// The TLS side of a server: its [`TlsConfig`] built, and the session-ticket keys. Cheap to
/// clone (one shared configuration); keep a clone to [`reload`](Self::reload) it.
///
/// The ticket keys are made once, here, and kept across reloads: a pre-fork master or a
/// [`ForkingMixIn`](crate::ForkingMixIn) parent that makes the acceptor before it forks gives
/// every child the same keys, so a ticket one child issued resumes in another.
#[doc(alias = "wrap_socket")]
#[derive(Clone)]
pub struct TlsAcceptor {
    shared: Arc<Shared>,
}

struct Shared {
    current: RwLock<Arc<Settings>>,
    ticketer: Arc<dyn ProducesTickets>,
}

/// The longest session state a ticket carries (a client's certificate chain makes it long).
const LONGEST_TICKET: usize = 16 * 1024;

/// One configuration in force.
pub(crate) struct Settings {
    pub(crate) rustls: Arc<ServerConfig>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) buffer_limit: usize,
    pub(crate) plaintext_answer: Option<Arc<[u8]>>,
}

impl TlsAcceptor {
    /// Builds `config` (reading nothing more: the files were read by the config) and makes
    /// the ticket keys.
    ///
    /// # Errors
    ///
    /// [`TlsConfigError::Invalid`] when a key does not match its certificate, or rustls
    /// refuses a part.
    pub fn new(config: TlsConfig) -> Result<Self, TlsConfigError> {
        let ticketer =
            rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| TlsConfigError::Invalid {
                origin: "the session ticket keys".to_owned(),
                problem: e.to_string(),
            })?;
        // rustls' ticketer refuses a ticket longer than the longest it has issued in this
        // process, and a forked child has issued none: one ticket of the longest size taken
        // (room for a client's certificate chain), issued here, before any fork, sets that
        // bound for every child.
        let _ = ticketer.encrypt(&[0; LONGEST_TICKET]);
        let settings = settings(&config, Arc::clone(&ticketer))?;
        Ok(TlsAcceptor {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(settings)),
                ticketer,
            }),
        })
    }

    /// Builds and checks `config` on the caller's thread, then puts it in force for every
    /// connection accepted from now on; connections in flight keep theirs. On error the
    /// configuration in force stays, and one `warn` line says why.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn reload(&self, config: TlsConfig) -> Result<(), TlsConfigError> {
        let settings = match settings(&config, Arc::clone(&self.shared.ticketer)) {
            Ok(settings) => settings,
            Err(error) => {
                tracing::warn!(%error, "TLS reload refused; the configuration in force stays");
                return Err(error);
            }
        };
        *self.shared.current.write() = Arc::new(settings);
        tracing::info!(?config, "TLS configuration reloaded");
        Ok(())
    }

    /// Wraps an accepted connection. Nothing is read or sent here: the handshake happens
    /// where the connection waits for input.
    ///
    /// # Errors
    ///
    /// rustls' refusal to start a connection (out of memory).
    pub fn accept<S: StreamSocket>(&self, socket: S) -> io::Result<TlsStream<S>> {
        let settings = Arc::clone(&self.shared.current.read());
        let mut connection =
            ServerConnection::new(Arc::clone(&settings.rustls)).map_err(io::Error::other)?;
        connection.set_buffer_limit(Some(settings.buffer_limit));
        Ok(TlsStream::new(socket, connection, &settings))
    }
}

fn settings(
    config: &TlsConfig,
    ticketer: Arc<dyn ProducesTickets>,
) -> Result<Settings, TlsConfigError> {
    Ok(Settings {
        rustls: config.build(ticketer)?,
        handshake_timeout: config.handshake_timeout,
        buffer_limit: config.buffer_limit,
        plaintext_answer: config.plaintext_answer.clone(),
    })
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.shared.current.read();
        f.debug_struct("TlsAcceptor")
            .field("alpn", &current.rustls.alpn_protocols)
            .field("handshake_timeout", &current.handshake_timeout)
            .field("buffer_limit", &current.buffer_limit)
            .finish_non_exhaustive()
    }
}
