//! [`SimpleHttpRequestHandler`]: files and directory listings from one directory, never
//! anything outside it.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

use crate::byte_ranges::{parse_ranges, ByteRanges};
use crate::date::parse_http_date;
use crate::error_format::escape_html;
use crate::exchange::Exchange;
use crate::file_validators::FileValidators;
use crate::fnv::fnv1a;
use crate::handler::HttpHandler;
use crate::outgoing::SENDFILE_FROM;
use crate::small_files::{FileVersion, SmallFiles};
use crate::target::hex_value;

/// Serves the files under one directory: Python's `SimpleHTTPRequestHandler`
/// (`python -m http.server`), with what it lacks.
///
/// - A directory is served by its `index.html`, or else an HTML listing (names escaped, links
///   URL-quoted from the names' own bytes, so a name that is not UTF-8 can still be fetched);
///   a directory asked for without its trailing slash is redirected (301) to a path on this
///   site (leading slashes collapsed: `//host` would send a browser elsewhere, CPython's
///   CVE-2021-28861); a file asked for with one (`/file/`) is not found (404, as Python and
///   nginx).
/// - `Content-Type` from the extension (the `mime_guess` table); `Last-Modified` with
///   `If-Modified-Since` (compared as dates, in any of HTTP's three date forms) and an `ETag`
///   with `If-None-Match` (304); byte `Range`s with `If-Range` (206 — also for a range that
///   reaches past the end, which means "to the end"; several ranges as
///   `multipart/byteranges`, at most 16 and not overlapping, else the whole file; 416 with
///   `Content-Range: bytes */LEN`).
/// - Never anything outside the directory: `..`, percent-encoded dots or slashes, absolute
///   paths, NUL bytes, and symbolic links that lead out are all refused (404). Python follows
///   symlinks out of the tree and drops the connection on a `%00`. A path is opened in one
///   system call where the kernel allows (Linux 5.6's `openat2` with `RESOLVE_BENEATH`,
///   relative to the directory opened once), so no request walks the path component by
///   component; a path the kernel will not resolve beneath the directory that way (an absolute
///   symbolic link, even one that stays inside) and a kernel without `openat2` take the
///   portable way: the path resolved in full (`realpath`) and held to the directory.
/// - Only regular files and directories are served (a FIFO or a device is not found), and a
///   file is opened without waiting (`O_NONBLOCK`), so a FIFO in the tree cannot hold a worker.
/// - Files and listings say `Cache-Control: no-cache` ([`with_cache_control`](Self::with_cache_control))
///   and carry a validator (a file's `ETag` and `Last-Modified`, a listing's `ETag` from its
///   contents), so caches ask again and get a 304 while nothing changed; a redirect says
///   `no-store`.
/// - Files are streamed ([`Exchange::write_file`]), never read whole: from the page cache
///   (`sendfile(2)`) as the client reads — on an event loop, or by the loop that holds a
///   pool's parked connections — and a short one read behind its head into one send.
/// - Files under 16 KiB are kept in memory by the thread that served them
///   ([`with_small_file_cache`](Self::with_small_file_cache)), and served again after one
///   `stat` of the path proves the file is the same and unchanged: no open, read or close.
/// - `POST`, `PUT` and `DELETE` are answered 405 with `Allow: GET, HEAD`; other methods 501.
#[doc(alias = "SimpleHTTPRequestHandler")]
#[derive(Debug, Clone)]
pub struct SimpleHttpRequestHandler {
    root: PathBuf,
    /// The root, opened once: paths are resolved beneath it.
    root_dir: Arc<OwnedFd>,
    cache_control: String,
    /// Tells this directory's kept files from another handler's on the same thread (clones
    /// share it: they serve the same directory).
    id: u64,
    keep_small_files: bool,
}

/// The next handler's [`id`](SimpleHttpRequestHandler::id).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A file's body: open, or the bytes kept of it.
enum FileBody {
    Open(File),
    Kept(Rc<[u8]>),
}

/// Whether `openat2` is known not to work here (an old kernel, or a seccomp filter that
/// refuses it): from then on every path takes the portable way.
static OPENAT2_MISSING: AtomicBool = AtomicBool::new(false);

/// How a file is opened: read-only, not inherited, and never waiting (a FIFO's open would wait
/// for a writer; a regular file's reads are not affected).
fn open_flags() -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY
}

/// Why a path names nothing this handler serves.
enum Refused {
    /// Not there, outside the root, or not a plain name: 404.
    NotFound,
    /// There, and not ours to read: 403.
    Forbidden,
}

impl SimpleHttpRequestHandler {
    /// Serves `directory` (Python's `--directory`).
    ///
    /// # Errors
    ///
    /// The directory cannot be resolved (it does not exist).
    pub fn new(directory: impl AsRef<Path>) -> io::Result<Self> {
        let root = fs::canonicalize(directory)?;
        let root_dir = rustix::fs::open(
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(SimpleHttpRequestHandler {
            root,
            root_dir: Arc::new(root_dir),
            cache_control: "no-cache".to_owned(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            keep_small_files: true,
        })
    }

    /// Whether files under 16 KiB are kept in memory by the thread that served them. Default
    /// `true`.
    ///
    /// A kept file is served only while it is provably the same, unchanged file: each request
    /// stats its path (one system call, no descriptor) and compares the device, the inode, the
    /// size, the mode and both change times — every write, `chmod`, link, unlink or rename
    /// moves the change time. A file changed less than a second before it was read is not
    /// kept (a write in the same clock tick could leave its times as they were), and each
    /// path is opened again the full way at least once a second, so the traversal rules hold
    /// as for any other request. A request for a kept file costs `recv`, `stat` and `send`
    /// where nginx makes six calls. At most 512 files and 2 MiB per thread, 64 MiB in the
    /// process. Turn it off for a file system whose times cannot be trusted to change (a
    /// network file system with coarse attribute caching, say).
    ///
    /// ```
    /// use socketserver_http::SimpleHttpRequestHandler;
    ///
    /// let handler = SimpleHttpRequestHandler::new(".")?.with_small_file_cache(false);
    /// # let _ = handler;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_small_file_cache(mut self, on: bool) -> Self {
        self.keep_small_files = on;
        self
    }

    /// This thread's kept files of this directory.
    fn small_files(&self) -> SmallFiles<'_> {
        SmallFiles {
            owner: self.id,
            root: &self.root_dir,
        }
    }

    /// The `Cache-Control` of every answer (files, listings, redirects). Default `no-cache`:
    /// caches may keep what this serves but must ask again before they use it (a cheap 304
    /// when nothing changed), right for a directory whose files change while it is served.
    /// Without any, caches would guess a freshness of their own from `Last-Modified`, which
    /// REDbot warns about. A site whose files do not change would say, for example,
    /// `max-age=3600`.
    pub fn with_cache_control(mut self, value: &str) -> Self {
        self.cache_control = value.to_owned();
        self
    }

    /// The path a request target names below the root, made only of plain names, and the
    /// decoded path as text (for a listing's title); `None` otherwise (404). Names are bytes:
    /// a name that is not UTF-8 is reached through its percent-encoded bytes, as its listing
    /// links it.
    fn target_path(target: &str) -> Option<(PathBuf, String)> {
        let path = target.split(['?', '#']).next().unwrap_or("/");
        let decoded = percent_decode(path)?;
        if !decoded.starts_with(b"/") || decoded.contains(&0) || decoded.contains(&b'\\') {
            return None;
        }
        let mut relative = PathBuf::with_capacity(decoded.len());
        for segment in decoded.split(|&b| b == b'/') {
            let name = OsStr::from_bytes(segment);
            match Path::new(name).components().next() {
                None => {}
                Some(Component::Normal(normal)) if normal == name => relative.push(name),
                _ => return None, // "..", ".", or anything that is not a plain name
            }
        }
        let shown = String::from_utf8(decoded)
            .unwrap_or_else(|not_utf8| String::from_utf8_lossy(not_utf8.as_bytes()).into_owned());
        Some((relative, shown))
    }

    /// Opens `relative` (plain names) if it is inside the root, symbolic links followed; with
    /// the real path when the portable way found it (beneath the root as asked otherwise: see
    /// [`located`](Self::located)).
    fn open(&self, relative: &Path) -> Result<(File, Option<PathBuf>), Refused> {
        if !OPENAT2_MISSING.load(Ordering::Relaxed) {
            let name = match relative.as_os_str().is_empty() {
                true => Path::new("."),
                false => relative,
            };
            let opened = rustix::fs::openat2(
                &*self.root_dir,
                name,
                open_flags(),
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            );
            match opened {
                Ok(fd) => return Ok((File::from(fd), None)),
                // Not beneath the root as the kernel resolves it: an escape, or an absolute
                // link that may still lead inside. The portable way decides.
                Err(Errno::XDEV) => {}
                Err(Errno::NOSYS | Errno::PERM | Errno::INVAL) => {
                    tracing::debug!("openat2 is not available: paths are resolved in full");
                    OPENAT2_MISSING.store(true, Ordering::Relaxed);
                }
                Err(Errno::ACCESS) => return Err(Refused::Forbidden),
                Err(_) => return Err(Refused::NotFound),
            }
        }
        self.open_resolved(&self.root.join(relative))
    }

    /// The portable way: where `path` really is (symbolic links followed, `realpath`), if that
    /// is inside the root (links must not lead out of it), opened there.
    fn open_resolved(&self, path: &Path) -> Result<(File, Option<PathBuf>), Refused> {
        let real = fs::canonicalize(path).map_err(|_| Refused::NotFound)?;
        if !real.starts_with(&self.root) {
            return Err(Refused::NotFound);
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(open_flags().bits() as i32)
            .open(&real)
            .map_err(|error| match error.kind() {
                io::ErrorKind::PermissionDenied => Refused::Forbidden,
                _ => Refused::NotFound,
            })?;
        Ok((file, Some(real)))
    }

    /// Where a path [`open`](Self::open) opened is: the real path the portable way found, or
    /// the one asked for beneath the root.
    fn located(&self, relative: &Path, real: Option<PathBuf>) -> PathBuf {
        real.unwrap_or_else(|| self.root.join(relative))
    }

    /// The file a request target names, if it is inside the root, and the decoded path as
    /// text; `None` otherwise (404, or 403).
    pub(crate) fn resolve(&self, target: &str) -> Option<(PathBuf, String)> {
        let (relative, shown) = Self::target_path(target)?;
        let (_file, real) = self.open(&relative).ok()?;
        Some((self.located(&relative, real), shown))
    }

    fn serve_directory(&self, ex: &mut Exchange<'_>, dir: &Path, shown: &str) -> io::Result<()> {
        let mut names: Vec<(OsString, bool)> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|entry| {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                (entry.file_name(), is_dir)
            })
            .collect();
        names.sort();
        let title = format!("Directory listing for {}", escape_html(shown));
        let mut page = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body><h1>{title}</h1><hr><ul>\n"
        );
        for (name, is_dir) in names {
            let slash = if is_dir { "/" } else { "" };
            // The link carries the name's own bytes (a name that is not UTF-8 stays
            // reachable); the text shows it as well as it can. Writing to a String cannot fail.
            let _ = writeln!(
                page,
                "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
                percent_encode(name.as_bytes()),
                escape_html(&name.to_string_lossy())
            );
        }
        page.push_str("</ul><hr></body></html>\n");
        // The listing's validator is the page itself: a cache that asks again gets a 304
        // while the directory is unchanged.
        let etag = format!("\"listing-{:016x}\"", fnv1a(page.as_bytes()));
        if if_none_match(ex, &etag) {
            ex.send_response(304)?;
            ex.send_header("Cache-Control", &self.cache_control)?;
            ex.send_header("ETag", &etag)?;
            return ex.end_headers();
        }
        ex.send_response(200)?;
        ex.send_header("Cache-Control", &self.cache_control)?;
        ex.send_header("ETag", &etag)?;
        ex.send_header("Content-Type", "text/html; charset=utf-8")?;
        ex.send_header("Content-Length", &page.len().to_string())?;
        ex.end_headers()?;
        ex.write_body(page.as_bytes())
    }

    /// Serves `file`, just opened from `relative` (its type guessed from `named`'s extension),
    /// whose status is `stat`: from memory, kept for the next request, when it is short.
    fn serve_opened(
        &self,
        ex: &mut Exchange<'_>,
        relative: &Path,
        named: &Path,
        file: File,
        stat: &Stat,
    ) -> io::Result<()> {
        let length = stat.st_size as u64;
        let modified_secs = u64::try_from(stat.st_mtime).unwrap_or(0);
        let mime = mime_guess::from_path(named).first_or_octet_stream();
        let mime = mime.essence_str();
        let body = match self.read_small(relative, &file, stat, mime, modified_secs) {
            Some(bytes) => FileBody::Kept(bytes),
            None => FileBody::Open(file),
        };
        self.serve_file(ex, relative, mime, body, modified_secs, length)
    }

    /// The whole of `file` (just opened from `relative`, whose status is `stat`), kept for the
    /// next request, when it is short and the cache is on; `None` otherwise, or when it shrank
    /// meanwhile (it is then sent the usual way, which ends the connection when it cannot
    /// keep the length). Read from the start without moving the position.
    fn read_small(
        &self,
        relative: &Path,
        file: &File,
        stat: &Stat,
        mime: &str,
        modified_secs: u64,
    ) -> Option<Rc<[u8]>> {
        let length = stat.st_size as u64;
        if !self.keep_small_files || length >= SENDFILE_FROM {
            return None;
        }
        let mut body = vec![0; length as usize];
        file.read_exact_at(&mut body, 0).ok()?;
        let body: Rc<[u8]> = body.into();
        let version = FileVersion::of(stat);
        self.small_files().keep(
            relative,
            version,
            Rc::clone(&body),
            mime.into(),
            modified_secs,
        );
        Some(body)
    }

    /// Serves a file's `body` (`length` bytes, modified at `modified_secs`, of type `mime`),
    /// found at `relative`.
    fn serve_file(
        &self,
        ex: &mut Exchange<'_>,
        relative: &Path,
        mime: &str,
        body: FileBody,
        modified_secs: u64,
        length: u64,
    ) -> io::Result<()> {
        let validators = FileValidators::of(modified_secs, length);
        let (etag, last_modified) = (&validators.etag, &validators.last_modified);
        let not_modified = match ex.request().header("If-None-Match") {
            Some(_) => if_none_match(ex, etag),
            // Compared as dates, in any of HTTP's three forms (RFC 9110 13.1.3): a cache
            // may send back a later date than ours. A date that does not parse is ignored.
            None => ex
                .request()
                .header("If-Modified-Since")
                .and_then(parse_http_date)
                .is_some_and(|since| modified_secs <= since),
        };
        if not_modified {
            ex.send_response(304)?;
            ex.send_header("Cache-Control", &self.cache_control)?;
            ex.send_header("ETag", etag)?;
            ex.send_header("Last-Modified", last_modified)?;
            return ex.end_headers();
        }
        let ranges = match ex.request().header("Range") {
            // A range of a file that changed since the client's copy is useless to it.
            Some(_) if !if_range_holds(ex, etag, last_modified) => ByteRanges::Whole,
            Some(range) => parse_ranges(range, length),
            None => ByteRanges::Whole,
        };
        let the_whole = [(0, length)];
        let (parts, whole) = match &ranges {
            ByteRanges::Whole => (&the_whole[..], true),
            // Even a range that covers the whole file is answered 206 with its Content-Range,
            // as RFC 9110 and nginx do (`bytes=0-15` of a 15-byte file: `bytes 0-14/15`).
            ByteRanges::Parts(parts) => (&parts[..], false),
            ByteRanges::Unsatisfiable => {
                ex.send_response(416)?;
                ex.send_header("Content-Range", &format!("bytes */{length}"))?;
                ex.send_header("Content-Length", "0")?;
                return ex.end_headers();
            }
        };
        ex.send_response(if whole { 200 } else { 206 })?;
        ex.send_header("Cache-Control", &self.cache_control)?;
        ex.send_header("Last-Modified", last_modified)?;
        ex.send_header("ETag", etag)?;
        ex.send_header("Accept-Ranges", "bytes")?;
        if let [(start, end)] = parts[..] {
            ex.send_header("Content-Type", mime)?;
            ex.send_header("Content-Length", &(end - start).to_string())?;
            if !whole {
                ex.send_header(
                    "Content-Range",
                    &format!("bytes {start}-{}/{length}", end - 1),
                )?;
            }
            ex.end_headers()?;
            return match body {
                FileBody::Kept(bytes) => ex.write_body(&bytes[start as usize..end as usize]),
                FileBody::Open(mut file) => {
                    if start > 0 {
                        file.seek(SeekFrom::Start(start))?;
                    }
                    ex.write_file(file, end - start)
                }
            };
        }
        // Several ranges: one multipart/byteranges body, each part from its own handle on the
        // file (an event loop sends them after the handler returns).
        let boundary = boundary_for(etag);
        let part_heads: Vec<String> = parts
            .iter()
            .map(|&(start, end)| {
                format!(
                    "\r\n--{boundary}\r\nContent-Type: {mime}\r\nContent-Range: bytes {start}-{}/{length}\r\n\r\n",
                    end - 1
                )
            })
            .collect();
        let closing = format!("\r\n--{boundary}--\r\n");
        let total: u64 = part_heads.iter().map(|head| head.len() as u64).sum::<u64>()
            + parts.iter().map(|&(start, end)| end - start).sum::<u64>()
            + closing.len() as u64;
        ex.send_header(
            "Content-Type",
            &format!("multipart/byteranges; boundary={boundary}"),
        )?;
        ex.send_header("Content-Length", &total.to_string())?;
        ex.end_headers()?;
        let kept = match body {
            FileBody::Kept(bytes) => Some(bytes),
            FileBody::Open(_) => None,
        };
        for (head, &(start, end)) in part_heads.iter().zip(parts) {
            ex.write_body(head.as_bytes())?;
            if let Some(bytes) = &kept {
                ex.write_body(&bytes[start as usize..end as usize])?;
                continue;
            }
            // The same file again (the path was held to the root when it was opened first).
            let (mut part, _) = self
                .open(relative)
                .map_err(|_| io::Error::new(io::ErrorKind::NotFound, "the file went away"))?;
            part.seek(SeekFrom::Start(start))?;
            ex.write_file(part, end - start)?;
        }
        ex.write_body(closing.as_bytes())
    }
}

impl HttpHandler for SimpleHttpRequestHandler {
    /// `POST`, `PUT` and `DELETE` are 405 with `Allow: GET, HEAD` (Python answers 501, as if
    /// they were unknown).
    fn allowed_methods(&self) -> &'static [&'static str] {
        &["GET", "HEAD"]
    }

    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let Some((relative, shown)) = Self::target_path(&ex.request().target) else {
            return ex.send_error(404, "File not found");
        };
        if self.keep_small_files && !shown.ends_with('/') {
            if let Some(kept) = self.small_files().get(&relative) {
                let body = FileBody::Kept(Rc::clone(&kept.body));
                let length = kept.body.len() as u64;
                return self.serve_file(
                    ex,
                    &relative,
                    &kept.mime,
                    body,
                    kept.modified_secs,
                    length,
                );
            }
        }
        let (file, real) = match self.open(&relative) {
            Ok(opened) => opened,
            Err(Refused::NotFound) => return ex.send_error(404, "File not found"),
            Err(Refused::Forbidden) => return ex.send_error(403, "Permission denied"),
        };
        let stat = rustix::fs::fstat(&file)?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind.is_file() {
            if shown.ends_with('/') {
                // A file is not a directory: `/file/` is not found (as Python and nginx say).
                return ex.send_error(404, "File not found");
            }
            let named = real.as_deref().unwrap_or(&relative);
            return self.serve_opened(ex, &relative, named, file, &stat);
        }
        if !kind.is_dir() {
            // A FIFO, a socket or a device: nothing a file server sends.
            return ex.send_error(404, "File not found");
        }
        if !shown.ends_with('/') {
            ex.send_response(301)?;
            ex.send_header("Cache-Control", "no-store")?;
            ex.send_header("Location", &directory_location(&ex.request().target))?;
            ex.send_header("Content-Length", "0")?;
            return ex.end_headers();
        }
        // The index is held to the root like any other file.
        let index = relative.join("index.html");
        match self.open(&index) {
            Ok((file, index_real)) => {
                let stat = rustix::fs::fstat(&file)?;
                if FileType::from_raw_mode(stat.st_mode).is_file() {
                    let named = index_real.as_deref().unwrap_or(&index);
                    return self.serve_opened(ex, &index, named, file, &stat);
                }
            }
            Err(Refused::Forbidden) => return ex.send_error(403, "Permission denied"),
            Err(Refused::NotFound) => {} // no index: the listing
        }
        self.serve_directory(ex, &self.located(&relative, real), &shown)
    }
}

/// Whether a `Range` applies: without `If-Range`, or with one that names the file's current
/// version (its ETag, or its exact Last-Modified date).
fn if_range_holds(ex: &Exchange<'_>, etag: &str, last_modified: &str) -> bool {
    ex.request()
        .header("If-Range")
        .is_none_or(|validator| validator.trim() == etag || validator.trim() == last_modified)
}

/// Whether the request's `If-None-Match` names `etag` (or `*`).
fn if_none_match(ex: &Exchange<'_>, etag: &str) -> bool {
    ex.request().header("If-None-Match").is_some_and(|tags| {
        tags.split(',')
            .any(|tag| tag.trim() == etag || tag.trim() == "*")
    })
}

/// A multipart boundary: unlikely in any file, different per response.
fn boundary_for(etag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("socketserver-{}-{nanos:08x}", etag.trim_matches('"'))
}

/// Where a directory asked for without its trailing slash is: the target with a slash added
/// to its path (the query kept). Leading slashes are collapsed to one: `//host` would be a
/// protocol-relative URL, a redirect to another site (CPython's CVE-2021-28861).
fn directory_location(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut location = format!("/{}/", path.trim_start_matches('/'));
    if let Some(query) = query {
        location.push('?');
        location.push_str(query);
    }
    location
}

/// Decodes `%XX` escapes (two hex digits, nothing else) into bytes; `None` for a bad escape.
pub(crate) fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Quotes a file name's bytes for a link.
pub(crate) fn percent_encode(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_takes_exactly_two_hex_digits() {
        assert_eq!(percent_decode("/a%20b%2F%ff").unwrap(), b"/a b/\xff");
        for bad in ["%", "%2", "%+1", "%-1", "%zz", "% 1", "/a%2"] {
            assert_eq!(percent_decode(bad), None, "{bad:?}");
        }
        let name = b"caf\xe9 \xff.txt";
        assert_eq!(percent_decode(&percent_encode(name)).unwrap(), name);
    }

    #[test]
    fn a_directory_redirect_stays_on_this_site() {
        assert_eq!(directory_location("/sub"), "/sub/");
        assert_eq!(directory_location("//sub"), "/sub/");
        assert_eq!(directory_location("///evil.example"), "/evil.example/");
        assert_eq!(directory_location("//sub?q=//x"), "/sub/?q=//x");
        assert_eq!(directory_location("/a//b"), "/a//b/");
    }
}
