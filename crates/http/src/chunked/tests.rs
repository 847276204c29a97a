use super::*;

#[test]
fn chunks_extensions_and_trailers() {
    let mut input =
        &b"4;name=value\r\nWiki\r\n5 ; q=\"x\"\r\npedia\r\n0\r\nTrailer: x\r\n\r\nnext"[..];
    assert_eq!(read_chunked(&mut input, 100).unwrap(), b"Wikipedia");
    assert_eq!(input, b"next");
}

#[test]
fn any_split_decodes_the_same() {
    let encoded = b"4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\nGET";
    let body_end = encoded.len() - 3; // "GET" starts the next request
    for split in 0..=body_end {
        let mut decoder = ChunkedDecoder::new(100);
        let first = decoder.feed(&encoded[..split]).unwrap();
        assert_eq!(first, split, "the first part is all body");
        let second = decoder.feed(&encoded[split..]).unwrap();
        assert!(decoder.is_done());
        assert_eq!(first + second, body_end, "stops before the next request");
        assert_eq!(decoder.into_body(), b"Wikipedia");
    }
}

#[test]
fn counting_finds_the_same_end_and_keeps_nothing() {
    let encoded = b"4\r\nWiki\r\n0\r\n\r\nGET";
    let mut decoder = ChunkedDecoder::counting(100);
    assert_eq!(decoder.feed(encoded).unwrap(), encoded.len() - 3);
    assert!(decoder.is_done());
    assert!(decoder.into_body().is_empty());
}

/// The sum of chunk sizes is checked before it is added: a huge second chunk once wrapped
/// past the limit in release builds (and the body then grew without bound).
#[test]
fn a_chunk_size_that_would_wrap_the_sum_is_too_large() {
    let attack = b"10\r\n0123456789abcdef\r\nfffffffffffffff5\r\n";
    // 16 + 0xfffffffffffffff5 is more than any u64 limit: it used to wrap to 5.
    for limit in [1 << 20, u64::MAX - 20, u64::MAX] {
        let result = ChunkedDecoder::new(limit).feed(attack);
        assert!(
            matches!(result, Err(ChunkedError::TooLarge)),
            "{limit}: {result:?}"
        );
    }
    let mut full = ChunkedDecoder::new(u64::MAX);
    full.decoded = u64::MAX;
    assert!(matches!(full.feed(b"1\r\n"), Err(ChunkedError::TooLarge)));
}

#[test]
fn limits_and_malformed_bodies() {
    assert!(matches!(
        read_chunked(&mut &b"10\r\n0123456789abcdef\r\n0\r\n\r\n"[..], 8),
        Err(ChunkedError::TooLarge)
    ));
    assert!(matches!(
        read_chunked(&mut &b"2\r\nabX\r\n0\r\n\r\n"[..], 8),
        Err(ChunkedError::Malformed(_))
    ));
    assert!(matches!(
        read_chunked(&mut &b"2\r\nab"[..], 8),
        Err(ChunkedError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof
    ));
}

/// RFC 9112: `chunk-size = 1*HEXDIG`, lines end in CRLF. What lenient parsers accept (and a
/// proxy in front may read differently) is refused.
#[test]
fn chunk_sizes_are_read_strictly() {
    let malformed = [
        &b"+5\r\nhello\r\n0\r\n\r\n"[..],
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"\r\nhello\r\n0\r\n\r\n",
        b";x\r\nhello\r\n0\r\n\r\n",
        b"zz\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\rx\nhello\r\n0\r\n\r\n",
        b"5;a\x00b\r\nhello\r\n0\r\n\r\n",
        b"5;a\rb\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\n",
        b"5\r\nhello\r\n0\r\nNoColon\r\n\r\n",
        b"5\r\nhello\r\n0\r\nBad Name: v\r\n\r\n",
        b"5\r\nhello\r\n0\r\nName: v\x01\r\n\r\n",
        b"11111111111111111\r\n",
    ];
    for body in malformed {
        let result = read_chunked(&mut &body[..], 100);
        assert!(
            matches!(result, Err(ChunkedError::Malformed(_))),
            "{:?}: {result:?}",
            String::from_utf8_lossy(body)
        );
    }
    let fine = [
        &b"5\r\nhello\r\n0\r\n\r\n"[..],
        b"5;ext\r\nhello\r\n0\r\n\r\n",
        b"5 ;ext=1\r\nhello\r\n0\r\n\r\n",
        b"5\t; e=\"q s\"\r\nhello\r\n0\r\n\r\n",
        b"00005\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n",
    ];
    for body in fine {
        let result = read_chunked(&mut &body[..], 100);
        assert_eq!(
            result.ok().as_deref(),
            Some(&b"hello"[..]),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Each per-connection buffer of the decoder has a bound: a size line (extensions included)
/// and the trailer section, however the bytes are split.
#[test]
fn extensions_and_trailers_are_bounded() {
    let long_extension = format!("1;{}", "e".repeat(2 << 20));
    for piece in [1, 1000, long_extension.len()] {
        let mut decoder = ChunkedDecoder::new(100);
        let error = long_extension
            .as_bytes()
            .chunks(piece)
            .find_map(|chunk| decoder.feed(chunk).err());
        assert!(
            matches!(error, Some(ChunkedError::Malformed(_))),
            "{error:?}"
        );
        assert!(decoder.line.len() <= MAX_SIZE_LINE);
    }
    let mut decoder = ChunkedDecoder::new(100);
    decoder.feed(b"0\r\n").unwrap();
    let field = b"X-Padding: 0123456789012345678901234567890123456789\r\n";
    let error = (0..1000).find_map(|_| decoder.feed(field).err());
    assert!(
        matches!(error, Some(ChunkedError::Malformed(_))),
        "{error:?}"
    );
    assert!(decoder.trailers <= MAX_TRAILERS);
}
