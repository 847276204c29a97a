//! Replays what the fuzzers kept (`fuzz/corpus/<target>/`) and every crash they found
//! (`fuzz/artifacts/<target>/`) through the same invariants, under a stable `cargo test`.

use std::path::Path;

use super::*;

fn replay(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    socketserver::fuzzing::replay(&fuzz, target, check);
}

#[test]
fn http_head_corpus() {
    replay("http_head", head);
}

#[test]
fn chunked_corpus() {
    replay("chunked", chunked);
}

#[test]
fn ranges_corpus() {
    replay("ranges", ranges);
}

#[test]
fn paths_corpus() {
    replay("paths", paths);
    let _ = std::fs::remove_dir_all(tree_base());
}
