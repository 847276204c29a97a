//! Replays what the fuzzer kept (`fuzz/corpus/proxy_header/`) and every crash it found
//! (`fuzz/artifacts/proxy_header/`) through the same invariants, under a stable `cargo test`.

use std::path::Path;

use super::{proxy_header, replay};

#[test]
fn proxy_header_corpus() {
    replay(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz"),
        "proxy_header",
        proxy_header,
    );
}
