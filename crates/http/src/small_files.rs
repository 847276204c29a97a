//! [`SmallFiles`]: the bytes of small files a thread served, kept so that the next request
//! for one costs a `stat` of its path instead of an open, a read and a close — and no
//! descriptor, so loop threads that share one descriptor table do not take its lock for it.
//!
//! A kept file is only served while it is provably the same, unchanged file: every use
//! stats the path (one `newfstatat(2)`, no descriptor) and compares the device, the inode,
//! the size, the mode and both change times (`mtime`, and `ctime`, which every write,
//! `chmod`, link, unlink and rename of the file moves). A file changed less than a second
//! before it was read is not kept: timestamps move in clock ticks, and a write in the tick
//! of the read could leave them as they were (git's "racy clean" case). And at least once a
//! second each path is opened again the full way (`openat2` beneath the served directory),
//! so a path that now leads out of it through a link made since is refused within a second
//! even when it reaches the same file.

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Stat};

use crate::fnv::FnvMap;
use crate::outgoing::SENDFILE_FROM;

/// At most this many files per thread, …
const MOST_FILES: usize = 512;
/// … at most this many bytes per thread, …
const MOST_BYTES_PER_THREAD: usize = 2 << 20;
/// … and at most this many bytes in the whole process (a thread-per-connection server may
/// run a thousand threads).
const MOST_BYTES: usize = 64 << 20;
/// How long a path is trusted after it was resolved beneath the served directory.
const RESOLVED_FOR: Duration = Duration::from_secs(1);
/// How old a file's last change must be for its bytes to be kept.
const SETTLED_AFTER: Duration = Duration::from_secs(1);

/// Bytes kept by every thread together.
static KEPT_BYTES: AtomicUsize = AtomicUsize::new(0);

/// What tells one version of a file from another: equal only for the same, unchanged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileVersion {
    device: u64,
    inode: u64,
    size: u64,
    mode: u32,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileVersion {
    /// The version `stat` describes.
    // `stat`'s field types differ between platforms; on some these casts change nothing.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn of(stat: &Stat) -> Self {
        FileVersion {
            device: stat.st_dev as u64,
            inode: stat.st_ino as u64,
            size: stat.st_size as u64,
            mode: stat.st_mode as u32,
            modified: (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            changed: (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
        }
    }

    /// Whether the file last changed at least [`SETTLED_AFTER`] before `now`.
    fn settled(&self, now: SystemTime) -> bool {
        let changed = match (u64::try_from(self.changed.0), u32::try_from(self.changed.1)) {
            (Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => {
                UNIX_EPOCH + Duration::new(secs, nanos)
            }
            _ => return false,
        };
        now.duration_since(changed)
            .is_ok_and(|age| age >= SETTLED_AFTER)
    }
}

/// One kept file: its bytes and what its responses say about it.
#[derive(Debug)]
pub(crate) struct KeptFile {
    /// The handler (the served directory) it was kept for.
    owner: u64,
    version: FileVersion,
    /// When its path was last resolved beneath the served directory.
    resolved_at: Instant,
    pub(crate) body: Rc<[u8]>,
    /// Its `Content-Type`.
    pub(crate) mime: Rc<str>,
    /// Its modification time, in whole seconds since the epoch (`Last-Modified`, `ETag`).
    pub(crate) modified_secs: u64,
}

/// One thread's kept files, keyed by the path asked for (its bytes: hashing a `Path` walks its
/// components). Two handlers on one thread asking for the same path take turns.
#[derive(Debug, Default)]
struct Kept {
    files: FnvMap<Box<[u8]>, Rc<KeptFile>>,
    bytes: usize,
}

impl Kept {
    fn clear(&mut self) {
        KEPT_BYTES.fetch_sub(self.bytes, Ordering::Relaxed);
        self.bytes = 0;
        self.files.clear();
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(gone) = self.files.remove(key) {
            self.bytes -= gone.body.len();
            KEPT_BYTES.fetch_sub(gone.body.len(), Ordering::Relaxed);
        }
    }
}

/// A thread's bytes leave the process-wide count with it.
impl Drop for Kept {
    fn drop(&mut self) {
        self.clear();
    }
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

/// The small files kept on this thread for one served directory (its handler's `owner` id,
/// and the directory opened once).
pub(crate) struct SmallFiles<'a> {
    pub(crate) owner: u64,
    pub(crate) root: &'a OwnedFd,
}

impl SmallFiles<'_> {
    /// The kept bytes of `relative` (plain names beneath the root), if it is still the same,
    /// unchanged file and its path was resolved beneath the root less than a second ago.
    /// Costs one `stat` when something is kept for the path, nothing otherwise.
    pub(crate) fn get(&self, relative: &Path) -> Option<Rc<KeptFile>> {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            let key = relative.as_os_str().as_bytes();
            let found = Rc::clone(kept.files.get(key)?);
            if found.owner != self.owner {
                return None;
            }
            let same = found.resolved_at.elapsed() < RESOLVED_FOR
                && rustix::fs::statat(self.root, relative, AtFlags::empty())
                    .is_ok_and(|stat| FileVersion::of(&stat) == found.version);
            if !same {
                kept.remove(key);
                return None;
            }
            Some(found)
        })
    }

    /// Keeps `body`, the whole of `relative` as of `version` (just opened beneath the root),
    /// if it is short (under [`SENDFILE_FROM`]: longer files go from the page cache), settled
    /// and fits the bounds; a thread past its bounds starts again.
    pub(crate) fn keep(
        &self,
        relative: &Path,
        version: FileVersion,
        body: Rc<[u8]>,
        mime: Rc<str>,
        modified_secs: u64,
    ) {
        if body.len() as u64 >= SENDFILE_FROM
            || body.len() as u64 != version.size
            || !version.settled(SystemTime::now())
        {
            return;
        }
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            let key = relative.as_os_str().as_bytes();
            kept.remove(key);
            if kept.files.len() >= MOST_FILES || kept.bytes + body.len() > MOST_BYTES_PER_THREAD {
                kept.clear();
            }
            let all = KEPT_BYTES.fetch_add(body.len(), Ordering::Relaxed);
            if all + body.len() > MOST_BYTES {
                KEPT_BYTES.fetch_sub(body.len(), Ordering::Relaxed);
                return;
            }
            kept.bytes += body.len();
            let file = KeptFile {
                owner: self.owner,
                version,
                resolved_at: Instant::now(),
                body,
                mime,
                modified_secs,
            };
            kept.files.insert(key.into(), Rc::new(file));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settled_versions_are_kept() {
        let stat = rustix::fs::stat(".").unwrap();
        let mut version = FileVersion::of(&stat);
        let now = SystemTime::now();
        let secs = |at: SystemTime| at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        version.changed = (secs(now), 0);
        assert!(!version.settled(now), "changed this second");
        version.changed = (secs(now) - 2, 0);
        assert!(version.settled(now));
        version.changed = (secs(now) - 1, 999_999_999);
        assert!(!version.settled(now), "changed less than a second ago");
        version.changed = (-1, 0);
        assert!(
            !version.settled(now),
            "a time before the epoch is not trusted"
        );
    }

    /// A settled version of a file of `size` bytes.
    fn settled_version(size: u64) -> FileVersion {
        let mut version = FileVersion::of(&rustix::fs::stat(".").unwrap());
        version.size = size;
        version.changed = (1, 0);
        version
    }

    /// This thread's kept files and bytes.
    fn counts() -> (usize, usize) {
        KEPT.with(|kept| {
            let kept = kept.borrow();
            (kept.files.len(), kept.bytes)
        })
    }

    #[test]
    fn a_thread_keeps_a_bounded_number_of_files_and_bytes_and_returns_them() {
        let before = KEPT_BYTES.load(Ordering::Relaxed);
        std::thread::spawn(move || {
            let root =
                rustix::fs::open(".", rustix::fs::OFlags::PATH, rustix::fs::Mode::empty()).unwrap();
            let files = SmallFiles {
                owner: 1,
                root: &root,
            };
            let keep = |name: &str, version: FileVersion, size: usize| {
                let body: Rc<[u8]> = vec![b'x'; size].into();
                files.keep(Path::new(name), version, body, "text/plain".into(), 0);
            };
            for n in 0..MOST_FILES * 2 {
                keep(&format!("f{n}"), settled_version(10), 10);
                assert!(counts().0 <= MOST_FILES);
            }
            let longest = SENDFILE_FROM as usize - 1;
            for n in 0..1000 {
                keep(&format!("g{n}"), settled_version(longest as u64), longest);
                assert!(counts().1 <= MOST_BYTES_PER_THREAD);
            }
            assert_eq!(KEPT_BYTES.load(Ordering::Relaxed), before + counts().1);
            // Not kept: too long, not the length stat said, or changed a moment ago.
            let (files_now, bytes_now) = counts();
            keep(
                "long",
                settled_version(SENDFILE_FROM),
                SENDFILE_FROM as usize,
            );
            keep("short", settled_version(5), 4);
            let mut fresh = settled_version(3);
            fresh.changed.0 = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            keep("fresh", fresh, 3);
            assert_eq!(counts(), (files_now, bytes_now));
        })
        .join()
        .unwrap();
        assert_eq!(
            KEPT_BYTES.load(Ordering::Relaxed),
            before,
            "the thread's bytes left the count with it"
        );
    }
}
