//! [`SimpleHttpRequestHandler`]: files and directory listings from one directory, never
//! anything outside it.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::date::http_date;
use crate::exchange::{escape_html, Exchange};
use crate::handler::HttpHandler;

/// Serves the files under one directory: Python's `SimpleHTTPRequestHandler`
/// (`python -m http.server`), with what it lacks.
///
/// - A directory is served by its `index.html`, or else an HTML listing (names escaped, links
///   URL-quoted); a directory asked for without its trailing slash is redirected (301).
/// - `Content-Type` from the extension (the `mime_guess` table); `Last-Modified` with
///   `If-Modified-Since` and an `ETag` with `If-None-Match` (304); a single byte `Range`
///   (206, or 416 with `Content-Range: bytes */LEN`).
/// - Never anything outside the directory: `..`, percent-encoded dots or slashes, absolute
///   paths, NUL bytes, and symbolic links that lead out are all refused (404). Python follows
///   symlinks out of the tree and drops the connection on a `%00`.
/// - Files are streamed a 64 KiB buffer at a time ([`Exchange::write_file`]), never read
///   whole; on an event loop, as the client reads.
/// - `POST`, `PUT` and `DELETE` are answered 405 with `Allow: GET, HEAD`; other methods 501.
#[doc(alias = "SimpleHTTPRequestHandler")]
#[derive(Debug, Clone)]
pub struct SimpleHttpRequestHandler {
    root: PathBuf,
}

impl SimpleHttpRequestHandler {
    /// Serves `directory` (Python's `--directory`).
    ///
    /// # Errors
    ///
    /// The directory cannot be resolved (it does not exist).
    pub fn new(directory: impl AsRef<Path>) -> io::Result<Self> {
        Ok(SimpleHttpRequestHandler {
            root: fs::canonicalize(directory)?,
        })
    }

    /// The file a request target names, if it is inside the root; `None` otherwise (404).
    fn resolve(&self, target: &str) -> Option<(PathBuf, String)> {
        let path = target.split(['?', '#']).next().unwrap_or("/");
        let decoded = percent_decode(path)?;
        if !decoded.starts_with('/') || decoded.contains('\0') || decoded.contains('\\') {
            return None;
        }
        let mut file = self.root.clone();
        for segment in decoded.split('/') {
            match Path::new(segment).components().next() {
                None => {}
                Some(Component::Normal(name)) if name == segment => file.push(name),
                _ => return None, // "..", ".", or anything that is not a plain name
            }
        }
        // Symbolic links must not lead out of the root.
        let real = fs::canonicalize(&file).ok()?;
        real.starts_with(&self.root).then_some((real, decoded))
    }

    fn serve_directory(&self, ex: &mut Exchange<'_>, dir: &Path, shown: &str) -> io::Result<()> {
        let mut names: Vec<(String, bool)> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|entry| {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                (entry.file_name().to_string_lossy().into_owned(), is_dir)
            })
            .collect();
        names.sort();
        let title = format!("Directory listing for {}", escape_html(shown));
        let mut page = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body><h1>{title}</h1><hr><ul>\n"
        );
        for (name, is_dir) in names {
            let slash = if is_dir { "/" } else { "" };
            page.push_str(&format!(
                "<li><a href=\"{}{slash}\">{}{slash}</a></li>\n",
                percent_encode(&name),
                escape_html(&name)
            ));
        }
        page.push_str("</ul><hr></body></html>\n");
        ex.send_response(200)?;
        ex.send_header("Content-Type", "text/html; charset=utf-8")?;
        ex.send_header("Content-Length", &page.len().to_string())?;
        ex.end_headers()?;
        ex.write_body(page.as_bytes())
    }

    fn serve_file(&self, ex: &mut Exchange<'_>, path: &Path) -> io::Result<()> {
        let mut file = File::open(path)?;
        let metadata = file.metadata()?;
        let length = metadata.len();
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let modified_secs = modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let etag = format!("\"{modified_secs:x}-{length:x}\"");
        let last_modified = http_date(modified);
        let not_modified = match ex.request().header("If-None-Match") {
            Some(tags) => tags
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*"),
            None => ex
                .request()
                .header("If-Modified-Since")
                .is_some_and(|since| since.trim() == last_modified),
        };
        if not_modified {
            ex.send_response(304)?;
            ex.send_header("ETag", &etag)?;
            ex.send_header("Last-Modified", &last_modified)?;
            return ex.end_headers();
        }
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let range = ex
            .request()
            .header("Range")
            .map(|range| parse_range(range, length));
        let (status, start, end) = match range {
            None | Some(Range::Ignored) => (200, 0, length),
            Some(Range::Bytes(start, end)) => (206, start, end),
            Some(Range::Unsatisfiable) => {
                ex.send_response(416)?;
                ex.send_header("Content-Range", &format!("bytes */{length}"))?;
                ex.send_header("Content-Length", "0")?;
                return ex.end_headers();
            }
        };
        ex.send_response(status)?;
        ex.send_header("Content-Type", mime.essence_str())?;
        ex.send_header("Content-Length", &(end - start).to_string())?;
        ex.send_header("Last-Modified", &last_modified)?;
        ex.send_header("ETag", &etag)?;
        ex.send_header("Accept-Ranges", "bytes")?;
        if status == 206 {
            ex.send_header(
                "Content-Range",
                &format!("bytes {start}-{}/{length}", end - 1),
            )?;
        }
        ex.end_headers()?;
        if ex.request().method == "HEAD" {
            return Ok(());
        }
        if start > 0 {
            file.seek(SeekFrom::Start(start))?;
        }
        ex.write_file(file, end - start)
    }
}

impl HttpHandler for SimpleHttpRequestHandler {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let Some((path, shown)) = self.resolve(&ex.request().target.clone()) else {
            return ex.send_error(404, "File not found");
        };
        if path.is_dir() {
            if !shown.ends_with('/') {
                let target = ex.request().target.clone();
                let (path_part, query) = match target.split_once('?') {
                    Some((path, query)) => (path.to_owned(), format!("?{query}")),
                    None => (target, String::new()),
                };
                ex.send_response(301)?;
                ex.send_header("Location", &format!("{path_part}/{query}"))?;
                ex.send_header("Content-Length", "0")?;
                return ex.end_headers();
            }
            let index = path.join("index.html");
            if index.is_file() {
                return self.serve_file(ex, &index);
            }
            return self.serve_directory(ex, &path, &shown);
        }
        match self.serve_file(ex, &path) {
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                ex.send_error(403, "Permission denied")
            }
            other => other,
        }
    }

    /// 405 with `Allow: GET, HEAD` (Python answers 501, as if POST were unknown).
    fn do_post(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        ex.send_method_not_allowed(&["GET", "HEAD"])
    }

    /// 405, as `POST`.
    fn do_put(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        ex.send_method_not_allowed(&["GET", "HEAD"])
    }

    /// 405, as `POST`.
    fn do_delete(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        ex.send_method_not_allowed(&["GET", "HEAD"])
    }
}

/// What a `Range` header asks of a file of `length` bytes.
enum Range {
    /// Bytes `start..end`.
    Bytes(u64, u64),
    /// A valid range that does not overlap the file: 416.
    Unsatisfiable,
    /// Not a single byte range we serve (several ranges, another unit): the whole file.
    Ignored,
}

fn parse_range(header: &str, length: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Ignored;
    };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => Some((first, last.saturating_add(1).min(length))),
        (Ok(first), Err(_)) if last.is_empty() => Some((first, length)),
        (Err(_), Ok(suffix)) if first.is_empty() => {
            if suffix == 0 {
                return Range::Unsatisfiable;
            }
            Some((length.saturating_sub(suffix), length))
        }
        _ => None,
    };
    match parsed {
        None => Range::Ignored,
        Some((start, end)) if start >= length || start >= end => Range::Unsatisfiable,
        Some((start, end)) => Range::Bytes(start, end),
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Quotes a file name for a link.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
