//! [`PeerCredentials`]: who is on the other end of a Unix stream connection.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use crate::request::StreamRequest;
use crate::sys;

/// The user, group and process of a Unix stream client, as the kernel vouches for them
/// (`SO_PEERCRED` on Linux, `getpeereid(3)` on the BSDs and macOS).
///
/// The values are those of the client when it connected.
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use socketserver::{StreamRequest, UnixStreamServer};
///
/// # let dir = std::env::temp_dir().join(format!("socketserver-doc-cred-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("cred.sock");
/// let whoami = |req: &mut StreamRequest<UnixStream>| {
///     let credentials = req.peer_credentials()?;
///     std::io::Write::write_all(&mut req.wfile, credentials.uid.to_string().as_bytes())
/// };
/// let mut server = UnixStreamServer::new(&path, whoami)?;
/// let mut client = UnixStream::connect(&path)?;
/// server.handle_request()?;
/// let mut reply = String::new();
/// std::io::Read::read_to_string(&mut client, &mut reply)?;
/// // SAFETY (doc example): getuid cannot fail.
/// assert_eq!(reply, unsafe { libc::getuid() }.to_string());
/// # drop(server);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Platform-specific behavior
///
/// `pid` is `Some` on Linux and Android only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The client's effective user id.
    pub uid: u32,
    /// The client's effective group id.
    pub gid: u32,
    /// The client's process id, where the platform tells.
    pub pid: Option<i32>,
}

impl StreamRequest<UnixStream> {
    /// The credentials of the connected client.
    ///
    /// # Errors
    ///
    /// The OS error of `getsockopt(2)`/`getpeereid(3)`.
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        let ids = sys::peer_credentials(self.socket().as_fd())?;
        Ok(PeerCredentials {
            uid: ids.uid,
            gid: ids.gid,
            pid: ids.pid,
        })
    }
}
