//! [`PidFile`]: this process's pid in a file while it serves.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sys;

/// A pid file (Net::Server's `pid_file`): written when created, removed when dropped (if it
/// still holds our pid), and never written over a live process's pid. Create it once the
/// server listens, so a supervisor that waits for the file finds a server that accepts.
///
/// The pid is written to a temporary file beside it and renamed into place, so a reader never
/// sees a half-written pid.
///
/// # Examples
///
/// ```
/// use socketserver::PidFile;
///
/// let path = std::env::temp_dir().join(format!("socketserver-doc-{}.pid", std::process::id()));
/// let pid_file = PidFile::create(&path)?;
/// assert_eq!(std::fs::read_to_string(&path)?.trim(), std::process::id().to_string());
/// drop(pid_file);
/// assert!(!path.exists());
///
/// // A file naming a live process (pid 1 always is) is refused and left alone.
/// std::fs::write(&path, "1\n")?;
/// assert!(PidFile::create(&path).is_err());
/// assert_eq!(std::fs::read_to_string(&path)?, "1\n");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`. A file there naming a process that is alive is
    /// left alone and refused — unless it is this process's parent, which is handing over in a
    /// hot restart; one naming a process that is gone (stale), or unreadable, is replaced.
    ///
    /// # Errors
    ///
    /// [`Error::PidFile`] when a live process owns the file, or the file cannot be written.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let fail = |problem: String| Error::PidFile {
            path: path.clone(),
            problem,
        };
        if let Ok(text) = fs::read_to_string(&path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                // Our parent hands the file over in a hot restart (start_successor).
                let handover = pid == std::os::unix::process::parent_id();
                if pid != std::process::id() && !handover && sys::process_exists(pid) {
                    return Err(fail(format!(
                        "process {pid} is running with this pid file; stop it first"
                    )));
                }
                tracing::info!(path = %path.display(), stale = pid, "replacing a stale pid file");
            }
        }
        let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
        let written = fs::File::create(&temporary)
            .and_then(|mut file| writeln!(file, "{}", std::process::id()))
            .and_then(|()| fs::rename(&temporary, &path));
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(fail(error.to_string()));
        }
        tracing::info!(path = %path.display(), "pid file written");
        Ok(PidFile { path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Remove it only while it is ours: a successor may have replaced it already.
        let ours = fs::read_to_string(&self.path)
            .is_ok_and(|text| text.trim() == std::process::id().to_string());
        if ours {
            match fs::remove_file(&self.path) {
                Ok(()) => tracing::info!(path = %self.path.display(), "pid file removed"),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(%error, path = %self.path.display(), "cannot remove the pid file")
                }
            }
        }
    }
}

impl fmt::Debug for PidFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidFile").field("path", &self.path).finish()
    }
}
