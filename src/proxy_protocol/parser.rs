//! [`parse`]: the PROXY protocol's two formats, from the start of a connection's bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use crate::proxy_protocol::{ProxyError, ProxyHeader};

/// The v2 signature: twelve bytes no text protocol starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 line is at most 107 bytes, CRLF included (the specification's bound).
const V1_MAX: usize = 107;
/// The v2 fixed part: signature, version/command, family/protocol, length.
const V2_FIXED: usize = 16;

/// What [`parse`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header, `consumed` bytes long; the connection's own bytes follow it.
    Complete {
        /// What it says.
        header: ProxyHeader,
        /// Its length: never more than the bytes given.
        consumed: usize,
    },
    /// A valid beginning: read more and call again with all the bytes so far.
    Incomplete,
}

/// Parses a PROXY header (v1 or v2, told apart by their signatures) at the start of `bytes`.
///
/// Never reads past `bytes`, never panics, and answers [`Parsed::Incomplete`] only while the
/// bytes can still become a valid header (a v1 line longer than 107 bytes without its CRLF is
/// an error, not a reason to wait).
///
/// # Errors
///
/// [`ProxyError`] when the bytes cannot be the start of a valid header.
///
/// # Examples
///
/// ```
/// use socketserver::proxy_protocol::{parse, Parsed, ProxyHeader};
///
/// let bytes = b"PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\nGET / HTTP/1.1\r\n";
/// let Parsed::Complete { header, consumed } = parse(bytes)? else { unreachable!() };
/// assert_eq!(header, ProxyHeader::Proxied {
///     source: "192.0.2.7:51234".parse().unwrap(),
///     destination: "198.51.100.1:443".parse().unwrap(),
/// });
/// assert_eq!(&bytes[consumed..], b"GET / HTTP/1.1\r\n");
/// assert_eq!(parse(b"PROXY TCP4 192.0")?, Parsed::Incomplete);
/// # Ok::<(), socketserver::proxy_protocol::ProxyError>(())
/// ```
pub fn parse(bytes: &[u8]) -> Result<Parsed, ProxyError> {
    let v2_prefix = bytes.len().min(V2_SIGNATURE.len());
    if bytes[..v2_prefix] == V2_SIGNATURE[..v2_prefix] && !bytes.is_empty() {
        return parse_v2(bytes);
    }
    let v1_prefix = bytes.len().min(6);
    if bytes[..v1_prefix] == b"PROXY "[..v1_prefix] {
        return parse_v1(bytes);
    }
    Err(ProxyError::NotProxy)
}

fn parse_v1(bytes: &[u8]) -> Result<Parsed, ProxyError> {
    let window = &bytes[..bytes.len().min(V1_MAX)];
    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
        return match bytes.len() >= V1_MAX {
            true => Err(ProxyError::BadV1("no CRLF within 107 bytes")),
            false => Ok(Parsed::Incomplete),
        };
    };
    let line = std::str::from_utf8(&window[..end]).map_err(|_| ProxyError::BadV1("not ASCII"))?;
    let consumed = end + 2;
    let mut fields = line.split(' ');
    fields.next(); // "PROXY"
    let header = match fields.next() {
        Some("UNKNOWN") => ProxyHeader::Unknown,
        Some(protocol @ ("TCP4" | "TCP6")) => {
            let mut next = || fields.next().ok_or(ProxyError::BadV1("missing field"));
            let (source, destination) = (next()?, next()?);
            let (source_port, destination_port) = (next()?, next()?);
            let address = |text: &str| -> Result<IpAddr, ProxyError> {
                match protocol {
                    "TCP4" => Ipv4Addr::from_str(text).map(IpAddr::V4),
                    _ => Ipv6Addr::from_str(text).map(IpAddr::V6),
                }
                .map_err(|_| ProxyError::BadV1("bad address"))
            };
            let port = |text: &str| -> Result<u16, ProxyError> {
                // Decimal, no sign, no leading zero (the specification's form).
                let valid = !text.is_empty()
                    && text.len() <= 5
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && (text == "0" || !text.starts_with('0'));
                match valid {
                    true => text.parse().map_err(|_| ProxyError::BadV1("bad port")),
                    false => Err(ProxyError::BadV1("bad port")),
                }
            };
            let header = ProxyHeader::Proxied {
                source: SocketAddr::new(address(source)?, port(source_port)?),
                destination: SocketAddr::new(address(destination)?, port(destination_port)?),
            };
            if fields.next().is_some() {
                return Err(ProxyError::BadV1("extra fields"));
            }
            header
        }
        _ => {
            return Err(ProxyError::BadV1(
                "unknown protocol (TCP4, TCP6 or UNKNOWN)",
            ))
        }
    };
    Ok(Parsed::Complete { header, consumed })
}

fn parse_v2(bytes: &[u8]) -> Result<Parsed, ProxyError> {
    if bytes.len() < V2_FIXED {
        // The signature matched so far; check what has arrived of the next byte.
        if let Some(&version) = bytes.get(12) {
            check_version(version)?;
        }
        return Ok(Parsed::Incomplete);
    }
    let version_command = bytes[12];
    check_version(version_command)?;
    let family_protocol = bytes[13];
    let length = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    let consumed = V2_FIXED + length;
    let Some(body) = bytes.get(V2_FIXED..consumed) else {
        return Ok(Parsed::Incomplete);
    };
    let header = match version_command & 0x0F {
        0x0 => ProxyHeader::Local,
        0x1 => match family_protocol {
            // TCP or UDP over IPv4 / IPv6.
            0x11 | 0x12 => {
                let a = body
                    .get(..12)
                    .ok_or(ProxyError::BadV2("too short for IPv4 addresses"))?;
                let ip =
                    |at: usize| IpAddr::V4(Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3]));
                let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(ip(0), port(8)),
                    destination: SocketAddr::new(ip(4), port(10)),
                }
            }
            0x21 | 0x22 => {
                let a = body
                    .get(..36)
                    .ok_or(ProxyError::BadV2("too short for IPv6 addresses"))?;
                let ip = |at: usize| {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(&a[at..at + 16]);
                    IpAddr::V6(Ipv6Addr::from(octets))
                };
                let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
                ProxyHeader::Proxied {
                    source: SocketAddr::new(ip(0), port(32)),
                    destination: SocketAddr::new(ip(16), port(34)),
                }
            }
            // Unspecified, or Unix sockets: relayed, but no address to map.
            0x00 | 0x31 | 0x32 => ProxyHeader::Unknown,
            _ => return Err(ProxyError::BadV2("unknown address family or protocol")),
        },
        _ => return Err(ProxyError::BadV2("unknown command (LOCAL or PROXY)")),
    };
    Ok(Parsed::Complete { header, consumed })
}

fn check_version(version_command: u8) -> Result<(), ProxyError> {
    match version_command >> 4 {
        2 => Ok(()),
        _ => Err(ProxyError::BadV2("version is not 2")),
    }
}
