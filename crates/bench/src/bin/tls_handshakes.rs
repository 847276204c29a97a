//! Makes TLS 1.3 connections for a while, each a handshake and one HTTP request, full or
//! resumed (a ticket from the connection before), and prints how many.
//!
//!   tls_handshakes HOST:PORT SECONDS full|resumed
//!
//! For bench/tls_bench.sh, which measures the server's CPU time around it. The server's
//! certificate is not checked (a benchmark's self-signed one); nothing else is sent. The key
//! exchange is X25519 (see `main`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

/// Accepts any certificate: the benchmark's is self-signed, and only the cost is measured.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [address, seconds, mode] = args.as_slice() else {
        eprintln!("usage: tls_handshakes HOST:PORT SECONDS full|resumed");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    // X25519 alone, as every server here can do it: rustls would offer the hybrid
    // X25519MLKEM768 first, which the nginx it is compared with (OpenSSL 3.0) does not know, and
    // the two would not do the same work.
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        kx_groups: vec![rustls::crypto::aws_lc_rs::kx_group::X25519],
        ..rustls::crypto::aws_lc_rs::default_provider()
    });
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    if mode == "full" {
        config.resumption = rustls::client::Resumption::disabled();
    }
    let config = Arc::new(config);
    let name = ServerName::try_from("localhost").expect("a name");
    let request = b"GET /small.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let (mut connections, mut resumed) = (0u64, 0u64);
    while Instant::now() < deadline {
        let mut socket = TcpStream::connect(address.as_str()).expect("connect");
        let mut connection =
            ClientConnection::new(Arc::clone(&config), name.clone()).expect("a connection");
        let mut stream = rustls::Stream::new(&mut connection, &mut socket);
        stream.write_all(request).expect("the request");
        // Read to the end: the response, and the ticket the next connection resumes with.
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        if connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
            resumed += 1;
        }
        connections += 1;
    }
    println!("{connections} {resumed}");
}
