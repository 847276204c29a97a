//! [`TlsConfig`]: certificates, names, protocols and limits of a TLS server, checked when
//! built.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ProducesTickets, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::tls::cert_resolver::CertResolver;

/// Whether clients must present a certificate (mutual TLS), checked against a CA bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client may present one; one that does must be signed by the bundle.
    Optional,
    /// Every client must present one signed by the bundle.
    Required,
}

/// A certificate chain and its key, as read.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where it came from, for errors.
    origin: String,
}

/// What a TLS server presents and accepts: the certificate (or one per name, chosen by SNI),
/// ALPN protocols, client authentication, the handshake's deadline and the per-connection
/// buffer bound. Everything is read and checked by [`TlsAcceptor::new`] or
/// [`TlsAcceptor::reload`](crate::tls::TlsAcceptor::reload) (a key that does not match its
/// certificate is an error there, not at the first handshake).
///
/// Defaults: TLS 1.3 and 1.2, no ALPN, no client certificates, a 10 s handshake deadline (as
/// axum-server and Kestrel), a 64 KiB buffer bound, no answer to plaintext.
///
/// [`TlsAcceptor::new`]: crate::tls::TlsAcceptor::new
#[doc(alias = "SSLContext")]
pub struct TlsConfig {
    default: Identity,
    by_name: Vec<(String, Identity)>,
    alpn: Vec<Vec<u8>>,
    client_auth: Option<(ClientAuth, Vec<CertificateDer<'static>>, String)>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) buffer_limit: usize,
    pub(crate) plaintext_answer: Option<Arc<[u8]>>,
    tls12: bool,
}

/// A TLS configuration that cannot be used: a file that cannot be read, PEM without what it
/// should hold, a key that does not match its certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// PEM that holds no certificate, no key, or is malformed.
    #[error("{origin}: {problem}")]
    Pem {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the configuration (a key that does not match its certificate, a CA
    /// bundle it cannot use).
    #[error("{origin}: {problem}")]
    Invalid {
        /// Which part.
        origin: String,
        /// rustls' reason.
        problem: String,
    },
}

/// The smallest buffer bound: one whole TLS record, so a file piece is never split.
const MIN_BUFFER_LIMIT: usize = 17 * 1024;

impl TlsConfig {
    /// The certificate chain (PEM, the server's own first) and its private key (PEM: PKCS#8,
    /// PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// [`TlsConfigError::Pem`] when either holds no certificate or key.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsConfigError> {
        Ok(Self::with_default(identity(
            cert_chain,
            key,
            "the certificate",
        )?))
    }

    /// [`from_pem`](Self::from_pem) from files (Python 3.14's `--tls-cert` and `--tls-key`).
    ///
    /// # Errors
    ///
    /// [`TlsConfigError::Read`] when a file cannot be read; as [`from_pem`](Self::from_pem).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsConfigError> {
        Ok(Self::with_default(identity_files(
            cert_chain.as_ref(),
            key.as_ref(),
        )?))
    }

    fn with_default(default: Identity) -> Self {
        TlsConfig {
            default,
            by_name: Vec::new(),
            alpn: Vec::new(),
            client_auth: None,
            handshake_timeout: Duration::from_secs(10),
            buffer_limit: 64 * 1024,
            plaintext_answer: None,
            tls12: true,
        }
    }

    /// Presents this certificate to clients that ask for `name` (SNI; any case); others get
    /// the first one.
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem).
    pub fn with_name_pem(
        mut self,
        name: &str,
        cert_chain: &[u8],
        key: &[u8],
    ) -> Result<Self, TlsConfigError> {
        let identity = identity(cert_chain, key, &format!("the certificate for {name}"))?;
        self.by_name.push((name.to_ascii_lowercase(), identity));
        Ok(self)
    }

    /// [`with_name_pem`](Self::with_name_pem) from files.
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Self::from_pem_files).
    pub fn with_name_pem_files(
        mut self,
        name: &str,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsConfigError> {
        let identity = identity_files(cert_chain.as_ref(), key.as_ref())?;
        self.by_name.push((name.to_ascii_lowercase(), identity));
        Ok(self)
    }

    /// The application protocols offered with ALPN, preferred first (`b"http/1.1"`); a client
    /// that offers ALPN with none of them is refused. Default: none (no ALPN).
    pub fn alpn_protocols(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Asks clients for a certificate signed by one in `ca_bundle` (PEM): optional or required
    /// (mutual TLS). Default: none is asked for.
    ///
    /// # Errors
    ///
    /// [`TlsConfigError::Pem`] when the bundle holds no certificate.
    pub fn client_auth_pem(
        mut self,
        ca_bundle: &[u8],
        auth: ClientAuth,
    ) -> Result<Self, TlsConfigError> {
        let origin = "the client CA bundle".to_owned();
        let cas = certificates(ca_bundle, &origin)?;
        self.client_auth = Some((auth, cas, origin));
        Ok(self)
    }

    /// How long a connection has from its accept to the end of its handshake, however its
    /// bytes come. Default: 10 s.
    pub fn handshake_timeout(mut self, after: Duration) -> Self {
        self.handshake_timeout = after;
        self
    }

    /// The most bytes one connection's TLS layer keeps to send (rustls' buffer limit; a
    /// write waits, or is kept by the framework, past it). At least 17 KiB (one record).
    /// Default: 64 KiB.
    pub fn buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes.max(MIN_BUFFER_LIMIT);
        self
    }

    /// What to answer a client that speaks plaintext to this TLS port, before closing: an
    /// HTTP server answers `400` (as Go's `net/http` does). Default: nothing, just the close.
    pub fn plaintext_answer(mut self, answer: Option<&[u8]>) -> Self {
        self.plaintext_answer = answer.map(Arc::from);
        self
    }

    /// Whether TLS 1.2 is offered besides TLS 1.3. Default: `true`.
    pub fn tls12(mut self, on: bool) -> Self {
        self.tls12 = on;
        self
    }

    /// The rustls configuration, every key checked against its certificate.
    pub(crate) fn build(
        &self,
        ticketer: Arc<dyn ProducesTickets>,
    ) -> Result<Arc<ServerConfig>, TlsConfigError> {
        let provider = Arc::new(provider());
        let mut by_name = std::collections::HashMap::new();
        for (name, identity) in &self.by_name {
            by_name.insert(name.clone(), certified(&provider, identity)?);
        }
        let resolver = CertResolver {
            default: Some(certified(&provider, &self.default)?),
            by_name,
        };
        let versions: &[&rustls::SupportedProtocolVersion] = match self.tls12 {
            true => &[&rustls::version::TLS13, &rustls::version::TLS12],
            false => &[&rustls::version::TLS13],
        };
        let invalid = |origin: &str, problem: &dyn fmt::Display| TlsConfigError::Invalid {
            origin: origin.to_owned(),
            problem: problem.to_string(),
        };
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(|e| invalid("the protocol versions", &e))?;
        let builder = match &self.client_auth {
            None => builder.with_no_client_auth(),
            Some((auth, cas, origin)) => {
                let mut roots = RootCertStore::empty();
                for ca in cas {
                    roots.add(ca.clone()).map_err(|e| invalid(origin, &e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = match auth {
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                    ClientAuth::Required => verifier,
                };
                builder
                    .with_client_cert_verifier(verifier.build().map_err(|e| invalid(origin, &e))?)
            }
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = self.alpn.clone();
        // Our order, not the client's: AES-128-GCM first (see `provider`).
        config.ignore_client_order = true;
        config.ticketer = ticketer;
        // One ticket per full handshake is what a client resumes with; two (rustls' default)
        // cost a second encryption for a ticket rarely used.
        config.send_tls13_tickets = 1;
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("certificate", &self.default.origin)
            .field(
                "names",
                &self.by_name.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("alpn", &self.alpn)
            .field("client_auth", &self.client_auth.as_ref().map(|(a, ..)| a))
            .field("handshake_timeout", &self.handshake_timeout)
            .field("buffer_limit", &self.buffer_limit)
            .field("tls12", &self.tls12)
            .finish_non_exhaustive()
    }
}

/// aws-lc-rs with the cipher suites in the order this server prefers: AES-128-GCM first (as Go
/// does), then AES-256-GCM, then ChaCha20-Poly1305. A TLS 1.3 suite's hash runs through the
/// whole key schedule, and SHA-256 has instructions on today's CPUs where SHA-384 mostly has
/// not (it took 15 % of a resumed handshake's CPU); AES-128 is as safe as TLS needs.
fn provider() -> CryptoProvider {
    use rustls::crypto::aws_lc_rs::cipher_suite as suite;
    CryptoProvider {
        cipher_suites: vec![
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

/// The certificates in `pem`, at least one.
fn certificates(pem: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem {
            origin: origin.to_owned(),
            problem: format!("malformed PEM ({e:?})"),
        })?;
    if chain.is_empty() {
        return Err(TlsConfigError::Pem {
            origin: origin.to_owned(),
            problem: "no CERTIFICATE in it".to_owned(),
        });
    }
    Ok(chain)
}

fn identity(cert_chain: &[u8], key: &[u8], origin: &str) -> Result<Identity, TlsConfigError> {
    let chain = certificates(cert_chain, origin)?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsConfigError::Pem {
        origin: format!("the key of {origin}"),
        problem: format!("no private key in it ({e:?})"),
    })?;
    Ok(Identity {
        chain,
        key,
        origin: origin.to_owned(),
    })
}

fn identity_files(cert_chain: &Path, key: &Path) -> Result<Identity, TlsConfigError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsConfigError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let (chain_pem, key_pem) = (read(cert_chain)?, read(key)?);
    let mut identity = identity(&chain_pem, &key_pem, &cert_chain.display().to_string())?;
    identity.origin = format!("{} with {}", cert_chain.display(), key.display());
    Ok(identity)
}

/// The identity as rustls signs with it, its key checked against its certificate.
fn certified(
    provider: &CryptoProvider,
    identity: &Identity,
) -> Result<Arc<CertifiedKey>, TlsConfigError> {
    let invalid = |problem: String| TlsConfigError::Invalid {
        origin: identity.origin.clone(),
        problem,
    };
    let signing = provider
        .key_provider
        .load_private_key(identity.key.clone_key())
        .map_err(|e| invalid(format!("the key cannot be used: {e}")))?;
    let certified = CertifiedKey::new(identity.chain.clone(), signing);
    certified
        .keys_match()
        .map_err(|e| invalid(format!("the key does not match the certificate: {e}")))?;
    Ok(Arc::new(certified))
}
