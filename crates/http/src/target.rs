//! [`RequestTarget`]: a request target split into its path and query and percent-decoded, as
//! Python users get from `urllib.parse` (`urlsplit`, `unquote`, `parse_qsl`).

use std::borrow::Cow;

/// A request target split and decoded: the path percent-decoded, the query as name–value
/// pairs (Python's `urlsplit(target)`, then `unquote(path)` and `parse_qsl(query)`), with the
/// raw target still at hand.
///
/// | from `/kv/a%20b?x=1&y=%C3%A9+z` | gives |
/// |---|---|
/// | [`path`](Self::path) | `/kv/a b` |
/// | [`query_pairs`](Self::query_pairs) | `[("x", "1"), ("y", "é z")]` |
/// | [`raw_path`](Self::raw_path), [`raw_query`](Self::raw_query) | `/kv/a%20b`, `Some("x=1&y=%C3%A9+z")` |
/// | [`raw`](Self::raw) | the target as sent |
///
/// A peer may send anything, so every input has a defined result (none is an error):
///
/// - A malformed escape (`%zz`, a `%4` cut short) stays as it is, as Python's `unquote`
///   leaves it.
/// - Decoded bytes that are not UTF-8 become U+FFFD in [`path`](Self::path) and in the pairs
///   (Python's `errors="replace"`); [`path_bytes`](Self::path_bytes) keeps the bytes.
/// - `+` is a space in the query (as `parse_qsl` reads it), a `+` in the path.
/// - `%2F` decodes to `/` in [`path`](Self::path): a router that must tell `a%2Fb` from `a/b`
///   splits [`raw_path`](Self::raw_path) first, then decodes each segment
///   ([`percent_decode_str`]). The path is not normalised (`/a/../b` stays).
/// - An absolute-form target (`http://host/p?q`, sent to proxies) gives the path `/p`; `*`
///   (`OPTIONS *`) and an authority (`CONNECT host:443`) are their own path. A fragment
///   (`#…`, which clients do not send) is dropped.
///
/// # Examples
///
/// ```
/// use socketserver_http::RequestTarget;
///
/// let target = RequestTarget::parse("/kv/a%20b?x=1&flag&y=%C3%A9+z");
/// assert_eq!(target.path(), "/kv/a b");
/// assert_eq!(target.query("x"), Some("1"));
/// assert_eq!(target.query("flag"), Some(""));
/// assert_eq!(target.query("y"), Some("é z"));
/// assert_eq!(target.raw_path(), "/kv/a%20b");
///
/// // Hostile input: a bad escape stays, bytes that are not UTF-8 are replaced.
/// let odd = RequestTarget::parse("/%zz/%ff");
/// assert_eq!(odd.path(), "/%zz/\u{fffd}");
/// assert_eq!(odd.path_bytes(), b"/%zz/\xff");
/// ```
#[doc(alias = "urlsplit")]
#[doc(alias = "urllib.parse.urlsplit")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    raw: String,
    /// Where the path lies in `raw`.
    path_span: (usize, usize),
    /// Where the query lies in `raw` (after its `?`), if there is one.
    query_span: Option<(usize, usize)>,
    /// The decoded path, as bytes; `path` is its text.
    path_bytes: Vec<u8>,
    path: String,
    query: Vec<(String, String)>,
}

impl RequestTarget {
    /// Splits and decodes `raw` (Python's `urlsplit`, `unquote` and `parse_qsl`). Never fails:
    /// the type's summary says what odd input gives.
    pub fn parse(raw: &str) -> Self {
        let without_fragment = raw.find('#').unwrap_or(raw.len());
        let start = path_start(&raw[..without_fragment]);
        let (path_end, query_span) = match raw[start..without_fragment].find('?') {
            Some(at) => (start + at, Some((start + at + 1, without_fragment))),
            None => (without_fragment, None),
        };
        let raw_path = &raw[start..path_end];
        let path_bytes = match raw_path.is_empty() && start > 0 {
            // An absolute-form target without a path names the root.
            true => b"/".to_vec(),
            false => percent_decode(raw_path).into_owned(),
        };
        let path = String::from_utf8_lossy(&path_bytes).into_owned();
        let query = query_span.map_or_else(Vec::new, |(from, to)| parse_query(&raw[from..to]));
        RequestTarget {
            raw: raw.to_owned(),
            path_span: (start, path_end),
            query_span,
            path_bytes,
            path,
            query,
        }
    }

    /// The target as the client sent it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The path, percent-decoded; bytes that are not UTF-8 replaced by U+FFFD.
    #[doc(alias = "unquote")]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path, percent-decoded, as bytes (Python's `unquote_to_bytes`): for paths that name
    /// things that are not text (file names on Unix).
    #[doc(alias = "unquote_to_bytes")]
    pub fn path_bytes(&self) -> &[u8] {
        &self.path_bytes
    }

    /// The path as sent, still percent-encoded.
    pub fn raw_path(&self) -> &str {
        &self.raw[self.path_span.0..self.path_span.1]
    }

    /// The query as sent (without its `?`), if the target has one.
    pub fn raw_query(&self) -> Option<&str> {
        self.query_span.map(|(from, to)| &self.raw[from..to])
    }

    /// The query's name–value pairs in order, decoded as [`parse_query`] does (Python's
    /// `parse_qsl(query, keep_blank_values=True)`).
    #[doc(alias = "parse_qsl")]
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The first value of the query parameter `name` (`""` for a bare `name` or `name=`).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Where the path starts: after `scheme://authority` in an absolute-form target.
fn path_start(target: &str) -> usize {
    if target.starts_with('/') {
        return 0;
    }
    let Some(scheme_end) = target.find("://") else {
        return 0;
    };
    let scheme = &target[..scheme_end];
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !is_scheme {
        return 0;
    }
    let authority = scheme_end + 3;
    target[authority..]
        .find(['/', '?'])
        .map_or(target.len(), |at| authority + at)
}

/// Decodes the `%XX` escapes of `text` into bytes (Python's `urllib.parse.unquote_to_bytes`):
/// a `%` not followed by two hex digits stays as it is. Borrows when there is nothing to
/// decode.
///
/// # Examples
///
/// ```
/// use socketserver_http::percent_decode;
///
/// assert_eq!(&*percent_decode("a%20b%ff"), b"a b\xff");
/// assert_eq!(&*percent_decode("100%"), b"100%");
/// ```
#[doc(alias = "unquote_to_bytes")]
#[doc(alias = "urllib.parse.unquote_to_bytes")]
pub fn percent_decode(text: &str) -> Cow<'_, [u8]> {
    decode(text, false)
}

/// Decodes the `%XX` escapes of `text` into text (Python's `urllib.parse.unquote`): a
/// malformed escape stays as it is, decoded bytes that are not UTF-8 become U+FFFD (Python's
/// `errors="replace"`; [`percent_decode`] keeps them).
///
/// # Examples
///
/// ```
/// use socketserver_http::percent_decode_str;
///
/// assert_eq!(percent_decode_str("caf%C3%A9+au%20lait"), "café+au lait");
/// assert_eq!(percent_decode_str("%zz%4"), "%zz%4");
/// assert_eq!(percent_decode_str("%ff"), "\u{fffd}");
/// ```
#[doc(alias = "unquote")]
#[doc(alias = "urllib.parse.unquote")]
pub fn percent_decode_str(text: &str) -> Cow<'_, str> {
    lossy(decode(text, false))
}

/// A query string's name–value pairs (Python's
/// `urllib.parse.parse_qsl(query, keep_blank_values=True)`): split at `&`, each pair at its
/// first `=`, `+` read as a space, then percent-decoded as [`percent_decode_str`] does (bad
/// escapes kept, bytes that are not UTF-8 replaced). A pair without `=` has the value `""`;
/// empty pairs (`a=1&&b=2`) are skipped. `;` is not a separator (Python 3.10 and later).
///
/// # Examples
///
/// ```
/// use socketserver_http::parse_query;
///
/// let pairs = parse_query("q=a+b%26c&page=2&&debug");
/// let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
/// assert_eq!(pairs, [("q", "a b&c"), ("page", "2"), ("debug", "")]);
/// ```
#[doc(alias = "parse_qsl")]
#[doc(alias = "urllib.parse.parse_qsl")]
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                lossy(decode(name, true)).into_owned(),
                lossy(decode(value, true)).into_owned(),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes, leaving malformed ones as they are; with `plus`, `+` is a space.
fn decode(text: &str, plus: bool) -> Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || (plus && b == b'+')) {
        return Cow::Borrowed(bytes);
    }
    // Decoding only shrinks: never more than the input's length, whatever a peer sends.
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let escaped = match (byte, bytes.get(at + 1), bytes.get(at + 2)) {
            (b'%', Some(&high), Some(&low)) => hex_value(high).zip(hex_value(low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push(high << 4 | low);
                at += 3;
            }
            None => {
                out.push(if plus && byte == b'+' { b' ' } else { byte });
                at += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Bytes as text, U+FFFD for what is not UTF-8; borrowed when already text.
fn lossy(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Cow::Owned(text),
            Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
        },
    }
}

/// The value of one hexadecimal digit.
pub(crate) fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
