//! Splitting and decoding request targets, hostile ones included.

use super::*;

fn pairs(query: &str) -> Vec<(String, String)> {
    parse_query(query)
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn path_and_query_are_split_and_decoded() {
    let target = RequestTarget::parse("/kv/a%20b?x=1");
    assert_eq!(target.path(), "/kv/a b");
    assert_eq!(target.path_bytes(), b"/kv/a b");
    assert_eq!(target.raw_path(), "/kv/a%20b");
    assert_eq!(target.raw_query(), Some("x=1"));
    assert_eq!(target.query_pairs(), owned(&[("x", "1")]));
    assert_eq!(target.query("x"), Some("1"));
    assert_eq!(target.query("y"), None);
    assert_eq!(target.raw(), "/kv/a%20b?x=1");
}

#[test]
fn no_query_and_empty_query() {
    let plain = RequestTarget::parse("/plain");
    assert_eq!((plain.path(), plain.raw_query()), ("/plain", None));
    assert!(plain.query_pairs().is_empty());
    let empty = RequestTarget::parse("/p?");
    assert_eq!((empty.path(), empty.raw_query()), ("/p", Some("")));
    assert!(empty.query_pairs().is_empty());
    // A second `?` belongs to the query.
    let twice = RequestTarget::parse("/p?a=b?c");
    assert_eq!(twice.query("a"), Some("b?c"));
}

#[test]
fn malformed_escapes_stay_as_sent() {
    for (raw, decoded) in [
        ("%zz", "%zz"),
        ("%4", "%4"),
        ("%", "%"),
        ("a%", "a%"),
        ("%%41", "%A"),
        ("%4g", "%4g"),
        ("%+1", "%+1"),
        ("100%25", "100%"),
    ] {
        assert_eq!(percent_decode_str(raw), decoded, "{raw:?}");
    }
    assert_eq!(RequestTarget::parse("/a%2").path(), "/a%2");
    assert_eq!(pairs("k%zz=%4"), owned(&[("k%zz", "%4")]));
}

#[test]
fn bytes_that_are_not_utf8_are_replaced_and_kept_raw() {
    let target = RequestTarget::parse("/caf%e9/%C3%A9");
    assert_eq!(target.path(), "/caf\u{fffd}/é");
    assert_eq!(target.path_bytes(), b"/caf\xe9/\xc3\xa9");
    assert_eq!(&*percent_decode("%ff%00"), b"\xff\0");
    assert_eq!(pairs("n=%ff"), owned(&[("n", "\u{fffd}")]));
}

#[test]
fn plus_is_a_space_in_the_query_only() {
    let target = RequestTarget::parse("/a+b?q=a+b%2Bc");
    assert_eq!(target.path(), "/a+b");
    assert_eq!(target.query("q"), Some("a b+c"));
    assert_eq!(percent_decode_str("a+b"), "a+b");
}

#[test]
fn query_pairs_as_parse_qsl_keeps_blank_values() {
    assert_eq!(
        pairs("a=1&&b=&c&=d&e=f=g&a=2"),
        owned(&[
            ("a", "1"),
            ("b", ""),
            ("c", ""),
            ("", "d"),
            ("e", "f=g"),
            ("a", "2")
        ])
    );
    assert_eq!(pairs("a=1;b=2"), owned(&[("a", "1;b=2")]));
    assert!(pairs("").is_empty());
    assert!(pairs("&&").is_empty());
}

#[test]
fn other_target_forms() {
    let absolute = RequestTarget::parse("http://example.com:8080/x%20y?z=1#frag");
    assert_eq!(absolute.path(), "/x y");
    assert_eq!(absolute.raw_path(), "/x%20y");
    assert_eq!(absolute.query("z"), Some("1"));
    let bare = RequestTarget::parse("https://example.com");
    assert_eq!((bare.path(), bare.raw_path()), ("/", ""));
    let bare_query = RequestTarget::parse("http://h?q=1");
    assert_eq!((bare_query.path(), bare_query.query("q")), ("/", Some("1")));
    assert_eq!(RequestTarget::parse("*").path(), "*");
    assert_eq!(RequestTarget::parse("host:443").path(), "host:443");
    let fragment = RequestTarget::parse("/p#a?b");
    assert_eq!((fragment.path(), fragment.raw_query()), ("/p", None));
    // A `://` later in an origin-form path is only a path.
    assert_eq!(RequestTarget::parse("/r/http://x").path(), "/r/http://x");
    assert_eq!(RequestTarget::parse("1a://h/p").path(), "1a://h/p");
}

#[test]
fn encoded_slash_is_decoded_and_the_raw_path_tells() {
    let target = RequestTarget::parse("/kv/a%2Fb");
    assert_eq!(target.path(), "/kv/a/b");
    assert_eq!(target.raw_path(), "/kv/a%2Fb");
}

#[test]
fn decoding_never_grows_and_borrows_when_it_can() {
    assert!(matches!(percent_decode("/plain"), Cow::Borrowed(_)));
    assert!(matches!(percent_decode_str("/plain"), Cow::Borrowed(_)));
    let hostile = "%".repeat(1000) + &"%41".repeat(1000);
    assert!(percent_decode(&hostile).len() <= hostile.len());
    // Every byte string round-trips through an encoding of every byte.
    let all: Vec<u8> = (0..=255).collect();
    let encoded: String = all.iter().map(|b| format!("%{b:02x}")).collect();
    assert_eq!(&*percent_decode(&encoded), &all[..]);
}
