//! [`ByteRanges`]: what a `Range` header asks of a file.

/// The most ranges one request may ask for; more are ignored (the whole file is sent), as
/// are overlapping ranges: both are ways to make a server send a file many times over.
pub(crate) const MAX_RANGES: usize = 16;

/// What a `Range` header asks of a file of known length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ByteRanges {
    /// No range we serve (another unit, a malformed header, too many or overlapping ranges):
    /// the whole file, 200.
    Whole,
    /// Valid ranges none of which overlaps the file: 416.
    Unsatisfiable,
    /// These byte ranges (`start..end`), in the order asked: 206.
    Parts(Vec<(u64, u64)>),
}

/// Parses `header` (`bytes=0-99,200-`, `bytes=-500`) against a file of `length` bytes.
pub(crate) fn parse_ranges(header: &str, length: u64) -> ByteRanges {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return ByteRanges::Whole;
    };
    let items: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect();
    if items.is_empty() || items.len() > MAX_RANGES {
        return ByteRanges::Whole;
    }
    let mut parts = Vec::new();
    for item in items {
        match parse_one(item, length) {
            None => return ByteRanges::Whole,
            Some(None) => {} // valid, but past the end of the file
            Some(Some(part)) => parts.push(part),
        }
    }
    if parts.is_empty() {
        return ByteRanges::Unsatisfiable;
    }
    let mut sorted = parts.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|pair| pair[1].0 < pair[0].1) {
        return ByteRanges::Whole;
    }
    ByteRanges::Parts(parts)
}

/// One range: `None` if malformed, `Some(None)` if it does not overlap the file.
fn parse_one(item: &str, length: u64) -> Option<Option<(u64, u64)>> {
    let (first, last) = item.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let (start, end) = match (digits(first), digits(last)) {
        (true, true) => {
            let (first, last) = (first.parse::<u64>().ok()?, last.parse::<u64>().ok()?);
            if first > last {
                return None;
            }
            (first, last.saturating_add(1).min(length))
        }
        (true, false) if last.is_empty() => (first.parse::<u64>().ok()?, length),
        (false, true) if first.is_empty() => {
            let suffix = last.parse::<u64>().ok()?;
            (length.saturating_sub(suffix), length)
        }
        _ => return None,
    };
    Some((start < end && start < length).then_some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_several_ranges() {
        assert_eq!(
            parse_ranges("bytes=10-19", 100),
            ByteRanges::Parts(vec![(10, 20)])
        );
        assert_eq!(
            parse_ranges("bytes=-5", 100),
            ByteRanges::Parts(vec![(95, 100)])
        );
        assert_eq!(
            parse_ranges("bytes=90-", 100),
            ByteRanges::Parts(vec![(90, 100)])
        );
        assert_eq!(
            parse_ranges("bytes=50-60, 0-1", 100),
            ByteRanges::Parts(vec![(50, 61), (0, 2)])
        );
        assert_eq!(
            parse_ranges("bytes=0-1,200-300", 100),
            ByteRanges::Parts(vec![(0, 2)])
        );
    }

    #[test]
    fn refusals_and_what_is_ignored() {
        assert_eq!(parse_ranges("bytes=200-", 100), ByteRanges::Unsatisfiable);
        assert_eq!(parse_ranges("bytes=-0", 100), ByteRanges::Unsatisfiable);
        assert_eq!(parse_ranges("items=0-1", 100), ByteRanges::Whole);
        assert_eq!(parse_ranges("bytes=5-1", 100), ByteRanges::Whole);
        assert_eq!(parse_ranges("bytes=x-1", 100), ByteRanges::Whole);
        assert_eq!(parse_ranges("bytes=0-10,5-20", 100), ByteRanges::Whole);
        let many: Vec<String> = (0..=MAX_RANGES).map(|n| format!("{n}-{n}")).collect();
        assert_eq!(
            parse_ranges(&format!("bytes={}", many.join(",")), 100),
            ByteRanges::Whole
        );
    }
}
