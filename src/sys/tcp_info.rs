//! The payload bytes a TCP connection carried, read once from `TCP_INFO` as it closes.

use std::os::fd::BorrowedFd;

/// The leading part of Linux's `struct tcp_info` (`linux/tcp.h`), as far as
/// `tcpi_bytes_retrans` (Linux 4.19). Spelled out here rather than taken from `libc`, whose
/// older releases end the struct before these fields; the kernel fills as much of it as it
/// knows and says how much.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default)]
struct TcpInfo {
    state: u8,
    ca_state: u8,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    options: u8,
    wscale: u8,
    // 24 `u32`s from `tcpi_rto` to `tcpi_total_retrans`.
    u32_fields: [u32; 24],
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
    notsent_bytes: u32,
    min_rtt: u32,
    data_segs_in: u32,
    data_segs_out: u32,
    delivery_rate: u64,
    busy_time: u64,
    rwnd_limited: u64,
    sndbuf_limited: u64,
    delivered: u32,
    delivered_ce: u32,
    bytes_sent: u64,
    bytes_retrans: u64,
}

/// `TCP_CLOSE_WAIT`, `TCP_LAST_ACK`, `TCP_CLOSING`, `TCP_TIME_WAIT`, `TCP_CLOSE`
/// (`include/net/tcp_states.h`): the peer's FIN has arrived (or, for `TCP_CLOSE`, a reset
/// ended the connection, usually after it).
#[cfg(target_os = "linux")]
const PEER_FIN_STATES: [u8; 5] = [8, 9, 11, 6, 7];

/// Bytes received from and sent to the peer over the connection's life, payload only (for TLS,
/// the records on the wire): `None` where `TCP_INFO` says nothing (not a TCP socket, another
/// platform, or a kernel before 4.2).
///
/// Received is `tcpi_bytes_received` less the one sequence number of the peer's FIN when it
/// has arrived (a connection a reset ended before any FIN may then count one byte short).
/// Sent is what was transmitted at least once (`tcpi_bytes_sent` less `tcpi_bytes_retrans`)
/// plus what is queued and not sent yet (`tcpi_notsent_bytes`); before Linux 4.19, which has
/// no such counters, what the peer acknowledged (`tcpi_bytes_acked`, which counts our FIN
/// too).
#[cfg(target_os = "linux")]
pub(crate) fn tcp_traffic(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    use std::mem::{offset_of, size_of};
    use std::os::fd::AsRawFd;
    let mut info = TcpInfo::default();
    let mut len = size_of::<TcpInfo>() as libc::socklen_t;
    // SAFETY: `info` is a plain `repr(C)` struct valid for `len` bytes of writes, `len` is
    // its size, and `fd` is open for the call; the kernel writes at most `len` bytes.
    let result = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut TcpInfo).cast(),
            &mut len,
        )
    };
    let len = len as usize;
    if result == -1 || len < offset_of!(TcpInfo, segs_out) {
        return None;
    }
    let peer_fin = u64::from(PEER_FIN_STATES.contains(&info.state));
    let received = info.bytes_received.saturating_sub(peer_fin);
    let sent = if len >= size_of::<TcpInfo>() {
        info.bytes_sent.saturating_sub(info.bytes_retrans) + u64::from(info.notsent_bytes)
    } else {
        info.bytes_acked
    };
    Some((received, sent))
}

/// No `TCP_INFO` of Linux's kind here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn tcp_traffic(_fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    None
}
