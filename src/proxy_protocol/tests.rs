//! The parser against the specification's examples, malformed headers, every truncation of
//! valid ones, and random bytes (no panic, no claim past the input).

use super::*;

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.push(0x20 | command);
    bytes.push(family);
    bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

fn valid_headers() -> Vec<(Vec<u8>, ProxyHeader)> {
    let v4 = [192, 0, 2, 7, 198, 51, 100, 1, 0xC8, 0x22, 0x01, 0xBB];
    let mut v6 = vec![0u8; 36];
    v6[15] = 1; // ::1
    v6[31] = 2; // ::2
    v6[32..34].copy_from_slice(&1234u16.to_be_bytes());
    v6[34..36].copy_from_slice(&80u16.to_be_bytes());
    let mut with_tlv = v4.to_vec();
    with_tlv.extend_from_slice(&[0x04, 0x00, 0x03, b'a', b'b', b'c']); // a NOOP TLV
    vec![
        (
            b"PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n".to_vec(),
            ProxyHeader::Proxied {
                source: "192.0.2.7:51234".parse().unwrap(),
                destination: "198.51.100.1:443".parse().unwrap(),
            },
        ),
        (
            b"PROXY TCP6 ::1 ::2 1234 80\r\n".to_vec(),
            ProxyHeader::Proxied {
                source: "[::1]:1234".parse().unwrap(),
                destination: "[::2]:80".parse().unwrap(),
            },
        ),
        (b"PROXY UNKNOWN\r\n".to_vec(), ProxyHeader::Unknown),
        (
            b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n".to_vec(),
            ProxyHeader::Unknown,
        ),
        (
            v2(1, 0x11, &v4),
            ProxyHeader::Proxied {
                source: "192.0.2.7:51234".parse().unwrap(),
                destination: "198.51.100.1:443".parse().unwrap(),
            },
        ),
        (
            v2(1, 0x11, &with_tlv),
            ProxyHeader::Proxied {
                source: "192.0.2.7:51234".parse().unwrap(),
                destination: "198.51.100.1:443".parse().unwrap(),
            },
        ),
        (
            v2(1, 0x21, &v6),
            ProxyHeader::Proxied {
                source: "[::1]:1234".parse().unwrap(),
                destination: "[::2]:80".parse().unwrap(),
            },
        ),
        (v2(0, 0x00, &[]), ProxyHeader::Local),
        (v2(1, 0x31, &[0; 216]), ProxyHeader::Unknown),
    ]
}

#[test]
fn valid_headers_parse_and_leave_the_payload() {
    for (header, expected) in valid_headers() {
        let mut bytes = header.clone();
        bytes.extend_from_slice(b"payload");
        assert_eq!(
            parse(&bytes),
            Ok(Parsed::Complete {
                header: expected,
                consumed: header.len()
            }),
            "{header:?}"
        );
    }
}

#[test]
fn every_truncation_of_a_valid_header_is_incomplete() {
    for (header, _) in valid_headers() {
        for cut in 1..header.len() {
            assert_eq!(
                parse(&header[..cut]),
                Ok(Parsed::Incomplete),
                "{header:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn malformed_headers_are_errors() {
    let cases: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\n".to_vec(),
        b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n".to_vec(),
        b"PROXY TCP4 ::1 ::1 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n".to_vec(),
        [b"PROXY ".as_slice(), &[b'x'; 120]].concat(),
        v2(1, 0x11, &[0; 8]),  // too short for IPv4
        v2(1, 0x21, &[0; 20]), // too short for IPv6
        v2(1, 0x55, &[]),      // unknown family
        v2(7, 0x11, &[0; 12]), // unknown command
        {
            let mut bad = v2(1, 0x11, &[0; 12]);
            bad[12] = 0x11; // version 1 in a binary header
            bad
        },
    ];
    for bytes in cases {
        assert!(parse(&bytes).is_err(), "{bytes:?}");
    }
}

/// A small deterministic generator (xorshift), so the random cases repeat exactly.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_and_mutated_bytes_never_panic_nor_claim_past_the_input() {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let valid = valid_headers();
    for round in 0..200_000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            // Pure noise, sometimes behind a signature so the deep paths run.
            let len = (random.next() % 300) as usize;
            let noise: Vec<u8> = (0..len).map(|_| random.next() as u8).collect();
            let signature: &[u8] = match round % 6 {
                0 => b"\r\n\r\n\0\r\nQUIT\n",
                2 => b"PROXY ",
                _ => b"",
            };
            [signature, &noise].concat()
        } else {
            // A valid header with a few bytes flipped, cut somewhere.
            let (header, _) = &valid[(random.next() as usize) % valid.len()];
            let mut mutated = header.clone();
            for _ in 0..(random.next() % 4) {
                let at = (random.next() as usize) % mutated.len();
                mutated[at] = random.next() as u8;
            }
            let cut = (random.next() as usize) % (mutated.len() + 1);
            mutated.truncate(cut);
            mutated
        };
        if let Ok(Parsed::Complete { consumed, .. }) = parse(&bytes) {
            assert!(
                consumed <= bytes.len(),
                "claimed {consumed} of {}",
                bytes.len()
            );
        }
    }
}
