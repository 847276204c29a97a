//! A stand-in for systemd's notify socket that records, as systemd does, which process sent
//! each notice (`SO_PASSCRED`: the kernel attaches the sender's pid to every datagram).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use super::PATIENCE;

/// One notice: the sender's pid and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub pid: u32,
    pub text: String,
}

impl Notice {
    pub fn has(&self, line: &str) -> bool {
        self.text.lines().any(|l| l == line)
    }
}

/// The listening side of `NOTIFY_SOCKET`.
pub struct NotifyListener {
    socket: UnixDatagram,
}

impl NotifyListener {
    pub fn bind(path: &Path) -> NotifyListener {
        let socket = UnixDatagram::bind(path).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `&on`, a live c_int.
        let set = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0, "SO_PASSCRED: {}", io::Error::last_os_error());
        NotifyListener { socket }
    }

    /// The next notice (fails the test after PATIENCE without one).
    pub fn next(&self) -> Notice {
        let mut data = [0u8; 4096];
        // Room for one SCM_CREDENTIALS message, aligned as cmsghdr wants.
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: a zeroed msghdr is a valid empty one; the pointers set below outlive the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: recvmsg writes at most iov_len bytes to `data` and msg_controllen bytes to
        // `control`, both live buffers of those sizes.
        let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut message, 0) };
        assert!(n >= 0, "no notice: {}", io::Error::last_os_error());
        let mut pid = None;
        // SAFETY: the CMSG_* macros walk the control buffer recvmsg filled, within
        // msg_controllen; SCM_CREDENTIALS data is a `ucred`.
        unsafe {
            let mut header = libc::CMSG_FIRSTHDR(&message);
            while !header.is_null() {
                if (*header).cmsg_level == libc::SOL_SOCKET
                    && (*header).cmsg_type == libc::SCM_CREDENTIALS
                {
                    let credentials: libc::ucred =
                        std::ptr::read_unaligned(libc::CMSG_DATA(header).cast());
                    pid = Some(credentials.pid as u32);
                }
                header = libc::CMSG_NXTHDR(&message, header);
            }
        }
        Notice {
            pid: pid.expect("the kernel attaches the sender's credentials"),
            text: String::from_utf8_lossy(&data[..n as usize]).into_owned(),
        }
    }

    /// Notices until one satisfies `last` (included).
    pub fn until(&self, mut last: impl FnMut(&Notice) -> bool) -> Vec<Notice> {
        let mut seen = Vec::new();
        loop {
            let notice = self.next();
            let done = last(&notice);
            seen.push(notice);
            if done {
                return seen;
            }
        }
    }
}
