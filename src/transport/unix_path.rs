//! Unix socket addresses and socket files: replacing stale files, refusing live ones, and
//! removing our own file (only ours) on close.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use socket2::{SockAddr, SockRef};

use crate::sys;

/// Where a Unix socket lives: a file in the filesystem, or (Linux) a name in the abstract
/// namespace, which has no file and vanishes with the socket.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum UnixAddress {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl UnixAddress {
    /// The `sockaddr_un`, with a clear error for a path the OS cannot hold.
    pub(crate) fn sock_addr(&self) -> io::Result<SockAddr> {
        let bytes: Vec<u8> = match self {
            UnixAddress::Path(path) => path.as_os_str().as_bytes().to_vec(),
            UnixAddress::Abstract(name) => [&[0][..], name].concat(),
        };
        SockAddr::unix(OsStr::from_bytes(&bytes)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the Unix socket address is {} bytes long; the OS allows at most {} (use a shorter path, e.g. in /tmp or a relative one)",
                    bytes.len(),
                    sys::MAX_UNIX_PATH
                ),
            )
        })
    }
}

impl UnixAddress {
    /// The address as std represents it (what `server_address` reports before binding).
    pub(crate) fn to_socket_addr(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        match self {
            UnixAddress::Path(path) => std::os::unix::net::SocketAddr::from_pathname(path),
            UnixAddress::Abstract(name) => sys::abstract_socket_addr(name),
        }
    }
}

impl fmt::Display for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddress::Path(path) => write!(f, "{}", path.display()),
            UnixAddress::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

impl fmt::Debug for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Clears the way for binding at `path`: a stale socket file (nothing answers `probe`) is
/// removed; a live one, or a file that is not a socket, is an "address in use" error.
pub(crate) fn clear_stale_socket(
    path: &Path,
    probe: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if !metadata.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "{} exists and is not a socket; remove it or choose another path",
                path.display()
            ),
        ));
    }
    match probe(path) {
        Ok(()) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "a server is already listening on {}; stop it or choose another path",
                path.display()
            ),
        )),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale socket file");
            fs::remove_file(path)
        }
        Err(error) => Err(error),
    }
}

/// The socket file a server created, identified by device and inode so that a file someone
/// else put at the same path later is never removed.
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl SocketFile {
    /// Records the file just bound at `path`, applying `mode` if given.
    pub(crate) fn created(path: &Path, mode: Option<u32>) -> io::Result<Self> {
        if let Some(mode) = mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
        let metadata = fs::symlink_metadata(path)?;
        Ok(SocketFile {
            path: path.to_owned(),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// Removes the file if it is still the one we created.
    pub(crate) fn remove(self) {
        match fs::symlink_metadata(&self.path) {
            Ok(metadata) if metadata.dev() == self.device && metadata.ino() == self.inode => {
                match fs::remove_file(&self.path) {
                    Ok(()) => tracing::debug!(path = %self.path.display(), "removed socket file"),
                    Err(error) => {
                        tracing::warn!(path = %self.path.display(), %error, "cannot remove socket file")
                    }
                }
            }
            Ok(_) => {
                tracing::info!(path = %self.path.display(), "socket file was replaced by another; leaving it")
            }
            Err(_) => {}
        }
    }
}

/// Binds `socket` at `address`: a stale socket file is replaced first (`probe` tells whether a
/// server answers at a path), and the file we create is recorded, with `mode` applied.
pub(crate) fn bind_unix(
    socket: SockRef<'_>,
    address: &UnixAddress,
    mode: Option<u32>,
    probe: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<Option<SocketFile>> {
    let sock_addr = address.sock_addr()?;
    if let UnixAddress::Path(path) = address {
        clear_stale_socket(path, probe)?;
    }
    socket.bind(&sock_addr)?;
    tracing::info!(%address, "bound");
    match address {
        UnixAddress::Path(path) => SocketFile::created(path, mode).map(Some),
        UnixAddress::Abstract(_) => Ok(None),
    }
}

/// The address an inherited Unix socket is bound to, from its `local_addr`: an empty path when
/// that failed or the socket is unnamed.
pub(crate) fn inherited_address(bound: io::Result<std::os::unix::net::SocketAddr>) -> UnixAddress {
    let Ok(bound) = bound else {
        return UnixAddress::Path(PathBuf::new());
    };
    if let Some(name) = sys::abstract_name(&bound) {
        return UnixAddress::Abstract(name.to_vec());
    }
    UnixAddress::Path(
        bound
            .as_pathname()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    )
}

/// The address to report for a socket meant for `address`: where it is bound, or, before
/// binding, where it will be.
pub(crate) fn reported_address(
    bound: std::os::unix::net::SocketAddr,
    address: &UnixAddress,
) -> io::Result<std::os::unix::net::SocketAddr> {
    if bound.is_unnamed() {
        address.to_socket_addr()
    } else {
        Ok(bound)
    }
}
