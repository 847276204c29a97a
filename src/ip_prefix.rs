//! [`ip_prefix`]: an address cut to its first bits (a /24, a /64), for per-source limits and
//! trusted networks.

use std::net::IpAddr;

/// `ip`'s first `v4_bits` (IPv4) or `v6_bits` (IPv6) bits, the rest zero; an IPv4-mapped IPv6
/// address counts as IPv4.
pub(crate) fn ip_prefix(ip: IpAddr, v4_bits: u8, v6_bits: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4_bits.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let bits = u32::from(v6_bits.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}
