//! Fuzz target `ranges`: the invariants are in `socketserver_http::fuzzing::ranges`, which the crate's tests also run
//! over the corpus kept in `fuzz/corpus/ranges/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketserver_http::fuzzing::ranges(data));
