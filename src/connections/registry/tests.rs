use std::net::IpAddr;

use super::source_key;
use crate::limits::Limits;

fn key(ip: &str, limits: &Limits) -> IpAddr {
    source_key(ip.parse().unwrap(), limits)
}

#[test]
fn ipv4_sources_are_whole_addresses_by_default() {
    let limits = Limits::default();
    assert_ne!(key("10.0.0.1", &limits), key("10.0.0.2", &limits));
    assert_eq!(key("10.0.0.1", &limits), key("10.0.0.1", &limits));
}

#[test]
fn ipv6_sources_are_slash_64s_by_default() {
    let limits = Limits::default();
    assert_eq!(
        key("2001:db8::1", &limits),
        key("2001:db8::ffff:1", &limits)
    );
    assert_ne!(key("2001:db8::1", &limits), key("2001:db8:0:1::1", &limits));
}

#[test]
fn mapped_ipv4_counts_as_ipv4_and_prefixes_apply() {
    let limits = Limits {
        ipv4_source_prefix: 24,
        ..Limits::default()
    };
    assert_eq!(key("::ffff:10.0.0.1", &limits), key("10.0.0.99", &limits));
    let none = Limits {
        ipv4_source_prefix: 0,
        ipv6_source_prefix: 0,
        ..Limits::default()
    };
    assert_eq!(key("1.2.3.4", &none), key("5.6.7.8", &none));
}
