//! Fuzz target `http_head`: the invariants are in `socketserver_http::fuzzing::head`, which the crate's tests also run
//! over the corpus kept in `fuzz/corpus/http_head/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketserver_http::fuzzing::head(data));
