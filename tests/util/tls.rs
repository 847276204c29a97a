//! TLS for the tests: certificates made at test time (rcgen; no key material in the
//! repository), written where outside clients can read them, and an in-process rustls client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A certificate authority and what it signed.
pub struct Authority {
    pub cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Authority { cert, key }
    }

    /// A leaf certificate for `names` (ECDSA P-256), signed by this authority.
    pub fn issue(&self, names: &[&str]) -> Identity {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "test");
        // Where revocation would be published, as a real certificate says (a scanner
        // reports a certificate without it; nothing here fetches it).
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec!["http://localhost/test-ca.crl".to_owned()],
        }];
        // Valid from yesterday for 90 days, as a real one (rcgen's default spans centuries).
        let day = |offset: i64| {
            let (year, month, day) = date_from_today(offset);
            rcgen::date_time_ymd(year, month, day)
        };
        params.not_before = day(-1);
        params.not_after = day(90);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
}

impl Identity {
    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).unwrap()
    }

    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }

    pub fn config(&self) -> socketserver::tls::TlsConfig {
        socketserver::tls::TlsConfig::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .unwrap()
    }
}

/// The civil date (UTC) `offset` days from today (Howard Hinnant's days-to-civil).
fn date_from_today(offset: i64) -> (i32, u8, u8) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let days = (now.as_secs() / 86_400) as i64 + offset + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8, day as u8)
}

/// A directory of PEM files for outside clients, removed when dropped.
pub struct PemFiles {
    pub dir: PathBuf,
}

impl PemFiles {
    pub fn new(label: &str) -> PemFiles {
        let dir = std::env::temp_dir().join(format!(
            "socketserver-tls-{label}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        PemFiles { dir }
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for PemFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How an in-process client connects.
#[derive(Clone)]
pub struct Client {
    pub config: Arc<ClientConfig>,
    pub name: String,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl Client {
    /// A client trusting `ca`, asking for `name`.
    pub fn new(ca: &Authority, name: &str) -> Client {
        Client::build(
            ca,
            name,
            &[&rustls::version::TLS13, &rustls::version::TLS12],
            None,
            &[],
        )
    }

    pub fn build(
        ca: &Authority,
        name: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
        identity: Option<&Identity>,
        alpn: &[&[u8]],
    ) -> Client {
        let mut roots = RootCertStore::empty();
        roots.add(ca.der()).unwrap();
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            Some(identity) => builder
                .with_client_auth_cert(vec![identity.der()], identity.key())
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // Every connection a full handshake: a resumed one shows the certificate of the
        // session it resumes, not the one the server presents now.
        config.resumption = rustls::client::Resumption::disabled();
        Client {
            config: Arc::new(config),
            name: name.to_owned(),
        }
    }

    /// Connects and completes the handshake.
    pub fn connect(
        &self,
        address: SocketAddr,
    ) -> io::Result<StreamOwned<ClientConnection, TcpStream>> {
        let socket = TcpStream::connect(address)?;
        socket.set_read_timeout(Some(super::PATIENCE))?;
        let name = ServerName::try_from(self.name.clone()).unwrap();
        let connection = ClientConnection::new(Arc::clone(&self.config), name).unwrap();
        let mut stream = StreamOwned::new(connection, socket);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(stream)
    }
}

/// The ClientHello a rustls client trusting `ca` sends first, as bytes.
pub fn client_hello(ca: &Authority) -> Vec<u8> {
    let client = Client::new(ca, "localhost");
    let name = ServerName::try_from("localhost").unwrap();
    let mut connection = ClientConnection::new(client.config, name).unwrap();
    let mut hello = Vec::new();
    while connection.wants_write() {
        connection.write_tls(&mut hello).unwrap();
    }
    hello
}

/// A server CA, a clients' CA, and a configuration that asks for client certificates
/// (`auth`) signed by the second.
pub fn with_client_auth(
    auth: socketserver::tls::ClientAuth,
) -> (Authority, Authority, socketserver::tls::TlsConfig) {
    let ca = Authority::new("server CA");
    let clients_ca = Authority::new("clients CA");
    let config = ca
        .issue(&["localhost"])
        .config()
        .client_auth_pem(clients_ca.pem().as_bytes(), auth)
        .unwrap();
    (ca, clients_ca, config)
}

/// Sends a line and reads one back.
pub fn line_exchange(stream: &mut impl ReadWriteStream, line: &[u8]) -> Vec<u8> {
    stream.write_all(line).unwrap();
    stream.flush().unwrap();
    let mut got = Vec::new();
    let mut byte = [0; 1];
    while got.last() != Some(&b'\n') {
        match stream.read(&mut byte).unwrap() {
            0 => break,
            _ => got.push(byte[0]),
        }
    }
    got
}

pub trait ReadWriteStream: Read + Write {}
impl<T: Read + Write> ReadWriteStream for T {}
