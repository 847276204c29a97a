//! The invariants the PROXY-protocol fuzz target in `fuzz/` checks: it takes the fuzzer's
//! bytes and panics if the parser breaks a promise. The same function replays the kept corpus
//! and every crash found so far in this crate's tests, so a stable `cargo test` checks it
//! without a fuzzer. Not part of the API.

use crate::proxy_protocol::{parse, Parsed};

/// A PROXY header (v1 or v2): never past the input; a header found is found again in its own
/// bytes, and in any input that starts with them; a shorter prefix of a header is never an
/// error (a connection that sends it slowly is not refused); an input that cannot become a
/// header is refused rather than waited for beyond the longest header there is.
pub fn proxy_header(data: &[u8]) {
    match parse(data) {
        Ok(Parsed::Complete { header, consumed }) => {
            assert!(consumed <= data.len(), "consumed past the input");
            assert!(consumed > 0);
            let again = parse(&data[..consumed]);
            assert_eq!(again, Ok(Parsed::Complete { header, consumed }));
            for cut in [1, consumed / 2, consumed - 1] {
                if cut > 0 && cut < consumed {
                    assert_eq!(
                        parse(&data[..cut]),
                        Ok(Parsed::Incomplete),
                        "a prefix of a header must wait, not fail"
                    );
                }
            }
        }
        Ok(Parsed::Incomplete) => {
            // The longest header: the v2 fixed part and the largest length it can state.
            assert!(
                data.len() < 16 + 65_535,
                "waiting for more than any header can be"
            );
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests;
