//! Replays what the fuzzer kept (`fuzz/corpus/proxy_header/`) and every crash it found
//! (`fuzz/artifacts/proxy_header/`) through the same invariants, under a stable `cargo test`.

use std::path::Path;

use super::proxy_header;

#[test]
fn proxy_header_corpus() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for kind in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join("proxy_header")) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| proxy_header(&input));
            assert!(outcome.is_ok(), "{} breaks an invariant", path.display());
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "fuzz/corpus/proxy_header has inputs to replay"
    );
}
