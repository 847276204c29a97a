//! The [`Waker`](crate::Waker) backends: an `eventfd(2)` on Linux and Android, a pipe elsewhere.

#[cfg_attr(
    all(
        any(target_os = "linux", target_os = "android"),
        not(selectors_portable)
    ),
    path = "eventfd.rs"
)]
#[cfg_attr(
    not(all(
        any(target_os = "linux", target_os = "android"),
        not(selectors_portable)
    )),
    path = "pipe.rs"
)]
mod imp;

pub(crate) use imp::Waker;
