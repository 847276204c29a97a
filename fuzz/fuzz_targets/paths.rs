//! Fuzz target `paths`: the invariants are in `socketserver_http::fuzzing::paths`, which the crate's tests also run
//! over the corpus kept in `fuzz/corpus/paths/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketserver_http::fuzzing::paths(data));
