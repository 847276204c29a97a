//! The invariants the PROXY-protocol fuzz target in `fuzz/` checks: it takes the fuzzer's
//! bytes and panics if the parser breaks a promise. The same function replays the kept corpus
//! and every crash found so far in this crate's tests, so a stable `cargo test` checks it
//! without a fuzzer. Not part of the API.

use std::path::Path;

use crate::proxy_protocol::{parse, Parsed};

/// Runs `check` over every input the fuzzer kept for `target` under `fuzz` (its `corpus/` and
/// its crashes in `artifacts/`) and panics, naming the file, at the first that breaks an
/// invariant, or if there is none to run. For the crates' tests.
pub fn replay(fuzz: &Path, target: &str, check: fn(&[u8])) {
    let mut replayed = 0;
    for kind in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable corpus directory").path();
            let input = std::fs::read(&path).expect("a readable corpus file");
            let outcome = std::panic::catch_unwind(|| check(&input));
            assert!(outcome.is_ok(), "{} breaks an invariant", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "fuzz/corpus/{target} has inputs to replay");
}

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
