//! [`CertResolver`]: the certificate for a ClientHello, by the name it asks for (SNI).

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificates of one configuration: one per name, and the one for every other name
/// (and for clients that send no name).
#[derive(Debug)]
pub(crate) struct CertResolver {
    pub(crate) default: Option<Arc<CertifiedKey>>,
    /// Lower-case DNS names.
    pub(crate) by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()))
            .or(self.default.as_ref())
            .cloned()
    }
}
