//! Declares the crate's one custom cfg so `--cfg selectors_portable` is not an unknown name.
//!
//! `RUSTFLAGS="--cfg selectors_portable"` makes the Linux build use the portable pieces (the pipe
//! `Waker` and `PollSelector` as `DefaultSelector`), so CI can test them on Linux.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(selectors_portable)");
}
