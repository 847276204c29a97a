//! Fuzz target `chunked`: the invariants are in `socketserver_http::fuzzing::chunked`, which the crate's tests also run
//! over the corpus kept in `fuzz/corpus/chunked/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketserver_http::fuzzing::chunked(data));
