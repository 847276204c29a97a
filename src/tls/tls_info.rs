//! [`TlsInfo`]: what a handler may ask of its connection's TLS session.

use rustls_pki_types::CertificateDer;

/// What the handshake settled, for a handler: [`TlsStream::info`](crate::tls::TlsStream::info)
/// (Python's `SSLSocket.version()`, `cipher()`, `selected_alpn_protocol()`,
/// `getpeercert()`, `session_reused`).
#[doc(alias = "getpeercert")]
#[doc(alias = "selected_alpn_protocol")]
#[derive(Debug, Clone)]
pub struct TlsInfo {
    pub(crate) server_name: Option<String>,
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) version: &'static str,
    pub(crate) cipher_suite: String,
    pub(crate) peer_certificates: Vec<CertificateDer<'static>>,
    pub(crate) resumed: bool,
}

impl TlsInfo {
    /// The name the client asked for (SNI), if it sent one.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The application protocol agreed with ALPN (`b"http/1.1"`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// The protocol version: `"TLSv1.3"` or `"TLSv1.2"` (Python's names).
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// The cipher suite, as IANA names it (`TLS13_AES_256_GCM_SHA384`).
    pub fn cipher_suite(&self) -> &str {
        &self.cipher_suite
    }

    /// The client's certificate chain, its own first (empty without client authentication).
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.peer_certificates
    }

    /// Whether the session was resumed (a ticket) rather than negotiated in full.
    #[doc(alias = "session_reused")]
    pub fn resumed(&self) -> bool {
        self.resumed
    }
}
