//! Fuzz target `proxy_header`: the invariants are in `socketserver::fuzzing::proxy_header`, which the crate's tests also run
//! over the corpus kept in `fuzz/corpus/proxy_header/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketserver::fuzzing::proxy_header(data));
